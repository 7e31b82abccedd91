/*
 * tokens - the negotiate tokens of one gateway.
 *
 * POST {hub}/negotiate returns a connectionToken (the secret the client
 * puts in `id=` when it opens the WebSocket) bound to the broker's
 * decision for that request: the hub, the key id and whether it is an
 * admin key. A token is FRESH until a WebSocket upgrade names it; CLAIMED
 * from the upgrade request until the WebSocket is established; then BOUND
 * to the connection for its lifetime, so that a second WebSocket with the
 * same id is told 409 (as ASP.NET Core does) instead of 404. Unused tokens
 * expire after ttl_ms (gateway.negotiate_ttl_ms); since every token gets
 * the same ttl, creation order is expiry order and expiring is popping the
 * front of a FIFO. Lookup is a hash of the token text.
 *
 * Several gateways may share one port (SO_REUSEPORT) or sit behind a
 * load balancer that is not sticky, so the upgrade can reach a gateway
 * other than the one that answered negotiate. Once the broker has given a
 * token secret (WELCOME, shared by every gateway of that broker), a token
 * is therefore signed: base64url(payload || HMAC-SHA256(secret,
 * payload)[0..16)), payload = version 1, expiry (wall-clock ms), key_id,
 * admin, hub index, 8 random bytes (the nonce), integers big-endian. A
 * gateway that does not hold the token verifies it instead (tokens_accept)
 * and takes its identity as the broker decided it at negotiate.
 *
 * Single use. The issuing gateway's table makes a token single-use there.
 * Every gateway also remembers the nonce of each signed token it issued or
 * accepted until the token has surely expired, so a token is accepted at
 * most once per gateway: it can be replayed at most once on each OTHER
 * gateway within its TTL (gateway.negotiate_ttl_ms, 15 s by default). That
 * is acceptable: the token is a secret bearer credential handed out only
 * after the broker authenticated the request (whoever holds it could as
 * well have used the access token it came from), it dies in seconds, and
 * revoking a key KICKs every live connection of that key on every gateway,
 * replayed ones included. Without a secret (the link was never welcomed)
 * tokens are random and local, as before. A broker restart draws a new
 * secret: tokens issued before it no longer verify on other gateways, and
 * the client, refused, negotiates again.
 *
 * Tokens are secrets: nothing here logs them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TOKENS_H
#define TOKENS_H

#include "gateway/hmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 16 random bytes in base64url without padding */
#define TOKEN_LEN 22

/* The broker's token secret (CDT_LINK_SECRET_LEN). */
#define TOKEN_SECRET_LEN 32

/* A signed token: 28 bytes of payload and 16 of MAC in base64url. */
#define TOKEN_SIGNED_LEN 59

/* The longest token a table holds. */
#define TOKEN_MAX_LEN TOKEN_SIGNED_LEN

/* How much later than its own TTL from now a signed token may say it
 * expires (clock skew between gateways' hosts); a later one is refused,
 * so remembering nonces for ttl + this covers every accepted token. */
#define TOKEN_SKEW_MS 2000

enum token_state {
    TOKEN_FRESH = 1,
    TOKEN_CLAIMED,
    TOKEN_BOUND
};

typedef struct token {
    hnode_t node;
    struct token *prev; /* expiry FIFO, while FRESH or CLAIMED */
    struct token *next;
    int64_t expires_ms; /* monotonic */
    int64_t key_id;
    uint32_t hub; /* catalog index */
    uint8_t state;
    bool admin;
    char token[TOKEN_MAX_LEN + 1]; /* the secret (id=) */
    char conn_id[TOKEN_LEN + 1];   /* the public connectionId */
} token_t;

typedef struct tokens tokens_t;

tokens_t *tokens_new(int64_t ttl_ms);

/* Frees every token, bound ones included. */
void tokens_destroy(tokens_t **self_p);

/* Registers a FRESH token (token and conn_id are copied, at most
 * TOKEN_MAX_LEN and TOKEN_LEN bytes). Returns the entry, owned by the
 * table. */
token_t *tokens_add(tokens_t *self, const char *token, const char *conn_id,
                    uint32_t hub, int64_t key_id, bool admin, int64_t now_ms);

enum token_check {
    TOKEN_OK = 0,   /* FRESH, for this hub: *entry set */
    TOKEN_UNKNOWN,  /* 404 No Connection with that ID (also: expired) */
    TOKEN_IN_USE,   /* 409: claimed or bound already */
    TOKEN_WRONG_HUB /* 404: negotiated for another hub */
};

/* Looks up id[0..len) for a WebSocket upgrade on hub. */
enum token_check tokens_check(tokens_t *self, const char *id, size_t len,
                              uint32_t hub, int64_t now_ms, token_t **entry);

/* A new token for a negotiate the broker granted, registered FRESH.
 * With secret (TOKEN_SECRET_LEN bytes) it is signed and expires at
 * wall_ms + ttl for every gateway; with NULL it is a random local id.
 * Returns the entry, or NULL if the system has no randomness to give. */
token_t *tokens_issue(tokens_t *self, const uint8_t *secret,
                      const char *conn_id, uint32_t hub, int64_t key_id,
                      bool admin, int64_t now_ms, int64_t wall_ms);

/* tokens_check, and for an id this table does not hold, with a secret:
 * verifies it as a signed token (MAC in constant time, expiry against
 * wall_ms, hub, nonce not seen before here). A valid one is registered
 * FRESH with the key id and admin flag it carries and a made-up conn_id,
 * and *entry set; the caller claims it as for a local one. A bad MAC, an
 * expired or reused token is TOKEN_UNKNOWN; another hub TOKEN_WRONG_HUB. */
enum token_check tokens_accept(tokens_t *self, const uint8_t *secret,
                               const char *id, size_t len, uint32_t hub,
                               int64_t now_ms, int64_t wall_ms,
                               token_t **entry);

/* Signs a token for (hub, key_id, admin) expiring at expires_wall_ms with
 * the given nonce into out (TOKEN_SIGNED_LEN characters and a NUL).
 * Returns 0, or -1 if libcrypto fails. */
int tokens_sign(const uint8_t secret[TOKEN_SECRET_LEN], uint32_t hub,
                int64_t key_id, bool admin, int64_t expires_wall_ms,
                uint64_t nonce, char out[TOKEN_MAX_LEN + 1]);

/* The entry for id[0..len) whatever its state (expired ones included),
 * or NULL. */
token_t *tokens_find(tokens_t *self, const char *id, size_t len);

/* FRESH -> CLAIMED (it keeps its expiry). */
void tokens_claim(tokens_t *self, token_t *t);

/* CLAIMED or FRESH -> BOUND: it no longer expires. */
void tokens_bind(tokens_t *self, token_t *t);

/* Removes and frees one token, whatever its state; sets *t_p to NULL. */
void tokens_remove(tokens_t *self, token_t **t_p);

/* Frees the FRESH and CLAIMED tokens whose time is up; returns how many. */
size_t tokens_expire(tokens_t *self, int64_t now_ms);

size_t tokens_count(const tokens_t *self);

/* Base64url without padding of n bytes into out (4*ceil(n/3) + 1 bytes
 * suffice); returns the length written. */
size_t tokens_b64url(const uint8_t *in, size_t n, char *out);

/* A new random 16-byte id as TOKEN_LEN base64url characters plus NUL.
 * Returns 0, or -1 if the system has no randomness to give. */
int tokens_random_id(char out[TOKEN_LEN + 1]);

#endif
