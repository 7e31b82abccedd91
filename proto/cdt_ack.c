/*
 * cdt_ack - see cdt_ack.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_ack.h"

#include "common/cdt_msgpack.h"

#include <msgpack.h>
#include <string.h>

void
cdt_ingress_encode_ack(cdt_buf_t *out, bool ok, const char *error)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, ok ? 1 : 2);
    msgpack_pack_str_with_body(&pk, "ok", 2);
    if (ok) {
        msgpack_pack_true(&pk);
        return;
    }
    msgpack_pack_false(&pk);
    if (!error)
        error = "";
    msgpack_pack_str_with_body(&pk, "error", 5);
    msgpack_pack_str_with_body(&pk, error, strlen(error));
}

int
cdt_ingress_decode_ack(const uint8_t *buf, size_t len, bool *ok, char *err,
                       size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!buf || len == 0)
        return -1;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 256))
        return -1;
    msgpack_object obj;
    int rc = -1;
    const msgpack_object *okv = NULL, *errv = NULL;
    if (cdt_msgpack_unpack_one(buf, len, &zone, &obj) == -1 ||
        obj.type != MSGPACK_OBJECT_MAP)
        goto done;
    for (uint32_t i = 0; i < obj.via.map.size; i++) {
        const msgpack_object_kv *kv = &obj.via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        if (kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "ok", 2) == 0)
            okv = &kv->val;
        else if (kv->key.via.str.size == 5 &&
                 memcmp(kv->key.via.str.ptr, "error", 5) == 0)
            errv = &kv->val;
    }
    if (!okv || okv->type != MSGPACK_OBJECT_BOOLEAN)
        goto done;
    if (errv && errv->type != MSGPACK_OBJECT_STR)
        goto done;
    *ok = okv->via.boolean;
    if (!*ok && errv && err && errlen) {
        size_t n = errv->via.str.size;
        if (n >= errlen)
            n = errlen - 1;
        memcpy(err, errv->via.str.ptr, n);
        err[n] = '\0';
    }
    rc = 0;
done:
    msgpack_zone_destroy(&zone);
    return rc;
}
