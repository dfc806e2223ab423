/* Write loop for cluster tests; see cluster_writes.h. */
#include "tests/integration/cluster_writes.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define VALUE_MAX 64

static void key_format(const struct write_loop *loop, size_t n, char *key, size_t key_size, char *value,
		       size_t value_size)
{
	snprintf(key, key_size, "%s-%zu", loop->prefix, n);
	snprintf(value, value_size, "value-%zu", n);
}

void write_loop_init(struct write_loop *loop, struct cluster *c, const size_t *targets, size_t count,
		     const char *prefix, size_t writes_max, int duration_ms)
{
	assert_true(count >= 1 && count <= CLUSTER_NODES_MAX);
	assert_true(writes_max <= WRITE_LOOP_MAX);
	memset(loop, 0, sizeof(*loop));
	for (size_t i = 0; i < count; i++) {
		const struct jkd_node *node = c->members[targets[i]].node;
		struct write_target *t = &loop->targets[i];

		snprintf(t->host, sizeof(t->host), "%s", node->host);
		t->operator_port = node->operator_port;
		snprintf(t->token, sizeof(t->token), "%s", node->token);
	}
	loop->target_count = count;
	snprintf(loop->prefix, sizeof(loop->prefix), "%s", prefix);
	loop->writes_max = writes_max;
	loop->duration_ms = duration_ms;
}

/* Sends one write to target t; returns the status, 0 if no response arrived. */
static int write_one(struct write_loop *loop, const struct write_target *t, size_t n)
{
	struct jkd_node node;
	char key[64], value[VALUE_MAX];

	memset(&node, 0, sizeof(node));
	snprintf(node.host, sizeof(node.host), "%s", t->host);
	node.operator_port = t->operator_port;
	snprintf(node.token, sizeof(node.token), "%s", t->token);
	key_format(loop, n, key, sizeof(key), value, sizeof(value));
	return cluster_kv_put(&node, key, value, &loop->applied_index[n]);
}

static void *loop_main(void *arg)
{
	struct write_loop *loop = arg;
	int64_t deadline = cluster_now_ms() + loop->duration_ms;
	size_t target = 0;

	for (size_t n = 0; n < loop->writes_max; n++) {
		int status;

		if (atomic_load(&loop->stop) || cluster_now_ms() > deadline)
			break;
		loop->sent_ms[n] = cluster_now_ms();
		status = write_one(loop, &loop->targets[target], n);
		loop->status[n] = status;
		loop->attempted = n + 1;
		if (status >= 200 && status < 300) {
			loop->acked_ms[n] = cluster_now_ms();
			atomic_fetch_add(&loop->acked, 1);
		}
		target = (target + 1) % loop->target_count;
	}
	return NULL;
}

void write_loop_start(struct write_loop *loop)
{
	assert_int_equal(pthread_create(&loop->thread, NULL, loop_main, loop), 0);
	loop->running = true;
}

void write_loop_wait_acked(struct write_loop *loop, size_t n, int timeout_ms)
{
	int64_t deadline = cluster_now_ms() + timeout_ms;

	while (atomic_load(&loop->acked) < n) {
		if (cluster_now_ms() > deadline)
			fail_msg("only %zu of %zu writes were acknowledged within %d ms", atomic_load(&loop->acked), n,
				 timeout_ms);
		cluster_poll_pause();
	}
}

void write_loop_stop(struct write_loop *loop)
{
	if (!loop->running)
		return;
	atomic_store(&loop->stop, true);
	pthread_join(loop->thread, NULL);
	loop->running = false;
}

int64_t write_loop_first_ack_after(const struct write_loop *loop, int64_t since_ms)
{
	int64_t first = -1;

	for (size_t n = 0; n < loop->attempted; n++) {
		if (loop->acked_ms[n] != 0 && loop->sent_ms[n] >= since_ms && (first < 0 || loop->acked_ms[n] < first))
			first = loop->acked_ms[n];
	}
	return first;
}

size_t write_loop_failures(const struct write_loop *loop)
{
	size_t failures = 0;

	for (size_t n = 0; n < loop->attempted; n++) {
		if (loop->acked_ms[n] == 0)
			failures++;
	}
	return failures;
}

void write_loop_assert_present(const struct write_loop *loop, struct cluster *c, int timeout_ms)
{
	uint64_t max_index = 0;

	for (size_t n = 0; n < loop->attempted; n++) {
		if (loop->acked_ms[n] != 0 && loop->applied_index[n] > max_index)
			max_index = loop->applied_index[n];
	}
	cluster_wait_applied(c, max_index, timeout_ms);
	for (size_t i = 0; i < c->count; i++) {
		if (!cluster_node_running(c, i) || c->members[i].removed)
			continue;
		for (size_t n = 0; n < loop->attempted; n++) {
			char key[64], expected[VALUE_MAX], value[VALUE_MAX];
			int status;

			if (loop->acked_ms[n] == 0)
				continue;
			key_format(loop, n, key, sizeof(key), expected, sizeof(expected));
			status = cluster_kv_get(c->members[i].node, key, NULL, value, sizeof(value));
			if (status != 200 || strcmp(value, expected) != 0)
				fail_msg("acknowledged write %s (index %" PRIu64 ") on node %" PRIu32
					 ": GET returned %d \"%s\"",
					 key, loop->applied_index[n], c->members[i].id, status, value);
		}
	}
}
