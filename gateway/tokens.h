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
    char token[TOKEN_LEN + 1];   /* the secret (id=) */
    char conn_id[TOKEN_LEN + 1]; /* the public connectionId */
} token_t;

typedef struct tokens tokens_t;

tokens_t *tokens_new(int64_t ttl_ms);

/* Frees every token, bound ones included. */
void tokens_destroy(tokens_t **self_p);

/* Registers a FRESH token (token and conn_id are copied, at most
 * TOKEN_LEN bytes each). Returns the entry, owned by the table. */
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
