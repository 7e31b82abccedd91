/*
 * test_keyops - run-time key changes: each op's effect on the key table,
 * which changes kick live connections and with what reason, the admin
 * announcements, refusals, and the store records that make a change
 * survive a restart over the keys of the configuration file.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/keyops.h"

#include "common/cdt_auth.h"
#include "tests/unit/broker/recorder.h"
#include "tests/unit/broker/tmpdir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *keyops_suite(void);

#define NOW INT64_C(1750000000000)

static recorder_t s_rec;
static char *s_dir;
static store_t *s_store;
static keys_t *s_keys;
static keyops_t *s_ops;
static char s_err[256];

/* the fake fleet: every kick is recorded */
static int64_t s_kicked[16];
static char s_reasons[16][64];
static size_t s_n_kicks;

static size_t
s_kick(void *arg, int64_t key_id, const char *reason)
{
    (void)arg;
    ck_assert_uint_lt(s_n_kicks, 16);
    s_kicked[s_n_kicks] = key_id;
    snprintf(s_reasons[s_n_kicks], sizeof s_reasons[0], "%s", reason);
    s_n_kicks++;
    return 3;
}

static void
s_hash(const char *secret, char out[CDT_SHA256_HEX_LEN + 1])
{
    cdt_sha256_hex(secret, strlen(secret), out);
}

/* The table the configuration file would give: keys 1 and 2. */
static keys_t *
s_config_keys(void)
{
    keys_t *k = keys_new();
    char h[CDT_SHA256_HEX_LEN + 1];
    s_hash("secret-1", h);
    ck_assert_int_eq(keys_add(k, 1, "one", h, true, 0, false), 0);
    s_hash("secret-2", h);
    ck_assert_int_eq(keys_add(k, 2, "two", h, true, 0, true), 0);
    return k;
}

static void
s_open(void)
{
    s_store = store_open(s_dir);
    ck_assert_ptr_nonnull(s_store);
    s_keys = s_config_keys();
    s_ops = keyops_new(s_keys, s_store, recorder_emit, &s_rec, s_kick, NULL);
    ck_assert_ptr_nonnull(s_ops);
}

static void
s_close(void)
{
    keyops_destroy(&s_ops);
    keys_destroy(&s_keys);
    store_destroy(&s_store);
}

static void
s_setup(void)
{
    recorder_init(&s_rec);
    s_dir = tmpdir_new();
    s_n_kicks = 0;
    s_open();
}

static void
s_teardown(void)
{
    s_close();
    recorder_release(&s_rec);
    tmpdir_remove(&s_dir);
}

static cdt_ingress_t
s_msg(enum cdt_key_op op, int64_t id)
{
    cdt_ingress_t m;
    memset(&m, 0, sizeof m);
    m.type = CDT_IN_KEY;
    m.op = op;
    m.has_key_id = true;
    m.key_id = id;
    return m;
}

static int
s_ingest(const cdt_ingress_t *m)
{
    return keyops_ingest(s_ops, m, NOW, s_err, sizeof s_err);
}

/* keys_authorize for a virtual-key hub: the status a negotiate gets. */
static uint32_t
s_auth(const char *secret)
{
    cdt_hub_t hub;
    memset(&hub, 0, sizeof hub);
    hub.auth = CDT_AUTH_VIRTUAL_KEY;
    keys_decision_t d;
    keys_authorize(s_keys, &hub, secret, strlen(secret), NOW, &d);
    return d.status;
}

static bool
s_bool(const recorder_event_t *ev, const char *key)
{
    const msgpack_object *o = recorder_field(ev, key);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(o->type, MSGPACK_OBJECT_BOOLEAN);
    return o->via.boolean;
}

START_TEST(test_keyops_disable_kicks_and_announces)
{
    cdt_ingress_t m = s_msg(CDT_KEY_DISABLE, 1);
    m.id = (cdt_str_t){"c-1", 3};
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_auth("secret-1"), 401);
    ck_assert_uint_eq(s_n_kicks, 1);
    ck_assert_int_eq(s_kicked[0], 1);
    ck_assert_str_eq(s_reasons[0], "Virtual key disabled");
    ck_assert_uint_eq(s_rec.n, 1);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert_str_eq(ev->hub, "AdminNotificationHub");
    ck_assert_str_eq(ev->target, "VirtualKeyUpdated");
    ck_assert_str_eq(recorder_groups(ev), "admin,admin-vkey-1");
    ck_assert_int_eq((int)recorder_num(ev, "virtualKeyId"), 1);
    ck_assert(recorder_str_is(ev, "name", "one"));
    ck_assert(!s_bool(ev, "enabled"));
    ck_assert(!s_bool(ev, "admin"));
    ck_assert(recorder_is_nil(ev, "expiresAt"));
    ck_assert(recorder_str_is(ev, "change", "disabled"));
    ck_assert(recorder_str_is(ev, "correlationId", "c-1"));
    ck_assert_ptr_nonnull(recorder_field(ev, "timestamp"));
    /* no key material in the payload */
    ck_assert_ptr_null(recorder_field(ev, "hash"));
    ck_assert_ptr_null(recorder_field(ev, "keyHash"));

    /* enable: connections allowed again, nobody kicked */
    m = s_msg(CDT_KEY_ENABLE, 1);
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_auth("secret-1"), 200);
    ck_assert_uint_eq(s_n_kicks, 1);
    ev = recorder_at(&s_rec, 1);
    ck_assert(recorder_str_is(ev, "change", "enabled"));
    ck_assert(s_bool(ev, "enabled"));
    ck_assert_uint_eq(keyops_changes(s_ops), 2);
}
END_TEST

START_TEST(test_keyops_add_update_delete)
{
    char h[CDT_SHA256_HEX_LEN + 1], h2[CDT_SHA256_HEX_LEN + 1];
    s_hash("secret-9", h);
    s_hash("secret-9b", h2);
    cdt_ingress_t m = s_msg(CDT_KEY_ADD, 9);
    m.key_hash = (cdt_str_t){h, CDT_SHA256_HEX_LEN};
    m.name = (cdt_str_t){"nine", 4};
    m.has_expires = true;
    m.expires_ms = NOW + 3600000;
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_auth("secret-9"), 200);
    ck_assert_uint_eq(s_n_kicks, 0);
    const recorder_event_t *ev = recorder_at(&s_rec, 0);
    ck_assert(recorder_str_is(ev, "change", "added"));
    ck_assert(recorder_str_is(ev, "expiresAt", "2025-06-15T16:06:40.000Z"));
    ck_assert(s_bool(ev, "enabled"));

    /* renaming keeps the connections */
    m = s_msg(CDT_KEY_UPDATE, 9);
    m.name = (cdt_str_t){"nine!", 5};
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_n_kicks, 0);
    ck_assert_str_eq(keys_find_id(s_keys, 9)->name, "nine!");
    ck_assert(recorder_str_is(recorder_at(&s_rec, 1), "change", "updated"));

    /* a new secret: the old one is refused and its connections closed */
    m = s_msg(CDT_KEY_UPDATE, 9);
    m.key_hash = (cdt_str_t){h2, CDT_SHA256_HEX_LEN};
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_auth("secret-9"), 401);
    ck_assert_uint_eq(s_auth("secret-9b"), 200);
    ck_assert_uint_eq(s_n_kicks, 1);
    ck_assert_str_eq(s_reasons[0], "Virtual key changed");

    /* taking the admin right away closes connections that hold it */
    m = s_msg(CDT_KEY_UPDATE, 2);
    m.has_admin = true;
    m.admin = false;
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_n_kicks, 2);
    ck_assert_int_eq(s_kicked[1], 2);
    /* an expiry in the past */
    m = s_msg(CDT_KEY_UPDATE, 2);
    m.has_expires = true;
    m.expires_ms = NOW - 1;
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_uint_eq(s_n_kicks, 3);
    ck_assert_str_eq(s_reasons[2], "Virtual key expired");
    ck_assert_uint_eq(s_auth("secret-2"), 401);

    m = s_msg(CDT_KEY_DELETE, 9);
    ck_assert_int_eq(s_ingest(&m), 0);
    ck_assert_ptr_null(keys_find_id(s_keys, 9));
    ck_assert_uint_eq(s_auth("secret-9b"), 401);
    ck_assert_uint_eq(s_n_kicks, 4);
    ck_assert_str_eq(s_reasons[3], "Virtual key deleted");
    ev = recorder_at(&s_rec, s_rec.n - 1);
    ck_assert_str_eq(ev->target, "VirtualKeyDeleted");
    ck_assert_str_eq(recorder_groups(ev), "admin,admin-vkey-9");
    ck_assert_int_eq((int)recorder_num(ev, "virtualKeyId"), 9);
    ck_assert_ptr_null(recorder_field(ev, "name"));
}
END_TEST

START_TEST(test_keyops_refusals_change_nothing)
{
    char h1[CDT_SHA256_HEX_LEN + 1];
    s_hash("secret-1", h1);
    struct {
        cdt_ingress_t m;
        const char *err;
    } cases[8];
    size_t n = 0;
    cases[n].m = s_msg(CDT_KEY_DISABLE, 42);
    cases[n++].err = "unknown virtual key 42";
    cases[n].m = s_msg(CDT_KEY_DELETE, 42);
    cases[n++].err = "unknown virtual key 42";
    cases[n].m = s_msg(CDT_KEY_ADD, 1);
    cases[n].m.key_hash = (cdt_str_t){h1, CDT_SHA256_HEX_LEN};
    cases[n++].err = "virtual key 1 already exists";
    cases[n].m = s_msg(CDT_KEY_ADD, 5);
    cases[n++].err = "op 'add' needs 'keyHash'";
    cases[n].m = s_msg(CDT_KEY_ADD, 5);
    cases[n].m.key_hash = (cdt_str_t){h1, CDT_SHA256_HEX_LEN};
    cases[n++].err = "this keyHash already belongs to another key";
    cases[n].m = s_msg(CDT_KEY_ADD, 5);
    cases[n].m.key_hash = (cdt_str_t){"ABC", 3};
    cases[n++].err = "field 'keyHash' must be 64 lowercase hex digits (the "
                     "SHA-256 of the key)";
    cases[n].m = s_msg(CDT_KEY_UPDATE, 1);
    cases[n++].err = "op 'update' needs at least one of name, keyHash, "
                     "admin, enabled, expiresAt";
    cases[n].m = s_msg(CDT_KEY_ENABLE, 0);
    cases[n++].err = "field 'virtualKeyId' must be a positive integer";
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(s_ingest(&cases[i].m), -1);
        ck_assert_str_eq(s_err, cases[i].err);
    }
    ck_assert_uint_eq(s_rec.n, 0);
    ck_assert_uint_eq(s_n_kicks, 0);
    ck_assert_uint_eq(keys_count(s_keys), 2);
    ck_assert_uint_eq(s_auth("secret-1"), 200);
    ck_assert_uint_eq(keyops_changes(s_ops), 0);
}
END_TEST

START_TEST(test_keyops_changes_survive_a_restart)
{
    char h[CDT_SHA256_HEX_LEN + 1];
    s_hash("secret-7", h);
    cdt_ingress_t m = s_msg(CDT_KEY_DISABLE, 1);
    ck_assert_int_eq(s_ingest(&m), 0);
    m = s_msg(CDT_KEY_DELETE, 2);
    ck_assert_int_eq(s_ingest(&m), 0);
    m = s_msg(CDT_KEY_ADD, 7);
    m.key_hash = (cdt_str_t){h, CDT_SHA256_HEX_LEN};
    m.has_admin = true;
    m.admin = true;
    ck_assert_int_eq(s_ingest(&m), 0);

    /* restart: the configuration file's table again, then the store */
    s_close();
    s_open();
    ck_assert_uint_eq(keys_count(s_keys), 2); /* 1 and 7; 2 stays deleted */
    const keys_entry_t *e = keys_find_id(s_keys, 1);
    ck_assert_ptr_nonnull(e);
    ck_assert(!e->enabled); /* the run-time state wins over the file's */
    ck_assert_str_eq(e->name, "one");
    ck_assert_ptr_null(keys_find_id(s_keys, 2));
    e = keys_find_id(s_keys, 7);
    ck_assert_ptr_nonnull(e);
    ck_assert(e->admin);
    ck_assert_uint_eq(s_auth("secret-1"), 401);
    ck_assert_uint_eq(s_auth("secret-2"), 401);
    ck_assert_uint_eq(s_auth("secret-7"), 200);

    /* re-adding a deleted key works, and survives too */
    s_hash("secret-2", h);
    m = s_msg(CDT_KEY_ADD, 2);
    m.key_hash = (cdt_str_t){h, CDT_SHA256_HEX_LEN};
    ck_assert_int_eq(s_ingest(&m), 0);
    s_close();
    s_open();
    ck_assert_uint_eq(s_auth("secret-2"), 200);
    ck_assert(!keys_find_id(s_keys, 2)->admin);
}
END_TEST

START_TEST(test_keyops_without_store)
{
    keys_t *k = s_config_keys();
    keyops_t *ops = keyops_new(k, NULL, recorder_emit, &s_rec, s_kick, NULL);
    cdt_ingress_t m = s_msg(CDT_KEY_DISABLE, 2);
    ck_assert_int_eq(keyops_ingest(ops, &m, NOW, s_err, sizeof s_err), 0);
    ck_assert(!keys_find_id(k, 2)->enabled);
    ck_assert_uint_eq(s_n_kicks, 1);
    keyops_destroy(&ops);
    keys_destroy(&k);
}
END_TEST

Suite *
keyops_suite(void)
{
    Suite *s = suite_create("keyops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_keyops_disable_kicks_and_announces);
    tcase_add_test(tc, test_keyops_add_update_delete);
    tcase_add_test(tc, test_keyops_refusals_change_nothing);
    tcase_add_test(tc, test_keyops_changes_survive_a_restart);
    tcase_add_test(tc, test_keyops_without_store);
    suite_add_tcase(s, tc);
    return s;
}
