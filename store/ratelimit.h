/*
 * Node-local attempt counters in fixed windows, for login throttling by
 * account and by client address. The table has a fixed number of slots, so
 * memory stays bounded whatever clients send; when it is full the oldest
 * window is reused. Counts are per node, not replicated: a client spreading
 * attempts over N nodes gets at most N times the limit.
 */
#ifndef JKD_STORE_RATELIMIT_H
#define JKD_STORE_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit_slot {
	uint64_t key_hash;
	uint64_t window_start_ms;
	uint32_t count;
};

struct ratelimit {
	pthread_mutex_t lock;
	uint32_t limit;
	uint64_t window_ms;
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

void ratelimit_init(struct ratelimit *rl, uint32_t limit, uint64_t window_ms);
void ratelimit_destroy(struct ratelimit *rl);

/* Returns 0 if key may try again now, else the milliseconds until its window ends. */
uint64_t ratelimit_retry_after_ms(struct ratelimit *rl, const char *key, uint64_t now_ms);

/* Counts one attempt of key. */
void ratelimit_hit(struct ratelimit *rl, const char *key, uint64_t now_ms);

/* Forgets key's attempts (after a successful login). */
void ratelimit_reset(struct ratelimit *rl, const char *key);

#endif
