/*
 * Table definitions from DDL (my_ddl.h): a lexer for MySQL's SQL (quoted
 * identifiers and strings, comments, executable comments), a reader of
 * column definitions and keys, and the statements that change them.
 *
 * The sections: lexer, definitions and builders, column definitions, CREATE
 * TABLE, ALTER TABLE, the other statements, the catalog.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql/my_ddl.h"

/* ---------------------------------------------------------------------------
 * Lexer
 */

typedef enum tok_kind {
    TOK_END,
    TOK_WORD,   /* a bare identifier or keyword */
    TOK_QUOTED, /* `identifier`, or "identifier" with ANSI_QUOTES */
    TOK_STRING, /* 'text' or "text": value holds the unescaped text */
    TOK_NUMBER, /* 12, 1.5, -3 is '-' then 12 */
    TOK_HEX,    /* X'0A' or 0x0A: value holds the hex digits */
    TOK_BITS,   /* B'101' or 0b101: value holds the binary digits */
    TOK_PUNCT,  /* one character */
} tok_kind;

typedef struct token {
    tok_kind kind;
    const char *start; /* in the statement */
    size_t len;
    const char *value; /* TOK_STRING/HEX/BITS: NUL-terminated, in the lexer's arena */
    size_t value_len;
} token;

typedef struct lexer {
    const char *p, *end;
    unsigned flags;
    int in_exec_comment; /* depth inside executable comments, whose closing is skipped */
    sl_arena *arena;
    token tok; /* the current token */
} lexer;

static bool is_ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Skips blanks and comments; an executable comment's content is read as SQL. */
static void skip_space(lexer *lx)
{
    for (;;) {
        while (lx->p < lx->end && isspace((unsigned char)*lx->p))
            lx->p++;
        if (lx->p >= lx->end)
            return;
        const char *p = lx->p;
        size_t left = (size_t)(lx->end - p);
        if (left >= 2 && p[0] == '*' && p[1] == '/' && lx->in_exec_comment) {
            lx->in_exec_comment--;
            lx->p += 2;
            continue;
        }
        if (left >= 3 && p[0] == '/' && p[1] == '*' &&
            (p[2] == '!' || (p[2] == 'M' && left >= 4 && p[3] == '!'))) {
            /*
             * Executable comments, a comment opener followed by "!" and a
             * version (MySQL: SRID 4326 in SHOW CREATE TABLE) or by "M!"
             * (MariaDB): the server runs their text, so it is read as SQL.
             */
            lx->p += p[2] == '!' ? 3 : 4;
            while (lx->p < lx->end && isdigit((unsigned char)*lx->p))
                lx->p++;
            lx->in_exec_comment++;
            continue;
        }
        if (left >= 2 && p[0] == '/' && p[1] == '*') {
            const char *close = NULL;
            for (const char *q = p + 2; q + 1 < lx->end; q++)
                if (q[0] == '*' && q[1] == '/') {
                    close = q;
                    break;
                }
            lx->p = close ? close + 2 : lx->end;
            continue;
        }
        if (p[0] == '#' ||
            (left >= 2 && p[0] == '-' && p[1] == '-' &&
             (left == 2 || isspace((unsigned char)p[2]) || iscntrl((unsigned char)p[2])))) {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
            continue;
        }
        return;
    }
}

/* Reads a quoted string starting at lx->p (the quote); unescapes into the arena. */
static void lex_string(lexer *lx, char quote)
{
    const char *p = lx->p + 1;
    char *out = sl_arena_alloc(lx->arena, (size_t)(lx->end - p) + 1);
    size_t n = 0;
    bool escapes = !(lx->flags & MY_DDL_NO_BACKSLASH_ESCAPES);
    while (p < lx->end) {
        char c = *p++;
        if (c == quote) {
            if (p < lx->end && *p == quote) { /* '' inside '...' */
                out[n++] = quote;
                p++;
                continue;
            }
            break;
        }
        if (c == '\\' && escapes && p < lx->end) {
            char e = *p++;
            switch (e) {
            case '0':
                out[n++] = '\0';
                break;
            case 'b':
                out[n++] = '\b';
                break;
            case 'n':
                out[n++] = '\n';
                break;
            case 'r':
                out[n++] = '\r';
                break;
            case 't':
                out[n++] = '\t';
                break;
            case 'Z':
                out[n++] = '\032';
                break;
            case '%':
            case '_':
                /* MySQL keeps the backslash of \% and \_ (they are LIKE escapes). */
                out[n++] = '\\';
                out[n++] = e;
                break;
            default:
                out[n++] = e;
                break;
            }
            continue;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    lx->tok.kind = TOK_STRING;
    lx->tok.value = out;
    lx->tok.value_len = n;
    lx->tok.len = (size_t)(p - lx->p);
    lx->p = p;
}

/* Reads the next token into lx->tok. */
static void lex_next(lexer *lx)
{
    skip_space(lx);
    token *t = &lx->tok;
    memset(t, 0, sizeof *t);
    t->start = lx->p;
    if (lx->p >= lx->end) {
        t->kind = TOK_END;
        return;
    }
    const char *p = lx->p;
    unsigned char c = (unsigned char)*p;
    size_t left = (size_t)(lx->end - p);
    if (c == '`' || (c == '"' && (lx->flags & MY_DDL_ANSI_QUOTES))) {
        /* A quoted identifier: doubled quotes stand for one. */
        char q = (char)c;
        const char *s = p + 1;
        char *out = sl_arena_alloc(lx->arena, left + 1);
        size_t n = 0;
        while (s < lx->end) {
            if (*s == q) {
                if (s + 1 < lx->end && s[1] == q) {
                    out[n++] = q;
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            out[n++] = *s++;
        }
        out[n] = '\0';
        t->kind = TOK_QUOTED;
        t->value = out;
        t->value_len = n;
        t->len = (size_t)(s - p);
        lx->p = s;
        return;
    }
    if (c == '\'' || c == '"') {
        lex_string(lx, (char)c);
        return;
    }
    /* X'0A', B'101', N'text' and charset introducers (_utf8mb4'text'). */
    if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && left >= 2 && p[1] == '\'') {
        bool hex = c == 'x' || c == 'X';
        lx->p++;
        lex_string(lx, '\'');
        t->kind = hex ? TOK_HEX : TOK_BITS;
        t->start = p;
        t->len += 1;
        return;
    }
    if ((c == 'n' || c == 'N') && left >= 2 && p[1] == '\'') {
        lx->p++;
        lex_string(lx, '\'');
        t->start = p;
        t->len += 1;
        return;
    }
    if (c == '0' && left >= 3 && (p[1] == 'x' || p[1] == 'b') && isxdigit((unsigned char)p[2])) {
        bool hex = p[1] == 'x';
        const char *s = p + 2;
        while (s < lx->end && (hex ? isxdigit((unsigned char)*s) : (*s == '0' || *s == '1')))
            s++;
        if (s == lx->end || !is_ident_char((unsigned char)*s)) {
            t->kind = hex ? TOK_HEX : TOK_BITS;
            t->value = sl_arena_strndup(lx->arena, p + 2, (size_t)(s - p - 2));
            t->value_len = (size_t)(s - p - 2);
            t->len = (size_t)(s - p);
            lx->p = s;
            return;
        }
    }
    if (isdigit(c) || (c == '.' && left >= 2 && isdigit((unsigned char)p[1]))) {
        const char *s = p;
        while (s < lx->end && isdigit((unsigned char)*s))
            s++;
        if (s < lx->end && *s == '.') {
            s++;
            while (s < lx->end && isdigit((unsigned char)*s))
                s++;
        }
        if (s < lx->end && (*s == 'e' || *s == 'E')) {
            const char *e = s + 1;
            if (e < lx->end && (*e == '+' || *e == '-'))
                e++;
            if (e < lx->end && isdigit((unsigned char)*e)) {
                s = e;
                while (s < lx->end && isdigit((unsigned char)*s))
                    s++;
            }
        }
        if (s == lx->end || !is_ident_char((unsigned char)*s)) {
            t->kind = TOK_NUMBER;
            t->len = (size_t)(s - p);
            lx->p = s;
            return;
        }
        /* 1abc: an identifier that starts with digits. */
    }
    if (is_ident_char(c)) {
        const char *s = p;
        while (s < lx->end && is_ident_char((unsigned char)*s))
            s++;
        if (c == '_' && s < lx->end && *s == '\'') {
            /* A charset introducer: the string is the token. */
            lx->p = s;
            lex_string(lx, '\'');
            t->start = p;
            t->len += (size_t)(s - p);
            return;
        }
        t->kind = TOK_WORD;
        t->len = (size_t)(s - p);
        lx->p = s;
        return;
    }
    t->kind = TOK_PUNCT;
    t->len = 1;
    lx->p++;
}

static void lex_init(lexer *lx, const char *sql, size_t len, unsigned flags, sl_arena *arena)
{
    memset(lx, 0, sizeof *lx);
    lx->p = sql;
    lx->end = sql + len;
    lx->flags = flags;
    lx->arena = arena;
    lex_next(lx);
}

/* True when the current token is the keyword kw (case-insensitive); a quoted name never is. */
static bool is_kw(const lexer *lx, const char *kw)
{
    return lx->tok.kind == TOK_WORD && strlen(kw) == lx->tok.len &&
           strncasecmp(lx->tok.start, kw, lx->tok.len) == 0;
}

static bool is_punct(const lexer *lx, char c)
{
    return lx->tok.kind == TOK_PUNCT && lx->tok.start[0] == c;
}

/* Consumes kw when it is the current token. */
static bool accept_kw(lexer *lx, const char *kw)
{
    if (!is_kw(lx, kw))
        return false;
    lex_next(lx);
    return true;
}

static bool accept_punct(lexer *lx, char c)
{
    if (!is_punct(lx, c))
        return false;
    lex_next(lx);
    return true;
}

/* An identifier (bare or quoted) as a new string; NULL when the token is none. */
static const char *take_ident(lexer *lx)
{
    const char *s;
    if (lx->tok.kind == TOK_QUOTED)
        s = lx->tok.value;
    else if (lx->tok.kind == TOK_WORD)
        s = sl_arena_strndup(lx->arena, lx->tok.start, lx->tok.len);
    else
        return NULL;
    lex_next(lx);
    return s;
}

/* [db.]name; *db stays as it was when there is no qualifier. */
static bool take_table_name(lexer *lx, const char **db, const char **name)
{
    const char *a = take_ident(lx);
    if (!a)
        return false;
    if (is_punct(lx, '.')) {
        lex_next(lx);
        const char *b = take_ident(lx);
        if (!b)
            return false;
        *db = a;
        *name = b;
        return true;
    }
    *name = a;
    return true;
}

/* Skips a balanced (...) group when the current token opens one. */
static void skip_parens(lexer *lx)
{
    if (!is_punct(lx, '('))
        return;
    int depth = 0;
    do {
        if (is_punct(lx, '('))
            depth++;
        else if (is_punct(lx, ')'))
            depth--;
        lex_next(lx);
    } while (depth > 0 && lx->tok.kind != TOK_END);
}

/* Skips to the next ',' or ')' of the current nesting level (not consumed), or the end. */
static void skip_element(lexer *lx)
{
    while (lx->tok.kind != TOK_END && !is_punct(lx, ',') && !is_punct(lx, ')') &&
           !is_punct(lx, ';')) {
        if (is_punct(lx, '('))
            skip_parens(lx);
        else
            lex_next(lx);
    }
}

static char *lower_dup(sl_arena *arena, const char *s)
{
    size_t n = strlen(s);
    char *d = sl_arena_alloc(arena, n + 1);
    for (size_t i = 0; i <= n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    return d;
}

/* ---------------------------------------------------------------------------
 * Definitions and builders
 */

void my_tabledef_free(my_tabledef *t)
{
    if (!t)
        return;
    sl_arena_destroy(&t->arena);
    free(t);
}

static my_tabledef *tabledef_new(void)
{
    my_tabledef *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    sl_arena_init(&t->arena, 4096);
    return t;
}

static const char *dup_opt(sl_arena *a, const char *s)
{
    return s ? sl_arena_strdup(a, s) : NULL;
}

/* Copies a column's strings into arena a. */
static void coldef_copy(sl_arena *a, my_coldef *dst, const my_coldef *src)
{
    *dst = *src;
    dst->name = dup_opt(a, src->name);
    dst->type = dup_opt(a, src->type);
    dst->charset = dup_opt(a, src->charset);
    dst->collation = dup_opt(a, src->collation);
    dst->default_text = dup_opt(a, src->default_text);
    dst->comment = dup_opt(a, src->comment);
    if (src->nlabels) {
        const char **l = sl_arena_alloc(a, src->nlabels * sizeof *l);
        for (uint32_t i = 0; i < src->nlabels; i++)
            l[i] = sl_arena_strdup(a, src->labels[i]);
        dst->labels = l;
    }
}

static void keydef_copy(sl_arena *a, my_keydef *dst, const my_keydef *src)
{
    *dst = *src;
    dst->name = dup_opt(a, src->name);
    const char **c = sl_arena_alloc(a, (src->ncols ? src->ncols : 1) * sizeof *c);
    for (uint32_t i = 0; i < src->ncols; i++)
        c[i] = sl_arena_strdup(a, src->cols[i]);
    dst->cols = c;
}

/*
 * A table being built or altered: growable arrays of columns and keys whose
 * strings live in the scratch arena, turned into a my_tabledef at the end.
 */
typedef struct builder {
    sl_arena *scratch;
    const char *db, *name;
    my_coldef *cols;
    uint32_t ncols, cap_cols;
    my_keydef *keys;
    uint32_t nkeys, cap_keys;
    const char *charset, *collation, *comment;
} builder;

static void builder_init(builder *b, sl_arena *scratch)
{
    memset(b, 0, sizeof *b);
    b->scratch = scratch;
}

static void builder_free(builder *b)
{
    free(b->cols);
    free(b->keys);
}

static my_coldef *builder_insert_col(builder *b, uint32_t at)
{
    if (b->ncols == b->cap_cols) {
        b->cap_cols = b->cap_cols ? b->cap_cols * 2 : 16;
        b->cols = realloc(b->cols, b->cap_cols * sizeof *b->cols);
        if (!b->cols)
            abort();
    }
    if (at > b->ncols)
        at = b->ncols;
    memmove(b->cols + at + 1, b->cols + at, (b->ncols - at) * sizeof *b->cols);
    b->ncols++;
    memset(&b->cols[at], 0, sizeof b->cols[at]);
    return &b->cols[at];
}

static void builder_remove_col(builder *b, uint32_t at)
{
    memmove(b->cols + at, b->cols + at + 1, (b->ncols - at - 1) * sizeof *b->cols);
    b->ncols--;
}

static int builder_find_col(const builder *b, const char *name)
{
    for (uint32_t i = 0; i < b->ncols; i++)
        if (strcasecmp(b->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

static my_keydef *builder_add_key(builder *b)
{
    if (b->nkeys == b->cap_keys) {
        b->cap_keys = b->cap_keys ? b->cap_keys * 2 : 4;
        b->keys = realloc(b->keys, b->cap_keys * sizeof *b->keys);
        if (!b->keys)
            abort();
    }
    my_keydef *k = &b->keys[b->nkeys++];
    memset(k, 0, sizeof *k);
    return k;
}

static void builder_remove_key(builder *b, uint32_t at)
{
    memmove(b->keys + at, b->keys + at + 1, (b->nkeys - at - 1) * sizeof *b->keys);
    b->nkeys--;
}

static int builder_find_key(const builder *b, const char *name)
{
    for (uint32_t i = 0; i < b->nkeys; i++)
        if (b->keys[i].name && strcasecmp(b->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Loads an existing definition into a builder (strings stay in t's arena, which outlives it). */
static void builder_load(builder *b, const my_tabledef *t)
{
    b->db = t->db;
    b->name = t->name;
    b->charset = t->charset;
    b->collation = t->collation;
    b->comment = t->comment;
    for (uint32_t i = 0; i < t->ncols; i++)
        *builder_insert_col(b, b->ncols) = t->cols[i];
    for (uint32_t i = 0; i < t->nkeys; i++)
        *builder_add_key(b) = t->keys[i];
}

/* Columns of a primary key are NOT NULL, whatever their definition said. */
static void builder_pk_not_null(builder *b)
{
    for (uint32_t k = 0; k < b->nkeys; k++) {
        if (!b->keys[k].primary)
            continue;
        for (uint32_t i = 0; i < b->keys[k].ncols; i++) {
            int c = builder_find_col(b, b->keys[k].cols[i]);
            if (c >= 0)
                b->cols[c].nullable = false;
        }
    }
}

/* The finished definition: everything copied into its own arena, primary key first. */
static my_tabledef *builder_finish(builder *b)
{
    builder_pk_not_null(b);
    my_tabledef *t = tabledef_new();
    sl_arena *a = &t->arena;
    t->db = dup_opt(a, b->db ? b->db : "");
    t->name = dup_opt(a, b->name);
    t->charset = dup_opt(a, b->charset);
    t->collation = dup_opt(a, b->collation);
    t->comment = dup_opt(a, b->comment);
    t->ncols = b->ncols;
    t->cols = sl_arena_alloc(a, (b->ncols ? b->ncols : 1) * sizeof *t->cols);
    for (uint32_t i = 0; i < b->ncols; i++)
        coldef_copy(a, &t->cols[i], &b->cols[i]);
    t->nkeys = b->nkeys;
    t->keys = sl_arena_alloc(a, (b->nkeys ? b->nkeys : 1) * sizeof *t->keys);
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < b->nkeys; i++)
            if (b->keys[i].primary == (pass == 0))
                keydef_copy(a, &t->keys[n++], &b->keys[i]);
    return t;
}

my_tabledef *my_tabledef_copy(const my_tabledef *t)
{
    sl_arena scratch;
    sl_arena_init(&scratch, 1024);
    builder b;
    builder_init(&b, &scratch);
    builder_load(&b, t);
    my_tabledef *copy = builder_finish(&b);
    builder_free(&b);
    sl_arena_destroy(&scratch);
    return copy;
}

int my_tabledef_column(const my_tabledef *t, const char *name)
{
    for (uint32_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

const my_keydef *my_tabledef_primary(const my_tabledef *t)
{
    return t->nkeys > 0 && t->keys[0].primary ? &t->keys[0] : NULL;
}

const my_keydef *my_tabledef_unique_not_null(const my_tabledef *t)
{
    for (uint32_t k = 0; k < t->nkeys; k++) {
        if (t->keys[k].primary)
            continue;
        bool ok = t->keys[k].ncols > 0;
        for (uint32_t i = 0; i < t->keys[k].ncols && ok; i++) {
            int c = my_tabledef_column(t, t->keys[k].cols[i]);
            ok = c >= 0 && !t->cols[c].nullable;
        }
        if (ok)
            return &t->keys[k];
    }
    return NULL;
}

unsigned my_ddl_flags_of_sql_mode(int64_t sql_mode, bool mariadb)
{
    (void)mariadb; /* both servers number these two modes the same way */
    if (sql_mode < 0)
        return 0;
    unsigned f = 0;
    if (sql_mode & (1 << 2)) /* MODE_ANSI_QUOTES */
        f |= MY_DDL_ANSI_QUOTES;
    if (sql_mode & (1 << 21)) /* MODE_NO_BACKSLASH_ESCAPES */
        f |= MY_DDL_NO_BACKSLASH_ESCAPES;
    return f;
}

/* ---------------------------------------------------------------------------
 * Column definitions
 */

/* Type names and their synonyms, as Debezium's parser reports them. */
static const struct {
    const char *word;
    const char *type;
} type_names[] = {
    {"TINYINT", "TINYINT"},
    {"INT1", "TINYINT"},
    {"SMALLINT", "SMALLINT"},
    {"INT2", "SMALLINT"},
    {"MEDIUMINT", "MEDIUMINT"},
    {"MIDDLEINT", "MEDIUMINT"},
    {"INT3", "MEDIUMINT"},
    {"INT", "INT"},
    {"INTEGER", "INT"},
    {"INT4", "INT"},
    {"BIGINT", "BIGINT"},
    {"INT8", "BIGINT"},
    {"SERIAL", "BIGINT"},
    {"BOOL", "TINYINT"},
    {"BOOLEAN", "TINYINT"},
    {"BIT", "BIT"},
    {"DECIMAL", "DECIMAL"},
    {"DEC", "DECIMAL"},
    {"NUMERIC", "DECIMAL"},
    {"FIXED", "DECIMAL"},
    {"FLOAT", "FLOAT"},
    {"FLOAT4", "FLOAT"},
    {"DOUBLE", "DOUBLE"},
    {"FLOAT8", "DOUBLE"},
    {"REAL", "DOUBLE"},
    {"DATE", "DATE"},
    {"TIME", "TIME"},
    {"DATETIME", "DATETIME"},
    {"TIMESTAMP", "TIMESTAMP"},
    {"YEAR", "YEAR"},
    {"CHAR", "CHAR"},
    {"CHARACTER", "CHAR"},
    {"NCHAR", "CHAR"},
    {"VARCHAR", "VARCHAR"},
    {"NVARCHAR", "VARCHAR"},
    {"VARCHAR2", "VARCHAR"},
    {"BINARY", "BINARY"},
    {"VARBINARY", "VARBINARY"},
    {"TINYTEXT", "TINYTEXT"},
    {"TEXT", "TEXT"},
    {"MEDIUMTEXT", "MEDIUMTEXT"},
    {"LONGTEXT", "LONGTEXT"},
    {"TINYBLOB", "TINYBLOB"},
    {"BLOB", "BLOB"},
    {"MEDIUMBLOB", "MEDIUMBLOB"},
    {"LONGBLOB", "LONGBLOB"},
    {"ENUM", "ENUM"},
    {"SET", "SET"},
    {"JSON", "JSON"},
    {"GEOMETRY", "GEOMETRY"},
    {"POINT", "POINT"},
    {"LINESTRING", "LINESTRING"},
    {"POLYGON", "POLYGON"},
    {"MULTIPOINT", "MULTIPOINT"},
    {"MULTILINESTRING", "MULTILINESTRING"},
    {"MULTIPOLYGON", "MULTIPOLYGON"},
    {"GEOMETRYCOLLECTION", "GEOMCOLLECTION"},
    {"GEOMCOLLECTION", "GEOMCOLLECTION"},
    {"VECTOR", "VECTOR"},
    {"UUID", "UUID"},
    {"INET4", "INET4"},
    {"INET6", "INET6"},
    {"XMLTYPE", "LONGTEXT"},
};

/* The type a word names, or NULL. */
static const char *type_of_word(const lexer *lx)
{
    if (lx->tok.kind != TOK_WORD)
        return NULL;
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strlen(type_names[i].word) == lx->tok.len &&
            strncasecmp(type_names[i].word, lx->tok.start, lx->tok.len) == 0)
            return type_names[i].type;
    return NULL;
}

static bool take_int(lexer *lx, int64_t *out)
{
    if (lx->tok.kind != TOK_NUMBER)
        return false;
    char buf[32];
    size_t n = lx->tok.len < sizeof buf - 1 ? lx->tok.len : sizeof buf - 1;
    memcpy(buf, lx->tok.start, n);
    buf[n] = '\0';
    *out = strtoll(buf, NULL, 10);
    lex_next(lx);
    return true;
}

/* CHARACTER SET x / CHARSET x / CHAR SET x, at the word after which the name follows. */
static bool take_charset_clause(lexer *lx, const char **cs)
{
    if (accept_kw(lx, "CHARSET") ||
        ((is_kw(lx, "CHARACTER") || is_kw(lx, "CHAR")) && (lex_next(lx), accept_kw(lx, "SET")))) {
        accept_punct(lx, '=');
        const char *name;
        if (lx->tok.kind == TOK_STRING) {
            name = lx->tok.value;
            lex_next(lx);
        } else {
            name = take_ident(lx);
        }
        if (name)
            *cs = lower_dup(lx->arena, name);
        return true;
    }
    return false;
}

/*
 * Reads a data type into c: the name with its synonyms resolved, (M[,D]),
 * ENUM/SET labels, UNSIGNED/ZEROFILL, and a charset written with the type.
 */
static bool parse_data_type(lexer *lx, my_coldef *c)
{
    c->length = -1;
    c->scale = -1;
    const char *type = type_of_word(lx);
    if (!type)
        return false;
    bool national = is_kw(lx, "NCHAR") || is_kw(lx, "NVARCHAR");
    bool is_char = is_kw(lx, "CHAR") || is_kw(lx, "CHARACTER");
    c->boolean = is_kw(lx, "BOOL") || is_kw(lx, "BOOLEAN");
    if (is_kw(lx, "SERIAL")) {
        /* SERIAL is BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE. */
        c->is_unsigned = true;
        c->auto_increment = true;
    }
    lex_next(lx);
    /* Two-word types: DOUBLE PRECISION, CHAR VARYING, NATIONAL CHAR... */
    if (strcmp(type, "DOUBLE") == 0)
        accept_kw(lx, "PRECISION");
    if (is_char && accept_kw(lx, "VARYING"))
        type = "VARCHAR";
    if (national)
        c->charset = "utf8mb3";
    if (c->boolean)
        c->length = 1;
    c->type = type;
    if (is_punct(lx, '(')) {
        lex_next(lx);
        if (strcmp(type, "ENUM") == 0 || strcmp(type, "SET") == 0) {
            const char **labels = NULL;
            uint32_t n = 0, cap = 0;
            while (lx->tok.kind == TOK_STRING) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 8;
                    const char **grown = sl_arena_alloc(lx->arena, cap * sizeof *grown);
                    if (n)
                        memcpy(grown, labels, n * sizeof *grown);
                    labels = grown;
                }
                labels[n++] = lx->tok.value;
                lex_next(lx);
                if (!accept_punct(lx, ','))
                    break;
            }
            c->labels = labels;
            c->nlabels = n;
            /* Debezium's lengths: 1 for ENUM, members plus commas for SET. */
            c->length = strcmp(type, "ENUM") == 0 ? 1 : (n ? (int64_t)n * 2 - 1 : 0);
        } else {
            int64_t m;
            if (take_int(lx, &m)) {
                c->length = m;
                if (accept_punct(lx, ',')) {
                    int64_t d;
                    if (take_int(lx, &d))
                        c->scale = (int32_t)d;
                }
            }
        }
        while (lx->tok.kind != TOK_END && !is_punct(lx, ')'))
            lex_next(lx);
        if (!accept_punct(lx, ')'))
            return false;
    }
    return true;
}

/* The literal or expression after DEFAULT, into c. */
static void parse_default(lexer *lx, my_coldef *c)
{
    bool negative = false;
    if (accept_punct(lx, '-'))
        negative = true;
    else
        accept_punct(lx, '+');
    switch (lx->tok.kind) {
    case TOK_STRING:
        c->default_kind = MY_DEFAULT_LITERAL;
        c->default_text = lx->tok.value;
        lex_next(lx);
        return;
    case TOK_NUMBER: {
        char *text = sl_arena_alloc(lx->arena, lx->tok.len + 2);
        size_t n = 0;
        if (negative)
            text[n++] = '-';
        memcpy(text + n, lx->tok.start, lx->tok.len);
        text[n + lx->tok.len] = '\0';
        c->default_kind = MY_DEFAULT_LITERAL;
        c->default_text = text;
        lex_next(lx);
        return;
    }
    case TOK_BITS: {
        char *text = sl_arena_alloc(lx->arena, lx->tok.value_len + 4);
        snprintf(text, lx->tok.value_len + 4, "b'%s'", lx->tok.value);
        c->default_kind = MY_DEFAULT_LITERAL;
        c->default_text = text;
        lex_next(lx);
        return;
    }
    case TOK_HEX: {
        char *text = sl_arena_alloc(lx->arena, lx->tok.value_len + 3);
        snprintf(text, lx->tok.value_len + 3, "0x%s", lx->tok.value);
        c->default_kind = MY_DEFAULT_LITERAL;
        c->default_text = text;
        lex_next(lx);
        return;
    }
    case TOK_WORD:
        if (is_kw(lx, "NULL")) {
            c->default_kind = MY_DEFAULT_NULL;
            c->default_text = NULL;
            lex_next(lx);
            return;
        }
        if (is_kw(lx, "TRUE") || is_kw(lx, "FALSE")) {
            c->default_kind = MY_DEFAULT_LITERAL;
            c->default_text = is_kw(lx, "TRUE") ? "1" : "0";
            lex_next(lx);
            return;
        }
        break;
    default:
        break;
    }
    /* An expression: a function call or a parenthesized expression, kept as written. */
    const char *start = lx->tok.start;
    if (is_punct(lx, '(')) {
        skip_parens(lx);
    } else {
        lex_next(lx);
        if (is_punct(lx, '('))
            skip_parens(lx);
    }
    const char *end = lx->tok.kind == TOK_END ? lx->end : lx->tok.start;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    c->default_kind = MY_DEFAULT_EXPR;
    c->default_text = sl_arena_strndup(lx->arena, start, (size_t)(end - start));
}

/* What a column definition says about keys of its own (PRIMARY KEY, UNIQUE). */
typedef struct inline_keys {
    bool primary;
    bool unique;
} inline_keys;

/*
 * A column definition after its name: type and attributes, up to the ',' or
 * ')' that ends it (or FIRST/AFTER for ALTER, which the caller reads).
 */
static bool parse_column_def(lexer *lx, my_coldef *c, inline_keys *keys)
{
    memset(keys, 0, sizeof *keys);
    if (!parse_data_type(lx, c))
        return false;
    c->nullable = !c->auto_increment || !c->is_unsigned; /* SERIAL is NOT NULL */
    for (;;) {
        if (lx->tok.kind == TOK_END || is_punct(lx, ',') || is_punct(lx, ')') ||
            is_punct(lx, ';') || is_kw(lx, "FIRST") || is_kw(lx, "AFTER"))
            return true;
        if (accept_kw(lx, "UNSIGNED")) {
            c->is_unsigned = true;
        } else if (accept_kw(lx, "SIGNED")) {
            c->is_unsigned = false;
        } else if (accept_kw(lx, "ZEROFILL")) {
            c->zerofill = true;
            c->is_unsigned = true;
        } else if (accept_kw(lx, "NOT")) {
            if (accept_kw(lx, "NULL"))
                c->nullable = false;
        } else if (accept_kw(lx, "NULL")) {
            c->nullable = true;
        } else if (accept_kw(lx, "DEFAULT")) {
            parse_default(lx, c);
        } else if (accept_kw(lx, "AUTO_INCREMENT")) {
            c->auto_increment = true;
        } else if (accept_kw(lx, "PRIMARY")) {
            accept_kw(lx, "KEY");
            keys->primary = true;
        } else if (accept_kw(lx, "UNIQUE")) {
            if (!accept_kw(lx, "KEY"))
                accept_kw(lx, "INDEX");
            keys->unique = true;
        } else if (accept_kw(lx, "KEY")) {
            keys->primary = true; /* KEY alone in a column definition is PRIMARY KEY */
        } else if (accept_kw(lx, "COMMENT")) {
            if (lx->tok.kind == TOK_STRING) {
                c->comment = lx->tok.value;
                lex_next(lx);
            }
        } else if (accept_kw(lx, "COLLATE")) {
            accept_punct(lx, '=');
            const char *name = lx->tok.kind == TOK_STRING ? lx->tok.value : NULL;
            if (name)
                lex_next(lx);
            else
                name = take_ident(lx);
            if (name)
                c->collation = lower_dup(lx->arena, name);
        } else if (take_charset_clause(lx, &c->charset)) {
            /* read */
        } else if (accept_kw(lx, "ON")) {
            /* ON UPDATE CURRENT_TIMESTAMP[(n)] */
            accept_kw(lx, "UPDATE");
            lex_next(lx);
            skip_parens(lx);
        } else if (accept_kw(lx, "GENERATED")) {
            accept_kw(lx, "ALWAYS");
        } else if (accept_kw(lx, "AS")) {
            c->generated = true;
            skip_parens(lx);
        } else if (accept_kw(lx, "INVISIBLE")) {
            c->invisible = true;
        } else if (accept_kw(lx, "VISIBLE")) {
            c->invisible = false;
        } else if (accept_kw(lx, "SRID")) {
            int64_t srid;
            if (take_int(lx, &srid)) {
                c->has_srid = true;
                c->srid = (uint32_t)srid;
            }
        } else if (accept_kw(lx, "CHECK") || accept_kw(lx, "CONSTRAINT")) {
            if (lx->tok.kind == TOK_WORD && !is_kw(lx, "CHECK"))
                lex_next(lx); /* the constraint's name */
            accept_kw(lx, "CHECK");
            skip_parens(lx);
        } else if (accept_kw(lx, "REFERENCES")) {
            const char *db = NULL, *name = NULL;
            take_table_name(lx, &db, &name);
            skip_parens(lx);
            /* MATCH, ON DELETE/UPDATE actions: words until the element ends. */
            while (lx->tok.kind == TOK_WORD && !is_kw(lx, "FIRST") && !is_kw(lx, "AFTER") &&
                   !is_kw(lx, "DEFAULT") && !is_kw(lx, "COMMENT"))
                lex_next(lx);
        } else {
            /* STORED, VIRTUAL, PERSISTENT, COLUMN_FORMAT x, STORAGE x, ENGINE_ATTRIBUTE... */
            if (is_kw(lx, "VIRTUAL") || is_kw(lx, "STORED") || is_kw(lx, "PERSISTENT"))
                c->generated = true;
            lex_next(lx);
            skip_parens(lx);
        }
    }
}

/* (col[(len)] [ASC|DESC], ...) of a key: the column names. */
static bool parse_key_columns(lexer *lx, my_keydef *k)
{
    if (!accept_punct(lx, '('))
        return false;
    const char **cols = NULL;
    uint32_t n = 0, cap = 0;
    while (lx->tok.kind != TOK_END && !is_punct(lx, ')')) {
        if (is_punct(lx, '(')) {
            /* A functional key part ((expr)): not a column; the key is useless for us. */
            skip_parens(lx);
            n = 0;
            cols = NULL;
            skip_element(lx);
            accept_punct(lx, ',');
            k->ncols = 0;
            continue;
        }
        const char *name = take_ident(lx);
        if (!name)
            return false;
        skip_parens(lx); /* a prefix length */
        accept_kw(lx, "ASC");
        accept_kw(lx, "DESC");
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            const char **grown = sl_arena_alloc(lx->arena, cap * sizeof *grown);
            if (n)
                memcpy(grown, cols, n * sizeof *grown);
            cols = grown;
        }
        cols[n++] = name;
        if (!accept_punct(lx, ','))
            break;
    }
    if (!accept_punct(lx, ')'))
        return false;
    k->cols = cols;
    k->ncols = n;
    return true;
}

/*
 * A key or constraint element of CREATE TABLE or ALTER TABLE ADD, at its
 * first word. Keeps PRIMARY and UNIQUE keys in b; skips the others.
 * Returns false when the current token does not start one.
 */
static bool parse_key_element(lexer *lx, builder *b, bool *ok)
{
    *ok = true;
    const char *constraint = NULL;
    if (is_kw(lx, "CONSTRAINT")) {
        lex_next(lx);
        if (!is_kw(lx, "PRIMARY") && !is_kw(lx, "UNIQUE") && !is_kw(lx, "FOREIGN") &&
            !is_kw(lx, "CHECK"))
            constraint = take_ident(lx);
    } else if (!is_kw(lx, "PRIMARY") && !is_kw(lx, "UNIQUE") && !is_kw(lx, "KEY") &&
               !is_kw(lx, "INDEX") && !is_kw(lx, "FULLTEXT") && !is_kw(lx, "SPATIAL") &&
               !is_kw(lx, "FOREIGN") && !is_kw(lx, "CHECK") && !is_kw(lx, "PERIOD") &&
               !is_kw(lx, "SYSTEM")) {
        return false;
    }
    if (accept_kw(lx, "PRIMARY")) {
        accept_kw(lx, "KEY");
        if (!is_punct(lx, '(')) /* USING BTREE may come before the columns */
            while (lx->tok.kind == TOK_WORD)
                lex_next(lx);
        my_keydef k = {.name = "PRIMARY", .primary = true};
        if (!parse_key_columns(lx, &k)) {
            *ok = false;
            return true;
        }
        /* A new primary key replaces the old one. */
        for (uint32_t i = 0; i < b->nkeys; i++)
            if (b->keys[i].primary) {
                builder_remove_key(b, i);
                break;
            }
        *builder_add_key(b) = k;
    } else if (accept_kw(lx, "UNIQUE")) {
        if (!accept_kw(lx, "KEY"))
            accept_kw(lx, "INDEX");
        const char *name = NULL;
        if (!is_punct(lx, '(') && !is_kw(lx, "USING"))
            name = take_ident(lx);
        if (accept_kw(lx, "USING"))
            lex_next(lx);
        my_keydef k = {.name = name ? name : constraint};
        if (!parse_key_columns(lx, &k)) {
            *ok = false;
            return true;
        }
        if (!k.name && k.ncols)
            k.name = k.cols[0]; /* MySQL names an unnamed key after its first column */
        if (k.ncols)
            *builder_add_key(b) = k;
    }
    /* The rest of the element (other keys, FOREIGN KEY, CHECK, options after the columns). */
    skip_element(lx);
    return true;
}

/* ---------------------------------------------------------------------------
 * CREATE TABLE
 */

/* Table options after the element list: DEFAULT CHARSET, COLLATE, COMMENT; others skipped. */
static void parse_table_options(lexer *lx, builder *b)
{
    while (lx->tok.kind != TOK_END && !is_punct(lx, ';')) {
        if (accept_kw(lx, "DEFAULT"))
            continue;
        const char *cs = NULL;
        if (take_charset_clause(lx, &cs)) {
            if (cs)
                b->charset = cs;
            continue;
        }
        if (accept_kw(lx, "COLLATE")) {
            accept_punct(lx, '=');
            const char *name = lx->tok.kind == TOK_STRING ? lx->tok.value : NULL;
            if (name)
                lex_next(lx);
            else
                name = take_ident(lx);
            if (name)
                b->collation = lower_dup(lx->arena, name);
            continue;
        }
        if (accept_kw(lx, "COMMENT")) {
            accept_punct(lx, '=');
            if (lx->tok.kind == TOK_STRING) {
                b->comment = lx->tok.value;
                lex_next(lx);
            }
            continue;
        }
        if (is_kw(lx, "PARTITION") || is_kw(lx, "AS") || is_kw(lx, "SELECT") ||
            is_kw(lx, "IGNORE") || is_kw(lx, "REPLACE") || is_kw(lx, "START"))
            return;
        if (is_punct(lx, '('))
            skip_parens(lx);
        else
            lex_next(lx);
    }
}

/* The charset a collation name belongs to: its prefix up to the first '_'. */
static const char *charset_of_collation(sl_arena *a, const char *collation)
{
    const char *u = strchr(collation, '_');
    return u ? sl_arena_strndup(a, collation, (size_t)(u - collation)) : collation;
}

/*
 * Debezium's charsetName of a character column: its own charset, else its
 * collation's, else the table's. Binary strings and non-character types
 * have none.
 */
static void fill_column_charsets(builder *b)
{
    for (uint32_t i = 0; i < b->ncols; i++) {
        my_coldef *c = &b->cols[i];
        if (!c->charset && c->collation)
            c->charset = charset_of_collation(b->scratch, c->collation);
    }
}

/* The column definitions and keys of "( ... )", into b. */
static bool parse_table_elements(lexer *lx, builder *b)
{
    if (!accept_punct(lx, '('))
        return false;
    while (lx->tok.kind != TOK_END && !is_punct(lx, ')')) {
        bool ok;
        if (parse_key_element(lx, b, &ok)) {
            if (!ok)
                return false;
        } else {
            const char *name = take_ident(lx);
            if (!name)
                return false;
            my_coldef *c = builder_insert_col(b, b->ncols);
            c->name = name;
            inline_keys ik;
            if (!parse_column_def(lx, c, &ik))
                return false;
            if (ik.primary || ik.unique) {
                my_keydef *k = builder_add_key(b);
                k->primary = ik.primary;
                k->name = ik.primary ? "PRIMARY" : name;
                k->ncols = 1;
                const char **cols = sl_arena_alloc(b->scratch, sizeof *cols);
                cols[0] = name;
                k->cols = cols;
            }
            skip_element(lx);
        }
        if (!accept_punct(lx, ','))
            break;
    }
    return accept_punct(lx, ')');
}

/* CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name, already at the name. */
static sl_code parse_create_body(lexer *lx, builder *b, const char *db, bool *like,
                                 const char **like_db, const char **like_name, sl_error *err)
{
    *like = false;
    const char *tdb = db;
    const char *name = NULL;
    if (!take_table_name(lx, &tdb, &name))
        return sl_error_set(err, SL_INVALID, "CREATE TABLE without a table name");
    b->db = tdb;
    b->name = name;
    /* CREATE TABLE t LIKE s, or CREATE TABLE t (LIKE s). */
    bool like_form = is_kw(lx, "LIKE");
    if (!like_form && is_punct(lx, '(')) {
        lexer peek = *lx;
        lex_next(&peek);
        if (is_kw(&peek, "LIKE")) {
            *lx = peek;
            like_form = true;
        }
    }
    if (like_form) {
        accept_kw(lx, "LIKE");
        *like = true;
        *like_db = db;
        if (!take_table_name(lx, like_db, like_name))
            return sl_error_set(err, SL_INVALID, "CREATE TABLE \"%s\" LIKE without a table name",
                                name);
        return SL_OK;
    }
    if (!is_punct(lx, '('))
        return sl_error_set(err, SL_UNSUPPORTED,
                            "CREATE TABLE \"%s\" has no column list (CREATE ... SELECT)", name);
    if (!parse_table_elements(lx, b))
        return sl_error_set(err, SL_INVALID,
                            "could not read the column definitions of CREATE TABLE \"%s\" near "
                            "\"%.40s\"",
                            name, lx->tok.start ? lx->tok.start : "");
    parse_table_options(lx, b);
    fill_column_charsets(b);
    return SL_OK;
}

/* Skips CREATE's words up to TABLE: OR REPLACE, TEMPORARY, definers... false when not a table. */
static bool skip_to_table_keyword(lexer *lx)
{
    for (int i = 0; i < 6 && lx->tok.kind == TOK_WORD; i++) {
        if (accept_kw(lx, "TABLE"))
            return true;
        if (is_kw(lx, "OR") || is_kw(lx, "REPLACE") || is_kw(lx, "TEMPORARY") ||
            is_kw(lx, "GLOBAL") || is_kw(lx, "LOCAL"))
            lex_next(lx);
        else
            return false;
    }
    return false;
}

static void skip_if_not_exists(lexer *lx)
{
    if (is_kw(lx, "IF")) {
        lex_next(lx);
        accept_kw(lx, "NOT");
        accept_kw(lx, "EXISTS");
    }
}

sl_code my_ddl_parse_create(const char *sql, size_t len, const char *db, unsigned flags,
                            my_tabledef **out, sl_error *err)
{
    *out = NULL;
    sl_arena scratch;
    sl_arena_init(&scratch, 4096);
    lexer lx;
    lex_init(&lx, sql, len, flags, &scratch);
    builder b;
    builder_init(&b, &scratch);
    sl_code rc = SL_OK;
    if (!accept_kw(&lx, "CREATE") || !skip_to_table_keyword(&lx)) {
        rc = sl_error_set(err, SL_INVALID, "not a CREATE TABLE statement");
    } else {
        skip_if_not_exists(&lx);
        bool like;
        const char *like_db, *like_name;
        rc = parse_create_body(&lx, &b, db, &like, &like_db, &like_name, err);
        if (rc == SL_OK && like)
            rc = sl_error_set(err, SL_UNSUPPORTED, "CREATE TABLE ... LIKE names no columns");
    }
    if (rc == SL_OK)
        *out = builder_finish(&b);
    builder_free(&b);
    sl_arena_destroy(&scratch);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The catalog
 */

void my_catalog_init(my_catalog *c)
{
    memset(c, 0, sizeof *c);
}

void my_catalog_free(my_catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        my_tabledef_free(c->tables[i]);
    free(c->tables);
    for (size_t i = 0; i < 2 * c->ndb; i++)
        free(c->db_charsets[i]);
    free(c->db_charsets);
    memset(c, 0, sizeof *c);
}

void my_catalog_set_db_charset(my_catalog *c, const char *db, const char *charset)
{
    for (size_t i = 0; i < c->ndb; i++) {
        if (strcmp(c->db_charsets[2 * i], db) == 0) {
            free(c->db_charsets[2 * i + 1]);
            c->db_charsets[2 * i + 1] = charset ? strdup(charset) : NULL;
            return;
        }
    }
    char **grown = realloc(c->db_charsets, (c->ndb + 1) * 2 * sizeof *grown);
    if (!grown)
        abort();
    c->db_charsets = grown;
    c->db_charsets[2 * c->ndb] = strdup(db);
    c->db_charsets[2 * c->ndb + 1] = charset ? strdup(charset) : NULL;
    c->ndb++;
}

const char *my_catalog_db_charset(const my_catalog *c, const char *db)
{
    for (size_t i = 0; i < c->ndb; i++)
        if (strcmp(c->db_charsets[2 * i], db) == 0)
            return c->db_charsets[2 * i + 1];
    return NULL;
}

static ssize_t catalog_index(const my_catalog *c, const char *db, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->tables[i]->name, name) == 0 && strcmp(c->tables[i]->db, db) == 0)
            return (ssize_t)i;
    return -1;
}

my_tabledef *my_catalog_find(const my_catalog *c, const char *db, const char *name)
{
    ssize_t i = catalog_index(c, db, name);
    return i < 0 ? NULL : c->tables[i];
}

void my_catalog_put(my_catalog *c, my_tabledef *t)
{
    c->changes++;
    ssize_t i = catalog_index(c, t->db, t->name);
    if (i >= 0) {
        my_tabledef_free(c->tables[i]);
        c->tables[i] = t;
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->tables = realloc(c->tables, c->cap * sizeof *c->tables);
        if (!c->tables)
            abort();
    }
    c->tables[c->n++] = t;
}

bool my_catalog_drop(my_catalog *c, const char *db, const char *name)
{
    ssize_t i = catalog_index(c, db, name);
    if (i < 0)
        return false;
    c->changes++;
    my_tabledef_free(c->tables[i]);
    c->tables[i] = c->tables[--c->n];
    return true;
}

/* Renames a definition in place (a copy with the new name replaces it). */
static void catalog_rename(my_catalog *c, const char *db, const char *name, const char *new_db,
                           const char *new_name)
{
    ssize_t i = catalog_index(c, db, name);
    if (i < 0)
        return;
    my_tabledef *t = c->tables[i];
    c->tables[i] = c->tables[--c->n];
    t->db = sl_arena_strdup(&t->arena, new_db);
    t->name = sl_arena_strdup(&t->arena, new_name);
    my_catalog_put(c, t);
}

/* ---------------------------------------------------------------------------
 * Statements
 */

static void add_effect(my_ddl_result *r, my_ddl_change change, const char *db, const char *table,
                       bool unknown)
{
    my_ddl_effect *grown = realloc(r->effects, (r->neffects + 1) * sizeof *grown);
    if (!grown)
        abort();
    r->effects = grown;
    my_ddl_effect *e = &r->effects[r->neffects++];
    e->change = change;
    e->db = strdup(db ? db : "");
    e->table = strdup(table ? table : "");
    e->unknown = unknown;
    e->renamed = false;
    if (!e->db || !e->table)
        abort();
}

void my_ddl_result_free(my_ddl_result *r)
{
    for (size_t i = 0; i < r->neffects; i++) {
        free(r->effects[i].db);
        free(r->effects[i].table);
    }
    free(r->effects);
    free(r->database);
    memset(r, 0, sizeof *r);
}

/* FIRST / AFTER col at the end of an ADD/MODIFY/CHANGE: where the column goes. */
static uint32_t column_place(lexer *lx, const builder *b, uint32_t dflt)
{
    if (accept_kw(lx, "FIRST"))
        return 0;
    if (accept_kw(lx, "AFTER")) {
        const char *after = take_ident(lx);
        int i = after ? builder_find_col(b, after) : -1;
        return i >= 0 ? (uint32_t)i + 1 : dflt;
    }
    return dflt;
}

/* Renames a column in the keys that name it. */
static void rename_in_keys(builder *b, const char *from, const char *to)
{
    for (uint32_t k = 0; k < b->nkeys; k++)
        for (uint32_t i = 0; i < b->keys[k].ncols; i++)
            if (strcasecmp(b->keys[k].cols[i], from) == 0) {
                const char **cols = sl_arena_alloc(b->scratch, b->keys[k].ncols * sizeof *cols);
                memcpy(cols, b->keys[k].cols, b->keys[k].ncols * sizeof *cols);
                cols[i] = to;
                b->keys[k].cols = cols;
            }
}

/* Drops a column from the keys: MySQL shrinks a key and drops it when empty. */
static void drop_from_keys(builder *b, const char *col)
{
    for (uint32_t k = 0; k < b->nkeys;) {
        my_keydef *key = &b->keys[k];
        const char **cols =
            sl_arena_alloc(b->scratch, (key->ncols ? key->ncols : 1) * sizeof *cols);
        uint32_t n = 0;
        for (uint32_t i = 0; i < key->ncols; i++)
            if (strcasecmp(key->cols[i], col) != 0)
                cols[n++] = key->cols[i];
        key->cols = cols;
        key->ncols = n;
        if (n == 0)
            builder_remove_key(b, k);
        else
            k++;
    }
}

/* One ALTER TABLE specification; false when it could not be read. */
static bool alter_spec(lexer *lx, builder *b, const char **rename_db, const char **rename_to)
{
    if (accept_kw(lx, "ADD")) {
        bool ok;
        if (parse_key_element(lx, b, &ok))
            return ok;
        accept_kw(lx, "COLUMN");
        skip_if_not_exists(lx);
        if (is_punct(lx, '(')) {
            /* ADD (col def, col def, ...) */
            lex_next(lx);
            while (lx->tok.kind != TOK_END && !is_punct(lx, ')')) {
                bool kok;
                if (parse_key_element(lx, b, &kok)) {
                    if (!kok)
                        return false;
                } else {
                    const char *name = take_ident(lx);
                    if (!name)
                        return false;
                    my_coldef c = {.name = name};
                    inline_keys ik;
                    if (!parse_column_def(lx, &c, &ik))
                        return false;
                    int have = builder_find_col(b, name);
                    if (have >= 0)
                        builder_remove_col(b, (uint32_t)have);
                    *builder_insert_col(b, b->ncols) = c;
                }
                if (!accept_punct(lx, ','))
                    break;
            }
            return accept_punct(lx, ')');
        }
        const char *name = take_ident(lx);
        if (!name)
            return false;
        my_coldef c = {.name = name};
        inline_keys ik;
        if (!parse_column_def(lx, &c, &ik))
            return false;
        /*
         * A column the definition has already: it was read from the server
         * after this statement ran. Replace it rather than add it twice.
         */
        int have = builder_find_col(b, name);
        if (have >= 0)
            builder_remove_col(b, (uint32_t)have);
        uint32_t at = column_place(lx, b, b->ncols);
        *builder_insert_col(b, at) = c;
        if (ik.primary || ik.unique) {
            my_keydef *k = builder_add_key(b);
            k->primary = ik.primary;
            k->name = ik.primary ? "PRIMARY" : name;
            k->ncols = 1;
            const char **cols = sl_arena_alloc(b->scratch, sizeof *cols);
            cols[0] = name;
            k->cols = cols;
        }
        return true;
    }
    if (accept_kw(lx, "DROP")) {
        if (accept_kw(lx, "PRIMARY")) {
            accept_kw(lx, "KEY");
            for (uint32_t i = 0; i < b->nkeys; i++)
                if (b->keys[i].primary) {
                    builder_remove_key(b, i);
                    break;
                }
            return true;
        }
        if (accept_kw(lx, "INDEX") || accept_kw(lx, "KEY") ||
            (is_kw(lx, "CONSTRAINT") && (lex_next(lx), true))) {
            skip_if_not_exists(lx);
            const char *name = take_ident(lx);
            int k = name ? builder_find_key(b, name) : -1;
            if (k >= 0)
                builder_remove_key(b, (uint32_t)k);
            return name != NULL;
        }
        if (accept_kw(lx, "FOREIGN") || accept_kw(lx, "CHECK") || accept_kw(lx, "PARTITION") ||
            accept_kw(lx, "PERIOD") || accept_kw(lx, "SYSTEM")) {
            skip_element(lx);
            return true;
        }
        accept_kw(lx, "COLUMN");
        if (is_kw(lx, "IF")) {
            lex_next(lx);
            accept_kw(lx, "EXISTS");
        }
        const char *name = take_ident(lx);
        if (!name)
            return false;
        int i = builder_find_col(b, name);
        if (i >= 0) {
            builder_remove_col(b, (uint32_t)i);
            drop_from_keys(b, name);
        }
        accept_kw(lx, "RESTRICT");
        accept_kw(lx, "CASCADE");
        return true;
    }
    bool change = is_kw(lx, "CHANGE");
    if (accept_kw(lx, "MODIFY") || accept_kw(lx, "CHANGE")) {
        accept_kw(lx, "COLUMN");
        if (is_kw(lx, "IF")) {
            lex_next(lx);
            accept_kw(lx, "EXISTS");
        }
        const char *old = take_ident(lx);
        const char *name = change ? take_ident(lx) : old;
        if (!old || !name)
            return false;
        int i = builder_find_col(b, old);
        my_coldef c = {.name = name};
        inline_keys ik;
        if (!parse_column_def(lx, &c, &ik))
            return false;
        if (i < 0)
            return true; /* a column we do not know of: the catalog was incomplete already */
        builder_remove_col(b, (uint32_t)i);
        uint32_t at = column_place(lx, b, (uint32_t)i);
        *builder_insert_col(b, at) = c;
        if (strcasecmp(old, name) != 0)
            rename_in_keys(b, old, name);
        if (ik.primary) {
            my_keydef *k = builder_add_key(b);
            k->primary = true;
            k->name = "PRIMARY";
            k->ncols = 1;
            const char **cols = sl_arena_alloc(b->scratch, sizeof *cols);
            cols[0] = name;
            k->cols = cols;
        }
        return true;
    }
    if (accept_kw(lx, "RENAME")) {
        if (accept_kw(lx, "COLUMN")) {
            const char *from = take_ident(lx);
            if (!accept_kw(lx, "TO"))
                return false;
            const char *to = take_ident(lx);
            if (!from || !to)
                return false;
            int i = builder_find_col(b, from);
            if (i >= 0)
                b->cols[i].name = to;
            rename_in_keys(b, from, to);
            return true;
        }
        if (accept_kw(lx, "INDEX") || accept_kw(lx, "KEY")) {
            const char *from = take_ident(lx);
            accept_kw(lx, "TO");
            const char *to = take_ident(lx);
            int k = from ? builder_find_key(b, from) : -1;
            if (k >= 0 && to)
                b->keys[k].name = to;
            return from && to;
        }
        if (!accept_kw(lx, "TO"))
            accept_kw(lx, "AS");
        const char *db = *rename_db;
        const char *to = NULL;
        if (!take_table_name(lx, &db, &to))
            return false;
        *rename_db = db;
        *rename_to = to;
        return true;
    }
    if (accept_kw(lx, "ALTER")) {
        if (accept_kw(lx, "INDEX") || accept_kw(lx, "CONSTRAINT") || accept_kw(lx, "CHECK")) {
            skip_element(lx);
            return true;
        }
        accept_kw(lx, "COLUMN");
        const char *name = take_ident(lx);
        if (!name)
            return false;
        int i = builder_find_col(b, name);
        my_coldef *c = i >= 0 ? &b->cols[i] : NULL;
        if (accept_kw(lx, "SET")) {
            if (accept_kw(lx, "DEFAULT")) {
                my_coldef tmp = {0};
                parse_default(lx, &tmp);
                if (c) {
                    c->default_kind = tmp.default_kind;
                    c->default_text = tmp.default_text;
                }
            } else if (accept_kw(lx, "INVISIBLE")) {
                if (c)
                    c->invisible = true;
            } else if (accept_kw(lx, "VISIBLE")) {
                if (c)
                    c->invisible = false;
            } else {
                return false;
            }
            return true;
        }
        if (accept_kw(lx, "DROP")) {
            if (!accept_kw(lx, "DEFAULT"))
                return false;
            if (c) {
                c->default_kind = MY_DEFAULT_NONE;
                c->default_text = NULL;
            }
            return true;
        }
        return false;
    }
    if (accept_kw(lx, "CONVERT")) {
        /* CONVERT TO CHARACTER SET cs [COLLATE c]: every character column changes. */
        accept_kw(lx, "TO");
        const char *cs = NULL;
        if (!take_charset_clause(lx, &cs) || !cs)
            return false;
        const char *coll = NULL;
        if (accept_kw(lx, "COLLATE")) {
            accept_punct(lx, '=');
            const char *name = take_ident(lx);
            if (name)
                coll = lower_dup(lx->arena, name);
        }
        b->charset = cs;
        b->collation = coll;
        for (uint32_t i = 0; i < b->ncols; i++) {
            my_coldef *c = &b->cols[i];
            if (c->charset && strcmp(c->charset, "binary") != 0) {
                c->charset = cs;
                c->collation = coll;
            }
        }
        return true;
    }
    /* Table options and ALTER-only clauses: DEFAULT CHARSET, ENGINE, ALGORITHM, LOCK, FORCE... */
    const char *cs = NULL;
    accept_kw(lx, "DEFAULT");
    if (take_charset_clause(lx, &cs)) {
        if (cs)
            b->charset = cs;
        if (accept_kw(lx, "COLLATE")) {
            accept_punct(lx, '=');
            take_ident(lx);
        }
        return true;
    }
    if (accept_kw(lx, "COMMENT")) {
        accept_punct(lx, '=');
        if (lx->tok.kind == TOK_STRING) {
            b->comment = lx->tok.value;
            lex_next(lx);
        }
        return true;
    }
    if (is_kw(lx, "ENGINE") || is_kw(lx, "ALGORITHM") || is_kw(lx, "LOCK") || is_kw(lx, "FORCE") ||
        is_kw(lx, "AUTO_INCREMENT") || is_kw(lx, "ROW_FORMAT") || is_kw(lx, "KEY_BLOCK_SIZE") ||
        is_kw(lx, "COLLATE") || is_kw(lx, "ENABLE") || is_kw(lx, "DISABLE") ||
        is_kw(lx, "DISCARD") || is_kw(lx, "IMPORT") || is_kw(lx, "ORDER") ||
        is_kw(lx, "PARTITION") || is_kw(lx, "REMOVE") || is_kw(lx, "COALESCE") ||
        is_kw(lx, "REORGANIZE") || is_kw(lx, "TRUNCATE") || is_kw(lx, "ANALYZE") ||
        is_kw(lx, "CHECK") || is_kw(lx, "OPTIMIZE") || is_kw(lx, "REBUILD") ||
        is_kw(lx, "REPAIR") || is_kw(lx, "EXCHANGE") || is_kw(lx, "WITH") || is_kw(lx, "WITHOUT") ||
        is_kw(lx, "STATS_PERSISTENT") || is_kw(lx, "STATS_AUTO_RECALC") ||
        is_kw(lx, "STATS_SAMPLE_PAGES") || is_kw(lx, "PACK_KEYS") || is_kw(lx, "CHECKSUM") ||
        is_kw(lx, "MAX_ROWS") || is_kw(lx, "MIN_ROWS") || is_kw(lx, "AVG_ROW_LENGTH") ||
        is_kw(lx, "DELAY_KEY_WRITE") || is_kw(lx, "INSERT_METHOD") || is_kw(lx, "TABLESPACE") ||
        is_kw(lx, "COMPRESSION") || is_kw(lx, "ENCRYPTION") || is_kw(lx, "SECONDARY_ENGINE") ||
        is_kw(lx, "PAGE_CHECKSUM") || is_kw(lx, "TRANSACTIONAL") || is_kw(lx, "ADD_SYSTEM") ||
        is_kw(lx, "UNION") || is_kw(lx, "DATA") || is_kw(lx, "INDEX") || is_kw(lx, "CONNECTION") ||
        is_kw(lx, "PASSWORD") || is_kw(lx, "STORAGE") || is_kw(lx, "IETF_QUOTES") ||
        is_kw(lx, "SEQUENCE") || is_kw(lx, "PAGE_COMPRESSED") ||
        is_kw(lx, "PAGE_COMPRESSION_LEVEL") || is_kw(lx, "ENGINE_ATTRIBUTE")) {
        skip_element(lx);
        return true;
    }
    return false;
}

/* ALTER [ONLINE|IGNORE] TABLE name spec, spec...: at the table name. */
static void alter_table(lexer *lx, my_catalog *cat, const char *default_db, my_ddl_result *res,
                        sl_arena *scratch)
{
    const char *db = default_db, *name = NULL;
    if (!take_table_name(lx, &db, &name))
        return;
    res->is_ddl = true;
    my_tabledef *old = my_catalog_find(cat, db, name);
    if (!old) {
        /* A table the catalog does not follow: nothing to change, but it altered. */
        add_effect(res, MY_DDL_ALTERED, db, name, false);
        return;
    }
    builder b;
    builder_init(&b, scratch);
    builder_load(&b, old);
    const char *rename_db = db, *rename_to = NULL;
    bool ok = true;
    while (lx->tok.kind != TOK_END && !is_punct(lx, ';')) {
        if (!alter_spec(lx, &b, &rename_db, &rename_to)) {
            ok = false;
            break;
        }
        skip_element(lx);
        if (!accept_punct(lx, ','))
            break;
    }
    if (!ok) {
        builder_free(&b);
        my_catalog_drop(cat, db, name);
        add_effect(res, MY_DDL_ALTERED, db, name, true);
        return;
    }
    if (rename_to) {
        b.db = rename_db;
        b.name = rename_to;
    }
    fill_column_charsets(&b);
    my_tabledef *t = builder_finish(&b);
    builder_free(&b);
    if (rename_to) {
        my_catalog_drop(cat, db, name);
        add_effect(res, MY_DDL_DROPPED, db, name, false);
        res->effects[res->neffects - 1].renamed = true;
        my_catalog_put(cat, t);
        add_effect(res, MY_DDL_ALTERED, rename_db, rename_to, false);
    } else {
        my_catalog_put(cat, t);
        add_effect(res, MY_DDL_ALTERED, db, name, false);
    }
}

static void create_table(lexer *lx, my_catalog *cat, const char *default_db, my_ddl_result *res,
                         sl_arena *scratch)
{
    res->is_ddl = true;
    skip_if_not_exists(lx);
    builder b;
    builder_init(&b, scratch);
    bool like;
    const char *like_db = NULL, *like_name = NULL;
    sl_error err;
    sl_code rc = parse_create_body(lx, &b, default_db, &like, &like_db, &like_name, &err);
    const char *db = b.db ? b.db : default_db, *name = b.name;
    if (!name) {
        builder_free(&b);
        return;
    }
    if (rc == SL_OK && like) {
        my_tabledef *src = my_catalog_find(cat, like_db, like_name);
        if (src) {
            my_tabledef *t = my_tabledef_copy(src);
            t->db = sl_arena_strdup(&t->arena, db);
            t->name = sl_arena_strdup(&t->arena, name);
            my_catalog_put(cat, t);
            add_effect(res, MY_DDL_CREATED, db, name, false);
        } else {
            my_catalog_drop(cat, db, name);
            add_effect(res, MY_DDL_CREATED, db, name, true);
        }
    } else if (rc == SL_OK) {
        if (!b.charset) {
            const char *dbcs = my_catalog_db_charset(cat, db);
            if (dbcs)
                b.charset = sl_arena_strdup(scratch, dbcs);
        }
        my_catalog_put(cat, builder_finish(&b));
        add_effect(res, MY_DDL_CREATED, db, name, false);
    } else {
        my_catalog_drop(cat, db, name);
        add_effect(res, MY_DDL_CREATED, db, name, true);
    }
    builder_free(&b);
}

/* DROP TABLE a, b / RENAME TABLE a TO b, c TO d / TRUNCATE: at the first name. */
static void drop_tables(lexer *lx, my_catalog *cat, const char *default_db, my_ddl_result *res)
{
    res->is_ddl = true;
    if (is_kw(lx, "IF")) {
        lex_next(lx);
        accept_kw(lx, "EXISTS");
    }
    for (;;) {
        const char *db = default_db, *name = NULL;
        if (!take_table_name(lx, &db, &name))
            return;
        my_catalog_drop(cat, db, name);
        add_effect(res, MY_DDL_DROPPED, db, name, false);
        if (!accept_punct(lx, ','))
            return;
    }
}

static void rename_tables(lexer *lx, my_catalog *cat, const char *default_db, my_ddl_result *res)
{
    res->is_ddl = true;
    for (;;) {
        const char *db = default_db, *name = NULL, *to_db = default_db, *to = NULL;
        if (!take_table_name(lx, &db, &name) || !accept_kw(lx, "TO") ||
            !take_table_name(lx, &to_db, &to))
            return;
        catalog_rename(cat, db, name, to_db, to);
        add_effect(res, MY_DDL_DROPPED, db, name, false);
        res->effects[res->neffects - 1].renamed = true;
        add_effect(res, MY_DDL_ALTERED, to_db, to, false);
        if (!accept_punct(lx, ','))
            return;
    }
}

/* CREATE [UNIQUE] INDEX name ON table (cols) / DROP INDEX name ON table. */
static void index_statement(lexer *lx, my_catalog *cat, const char *default_db, bool create,
                            bool unique, my_ddl_result *res, sl_arena *scratch)
{
    res->is_ddl = true;
    skip_if_not_exists(lx);
    if (is_kw(lx, "IF")) {
        lex_next(lx);
        accept_kw(lx, "EXISTS");
    }
    const char *index = take_ident(lx);
    while (lx->tok.kind == TOK_WORD && !is_kw(lx, "ON"))
        lex_next(lx); /* USING BTREE */
    if (!index || !accept_kw(lx, "ON"))
        return;
    const char *db = default_db, *name = NULL;
    if (!take_table_name(lx, &db, &name))
        return;
    my_tabledef *old = my_catalog_find(cat, db, name);
    if (!old) {
        add_effect(res, MY_DDL_ALTERED, db, name, false);
        return;
    }
    builder b;
    builder_init(&b, scratch);
    builder_load(&b, old);
    if (create && unique) {
        my_keydef k = {.name = index};
        if (parse_key_columns(lx, &k) && k.ncols)
            *builder_add_key(&b) = k;
    } else if (!create) {
        int k = builder_find_key(&b, index);
        if (k >= 0)
            builder_remove_key(&b, (uint32_t)k);
    }
    my_catalog_put(cat, builder_finish(&b));
    builder_free(&b);
    add_effect(res, MY_DDL_ALTERED, db, name, false);
}

/* DROP/CREATE/ALTER DATABASE|SCHEMA name: at the name. */
static void database_statement(lexer *lx, my_catalog *cat, bool drop, my_ddl_result *res)
{
    res->is_ddl = true;
    res->database_change = true;
    skip_if_not_exists(lx);
    if (is_kw(lx, "IF")) {
        lex_next(lx);
        accept_kw(lx, "EXISTS");
    }
    const char *name = take_ident(lx);
    if (!name)
        return;
    res->database = strdup(name);
    if (!res->database)
        abort();
    if (!drop) {
        /* [DEFAULT] CHARACTER SET x, COLLATE y: the charset of tables created later. */
        while (lx->tok.kind != TOK_END && !is_punct(lx, ';')) {
            const char *cs = NULL;
            if (take_charset_clause(lx, &cs) && cs) {
                my_catalog_set_db_charset(cat, name, cs);
            } else if (accept_kw(lx, "COLLATE")) {
                accept_punct(lx, '=');
                const char *coll = take_ident(lx);
                if (coll && !my_catalog_db_charset(cat, name))
                    my_catalog_set_db_charset(
                        cat, name, charset_of_collation(lx->arena, lower_dup(lx->arena, coll)));
            } else {
                lex_next(lx);
            }
        }
        return;
    }
    for (size_t i = 0; i < cat->n;) {
        if (strcmp(cat->tables[i]->db, name) == 0) {
            add_effect(res, MY_DDL_DROPPED, name, cat->tables[i]->name, false);
            my_catalog_drop(cat, name, cat->tables[i]->name);
        } else {
            i++;
        }
    }
}

sl_code my_ddl_apply(my_catalog *c, const char *default_db, const char *sql, size_t len,
                     unsigned flags, my_ddl_result *res, sl_error *err)
{
    (void)err;
    memset(res, 0, sizeof *res);
    if (!default_db)
        default_db = "";
    sl_arena scratch;
    sl_arena_init(&scratch, 4096);
    lexer lx;
    lex_init(&lx, sql, len, flags, &scratch);
    if (accept_kw(&lx, "CREATE")) {
        if (accept_kw(&lx, "OR"))
            accept_kw(&lx, "REPLACE");
        bool unique = accept_kw(&lx, "UNIQUE");
        bool other_index = !unique && (accept_kw(&lx, "FULLTEXT") || accept_kw(&lx, "SPATIAL"));
        while (accept_kw(&lx, "ONLINE") || accept_kw(&lx, "OFFLINE"))
            ;
        if (unique || other_index || is_kw(&lx, "INDEX")) {
            accept_kw(&lx, "INDEX");
            index_statement(&lx, c, default_db, true, unique, res, &scratch);
        } else if (accept_kw(&lx, "DATABASE") || accept_kw(&lx, "SCHEMA")) {
            database_statement(&lx, c, false, res);
        } else {
            lexer save = lx;
            if (skip_to_table_keyword(&lx)) {
                create_table(&lx, c, default_db, res, &scratch);
            } else {
                lx = save;
                /* CREATE OR REPLACE [UNIQUE] INDEX, ONLINE... are rare; views, procedures: not DDL
                 * of tables. */
            }
        }
    } else if (accept_kw(&lx, "ALTER")) {
        while (accept_kw(&lx, "ONLINE") || accept_kw(&lx, "OFFLINE") || accept_kw(&lx, "IGNORE"))
            ;
        if (accept_kw(&lx, "TABLE")) {
            skip_if_not_exists(&lx);
            if (is_kw(&lx, "IF")) {
                lex_next(&lx);
                accept_kw(&lx, "EXISTS");
            }
            alter_table(&lx, c, default_db, res, &scratch);
        } else if (accept_kw(&lx, "DATABASE") || accept_kw(&lx, "SCHEMA")) {
            database_statement(&lx, c, false, res);
        }
    } else if (accept_kw(&lx, "DROP")) {
        accept_kw(&lx, "TEMPORARY");
        if (accept_kw(&lx, "TABLE") || accept_kw(&lx, "TABLES")) {
            drop_tables(&lx, c, default_db, res);
        } else if (accept_kw(&lx, "INDEX")) {
            index_statement(&lx, c, default_db, false, false, res, &scratch);
        } else if (accept_kw(&lx, "DATABASE") || accept_kw(&lx, "SCHEMA")) {
            database_statement(&lx, c, true, res);
        }
    } else if (accept_kw(&lx, "RENAME")) {
        if (accept_kw(&lx, "TABLE") || accept_kw(&lx, "TABLES"))
            rename_tables(&lx, c, default_db, res);
    } else if (accept_kw(&lx, "TRUNCATE")) {
        accept_kw(&lx, "TABLE");
        const char *db = default_db, *name = NULL;
        if (take_table_name(&lx, &db, &name)) {
            res->is_ddl = true;
            add_effect(res, MY_DDL_TRUNCATED, db, name, false);
        }
    }
    sl_arena_destroy(&scratch);
    return SL_OK;
}
