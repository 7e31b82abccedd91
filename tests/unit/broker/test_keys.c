/*
 * test_keys - key lookup by hash and the authentication rules: virtual
 * keys on virtual_key hubs only, the master key on master_key hubs only,
 * disabled and expired keys refused, unknown hubs 404.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/keys.h"

#include "common/cdt_auth.h"

#include <check.h>
#include <string.h>

Suite *keys_suite(void);

static char s_vname[] = "TaskHub";
static char s_mname[] = "AdminNotificationHub";
static cdt_hub_t s_vhub = {.name = s_vname, .auth = CDT_AUTH_VIRTUAL_KEY};
static cdt_hub_t s_mhub = {.name = s_mname, .auth = CDT_AUTH_MASTER_KEY};

#define NOW 1700000000000LL

static keys_t *
s_keys(void)
{
    keys_t *k = keys_new();
    char h[65];
    cdt_sha256_hex("tenant-a", 8, h);
    ck_assert_int_eq(keys_add(k, 1, "a", h, true, 0, false), 0);
    cdt_sha256_hex("tenant-b", 8, h);
    ck_assert_int_eq(keys_add(k, 2, "b", h, true, 0, true), 0);
    cdt_sha256_hex("disabled", 8, h);
    ck_assert_int_eq(keys_add(k, 3, "d", h, false, 0, false), 0);
    cdt_sha256_hex("expired!", 8, h);
    ck_assert_int_eq(keys_add(k, 4, "e", h, true, NOW - 1, false), 0);
    cdt_sha256_hex("future!!", 8, h);
    ck_assert_int_eq(keys_add(k, 5, "f", h, true, NOW + 1000, false), 0);
    cdt_sha256_hex("master", 6, h);
    ck_assert_int_eq(keys_set_master(k, h), 0);
    return k;
}

static keys_decision_t
s_auth(keys_t *k, const cdt_hub_t *hub, const char *token)
{
    keys_decision_t d;
    keys_authorize(k, hub, token, strlen(token), NOW, &d);
    return d;
}

START_TEST(test_keys_lookup_by_hash_and_id)
{
    keys_t *k = s_keys();
    char h[65];
    cdt_sha256_hex("tenant-b", 8, h);
    const keys_entry_t *e = keys_find_hash(k, h);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->id, 2);
    ck_assert(e->admin);
    ck_assert_ptr_eq(keys_find_id(k, 2), e);
    ck_assert_ptr_null(keys_find_id(k, 42));
    h[63] = h[63] == '0' ? '1' : '0'; /* one digit off */
    ck_assert_ptr_null(keys_find_hash(k, h));
    ck_assert_ptr_null(keys_find_hash(k, "abc"));
    ck_assert_uint_eq(keys_count(k), 5);
    keys_destroy(&k);
    ck_assert_ptr_null(k);
}
END_TEST

START_TEST(test_keys_add_refuses_duplicates_and_bad_hashes)
{
    keys_t *k = s_keys();
    char h[65];
    cdt_sha256_hex("tenant-a", 8, h);
    ck_assert_int_eq(keys_add(k, 9, "dup-hash", h, true, 0, false), -1);
    cdt_sha256_hex("new", 3, h);
    ck_assert_int_eq(keys_add(k, 1, "dup-id", h, true, 0, false), -1);
    ck_assert_int_eq(keys_add(k, 0, "zero", h, true, 0, false), -1);
    ck_assert_int_eq(keys_add(k, 9, "bad", "ABCDEF", true, 0, false), -1);
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = 'A';
    upper[64] = '\0';
    ck_assert_int_eq(keys_add(k, 9, "upper", upper, true, 0, false), -1);
    ck_assert_int_eq(keys_add(k, 9, "ok", h, true, 0, false), 0);
    ck_assert_int_eq(keys_set_master(k, "nothex"), -1);
    keys_destroy(&k);
}
END_TEST

START_TEST(test_keys_virtual_key_rules)
{
    keys_t *k = s_keys();
    keys_decision_t d = s_auth(k, &s_vhub, "tenant-a");
    ck_assert_uint_eq(d.status, 200);
    ck_assert_int_eq(d.key_id, 1);
    ck_assert(!d.admin);
    d = s_auth(k, &s_vhub, "tenant-b");
    ck_assert_uint_eq(d.status, 200);
    ck_assert(d.admin);
    /* a virtual key, even an admin one, does not open the admin hub */
    d = s_auth(k, &s_mhub, "tenant-b");
    ck_assert_uint_eq(d.status, 401);
    ck_assert_str_eq(d.reason, "master key required");
    d = s_auth(k, &s_vhub, "disabled");
    ck_assert_uint_eq(d.status, 401);
    ck_assert_str_eq(d.reason, "key disabled");
    d = s_auth(k, &s_vhub, "expired!");
    ck_assert_uint_eq(d.status, 401);
    ck_assert_str_eq(d.reason, "key expired");
    d = s_auth(k, &s_vhub, "future!!");
    ck_assert_uint_eq(d.status, 200);
    d = s_auth(k, &s_vhub, "nobody");
    ck_assert_uint_eq(d.status, 401);
    d = s_auth(k, &s_vhub, "");
    ck_assert_uint_eq(d.status, 401);
    d = s_auth(k, NULL, "tenant-a");
    ck_assert_uint_eq(d.status, 404);
    keys_destroy(&k);
}
END_TEST

START_TEST(test_keys_master_key_rules)
{
    keys_t *k = s_keys();
    keys_decision_t d = s_auth(k, &s_mhub, "master");
    ck_assert_uint_eq(d.status, 200);
    ck_assert_int_eq(d.key_id, 0);
    ck_assert(d.admin);
    d = s_auth(k, &s_vhub, "master");
    ck_assert_uint_eq(d.status, 401);
    d = s_auth(k, &s_mhub, "tenant-a");
    ck_assert_uint_eq(d.status, 401);
    /* without a master key nothing opens the admin hub */
    ck_assert_int_eq(keys_set_master(k, ""), 0);
    d = s_auth(k, &s_mhub, "master");
    ck_assert_uint_eq(d.status, 401);
    ck_assert(!keys_usable(k, &s_mhub, 0, NOW, NULL));
    keys_destroy(&k);
}
END_TEST

START_TEST(test_keys_runtime_changes)
{
    keys_t *k = s_keys();
    ck_assert_int_eq(keys_set_enabled(k, 1, false), 0);
    ck_assert_uint_eq(s_auth(k, &s_vhub, "tenant-a").status, 401);
    ck_assert_int_eq(keys_set_enabled(k, 1, true), 0);
    ck_assert_uint_eq(s_auth(k, &s_vhub, "tenant-a").status, 200);

    /* a new hash: the old token stops working, the new one works */
    char h[65];
    cdt_sha256_hex("rotated", 7, h);
    keys_change_t ch = {
        .hash = h, .name = "a2", .has_admin = true, .admin = true};
    ck_assert_int_eq(keys_update(k, 1, &ch), 0);
    ck_assert_uint_eq(s_auth(k, &s_vhub, "tenant-a").status, 401);
    keys_decision_t d = s_auth(k, &s_vhub, "rotated");
    ck_assert_uint_eq(d.status, 200);
    ck_assert_int_eq(d.key_id, 1);
    ck_assert(d.admin);
    ck_assert_str_eq(keys_find_id(k, 1)->name, "a2");
    /* another key's hash cannot be taken */
    cdt_sha256_hex("tenant-b", 8, h);
    keys_change_t steal = {.hash = h};
    ck_assert_int_eq(keys_update(k, 1, &steal), -1);
    ck_assert_int_eq(keys_update(k, 77, &steal), -1);

    ck_assert_int_eq(keys_delete(k, 1), 0);
    ck_assert_int_eq(keys_delete(k, 1), -1);
    ck_assert_uint_eq(s_auth(k, &s_vhub, "rotated").status, 401);
    ck_assert(!keys_usable(k, &s_vhub, 1, NOW, NULL));
    keys_destroy(&k);
}
END_TEST

START_TEST(test_keys_shared_prefix_chain)
{
    /* Two hashes with the same 16-digit prefix share a bucket: both are
     * found, and removing either keeps the other. */
    keys_t *k = keys_new();
    char a[65], b[65], c[65];
    memset(a, 'a', 64);
    a[64] = '\0';
    memcpy(b, a, 65);
    b[63] = 'b';
    memcpy(c, a, 65);
    c[40] = 'c';
    ck_assert_int_eq(keys_add(k, 1, "a", a, true, 0, false), 0);
    ck_assert_int_eq(keys_add(k, 2, "b", b, true, 0, false), 0);
    ck_assert_int_eq(keys_add(k, 3, "c", c, true, 0, false), 0);
    ck_assert_int_eq(keys_find_hash(k, a)->id, 1);
    ck_assert_int_eq(keys_find_hash(k, b)->id, 2);
    ck_assert_int_eq(keys_find_hash(k, c)->id, 3);
    ck_assert_int_eq(keys_delete(k, 1), 0); /* the chain's head */
    ck_assert_ptr_null(keys_find_hash(k, a));
    ck_assert_int_eq(keys_find_hash(k, b)->id, 2);
    ck_assert_int_eq(keys_find_hash(k, c)->id, 3);
    ck_assert_int_eq(keys_delete(k, 3), 0);
    ck_assert_int_eq(keys_find_hash(k, b)->id, 2);
    keys_destroy(&k);
}
END_TEST

START_TEST(test_keys_usable_rechecks_state)
{
    keys_t *k = s_keys();
    const char *why = NULL;
    ck_assert(keys_usable(k, &s_vhub, 1, NOW, &why));
    ck_assert_str_eq(why, "");
    ck_assert(!keys_usable(k, &s_vhub, 3, NOW, &why));
    ck_assert_str_eq(why, "key disabled");
    ck_assert(!keys_usable(k, &s_vhub, 4, NOW, &why));
    ck_assert_str_eq(why, "key expired");
    ck_assert(!keys_usable(k, &s_vhub, 5, NOW + 1000, &why));
    ck_assert(!keys_usable(k, &s_mhub, 1, NOW, &why));
    ck_assert(keys_usable(k, &s_mhub, 0, NOW, &why));
    ck_assert(!keys_usable(k, &s_vhub, 0, NOW, &why));
    ck_assert(!keys_usable(k, NULL, 1, NOW, &why));
    keys_destroy(&k);
}
END_TEST

Suite *
keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_keys_lookup_by_hash_and_id);
    tcase_add_test(tc, test_keys_add_refuses_duplicates_and_bad_hashes);
    tcase_add_test(tc, test_keys_runtime_changes);
    tcase_add_test(tc, test_keys_shared_prefix_chain);
    suite_add_tcase(s, tc);
    tc = tcase_create("auth");
    tcase_add_test(tc, test_keys_virtual_key_rules);
    tcase_add_test(tc, test_keys_master_key_rules);
    tcase_add_test(tc, test_keys_usable_rechecks_state);
    suite_add_tcase(s, tc);
    return s;
}
