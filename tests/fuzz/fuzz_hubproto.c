/*
 * fuzz_hubproto - libFuzzer target for the SignalR JSON hub protocol input
 * side: framing (hubproto_json_feed), record parsing (hubproto_json_parse)
 * and the handshake request (hubproto_handshake_parse).
 *
 * The first input byte chooses how the rest is cut into feed calls (0:
 * whole; otherwise pieces of a size derived from it), so splits inside
 * records are explored along with the record contents. The arguments of
 * every accepted record are turned back into JSON through
 * hubproto_json_completion_result, which must succeed: anything the parser
 * accepts, the encoder can write.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/hubproto_json.h"

#include "common/cdt_buf.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORD 4096

typedef struct {
    cdt_buf_t scratch;
    cdt_buf_t out;
    size_t records;
} fuzz_state_t;

static int
s_on_record(void *arg, const char *text, size_t len)
{
    fuzz_state_t *st = arg;
    char err[256];
    hub_msg_t msg;

    assert(len <= MAX_RECORD);
    assert(memchr(text, HUBPROTO_RS, len) == NULL);
    if (st->records++ == 0) {
        char protocol[32];
        int64_t version;
        if (hubproto_handshake_parse(text, len, protocol, sizeof protocol,
                                     &version, err, sizeof err) == 0)
            assert(strlen(protocol) < sizeof protocol);
    }
    if (hubproto_json_parse(text, len, &st->scratch, &msg, err, sizeof err) !=
        0) {
        assert(err[0] != '\0');
        return (len & 1) ? -1 : 0; /* sometimes stop, as the gateway does */
    }
    if (msg.args_len > 0) {
        assert(msg.args >= st->scratch.data &&
               msg.args + msg.args_len <= st->scratch.data + st->scratch.len);
        cdt_buf_reset(&st->out);
        int rc = hubproto_json_completion_result(&st->out, msg.invocation_id,
                                                 msg.args, msg.args_len);
        assert(rc == 0);
        (void)rc;
        assert(st->out.len > 0 && st->out.data[st->out.len - 1] == 0x1e);
    }
    if (msg.type == HUB_INVOCATION || msg.type == HUB_STREAM_INVOCATION)
        assert(msg.target.len > 0 && msg.args_len > 0);
    if (msg.has_invocation_id)
        assert(msg.invocation_id.len > 0);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    const char *p = (const char *)data + 1;
    size_t len = size - 1;

    fuzz_state_t st = {CDT_BUF_INIT, CDT_BUF_INIT, 0};
    cdt_buf_t pending = CDT_BUF_INIT;
    char err[128];
    size_t chunk = len ? len : 1;
    if (mode & 0x80)
        chunk = (size_t)(mode & 0x7f) + 1; /* 1..128-byte pieces */
    else if (mode && len)
        chunk = (size_t)mode % len + 1;

    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        /* an exact-size copy, so over-reads past a piece are caught */
        char *piece = malloc(n);
        if (!piece)
            abort();
        memcpy(piece, p + pos, n);
        rc = hubproto_json_feed(&pending, piece, n, MAX_RECORD, s_on_record,
                                &st, err, sizeof err);
        free(piece);
        assert(pending.len <= MAX_RECORD);
        if (rc != 0)
            assert(pending.data == NULL);
        pos += n;
    }
    cdt_buf_release(&pending);
    cdt_buf_release(&st.scratch);
    cdt_buf_release(&st.out);
    return 0;
}
