/*
 * Documentation generated from the configuration key tables (docs.h): the
 * README's reference (`sluice keys`, markdown) and the man page sluice(1)
 * (`sluice man`, roff). Both walk the same sections in the same order, so
 * a key declared by a component is documented in both with its real
 * default, and tests/unit/runtime/test_docs.c checks the committed copies.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runtime/connector.h"
#include "runtime/docs.h"
#include "offsets/store.h"
#include "runtime/registry.h"
#include "transforms/transforms.h"

typedef void (*section_fn)(FILE *out, const char *title, const sl_config_key *keys);

/* Calls fn for every table of keys, titled, in the order the references list them. */
static void foreach_section(FILE *out, section_fn fn)
{
    fn(out, "Connector", sl_core_config_keys());
    fn(out, "Column filters and transforms", sl_transforms_config_keys());
    for (int i = 0; sl_sources[i]; i++) {
        /* Sources sharing a key table (mysql, mariadb) are listed once. */
        int same = -1;
        for (int j = 0; j < i && same < 0; j++)
            if (sl_sources[j]->config_keys == sl_sources[i]->config_keys)
                same = j;
        if (same >= 0)
            continue;
        char title[128];
        int n = snprintf(title, sizeof title, "Source `%s`", sl_sources[i]->name);
        for (int j = i + 1; sl_sources[j]; j++)
            if (sl_sources[j]->config_keys == sl_sources[i]->config_keys && n > 0 &&
                (size_t)n < sizeof title)
                n += snprintf(title + n, sizeof title - (size_t)n, ", `%s`", sl_sources[j]->name);
        fn(out, title, sl_sources[i]->config_keys);
    }
    for (int i = 0; sl_encoders[i]; i++) {
        char title[128];
        snprintf(title, sizeof title, "%s converter",
                 strcmp(sl_encoders[i]->name, "json") == 0 ? "JSON" : "Avro");
        fn(out, title, sl_encoders[i]->config_keys);
    }
    for (int i = 0; sl_sinks[i]; i++) {
        if (!sl_sinks[i]->config_keys || !sl_sinks[i]->config_keys[0].name)
            continue;
        char title[128];
        snprintf(title, sizeof title, "Sink `%s`", sl_sinks[i]->name);
        fn(out, title, sl_sinks[i]->config_keys);
    }
    fn(out, "Offset store `kafka`", sl_offset_store_kafka_keys());
}

static const char *type_label(const sl_config_key *k)
{
    switch (k->type) {
    case SL_CONF_INT:
        return "int";
    case SL_CONF_BOOL:
        return "boolean";
    case SL_CONF_ENUM:
        return "enum";
    case SL_CONF_LIST:
        return "list";
    case SL_CONF_REGEXES:
        return "regex list";
    case SL_CONF_PASSWORD:
        return "password";
    default:
        return "string";
    }
}

/* " One of: a,b,c." for an enumeration, "" otherwise. */
static void choices_text(const sl_config_key *k, char *buf, size_t size)
{
    buf[0] = '\0';
    if (k->type != SL_CONF_ENUM)
        return;
    snprintf(buf, size, " One of: %s.", k->choices);
    for (char *c = buf; *c; c++)
        if (*c == '|')
            *c = ',';
}

static void markdown_section(FILE *out, const char *title, const sl_config_key *keys)
{
    fprintf(out, "\n### %s\n\n| key | type | default | meaning |\n|---|---|---|---|\n", title);
    for (const sl_config_key *k = keys; k && k->name; k++) {
        char choices[512];
        choices_text(k, choices, sizeof choices);
        fprintf(out, "| `%s` | %s | %s | %s%s |\n", k->name, type_label(k),
                k->required        ? "(required)"
                : k->default_value ? k->default_value
                                   : "",
                k->doc ? k->doc : "", choices);
    }
}

void sl_docs_keys(FILE *out)
{
    fprintf(out, "## Configuration keys\n");
    foreach_section(out, markdown_section);
}

/*
 * Writes text for roff: backslashes as \e, hyphens as \- (so that names and
 * values copy as typed), `code` spans in bold, and a line that would start
 * with a control character guarded by \&.
 */
static void roff_text(FILE *out, const char *text)
{
    bool code = false;
    if (text[0] == '.' || text[0] == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '\\':
            fputs("\\e", out);
            break;
        case '-':
            fputs("\\-", out);
            break;
        case '`':
            fputs(code ? "\\fR" : "\\fB", out);
            code = !code;
            break;
        default:
            fputc(*p, out);
        }
    }
    if (code)
        fputs("\\fR", out);
}

static void man_section(FILE *out, const char *title, const sl_config_key *keys)
{
    fputs(".SS ", out);
    roff_text(out, title);
    fputc('\n', out);
    for (const sl_config_key *k = keys; k && k->name; k++) {
        fputs(".TP\n.B ", out);
        roff_text(out, k->name);
        fputs("\n(", out);
        roff_text(out, type_label(k));
        if (k->required) {
            fputs(", required", out);
        } else if (k->default_value && k->default_value[0]) {
            fputs(", default \\fI", out);
            roff_text(out, k->default_value);
            fputs("\\fR", out);
        }
        fputs(")\n", out);
        char choices[512];
        choices_text(k, choices, sizeof choices);
        roff_text(out, k->doc ? k->doc : "");
        roff_text(out, choices);
        fputc('\n', out);
    }
}

/* The fixed parts of the page, in roff; the configuration section comes from the tables. */
static const char man_head[] =
    ".SH NAME\n"
    "sluice \\- change data capture from PostgreSQL to Kafka, compatible with Debezium\n"
    ".SH SYNOPSIS\n"
    ".B sluice\n"
    "[\\fIOPTION\\fR]... \\fBrun\\fR|\\fBcheck\\fR \\fIFILE\\fR|\\fIDIR\\fR...\n"
    ".br\n"
    ".B sluice offsets show\\fR|\\fBreset\n"
    "\\fIFILE\\fR|\\fIDIR\\fR...\n"
    ".br\n"
    ".B sluice offsets set\n"
    "\\fIFILE\\fR \\fIPOSITION\\fR\n"
    ".br\n"
    ".B sluice keys\\fR|\\fBman\n"
    ".br\n"
    ".B sluice health\n"
    "[\\fB\\-\\-ready\\fR] [\\fIADDR\\fR]\n"
    ".SH DESCRIPTION\n"
    ".B sluice\n"
    "tails a database's log (PostgreSQL logical replication with the built\\-in pgoutput\n"
    "plugin), turns every committed row change into an event in Debezium's envelope and\n"
    "appends it to Kafka, checkpointing its position so that a crash never loses a committed\n"
    "change (at\\-least\\-once delivery, per\\-key order). Each connector is one JSON file of\n"
    "Debezium's configuration keys (a Kafka Connect REST payload is accepted as it is); a\n"
    "directory stands for every *.json file in it.\n"
    ".SH COMMANDS\n"
    ".TP\n"
    ".B run \\fIFILE\\fR|\\fIDIR\\fR...\n"
    "Runs every connector given, each in its own thread, until SIGTERM or SIGINT. SIGHUP\n"
    "reloads the files and directories given (see SIGNALS).\n"
    ".TP\n"
    ".B check \\fIFILE\\fR|\\fIDIR\\fR...\n"
    "Validates connector files without connecting to anything.\n"
    ".TP\n"
    ".B offsets show \\fIFILE\\fR|\\fIDIR\\fR...\n"
    "Prints each connector's stored position as one JSON object per line: the store, the\n"
    "position, and Kafka Connect's offset for it (its source partition and offset map).\n"
    ".TP\n"
    ".B offsets set \\fIFILE\\fR \\fIPOSITION\\fR\n"
    "Stores POSITION for the connector: the position as \\fBoffsets show\\fR prints it, a bare\n"
    "LSN such as 0/16B3748, or a Kafka Connect offset map of Debezium's connector. Stop the\n"
    "connector first.\n"
    ".TP\n"
    ".B offsets reset \\fIFILE\\fR|\\fIDIR\\fR...\n"
    "Forgets each connector's stored position (removes the offsets file, or writes a\n"
    "tombstone to the offsets topic), so that its next start is a first one. Stop the\n"
    "connector first.\n"
    ".TP\n"
    ".B keys\n"
    "Prints every configuration key, its type, default and meaning (markdown).\n"
    ".TP\n"
    ".B man\n"
    "Prints this page (roff).\n"
    ".TP\n"
    ".B health \\fR[\\fB\\-\\-ready\\fR] [\\fIADDR\\fR]\n"
    "GETs /healthz (or /readyz) of a running sluice's HTTP listener at ADDR (default: the\n"
    "\\-\\-http\\-listen address, on loopback when it listens everywhere); exits 0 when it\n"
    "answers 200, 1 otherwise, 2 on a usage error. The container image's HEALTHCHECK.\n"
    ".SH OPTIONS\n"
    ".TP\n"
    ".BI \\-\\-log\\-level \" LEVEL\"\n"
    "error, warn, info (the default) or debug.\n"
    ".TP\n"
    ".BI \\-\\-log\\-format \" FORMAT\"\n"
    "text (the default: time, level, [connector], message) or json (one object per line with\n"
    "ts, level, connector and msg).\n"
    ".TP\n"
    ".BI \\-\\-http\\-listen \" ADDR\"\n"
    "Serves GET /healthz (alive), /readyz (every connector streaming), /metrics (Prometheus\n"
    "text format), /connectors and /connectors/NAME/status in Kafka Connect's shape, and\n"
    "PUT .../pause, PUT .../resume and POST .../restart of one connector, POST /reload and\n"
    "GET /reload (see SIGHUP), on ADDR: HOST:PORT,\n"
    "[V6]:PORT, or a bare PORT, which listens on loopback only. Off by default.\n"
    ".TP\n"
    ".BI \\-\\-http\\-token\\-file \" FILE\"\n"
    "Requires \"Authorization: Bearer TOKEN\" (TOKEN read from FILE) on every endpoint but\n"
    "/healthz and /readyz. The token is never accepted on the command line.\n"
    ".TP\n"
    ".B \\-\\-help\n"
    "Shows a summary of commands and options.\n"
    ".TP\n"
    ".B \\-\\-version\n"
    "Shows the version.\n"
    ".SH ENVIRONMENT\n"
    ".TP\n"
    ".B SLUICE_LOG_LEVEL\n"
    "The log level when \\-\\-log\\-level is not given.\n"
    ".TP\n"
    ".B SLUICE_LOG_FORMAT\n"
    "The log format when \\-\\-log\\-format is not given.\n"
    ".TP\n"
    ".B SLUICE_HTTP_LISTEN\n"
    "The listener's address when \\-\\-http\\-listen is not given.\n"
    ".TP\n"
    ".B SLUICE_HTTP_TOKEN_FILE\\fR, \\fBSLUICE_HTTP_TOKEN\n"
    "The listener's token file, or the token itself, when \\-\\-http\\-token\\-file is not\n"
    "given.\n"
    ".PP\n"
    "Connector files may refer to environment variables and files with Kafka Connect's\n"
    "config provider syntax, ${env:NAME} and ${file:PATH:KEY}, and sluice's ${file:PATH} and\n"
    "${NAME}; such values are secret and never logged.\n"
    ".SH SIGNALS\n"
    ".TP\n"
    ".B SIGTERM\\fR, \\fBSIGINT\n"
    "Stop reading, wait up to 30 s for the sink to acknowledge everything, write a final\n"
    "checkpoint and confirm it to the database, then exit 0.\n"
    ".TP\n"
    ".B SIGHUP\n"
    "Reload the connector files (as POST /reload does): an added file starts its connector, a\n"
    "removed one stops its connector with a final checkpoint, a changed one restarts its\n"
    "connector from its checkpoint; the other connectors carry on untouched. An invalid file\n"
    "is refused with the reason, naming the file and the key, and its connector keeps its\n"
    "running configuration; sluice_config_last_reload_successful and GET /reload show it.\n"
    ".SH EXIT STATUS\n"
    "A connector that fails for good stays failed while the others run; run exits when every\n"
    "connector has failed, and then the first one to fail decides.\n"
    ".TP\n"
    ".B 0\n"
    "Stopped as asked after a clean flush and checkpoint, or the command succeeded.\n"
    ".TP\n"
    ".B 1\n"
    "Internal or local error: out of memory, an offsets file that cannot be written.\n"
    ".TP\n"
    ".B 2\n"
    "Configuration: wrong usage, a file that does not validate, or settings the database or\n"
    "Kafka refuses (password, rights, certificate, a missing publication).\n"
    ".TP\n"
    ".B 3\n"
    "Source: the database failed, sent what cannot be decoded, or stayed unreachable through\n"
    "errors.max.retries.\n"
    ".TP\n"
    ".B 4\n"
    "Sink: Kafka refused a record for good, or stayed unreachable through\n"
    "errors.max.retries restarts.\n"
    ".TP\n"
    ".B 5\n"
    "Stored state: the stored position is unreadable or does not match the database; an\n"
    "operator must decide.\n"
    ".SH CONFIGURATION\n"
    "Keys Debezium has keep Debezium's name and meaning. A file with an unknown key, a value\n"
    "of the wrong type or a missing required key is refused at start, naming the file and the\n"
    "key.\n";

static const char man_tail[] = ".SH FILES\n"
                               ".TP\n"
                               ".I NAME.offsets.json\n"
                               "The default offsets file of connector NAME "
                               "(offset.storage.file.filename), in the working directory.\n"
                               ".SH SEE ALSO\n"
                               "The README of sluice's sources: running sluice, operations, "
                               "limitations.\n";

void sl_docs_man(FILE *out)
{
    fputs(".\\\" Generated by `sluice man` from sluice's configuration key tables; do not edit.\n",
          out);
    fprintf(out, ".TH SLUICE 1 \"\" \"sluice %s\" \"User Commands\"\n", SLUICE_VERSION);
    /* Names and values must copy as printed: no hyphenation, no stretched lines. */
    fputs(".nh\n.ad l\n", out);
    fputs(man_head, out);
    foreach_section(out, man_section);
    fputs(man_tail, out);
}
