/*
 * Table definitions back to DDL text: a CREATE TABLE statement that
 * my_ddl_parse_create() reads as the same definition, for the catalog that
 * travels with the offsets (my_catalog_state.c). Only what a my_tabledef
 * holds is written; a generated column's expression, which it does not
 * hold, becomes a placeholder that marks the column generated again.
 */
#include <stdio.h>
#include <string.h>

#include "mysql/my_ddl.h"

static void put_ident(sl_buf *b, const char *name)
{
    sl_buf_putc(b, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_putc(b, '`');
        sl_buf_putc(b, *p);
    }
    sl_buf_putc(b, '`');
}

/* A string literal in the default SQL mode: quotes doubled, backslashes escaped. */
static void put_string(sl_buf *b, const char *text)
{
    sl_buf_putc(b, '\'');
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            sl_buf_putc(b, '\'');
        else if (*p == '\\')
            sl_buf_putc(b, '\\');
        sl_buf_putc(b, *p);
    }
    sl_buf_putc(b, '\'');
}

static void put_column(sl_buf *b, const my_coldef *c)
{
    put_ident(b, c->name);
    sl_buf_putc(b, ' ');
    bool is_enum = strcmp(c->type, "ENUM") == 0 || strcmp(c->type, "SET") == 0;
    if (c->boolean && strcmp(c->type, "TINYINT") == 0) {
        sl_buf_puts(b, "BOOLEAN");
    } else {
        sl_buf_puts(b, c->type);
        if (is_enum) {
            sl_buf_putc(b, '(');
            for (uint32_t i = 0; i < c->nlabels; i++) {
                if (i)
                    sl_buf_putc(b, ',');
                put_string(b, c->labels[i]);
            }
            sl_buf_putc(b, ')');
        } else if (c->length >= 0 && c->scale >= 0) {
            sl_buf_printf(b, "(%lld,%d)", (long long)c->length, (int)c->scale);
        } else if (c->length >= 0) {
            sl_buf_printf(b, "(%lld)", (long long)c->length);
        }
    }
    if (c->is_unsigned && !c->zerofill)
        sl_buf_puts(b, " UNSIGNED");
    if (c->zerofill)
        sl_buf_puts(b, " UNSIGNED ZEROFILL");
    if (c->charset) {
        sl_buf_puts(b, " CHARACTER SET ");
        sl_buf_puts(b, c->charset);
    }
    if (c->collation) {
        sl_buf_puts(b, " COLLATE ");
        sl_buf_puts(b, c->collation);
    }
    if (c->has_srid)
        sl_buf_printf(b, " SRID %u", c->srid);
    if (c->generated)
        sl_buf_puts(b, " GENERATED ALWAYS AS (NULL) VIRTUAL");
    sl_buf_puts(b, c->nullable ? " NULL" : " NOT NULL");
    switch (c->default_kind) {
    case MY_DEFAULT_NONE:
        break;
    case MY_DEFAULT_NULL:
        sl_buf_puts(b, " DEFAULT NULL");
        break;
    case MY_DEFAULT_LITERAL:
        sl_buf_puts(b, " DEFAULT ");
        /* Bit and hex literals keep their form (b'101', 0x0A): the parser reads them so. */
        if (strncmp(c->default_text, "b'", 2) == 0 || strncmp(c->default_text, "0x", 2) == 0)
            sl_buf_puts(b, c->default_text);
        else
            put_string(b, c->default_text);
        break;
    case MY_DEFAULT_EXPR:
        sl_buf_puts(b, " DEFAULT ");
        sl_buf_puts(b, c->default_text);
        break;
    }
    if (c->auto_increment)
        sl_buf_puts(b, " AUTO_INCREMENT");
    if (c->invisible)
        sl_buf_puts(b, " INVISIBLE");
    if (c->comment) {
        sl_buf_puts(b, " COMMENT ");
        put_string(b, c->comment);
    }
}

void my_tabledef_format(const my_tabledef *t, sl_buf *out)
{
    sl_buf_puts(out, "CREATE TABLE ");
    if (t->db && t->db[0]) {
        put_ident(out, t->db);
        sl_buf_putc(out, '.');
    }
    put_ident(out, t->name);
    sl_buf_puts(out, " (");
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (i)
            sl_buf_puts(out, ", ");
        put_column(out, &t->cols[i]);
    }
    for (uint32_t i = 0; i < t->nkeys; i++) {
        const my_keydef *k = &t->keys[i];
        if (k->primary) {
            sl_buf_puts(out, ", PRIMARY KEY (");
        } else {
            sl_buf_puts(out, ", UNIQUE KEY ");
            put_ident(out, k->name ? k->name : "");
            sl_buf_puts(out, " (");
        }
        for (uint32_t j = 0; j < k->ncols; j++) {
            if (j)
                sl_buf_putc(out, ',');
            put_ident(out, k->cols[j]);
        }
        sl_buf_putc(out, ')');
    }
    sl_buf_putc(out, ')');
    if (t->charset) {
        sl_buf_puts(out, " DEFAULT CHARSET=");
        sl_buf_puts(out, t->charset);
    }
    if (t->collation) {
        sl_buf_puts(out, " COLLATE=");
        sl_buf_puts(out, t->collation);
    }
    if (t->comment) {
        sl_buf_puts(out, " COMMENT=");
        put_string(out, t->comment);
    }
}
