/*
 * fuzz_ingress - libFuzzer target for the ingress map decoder.
 *
 * Every input is parsed; a message that is accepted is encoded again and
 * must parse again with the same type. Every rejection must give a reason.
 * The input is also tried as an acknowledgement.
 *
 * SPDX-License-Identifier: MIT
 */
#include "proto/cdt_ingress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_die(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_ingress: %s: %s\n", what, err ? err : "");
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size for ASan */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    msgpack_unpacked up;
    cdt_ingress_t msg;
    char err[256];
    err[0] = '\0';
    if (cdt_ingress_parse(copy, size, &up, &msg, err, sizeof err) == 0) {
        cdt_buf_t out = CDT_BUF_INIT;
        cdt_ingress_encode(&msg, &out);
        msgpack_unpacked up2;
        cdt_ingress_t back;
        if (cdt_ingress_parse(out.data, out.len, &up2, &back, err,
                              sizeof err) == -1)
            s_die("re-encoded message rejected", err);
        if (back.type != msg.type || back.key_id != msg.key_id ||
            back.ts != msg.ts || back.state != msg.state ||
            back.groups.n != msg.groups.n)
            s_die("re-encoded message differs", NULL);
        msgpack_unpacked_destroy(&up2);
        cdt_buf_release(&out);
    } else if (err[0] == '\0' || strchr(err, '\n')) {
        s_die("rejection without a one-line reason", err);
    }
    msgpack_unpacked_destroy(&up);

    bool ok = false;
    char ack[64];
    if (cdt_ingress_decode_ack(copy, size, &ok, ack, sizeof ack) == 0 && ok &&
        ack[0] != '\0')
        s_die("ok ack with an error text", ack);
    free(copy);
    return 0;
}
