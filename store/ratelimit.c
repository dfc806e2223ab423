/* Fixed-window attempt counters; see ratelimit.h. */
#include "store/ratelimit.h"

#include <string.h>

/* FNV-1a: fast and good enough to spread keys; collisions only merge two keys' counts. */
static uint64_t key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ull;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h != 0 ? h : 1;
}

void ratelimit_init(struct ratelimit *rl, uint32_t limit, uint64_t window_ms)
{
	memset(rl->slots, 0, sizeof(rl->slots));
	rl->limit = limit;
	rl->window_ms = window_ms;
	pthread_mutex_init(&rl->lock, NULL);
}

void ratelimit_destroy(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

/* Finds key's slot among 8 probes, or the probe with the oldest window to reuse. */
static struct ratelimit_slot *slot_find(struct ratelimit *rl, uint64_t hash, uint64_t now_ms, int create)
{
	struct ratelimit_slot *oldest = NULL;

	for (uint64_t i = 0; i < 8; i++) {
		struct ratelimit_slot *slot = &rl->slots[(hash + i) % RATELIMIT_SLOTS];

		if (slot->key_hash == hash)
			return slot;
		if (oldest == NULL || slot->window_start_ms < oldest->window_start_ms)
			oldest = slot;
	}
	if (!create)
		return NULL;
	oldest->key_hash = hash;
	oldest->window_start_ms = now_ms;
	oldest->count = 0;
	return oldest;
}

uint64_t ratelimit_retry_after_ms(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	uint64_t retry = 0;
	struct ratelimit_slot *slot;

	pthread_mutex_lock(&rl->lock);
	slot = slot_find(rl, key_hash(key), now_ms, 0);
	if (slot != NULL && now_ms < slot->window_start_ms + rl->window_ms && slot->count >= rl->limit)
		retry = slot->window_start_ms + rl->window_ms - now_ms;
	pthread_mutex_unlock(&rl->lock);
	return retry;
}

void ratelimit_hit(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	struct ratelimit_slot *slot;

	pthread_mutex_lock(&rl->lock);
	slot = slot_find(rl, key_hash(key), now_ms, 1);
	if (now_ms >= slot->window_start_ms + rl->window_ms) {
		slot->window_start_ms = now_ms;
		slot->count = 0;
	}
	slot->count++;
	pthread_mutex_unlock(&rl->lock);
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
	struct ratelimit_slot *slot;

	pthread_mutex_lock(&rl->lock);
	slot = slot_find(rl, key_hash(key), 0, 0);
	if (slot != NULL)
		slot->count = 0;
	pthread_mutex_unlock(&rl->lock);
}
