/*
 * tokens - the negotiate tokens of one gateway.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/tokens.h"

#include "common/cdt_mem.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct tokens {
    hmap_t map;
    token_t *head; /* oldest FRESH/CLAIMED */
    token_t *tail;
    int64_t ttl_ms;
};

tokens_t *
tokens_new(int64_t ttl_ms)
{
    tokens_t *self = cdt_xcalloc(1, sizeof *self);
    self->ttl_ms = ttl_ms;
    return self;
}

void
tokens_destroy(tokens_t **self_p)
{
    assert(self_p);
    tokens_t *self = *self_p;
    if (!self)
        return;
    size_t pos = 0;
    hnode_t *cursor = NULL, *node;
    while ((node = hmap_iter(&self->map, &pos, &cursor)))
        free(hmap_entry(node, token_t, node));
    hmap_release(&self->map);
    free(self);
    *self_p = NULL;
}

static void
s_fifo_unlink(tokens_t *self, token_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else if (self->head == t)
        self->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else if (self->tail == t)
        self->tail = t->prev;
    t->prev = t->next = NULL;
}

token_t *
tokens_add(tokens_t *self, const char *token, const char *conn_id, uint32_t hub,
           int64_t key_id, bool admin, int64_t now_ms)
{
    token_t *t = cdt_xcalloc(1, sizeof *t);
    size_t len = strnlen(token, TOKEN_LEN);
    memcpy(t->token, token, len);
    memcpy(t->conn_id, conn_id, strnlen(conn_id, TOKEN_LEN));
    t->hub = hub;
    t->key_id = key_id;
    t->admin = admin;
    t->state = TOKEN_FRESH;
    t->expires_ms = now_ms + self->ttl_ms;
    t->prev = self->tail;
    if (self->tail)
        self->tail->next = t;
    else
        self->head = t;
    self->tail = t;
    hmap_insert(&self->map, &t->node, hmap_hash_bytes(t->token, len, 0));
    return t;
}

token_t *
tokens_find(tokens_t *self, const char *id, size_t len)
{
    if (len == 0 || len > TOKEN_LEN)
        return NULL;
    uint64_t h = hmap_hash_bytes(id, len, 0);
    for (hnode_t *n = hmap_first(&self->map, h); n; n = hmap_next_same(n)) {
        token_t *t = hmap_entry(n, token_t, node);
        if (strlen(t->token) == len && memcmp(t->token, id, len) == 0)
            return t;
    }
    return NULL;
}

enum token_check
tokens_check(tokens_t *self, const char *id, size_t len, uint32_t hub,
             int64_t now_ms, token_t **entry)
{
    *entry = NULL;
    token_t *t = tokens_find(self, id, len);
    if (!t || (t->state != TOKEN_BOUND && t->expires_ms <= now_ms))
        return TOKEN_UNKNOWN;
    if (t->hub != hub)
        return TOKEN_WRONG_HUB;
    if (t->state != TOKEN_FRESH)
        return TOKEN_IN_USE;
    *entry = t;
    return TOKEN_OK;
}

void
tokens_claim(tokens_t *self, token_t *t)
{
    (void)self;
    assert(t->state == TOKEN_FRESH);
    t->state = TOKEN_CLAIMED;
}

void
tokens_bind(tokens_t *self, token_t *t)
{
    assert(t->state != TOKEN_BOUND);
    s_fifo_unlink(self, t);
    t->state = TOKEN_BOUND;
}

void
tokens_remove(tokens_t *self, token_t **t_p)
{
    assert(t_p);
    token_t *t = *t_p;
    if (!t)
        return;
    if (t->state != TOKEN_BOUND)
        s_fifo_unlink(self, t);
    hmap_remove(&self->map, &t->node);
    free(t);
    *t_p = NULL;
}

size_t
tokens_expire(tokens_t *self, int64_t now_ms)
{
    size_t n = 0;
    while (self->head && self->head->expires_ms <= now_ms) {
        token_t *t = self->head;
        tokens_remove(self, &t);
        n++;
    }
    return n;
}

size_t
tokens_count(const tokens_t *self)
{
    return self->map.count;
}

size_t
tokens_b64url(const uint8_t *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

int
tokens_random_id(char out[TOKEN_LEN + 1])
{
    uint8_t raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    tokens_b64url(raw, sizeof raw, out);
    return 0;
}
