/*
 * hashfn - seeded hashing for the broker's hash tables.
 *
 * Group names, task ids and routing ids come from outside (clients and
 * services choose them), so the tables keyed by them use a hash with a
 * per-process random seed: a peer cannot precompute a set of names that
 * all land in one bucket. The functions fit zhashx_hash_fn.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef HASHFN_H
#define HASHFN_H

#include <stddef.h>
#include <stdint.h>

/* Hashes len bytes. The seed is drawn once per process, before main. */
size_t hashfn_bytes(const void *data, size_t len);

/* Hashes a NUL-terminated string (a zhashx_hash_fn). */
size_t hashfn_str(const void *key);

/* Hashes the 8 bytes of an int64_t the key points to (a zhashx_hash_fn). */
size_t hashfn_i64(const void *key);

/* Compares two int64_t through pointers (a zhashx_comparator_fn). */
int hashfn_i64_cmp(const void *a, const void *b);

#endif
