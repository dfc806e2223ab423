/*
 * Write loop for cluster tests: one thread sends raw KV PUTs with distinct
 * keys to a list of nodes in turn, and records which writes were
 * acknowledged (2xx), at what time and at which applied index. A write that
 * fails is not retried, because its outcome is unknown; the next key goes to
 * the next node. The loop is bounded by writes_max and duration_ms.
 */
#ifndef JKD_TESTS_CLUSTER_WRITES_H
#define JKD_TESTS_CLUSTER_WRITES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/integration/cluster.h"

#define WRITE_LOOP_MAX 4000

struct write_target {
	char host[64];
	int operator_port;
	char token[128];
};

struct write_loop {
	/* Set before write_loop_start(). */
	struct write_target targets[CLUSTER_NODES_MAX];
	size_t target_count;
	char prefix[32];            /* keys are <prefix>-<n> */
	size_t writes_max;          /* at most WRITE_LOOP_MAX */
	int duration_ms;

	/* Results; read them after write_loop_stop(), except acked. */
	size_t attempted;
	int status[WRITE_LOOP_MAX];            /* 0 if no response arrived */
	uint64_t applied_index[WRITE_LOOP_MAX];
	int64_t sent_ms[WRITE_LOOP_MAX];       /* cluster_now_ms() before the request was sent */
	int64_t acked_ms[WRITE_LOOP_MAX];      /* cluster_now_ms() of the response, 0 if not acknowledged */
	atomic_size_t acked;
	atomic_bool stop;
	bool running;               /* the thread runs and was not joined yet */
	pthread_t thread;
};

/* Prepares a loop that writes to the running members whose indexes are in targets (count of them). */
void write_loop_init(struct write_loop *loop, struct cluster *c, const size_t *targets, size_t count,
		     const char *prefix, size_t writes_max, int duration_ms);

void write_loop_start(struct write_loop *loop);

/* Waits until at least n writes were acknowledged in all; fails the test on timeout. */
void write_loop_wait_acked(struct write_loop *loop, size_t n, int timeout_ms);

/* Stops the loop and joins its thread; does nothing if it does not run. */
void write_loop_stop(struct write_loop *loop);

/*
 * Returns the time of the first acknowledgement of a write sent at or after
 * since_ms, or -1 if none. Writes sent earlier do not count, because their
 * responses may arrive after since_ms from a leader that was already gone.
 */
int64_t write_loop_first_ack_after(const struct write_loop *loop, int64_t since_ms);

/* Counts the writes that were not acknowledged. */
size_t write_loop_failures(const struct write_loop *loop);

/*
 * Waits until every running member has applied the highest acknowledged
 * index, then fails the test unless each acknowledged key has its value
 * on every running member.
 */
void write_loop_assert_present(const struct write_loop *loop, struct cluster *c, int timeout_ms);

#endif
