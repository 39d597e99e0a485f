/* Fast non-cryptographic hashing for in-memory tables. */
#ifndef BH_HASH_H
#define BH_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of @n bytes.  Not for adversarial keys without a random seed:
 * tables fed by outside input pass a per-process random @seed. */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t hash_str(const char *s, uint64_t seed);
/* A random seed from getrandom(), or a fixed fallback. */
uint64_t hash_seed_random(void);

#endif
