/*
 * fuzz_json - libFuzzer target for the JSON <-> MessagePack translator.
 *
 * The first byte picks a mode. JSON mode parses the rest as JSON; when it
 * is accepted, the MessagePack is written back as JSON, which must be
 * valid UTF-8 and must parse to the very same MessagePack (the writer's
 * floats read back exactly, its escapes are standard). MessagePack mode
 * treats the rest as a MessagePack value (checked first, as every caller
 * does) and writes it as JSON, which must always parse back.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_json.h"
#include "common/cdt_msgpack.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_json: %s: %s\n", what, err ? err : "");
    abort();
}

/* JSON text (from the writer) must be valid and parse with the default
 * depth; returns its MessagePack in mp. */
static void
s_reparse(const cdt_buf_t *json, cdt_buf_t *mp)
{
    char err[128];
    if (!cdt_utf8_valid((const char *)json->data, json->len))
        s_die("writer produced invalid UTF-8", NULL);
    if (cdt_json_to_msgpack((const char *)json->data, json->len, mp,
                            CDT_JSON_MAX_DEPTH, err, sizeof err) == -1)
        s_die("writer output does not parse", err);
}

static void
s_json_mode(const uint8_t *data, size_t size, int depth)
{
    cdt_buf_t mp = CDT_BUF_INIT, json = CDT_BUF_INIT, mp2 = CDT_BUF_INIT;
    char err[128];
    if (cdt_json_to_msgpack((const char *)data, size, &mp, depth, err,
                            sizeof err) == -1) {
        if (mp.len != 0 || err[0] == '\0')
            s_die("failed parse left output or no reason", err);
        goto done;
    }
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        goto done;
    msgpack_object obj;
    /* msgpack-c refuses nesting beyond 32: then there is nothing to compare. */
    if (cdt_msgpack_unpack_one(mp.data, mp.len, &zone, &obj) == 0) {
        if (cdt_json_from_msgpack(&obj, &json) == -1)
            s_die("cannot write back what was parsed", NULL);
        s_reparse(&json, &mp2);
        if (mp2.len != mp.len || memcmp(mp2.data, mp.data, mp.len) != 0)
            s_die("JSON round trip changed the value", (const char *)json.data);
    }
    msgpack_zone_destroy(&zone);
done:
    cdt_buf_release(&mp);
    cdt_buf_release(&json);
    cdt_buf_release(&mp2);
}

static void
s_msgpack_mode(const uint8_t *data, size_t size)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        return;
    msgpack_object obj;
    if (cdt_msgpack_unpack_one(data, size, &zone, &obj) == 0) {
        cdt_buf_t json = CDT_BUF_INIT, mp = CDT_BUF_INIT;
        cdt_buf_append_str(&json, "x");
        if (cdt_json_from_msgpack(&obj, &json) == 0) {
            cdt_buf_consume(&json, 1);
            s_reparse(&json, &mp);
        } else if (json.len != 1) {
            s_die("failed write left output", NULL);
        }
        cdt_buf_release(&json);
        cdt_buf_release(&mp);
    }
    msgpack_zone_destroy(&zone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* An exact-size copy, so that ASan sees any read past the end. */
    size_t n = size - 1;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, n);
    switch (data[0] % 4) {
    case 0:
    case 1:
        s_json_mode(copy, n, CDT_JSON_MAX_DEPTH);
        break;
    case 2:
        s_json_mode(copy, n, 1 + data[0] / 4 % 8); /* small depth limits */
        break;
    default:
        s_msgpack_mode(copy, n);
        break;
    }
    free(copy);
    return 0;
}
