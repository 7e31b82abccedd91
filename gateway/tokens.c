/*
 * tokens - the negotiate tokens of one gateway.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gateway/tokens.h"

#include "common/cdt_mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SIGNED_VERSION 1
#define PAYLOAD_LEN    28 /* version, expiry, key_id, admin, hub, nonce */
#define MAC_LEN        16
#define SIGNED_RAW     (PAYLOAD_LEN + MAC_LEN)

/* The nonce of a signed token this gateway issued or accepted, kept until
 * no copy of that token can still be valid. */
typedef struct used {
    hnode_t node;
    struct used *next;
    int64_t forget_ms; /* monotonic */
    uint64_t nonce;
} used_t;

struct tokens {
    hmap_t map;
    token_t *head; /* oldest FRESH/CLAIMED */
    token_t *tail;
    int64_t ttl_ms;
    hmap_t used; /* used_t by nonce */
    used_t *used_head;
    used_t *used_tail;
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
    while (self->used_head) {
        used_t *u = self->used_head;
        self->used_head = u->next;
        free(u);
    }
    hmap_release(&self->used);
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
    size_t len = strnlen(token, TOKEN_MAX_LEN);
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
    if (len == 0 || len > TOKEN_MAX_LEN)
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
    while (self->used_head && self->used_head->forget_ms <= now_ms) {
        used_t *u = self->used_head;
        self->used_head = u->next;
        if (!self->used_head)
            self->used_tail = NULL;
        hmap_remove(&self->used, &u->node);
        free(u);
    }
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

static int
s_random(uint8_t *raw, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(raw + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int
tokens_random_id(char out[TOKEN_LEN + 1])
{
    uint8_t raw[16];
    if (s_random(raw, sizeof raw) != 0)
        return -1;
    tokens_b64url(raw, sizeof raw, out);
    return 0;
}

/* ---- signed tokens ------------------------------------------------------- */

static void
s_put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
s_get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int
s_mac(const uint8_t *secret, const uint8_t *payload, uint8_t mac[MAC_LEN])
{
    uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int full_len = 0;
    if (!HMAC(EVP_sha256(), secret, TOKEN_SECRET_LEN, payload, PAYLOAD_LEN,
              full, &full_len) ||
        full_len < MAC_LEN)
        return -1;
    memcpy(mac, full, MAC_LEN);
    OPENSSL_cleanse(full, sizeof full);
    return 0;
}

int
tokens_sign(const uint8_t secret[TOKEN_SECRET_LEN], uint32_t hub,
            int64_t key_id, bool admin, int64_t expires_wall_ms, uint64_t nonce,
            char out[TOKEN_MAX_LEN + 1])
{
    uint8_t raw[SIGNED_RAW];
    raw[0] = SIGNED_VERSION;
    s_put_be(raw + 1, (uint64_t)expires_wall_ms, 8);
    s_put_be(raw + 9, (uint64_t)key_id, 8);
    raw[17] = admin ? 1 : 0;
    s_put_be(raw + 18, hub, 2);
    s_put_be(raw + 20, nonce, 8);
    if (hub > UINT16_MAX || s_mac(secret, raw, raw + PAYLOAD_LEN) != 0)
        return -1;
    tokens_b64url(raw, sizeof raw, out);
    return 0;
}

static int
s_b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes exactly a signed token's text; rejects any other length, any
 * character outside the alphabet and non-zero padding bits, so that each
 * token has one spelling. */
static int
s_b64url_decode_signed(const char *in, size_t len, uint8_t out[SIGNED_RAW])
{
    if (len != TOKEN_SIGNED_LEN)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = s_b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != SIGNED_RAW || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return 0;
}

static bool
s_used(const tokens_t *self, uint64_t nonce)
{
    for (hnode_t *n = hmap_first(&self->used, hmap_hash_u64(nonce)); n;
         n = hmap_next_same(n))
        if (hmap_entry(n, used_t, node)->nonce == nonce)
            return true;
    return false;
}

/* Every signed token lives at most ttl + TOKEN_SKEW_MS from when it is
 * first seen here, so the FIFO is in forget order. */
static void
s_remember(tokens_t *self, uint64_t nonce, int64_t now_ms)
{
    used_t *u = cdt_xcalloc(1, sizeof *u);
    u->nonce = nonce;
    u->forget_ms = now_ms + self->ttl_ms + TOKEN_SKEW_MS;
    if (self->used_tail)
        self->used_tail->next = u;
    else
        self->used_head = u;
    self->used_tail = u;
    hmap_insert(&self->used, &u->node, hmap_hash_u64(nonce));
}

token_t *
tokens_issue(tokens_t *self, const uint8_t *secret, const char *conn_id,
             uint32_t hub, int64_t key_id, bool admin, int64_t now_ms,
             int64_t wall_ms)
{
    char tok[TOKEN_MAX_LEN + 1];
    if (!secret || hub > UINT16_MAX) {
        if (tokens_random_id(tok) != 0)
            return NULL;
        return tokens_add(self, tok, conn_id, hub, key_id, admin, now_ms);
    }
    uint8_t raw[8];
    uint64_t nonce;
    /* a nonce seen here already would make its token unusable here */
    do {
        if (s_random(raw, sizeof raw) != 0)
            return NULL;
        nonce = s_get_be(raw, sizeof raw);
    } while (s_used(self, nonce));
    if (tokens_sign(secret, hub, key_id, admin, wall_ms + self->ttl_ms, nonce,
                    tok) != 0)
        return NULL;
    s_remember(self, nonce, now_ms);
    token_t *t = tokens_add(self, tok, conn_id, hub, key_id, admin, now_ms);
    OPENSSL_cleanse(tok, sizeof tok);
    return t;
}

enum token_check
tokens_accept(tokens_t *self, const uint8_t *secret, const char *id, size_t len,
              uint32_t hub, int64_t now_ms, int64_t wall_ms, token_t **entry)
{
    enum token_check r = tokens_check(self, id, len, hub, now_ms, entry);
    if (r != TOKEN_UNKNOWN || !secret || tokens_find(self, id, len))
        return r;
    uint8_t raw[SIGNED_RAW], mac[MAC_LEN];
    if (s_b64url_decode_signed(id, len, raw) != 0 || raw[0] != SIGNED_VERSION ||
        s_mac(secret, raw, mac) != 0 ||
        CRYPTO_memcmp(mac, raw + PAYLOAD_LEN, MAC_LEN) != 0)
        return TOKEN_UNKNOWN;
    int64_t expires = (int64_t)s_get_be(raw + 1, 8);
    int64_t key_id = (int64_t)s_get_be(raw + 9, 8);
    bool admin = raw[17] != 0;
    uint32_t t_hub = (uint32_t)s_get_be(raw + 18, 2);
    uint64_t nonce = s_get_be(raw + 20, 8);
    if (expires <= wall_ms || expires - wall_ms > self->ttl_ms + TOKEN_SKEW_MS)
        return TOKEN_UNKNOWN;
    if (t_hub != hub)
        return TOKEN_WRONG_HUB;
    if (s_used(self, nonce))
        return TOKEN_UNKNOWN;
    char cid[TOKEN_LEN + 1];
    if (tokens_random_id(cid) != 0)
        return TOKEN_UNKNOWN;
    s_remember(self, nonce, now_ms);
    token_t *t = tokens_add(self, id, cid, hub, key_id, admin, now_ms);
    /* It expires here when it does for its issuer, but never after a
     * local token made now: the FIFO stays in expiry order at its head
     * (one that expires sooner than those before it is refused by
     * tokens_check meanwhile and freed with them). */
    if (expires - wall_ms < self->ttl_ms)
        t->expires_ms = now_ms + (expires - wall_ms);
    *entry = t;
    return TOKEN_OK;
}
