/*
 * The plan of a reload (src/runtime/reload.c): which connector files are added,
 * changed, removed, unchanged or refused, from real connector files loaded
 * as `sluice run` loads them. Nothing connects to anything here;
 * tests/integration/test_reload.c applies reloads to a running sluice.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config_load.h"
#include "runtime/reload.h"
#include "support.h"

static char *dir;

static void setup(void)
{
    dir = ts_tempdir();
}

static void teardown(void)
{
    ts_rmtree(dir);
    free(dir);
}

TestSuite(reload, .init = setup, .fini = teardown);

/* Writes file name into dir: connector cname with offsets file offsets and extra members. */
static char *write_file(const char *name, const char *cname, const char *offsets, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"connector.class\": \"postgres\", \"database.hostname\": "
             "\"h\", \"database.user\": \"u\", \"database.dbname\": \"d\", \"topic.prefix\": "
             "\"%s\", \"sink.type\": \"file\", \"sink.file.directory\": \"%s/out\", "
             "\"offset.storage.file.filename\": \"%s/%s\"%s}",
             cname, cname, dir, dir, offsets, extra);
    return ts_write_file(dir, name, text);
}

static sl_connector *load(const char *path)
{
    sl_connector *c;
    sl_error err;
    cr_assert_eq(sl_connector_load(path, &c, &err), SL_OK, "%s", err.msg);
    return c;
}

/* A reload of files against members: fills each file's conn by loading it. */
static void plan(sl_reload_file *files, size_t n, const sl_reload_member *members, size_t nm,
                 bool *removed)
{
    for (size_t i = 0; i < n; i++)
        if (sl_connector_load(files[i].path, &files[i].conn, &files[i].err) != SL_OK)
            files[i].conn = NULL;
    sl_reload_plan(files, n, members, nm, removed);
}

static void free_files(sl_reload_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_connector_free(files[i].conn);
}

Test(reload, scan_lists_a_directorys_json_files_in_name_order)
{
    free(write_file("b.json", "b", "b.off", ""));
    free(write_file("a.json", "a", "a.off", ""));
    free(ts_write_file(dir, ".hidden.json", "{}"));
    free(ts_write_file(dir, "notes.txt", "x"));
    char **paths;
    size_t n;
    sl_error err;
    char *argv[] = {dir};
    cr_assert_eq(sl_reload_scan(1, argv, &paths, &n, &err), SL_OK, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert(strstr(paths[0], "/a.json") && strstr(paths[1], "/b.json"));
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nowhere", dir);
    char *argv2[] = {missing};
    cr_assert_eq(sl_reload_scan(1, argv2, &paths, &n, &err), SL_CONFIG);
    cr_assert(strstr(err.msg, "could not open \"") && strstr(err.msg, "/nowhere\""), "%s", err.msg);
}

/* Each kind of file at once: unchanged, changed, added, refused, and a member removed. */
Test(reload, plan_tells_each_file_what_to_do)
{
    char *pa = write_file("a.json", "a", "a.off", "");
    char *pb = write_file("b.json", "b", "b.off", "");
    char *pc = write_file("c.json", "c", "c.off", "");
    char *pd = write_file("d.json", "d", "d.off", "");
    sl_connector *ma = load(pa), *mb = load(pb), *mc = load(pc), *md = load(pd);
    sl_reload_member members[] = {{pa, ma}, {pb, mb}, {pc, mc}, {pd, md}};

    /* a: only reformatted; b: a changed value; c: a bad value; d: removed; e: new. */
    char text[2048];
    snprintf(text, sizeof text,
             "{\n  \"topic.prefix\": \"a\", \"name\": \"a\", \"connector.class\": \"postgres\",\n"
             "  \"database.hostname\": \"h\", \"database.user\": \"u\", \"database.dbname\": "
             "\"d\", \"sink.type\": \"file\", \"sink.file.directory\": \"%s/out\",\n"
             "  \"offset.storage.file.filename\": \"%s/a.off\"\n}\n",
             dir, dir);
    free(ts_write_file(dir, "a.json", text));
    free(write_file("b.json", "b", "b.off", ", \"tombstones.on.delete\": false"));
    free(write_file("c.json", "c", "c.off", ", \"database.port\": \"fifty\""));
    cr_assert_eq(unlink(pd), 0);
    char *pe = write_file("e.json", "e", "e.off", "");

    sl_reload_file files[] = {{.path = pa}, {.path = pb}, {.path = pc}, {.path = pe}};
    bool removed[4];
    plan(files, 4, members, 4, removed);
    cr_assert_eq(files[0].action, SL_RELOAD_UNCHANGED, "only the layout changed");
    cr_assert_eq(files[0].member, 0);
    cr_assert_eq(files[1].action, SL_RELOAD_CHANGED);
    cr_assert_eq(files[1].member, 1);
    cr_assert_eq(files[2].action, SL_RELOAD_REFUSED);
    cr_assert_eq(files[2].member, 2, "its member keeps running");
    cr_assert(strstr(files[2].err.msg, "c.json\": key \"database.port\": expected an integer"),
              "%s", files[2].err.msg);
    cr_assert_eq(files[3].action, SL_RELOAD_ADDED);
    cr_assert_eq(files[3].member, -1);
    cr_assert(!removed[0] && !removed[1] && !removed[2] && removed[3]);

    free_files(files, 4);
    sl_connector_free(ma);
    sl_connector_free(mb);
    sl_connector_free(mc);
    sl_connector_free(md);
    free(pa);
    free(pb);
    free(pc);
    free(pd);
    free(pe);
}

/* A new file may not take the name or the offsets file of a connector that keeps running. */
Test(reload, plan_refuses_a_file_that_clashes_with_a_connector_that_stays)
{
    char *pa = write_file("a.json", "a", "a.off", "");
    sl_connector *ma = load(pa);
    sl_reload_member members[] = {{pa, ma}};
    char *pn = write_file("n.json", "a", "n.off", "");
    char *po = write_file("o.json", "o", "a.off", "");
    sl_reload_file files[] = {{.path = pa}, {.path = pn}, {.path = po}};
    bool removed[1];
    plan(files, 3, members, 1, removed);
    cr_assert_eq(files[0].action, SL_RELOAD_UNCHANGED);
    cr_assert_eq(files[1].action, SL_RELOAD_REFUSED);
    cr_assert(strstr(files[1].err.msg, "n.json\": connector name \"a\" is also used by \""), "%s",
              files[1].err.msg);
    cr_assert_eq(files[2].action, SL_RELOAD_REFUSED);
    cr_assert(strstr(files[2].err.msg, "o.json\": offsets file \""), "%s", files[2].err.msg);
    cr_assert(!removed[0]);
    free_files(files, 3);
    sl_connector_free(ma);
    free(pa);
    free(pn);
    free(po);
}

/*
 * A name handed from one file to another in the same reload (a renamed file:
 * one removed, one added with its name) is accepted whatever the order of the
 * files: the old connector stops, the new one starts after it.
 */
Test(reload, plan_accepts_a_name_moved_to_another_file)
{
    char *pz = write_file("z.json", "x", "x.off", "");
    char *pb = write_file("b.json", "b", "b.off", "");
    sl_connector *mz = load(pz), *mb = load(pb);
    sl_reload_member members[] = {{pz, mz}, {pb, mb}};
    /* b.json now holds x (moved from z.json, which becomes y), before z.json in name order. */
    free(write_file("b.json", "x", "x.off", ""));
    free(write_file("z.json", "b", "b.off", ""));
    sl_reload_file files[] = {{.path = pb}, {.path = pz}};
    bool removed[2];
    plan(files, 2, members, 2, removed);
    cr_assert_eq(files[0].action, SL_RELOAD_CHANGED, "%s", files[0].err.msg);
    cr_assert_eq(files[1].action, SL_RELOAD_CHANGED, "%s", files[1].err.msg);
    cr_assert(!removed[0] && !removed[1]);
    free_files(files, 2);
    sl_connector_free(mz);
    sl_connector_free(mb);
    free(pz);
    free(pb);
}

/* Values are compared after ${...} substitution: a secret that changed is a change. */
Test(reload, a_changed_secret_is_a_change_and_the_error_never_shows_it)
{
    char *secret = ts_write_file(dir, "pw", "first-secret");
    char extra[4400];
    snprintf(extra, sizeof extra, ", \"database.password\": \"${file:%s}\"", secret);
    char *pa = write_file("a.json", "a", "a.off", extra);
    sl_connector *ma = load(pa);
    sl_reload_member members[] = {{pa, ma}};

    sl_reload_file same[] = {{.path = pa}};
    bool removed[1];
    plan(same, 1, members, 1, removed);
    cr_assert_eq(same[0].action, SL_RELOAD_UNCHANGED);
    free_files(same, 1);

    free(ts_write_file(dir, "pw", "second-secret"));
    sl_reload_file changed[] = {{.path = pa}};
    plan(changed, 1, members, 1, removed);
    cr_assert_eq(changed[0].action, SL_RELOAD_CHANGED);
    free_files(changed, 1);

    sl_connector_free(ma);
    free(pa);
    free(secret);
}
