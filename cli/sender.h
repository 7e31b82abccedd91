/*
 * sender - conduit-pub's side of the broker's acknowledged ingress.
 *
 * One ZeroMQ DEALER connected to the broker's ROUTER "ingress_ack"
 * endpoint (proto/cdt_ingress.h). Each message goes out as two frames,
 * [8-byte big-endian sequence][MessagePack map], and the broker answers
 * [sequence][ack map]. Messages are pipelined: up to `window` may await
 * their answer, so bulk input is not limited by the round trip; a send
 * beyond the window first waits for answers. Each answer is handed to the
 * caller's callback with the tag given at send time.
 *
 * Waiting is bounded: when no answer arrives for timeout_ms while some are
 * awaited, the waiting call fails and sender_error() says so. Sockets
 * linger 0 ms, so the process never hangs on exit.
 *
 * CurveZMQ: with keys the DEALER is a CURVE client of the broker. A
 * socket monitor watches the handshake either way, so a refused key or a
 * mismatch (a plain client and a CurveZMQ broker, or the reverse, or the
 * wrong server key) fails the waiting call at once with the reason,
 * rather than after the timeout: retrying would not change the outcome.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SENDER_H
#define SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sender sender_t;

#define SENDER_Z85_LEN 40

/* A CURVE client's keys, Z85 text. */
typedef struct sender_curve {
    char public_key[SENDER_Z85_LEN + 1];
    char secret_key[SENDER_Z85_LEN + 1];
    char server_key[SENDER_Z85_LEN + 1]; /* the broker's public key */
} sender_curve_t;

/* Called once per answer. ok and error come from the ack map (error is ""
 * when ok; "malformed answer from the broker" when the map is not an ack
 * map, with ok false); reply/reply_len is the raw answer map, borrowed for
 * the duration of the call. */
typedef void(sender_ack_fn)(void *arg, uint64_t tag, bool ok, const char *error,
                            const uint8_t *reply, size_t reply_len);

/* Connects to endpoint, as a CURVE client when curve is not NULL (the
 * keys are copied). Returns a sender (caller owns) or NULL with the
 * reason in err. */
sender_t *sender_new(const char *endpoint, size_t window, int64_t timeout_ms,
                     const sender_curve_t *curve, sender_ack_fn *fn, void *arg,
                     char *err, size_t errlen);

void sender_destroy(sender_t **self_p);

/* Sends one map (copied). Delivers any answers already there; when the
 * window is full, waits for one first. Returns 0, or -1 (timeout, socket
 * error: see sender_error). */
int sender_send(sender_t *self, const void *map, size_t len, uint64_t tag);

/* Waits until every message sent has its answer. Returns 0 or -1. */
int sender_flush(sender_t *self);

/* Messages sent that still await their answer. */
size_t sender_pending(const sender_t *self);

/* Why the last call failed. */
const char *sender_error(const sender_t *self);

#endif
