#include <string.h>
#include <sys/random.h>

#include "hash.h"

/* A multiply-xorshift mix over 8-byte words (in the spirit of wyhash and
 * MurmurHash3's finaliser): fast for the short fixed keys of flow and
 * address tables, good enough distribution for open addressing. */
static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
		s += 8;
		n -= 8;
	}
	w = 0;
	if (n) /* an empty key may come as NULL */
		memcpy(&w, s, n);
	return mix(h ^ w ^ ((uint64_t) n << 56));
}

uint64_t hash_str(const char *s, uint64_t seed)
{
	return hash_bytes(s, strlen(s), seed);
}

uint64_t hash_seed_random(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t) sizeof(seed))
		seed = 0x2545f4914f6cdd1dULL;
	return seed;
}
