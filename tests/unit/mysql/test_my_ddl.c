/*
 * Tests for connectors/mysql/my_ddl.c: SHOW CREATE TABLE as MySQL 9.7 and
 * MariaDB 10.11 print it for the golden tables, the DDL forms that change
 * columns and keys (the golden capture's ALTERs among them), and what the
 * parser must not get wrong when it cannot read a statement.
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

static const my_coldef *col(const my_tabledef *t, const char *name)
{
    int i = my_tabledef_column(t, name);
    cr_assert(i >= 0, "no column %s in %s", name, t->name);
    return &t->cols[i];
}

/* MySQL 9.7's SHOW CREATE TABLE of the golden `ints` table. */
static const char mysql_ints[] =
    "CREATE TABLE `ints` (\n  `id` int NOT NULL,\n  `t` tinyint DEFAULT NULL,\n  `tu` tinyint "
    "unsigned DEFAULT NULL,\n  `flag` tinyint(1) DEFAULT NULL,\n  `y` year DEFAULT NULL,\n  "
    "`bit5` bit(5) DEFAULT NULL,\n  `i_def` int NOT NULL DEFAULT '42',\n  `bu_def` bigint "
    "unsigned DEFAULT '18446744073709551615',\n  `bit_def` bit(3) DEFAULT b'101',\n  PRIMARY KEY "
    "(`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci";

/* MariaDB 10.11's, which keeps display widths and writes defaults unquoted. */
static const char mariadb_ints[] =
    "CREATE TABLE `ints` (\n  `id` int(11) NOT NULL,\n  `t` tinyint(4) DEFAULT NULL,\n  `tu` "
    "tinyint(3) unsigned DEFAULT NULL,\n  `flag` tinyint(1) DEFAULT NULL,\n  `y` year(4) DEFAULT "
    "NULL,\n  `bit5` bit(5) DEFAULT NULL,\n  `i_def` int(11) NOT NULL DEFAULT 42,\n  `bu_def` "
    "bigint(20) unsigned DEFAULT 18446744073709551615,\n  `bit_def` bit(3) DEFAULT b'101',\n  "
    "PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";

Test(my_ddl, show_create_table_of_both_servers)
{
    const char *texts[] = {mysql_ints, mariadb_ints};
    for (int k = 0; k < 2; k++) {
        my_tabledef *t = parse(texts[k]);
        cr_assert_str_eq(t->db, "sluice_test");
        cr_assert_str_eq(t->name, "ints");
        cr_assert_eq(t->ncols, 9);
        cr_assert_str_eq(t->charset, "utf8mb4");
        const my_coldef *id = col(t, "id");
        cr_assert_str_eq(id->type, "INT");
        cr_assert_not(id->nullable);
        cr_assert_eq(id->default_kind, MY_DEFAULT_NONE);
        const my_coldef *tu = col(t, "tu");
        cr_assert_str_eq(tu->type, "TINYINT");
        cr_assert(tu->is_unsigned);
        cr_assert(tu->nullable);
        cr_assert_eq(tu->default_kind, MY_DEFAULT_NULL);
        cr_assert_eq(col(t, "flag")->length, 1);
        cr_assert_eq(col(t, "bit5")->length, 5);
        const my_coldef *d = col(t, "i_def");
        cr_assert_eq(d->default_kind, MY_DEFAULT_LITERAL);
        cr_assert_str_eq(d->default_text, "42");
        cr_assert_str_eq(col(t, "bu_def")->default_text, "18446744073709551615");
        cr_assert_str_eq(col(t, "bit_def")->default_text, "b'101'");
        const my_keydef *pk = my_tabledef_primary(t);
        cr_assert_not_null(pk);
        cr_assert_eq(pk->ncols, 1);
        cr_assert_str_eq(pk->cols[0], "id");
        my_tabledef_free(t);
    }
}

Test(my_ddl, strings_enums_sets_and_charsets)
{
    my_tabledef *t =
        parse("CREATE TABLE `strings` (\n  `id` int NOT NULL,\n  `c` char(5) CHARACTER SET utf8mb4 "
              "COLLATE utf8mb4_0900_ai_ci DEFAULT NULL,\n  `c_latin1` char(5) CHARACTER SET latin1 "
              "COLLATE latin1_swedish_ci DEFAULT NULL,\n  `vc_ascii` varchar(10) COLLATE "
              "ascii_general_ci DEFAULT NULL,\n  `c_binary` binary(4) DEFAULT NULL,\n  `e` "
              "enum('small','medium','large') DEFAULT NULL,\n  `e_def` enum('a','b','c') NOT NULL "
              "DEFAULT 'b',\n  `st_def` set('x','y','z') DEFAULT 'x,z',\n  `q` varchar(20) DEFAULT "
              "'it''s \\\\ \"q\"',\n  `c_nn` char(3) NOT NULL DEFAULT '',\n  PRIMARY KEY (`id`)\n) "
              "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    cr_assert_str_eq(col(t, "c_latin1")->charset, "latin1");
    cr_assert_str_eq(col(t, "vc_ascii")->charset, "ascii", "charset from the collation");
    cr_assert_str_eq(col(t, "c_binary")->type, "BINARY");
    cr_assert_eq(col(t, "c_binary")->length, 4);
    const my_coldef *e = col(t, "e");
    cr_assert_str_eq(e->type, "ENUM");
    cr_assert_eq(e->nlabels, 3);
    cr_assert_str_eq(e->labels[1], "medium");
    cr_assert_eq(e->length, 1);
    const my_coldef *s = col(t, "st_def");
    cr_assert_eq(s->length, 5, "SET length is members plus commas");
    cr_assert_str_eq(s->default_text, "x,z");
    cr_assert_str_eq(col(t, "q")->default_text, "it's \\ \"q\"");
    cr_assert_str_eq(col(t, "c_nn")->default_text, "");
    cr_assert_eq(col(t, "c_nn")->default_kind, MY_DEFAULT_LITERAL);
    my_tabledef_free(t);
}

Test(my_ddl, temporal_defaults_json_spatial_and_comments)
{
    my_tabledef *t = parse(
        "CREATE TABLE t (\n  id INT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT 'the key',\n"
        "  ts_now timestamp(3) NOT NULL DEFAULT current_timestamp(3) ON UPDATE "
        "current_timestamp(3),\n  t_def time(2) DEFAULT '-01:02:03.45',\n  d_def decimal(6,2) "
        "DEFAULT 12.50,\n  neg int DEFAULT -5,\n  j longtext CHARACTER SET utf8mb4 COLLATE "
        "utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`)),\n  p_srid point /*!80003 SRID 4326 */ "
        "DEFAULT NULL,\n  gc geometrycollection DEFAULT NULL,\n  f float(7,3) DEFAULT NULL,\n"
        "  b BOOLEAN DEFAULT TRUE,\n  g int GENERATED ALWAYS AS (id + 1) VIRTUAL,\n"
        "  u uuid DEFAULT NULL, -- a MariaDB type\n  PRIMARY KEY (id) /* trailing */\n)");
    cr_assert_eq(t->ncols, 12);
    const my_coldef *id = col(t, "id");
    cr_assert(id->auto_increment);
    cr_assert(id->is_unsigned);
    cr_assert_str_eq(id->comment, "the key");
    const my_coldef *ts = col(t, "ts_now");
    cr_assert_eq(ts->default_kind, MY_DEFAULT_EXPR);
    cr_assert_str_eq(ts->default_text, "current_timestamp(3)");
    cr_assert_eq(ts->length, 3);
    cr_assert_str_eq(col(t, "t_def")->default_text, "-01:02:03.45");
    cr_assert_str_eq(col(t, "d_def")->default_text, "12.50");
    cr_assert_str_eq(col(t, "neg")->default_text, "-5");
    cr_assert_str_eq(col(t, "j")->type, "LONGTEXT");
    const my_coldef *p = col(t, "p_srid");
    cr_assert(p->has_srid);
    cr_assert_eq(p->srid, 4326);
    cr_assert_str_eq(col(t, "gc")->type, "GEOMCOLLECTION");
    const my_coldef *f = col(t, "f");
    cr_assert_eq(f->length, 7);
    cr_assert_eq(f->scale, 3);
    const my_coldef *b = col(t, "b");
    cr_assert(b->boolean);
    cr_assert_str_eq(b->type, "TINYINT");
    cr_assert_str_eq(b->default_text, "1");
    cr_assert(col(t, "g")->generated);
    cr_assert_str_eq(col(t, "u")->type, "UUID");
    my_tabledef_free(t);
}

Test(my_ddl, keys_unique_and_inline)
{
    my_tabledef *t = parse("CREATE TABLE `uniq_only` (\n  `code` varchar(10) NOT NULL,\n  `v` "
                           "int(11) DEFAULT NULL,\n  UNIQUE KEY `code` (`code`),\n  KEY `v_idx` "
                           "(`v`)\n) ENGINE=InnoDB");
    cr_assert_null(my_tabledef_primary(t));
    const my_keydef *u = my_tabledef_unique_not_null(t);
    cr_assert_not_null(u);
    cr_assert_str_eq(u->cols[0], "code");
    my_tabledef_free(t);

    t = parse("create table x (a int primary key, b int unique, c int, constraint pk2 unique "
              "(c, b))");
    cr_assert_str_eq(my_tabledef_primary(t)->cols[0], "a");
    cr_assert_not(col(t, "a")->nullable, "a primary key column is NOT NULL");
    cr_assert_eq(t->nkeys, 3);
    cr_assert_null(my_tabledef_unique_not_null(t), "b and c are nullable");
    my_tabledef_free(t);

    t = parse("CREATE TABLE `composite_pk` (\n  `a` int NOT NULL,\n  `b` varchar(10) NOT "
              "NULL,\n  `v` int DEFAULT NULL,\n  PRIMARY KEY (`b`,`a`)\n)");
    const my_keydef *pk = my_tabledef_primary(t);
    cr_assert_eq(pk->ncols, 2);
    cr_assert_str_eq(pk->cols[0], "b");
    cr_assert_str_eq(pk->cols[1], "a");
    my_tabledef_free(t);
}

/* Applies sql to the catalog and returns the result (freed by the caller). */
static my_ddl_result apply(my_catalog *c, const char *sql)
{
    my_ddl_result r;
    sl_error err;
    cr_assert_eq(my_ddl_apply(c, "sluice_test", sql, strlen(sql), 0, &r, &err), SL_OK);
    return r;
}

Test(my_ddl, the_golden_alters)
{
    my_catalog c;
    my_catalog_init(&c);
    my_ddl_result r = apply(&c, "CREATE TABLE evolving (id INT PRIMARY KEY, a INT, b VARCHAR(10))");
    cr_assert(r.is_ddl);
    cr_assert_eq(r.neffects, 1);
    cr_assert_eq(r.effects[0].change, MY_DDL_CREATED);
    my_ddl_result_free(&r);

    r = apply(&c, "ALTER TABLE evolving ADD COLUMN c INT DEFAULT 7, ADD COLUMN d VARCHAR(10) NOT "
                  "NULL DEFAULT 'dd'");
    cr_assert_eq(r.effects[0].change, MY_DDL_ALTERED);
    cr_assert_not(r.effects[0].unknown);
    my_ddl_result_free(&r);
    my_tabledef *t = my_catalog_find(&c, "sluice_test", "evolving");
    cr_assert_eq(t->ncols, 5);
    cr_assert_str_eq(t->cols[3].name, "c");
    cr_assert_str_eq(t->cols[3].default_text, "7");
    cr_assert_str_eq(t->cols[4].default_text, "dd");
    cr_assert_not(t->cols[4].nullable);

    my_ddl_result_free((r = apply(&c, "ALTER TABLE evolving DROP COLUMN b"), &r));
    t = my_catalog_find(&c, "sluice_test", "evolving");
    cr_assert_eq(t->ncols, 4);
    cr_assert_eq(my_tabledef_column(t, "b"), -1);

    my_ddl_result_free((r = apply(&c, "ALTER TABLE evolving MODIFY COLUMN a BIGINT UNSIGNED"), &r));
    t = my_catalog_find(&c, "sluice_test", "evolving");
    cr_assert_str_eq(t->cols[1].type, "BIGINT");
    cr_assert(t->cols[1].is_unsigned);

    my_ddl_result_free(
        (r = apply(&c, "ALTER TABLE evolving CHANGE COLUMN c c_renamed INT DEFAULT 8"), &r));
    t = my_catalog_find(&c, "sluice_test", "evolving");
    cr_assert_str_eq(t->cols[2].name, "c_renamed");
    cr_assert_str_eq(t->cols[2].default_text, "8");
    cr_assert_str_eq(my_tabledef_primary(t)->cols[0], "id");

    r = apply(&c, "RENAME TABLE evolving TO `sluice_test`.`new_name`");
    cr_assert_eq(r.neffects, 2);
    cr_assert_eq(r.effects[0].change, MY_DDL_DROPPED);
    cr_assert_eq(r.effects[1].change, MY_DDL_ALTERED);
    cr_assert_str_eq(r.effects[1].table, "new_name");
    my_ddl_result_free(&r);
    cr_assert_null(my_catalog_find(&c, "sluice_test", "evolving"));
    cr_assert_eq(my_catalog_find(&c, "sluice_test", "new_name")->ncols, 4);

    r = apply(&c, "TRUNCATE TABLE new_name");
    cr_assert_eq(r.effects[0].change, MY_DDL_TRUNCATED);
    my_ddl_result_free(&r);

    r = apply(&c, "DROP TABLE IF EXISTS `sluice_test`.`new_name`, other /* generated by server */");
    cr_assert_eq(r.neffects, 2);
    cr_assert_eq(r.effects[0].change, MY_DDL_DROPPED);
    my_ddl_result_free(&r);
    cr_assert_eq(c.n, 0);
    my_catalog_free(&c);
}

Test(my_ddl, column_moves_keys_and_defaults)
{
    my_catalog c;
    my_catalog_init(&c);
    my_ddl_result r = apply(&c, "CREATE TABLE t (a INT NOT NULL, b INT, c INT, UNIQUE KEY uk (a))");
    my_ddl_result_free(&r);
    my_ddl_result_free((r = apply(&c, "alter table t add x int first, add y int after b, "
                                      "rename column c to z, alter column b set default 3"),
                        &r));
    my_tabledef *t = my_catalog_find(&c, "sluice_test", "t");
    const char *want[] = {"x", "a", "b", "y", "z"};
    cr_assert_eq(t->ncols, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(t->cols[i].name, want[i]);
    cr_assert_str_eq(t->cols[2].default_text, "3");
    cr_assert_not_null(my_tabledef_unique_not_null(t));

    my_ddl_result_free(
        (r = apply(&c, "ALTER TABLE t ADD PRIMARY KEY (x, a), DROP INDEX uk, ALTER b DROP DEFAULT"),
         &r));
    t = my_catalog_find(&c, "sluice_test", "t");
    cr_assert_eq(t->nkeys, 1);
    cr_assert_eq(my_tabledef_primary(t)->ncols, 2);
    cr_assert_not(t->cols[0].nullable);
    cr_assert_eq(t->cols[2].default_kind, MY_DEFAULT_NONE);

    /* A key shrinks when one of its columns is dropped. */
    my_ddl_result_free((r = apply(&c, "ALTER TABLE t DROP x"), &r));
    t = my_catalog_find(&c, "sluice_test", "t");
    cr_assert_eq(my_tabledef_primary(t)->ncols, 1);
    cr_assert_str_eq(my_tabledef_primary(t)->cols[0], "a");

    /* CREATE UNIQUE INDEX, DROP INDEX ... ON. */
    my_ddl_result_free((r = apply(&c, "CREATE UNIQUE INDEX u2 ON t (y)"), &r));
    cr_assert_eq(my_catalog_find(&c, "sluice_test", "t")->nkeys, 2);
    my_ddl_result_free((r = apply(&c, "DROP INDEX u2 ON sluice_test.t"), &r));
    cr_assert_eq(my_catalog_find(&c, "sluice_test", "t")->nkeys, 1);

    /* LIKE copies the definition. */
    my_ddl_result_free((r = apply(&c, "CREATE TABLE t2 LIKE t"), &r));
    cr_assert_eq(my_catalog_find(&c, "sluice_test", "t2")->ncols, 4);
    my_catalog_free(&c);
}

Test(my_ddl, what_it_cannot_read_becomes_unknown)
{
    my_catalog c;
    my_catalog_init(&c);
    my_ddl_result r = apply(&c, "CREATE TABLE t (a INT)");
    my_ddl_result_free(&r);
    r = apply(&c, "ALTER TABLE t ADD COLUMN b FROBNICATE(3)");
    cr_assert(r.is_ddl);
    cr_assert_eq(r.neffects, 1);
    cr_assert(r.effects[0].unknown);
    my_ddl_result_free(&r);
    cr_assert_null(my_catalog_find(&c, "sluice_test", "t"), "a wrong definition must not stay");

    r = apply(&c, "CREATE TABLE s LIKE missing");
    cr_assert(r.effects[0].unknown);
    my_ddl_result_free(&r);
    r = apply(&c, "CREATE TABLE s2 AS SELECT 1");
    cr_assert(r.effects[0].unknown);
    my_ddl_result_free(&r);

    /* Statements that are not DDL of tables leave everything alone. */
    const char *others[] = {"BEGIN",
                            "INSERT INTO t VALUES (1)",
                            "COMMIT",
                            "CREATE USER x IDENTIFIED BY 'y'",
                            "GRANT SELECT ON *.* TO x",
                            "CREATE VIEW v AS SELECT 1",
                            "SAVEPOINT s",
                            ""};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        r = apply(&c, others[i]);
        cr_assert_not(r.is_ddl, "%s", others[i]);
        my_ddl_result_free(&r);
    }
    r = apply(&c, "DROP DATABASE sluice_test");
    cr_assert(r.database_change);
    cr_assert_str_eq(r.database, "sluice_test");
    my_ddl_result_free(&r);
    my_catalog_free(&c);
}

Test(my_ddl, quoting_comments_and_sql_modes)
{
    my_catalog c;
    my_catalog_init(&c);
    /* A backtick inside a quoted name, comments of every kind, a string with ';'. */
    const char *sql = "/* leading */ CREATE TABLE `we``ird` ( -- comment\n `a b` INT # more\n"
                      ", c VARCHAR(3) DEFAULT 'x;y' /*! COMMENT 'exec' */)";
    my_ddl_result r = apply(&c, sql);
    my_ddl_result_free(&r);
    my_tabledef *t = my_catalog_find(&c, "sluice_test", "we`ird");
    cr_assert_not_null(t);
    cr_assert_str_eq(t->cols[0].name, "a b");
    cr_assert_str_eq(t->cols[1].default_text, "x;y");
    cr_assert_str_eq(t->cols[1].comment, "exec");

    /* ANSI_QUOTES: "x" is a name. */
    const char *ansi = "CREATE TABLE \"q\" (\"id\" INT, v VARCHAR(2) DEFAULT 'a\\b')";
    sl_error err;
    cr_assert_eq(my_ddl_apply(&c, "db2", ansi, strlen(ansi),
                              MY_DDL_ANSI_QUOTES | MY_DDL_NO_BACKSLASH_ESCAPES, &r, &err),
                 SL_OK);
    my_ddl_result_free(&r);
    t = my_catalog_find(&c, "db2", "q");
    cr_assert_not_null(t);
    cr_assert_str_eq(t->cols[0].name, "id");
    cr_assert_str_eq(t->cols[1].default_text, "a\\b");
    cr_assert_eq(my_ddl_flags_of_sql_mode(4 | (1 << 21), false),
                 MY_DDL_ANSI_QUOTES | MY_DDL_NO_BACKSLASH_ESCAPES);
    my_catalog_free(&c);
}
