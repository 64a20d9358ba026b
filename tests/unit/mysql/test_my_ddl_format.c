/*
 * Tests for connectors/mysql/my_ddl_format.c: a definition written back as
 * CREATE TABLE and parsed again is the same definition, field by field, for
 * the column forms MySQL and MariaDB print and the binlog's DDL may hold.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mysql/my_ddl.h"

static my_tabledef *parse(const char *sql)
{
    my_tabledef *t = NULL;
    sl_error err;
    sl_code rc = my_ddl_parse_create(sql, strlen(sql), "sluice_test", 0, &t, &err);
    cr_assert_eq(rc, SL_OK, "%s\n%s", err.msg, sql);
    return t;
}

static void same_text(const char *what, const char *a, const char *b)
{
    if (!a || !b)
        cr_assert(a == b, "%s: %s != %s", what, a ? a : "(null)", b ? b : "(null)");
    else
        cr_assert_str_eq(a, b, "%s", what);
}

static void same_definition(const my_tabledef *a, const my_tabledef *b)
{
    same_text("db", a->db, b->db);
    same_text("name", a->name, b->name);
    same_text("charset", a->charset, b->charset);
    same_text("collation", a->collation, b->collation);
    same_text("comment", a->comment, b->comment);
    cr_assert_eq(a->ncols, b->ncols);
    for (uint32_t i = 0; i < a->ncols; i++) {
        const my_coldef *x = &a->cols[i], *y = &b->cols[i];
        same_text("column", x->name, y->name);
        same_text(x->name, x->type, y->type);
        cr_assert_eq(x->length, y->length, "%s length", x->name);
        cr_assert_eq(x->scale, y->scale, "%s scale", x->name);
        cr_assert_eq(x->is_unsigned, y->is_unsigned, "%s unsigned", x->name);
        cr_assert_eq(x->zerofill, y->zerofill, "%s zerofill", x->name);
        cr_assert_eq(x->nullable, y->nullable, "%s nullable", x->name);
        cr_assert_eq(x->boolean, y->boolean, "%s boolean", x->name);
        cr_assert_eq(x->auto_increment, y->auto_increment, "%s auto_increment", x->name);
        cr_assert_eq(x->generated, y->generated, "%s generated", x->name);
        cr_assert_eq(x->invisible, y->invisible, "%s invisible", x->name);
        same_text("charset", x->charset, y->charset);
        same_text("collation", x->collation, y->collation);
        cr_assert_eq(x->default_kind, y->default_kind, "%s default kind", x->name);
        same_text("default", x->default_text, y->default_text);
        same_text("comment", x->comment, y->comment);
        cr_assert_eq(x->nlabels, y->nlabels, "%s labels", x->name);
        for (uint32_t k = 0; k < x->nlabels; k++)
            same_text("label", x->labels[k], y->labels[k]);
        cr_assert_eq(x->has_srid, y->has_srid);
        cr_assert_eq(x->srid, y->srid);
    }
    cr_assert_eq(a->nkeys, b->nkeys);
    for (uint32_t i = 0; i < a->nkeys; i++) {
        cr_assert_eq(a->keys[i].primary, b->keys[i].primary);
        same_text("key", a->keys[i].name, b->keys[i].name);
        cr_assert_eq(a->keys[i].ncols, b->keys[i].ncols);
        for (uint32_t k = 0; k < a->keys[i].ncols; k++)
            same_text("key column", a->keys[i].cols[k], b->keys[i].cols[k]);
    }
}

static void round_trip(const char *sql)
{
    my_tabledef *a = parse(sql);
    sl_buf text;
    sl_buf_init(&text);
    my_tabledef_format(a, &text);
    my_tabledef *b = parse(sl_buf_cstr(&text));
    cr_log_info("%s", sl_buf_cstr(&text));
    same_definition(a, b);
    sl_buf_free(&text);
    my_tabledef_free(a);
    my_tabledef_free(b);
}

Test(my_ddl_format, mysql_show_create_table_round_trips)
{
    round_trip("CREATE TABLE `ints` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `t` tinyint DEFAULT "
               "NULL,\n  `tu` tinyint unsigned DEFAULT NULL,\n  `z` int(5) unsigned zerofill "
               "DEFAULT NULL,\n  `flag` tinyint(1) DEFAULT NULL,\n  `bit_def` bit(3) DEFAULT "
               "b'101',\n  `hex_def` varbinary(4) DEFAULT 0x0A0B,\n  `i_def` int NOT NULL DEFAULT "
               "'42',\n  `d` decimal(10,2) DEFAULT '-1.50',\n  `ts` timestamp(3) NOT NULL "
               "DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),\n  `s` varchar(20) "
               "CHARACTER SET latin1 COLLATE latin1_bin DEFAULT 'it''s a \\\\ test' COMMENT "
               "'say ''hi''',\n  `e` enum('a','b''c','d,e') NOT NULL DEFAULT 'a',\n  `st` "
               "set('x','y') DEFAULT NULL,\n  `g` int GENERATED ALWAYS AS ((`id` + 1)) VIRTUAL,\n "
               " `p` point NOT NULL /*!80003 SRID 4326 */,\n  `inv` int DEFAULT NULL /*!80023 "
               "INVISIBLE */,\n  `j` json DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY "
               "`u_ts` (`ts`,`s`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
               "COLLATE=utf8mb4_0900_ai_ci COMMENT='the `ints`'");
}

Test(my_ddl_format, binlog_ddl_forms_round_trip)
{
    round_trip("CREATE TABLE sluice_test.b (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, ok BOOLEAN "
               "DEFAULT TRUE, f FLOAT(7,3), u UUID, v VECTOR(3), `we``ird` CHAR(3))");
}
