/*
 * Membership changes of a running three-node cluster under a write loop: a
 * fourth node joins (started with the original bootstrap list and the
 * current members as peers), becomes a voter, and then an original node is
 * removed. No acknowledged write may be lost.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/cluster_writes.h"

#define TIMEOUT_MS 20000
#define WRITES_MAX 3000
#define LOOP_MS 60000

static struct cluster cluster;
static struct write_loop loop;

static int cluster_setup(void **state)
{
	(void)state;
	cluster_start(&cluster, 3, NULL);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	write_loop_stop(&loop);
	cluster_stop(&cluster);
	return 0;
}

/* Returns the membership of id in the leader's configuration: 0 absent, 1 learner, 2 voter. */
static int membership_of(uint32_t id)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	struct cluster_state s;

	if (!cluster_state_read(cluster.members[leader].node, &s))
		return -1;
	for (size_t i = 0; i < s.member_count; i++) {
		if (s.member_ids[i] == id)
			return s.member_voter[i] ? 2 : 1;
	}
	return 0;
}

static void wait_membership(uint32_t id, int expected)
{
	int64_t deadline = cluster_now_ms() + TIMEOUT_MS;

	while (membership_of(id) != expected) {
		if (cluster_now_ms() > deadline)
			fail_msg("node %" PRIu32 " did not reach membership %d within %d ms (it is %d)", id, expected,
				 TIMEOUT_MS, membership_of(id));
		cluster_poll_pause();
	}
}

/*
 * Sends a membership change to member via, retrying while the previous change
 * is still pending (503 membership_change_pending); fails unless it gets 202.
 */
static void member_change(size_t via, const char *method, const char *path, const char *body)
{
	int64_t deadline = cluster_now_ms() + TIMEOUT_MS;
	struct http_reply reply;

	for (;;) {
		http_operator(cluster.members[via].node, method, path, "Content-Type: application/json\r\n", body,
			      body != NULL ? strlen(body) : 0, &reply);
		if (reply.status == 202)
			break;
		if (reply.status != 503 || strstr(reply.body, "/problems/membership_change_pending") == NULL ||
		    cluster_now_ms() > deadline)
			fail_msg("%s %s returned %d: %s", method, path, reply.status, reply.body);
		http_reply_free(&reply);
		cluster_poll_pause();
	}
	http_reply_free(&reply);
}

static void member_add(size_t via, size_t added)
{
	char body[160];

	snprintf(body, sizeof(body), "{\"id\":%" PRIu32 ",\"address\":\"%s\"}", cluster.members[added].id,
		 cluster.members[added].address);
	member_change(via, "POST", "/ops/v1/cluster/members", body);
}

static void member_remove(size_t via, size_t removed)
{
	char path[64];

	snprintf(path, sizeof(path), "/ops/v1/cluster/members/%" PRIu32, cluster.members[removed].id);
	member_change(via, "DELETE", path, NULL);
}

/* Starts the fourth node, requests its addition through member via and waits until it is a voter; returns its index. */
static size_t fourth_node_joins(size_t via)
{
	size_t added = cluster_add_slot(&cluster);

	cluster_node_start(&cluster, added);
	member_add(via, added);
	wait_membership(cluster.members[added].id, 2);
	return added;
}

static void node_joins_and_follower_leaves(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t leaving = cluster_follower(&cluster, leader);
	size_t staying = 3 - leader - leaving;
	size_t targets[] = {leader, staying};
	size_t added;

	(void)state;
	write_loop_init(&loop, &cluster, targets, 2, "join", WRITES_MAX, LOOP_MS);
	write_loop_start(&loop);
	write_loop_wait_acked(&loop, 20, TIMEOUT_MS);

	added = fourth_node_joins(staying);
	write_loop_wait_acked(&loop, atomic_load(&loop.acked) + 20, TIMEOUT_MS);
	member_remove(leader, leaving);
	cluster.members[leaving].removed = true;
	wait_membership(cluster.members[leaving].id, 0);
	cluster_node_stop(&cluster, leaving);
	write_loop_wait_acked(&loop, atomic_load(&loop.acked) + 20, TIMEOUT_MS);
	write_loop_stop(&loop);

	printf("%zu writes, %zu failed\n", loop.attempted, write_loop_failures(&loop));
	assert_int_equal(write_loop_failures(&loop), 0);
	assert_true(cluster_node_running(&cluster, added));
	write_loop_assert_present(&loop, &cluster, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

/* Returns the time from the first failed write to the last one, 0 if none failed. */
static int64_t failing_ms(void)
{
	int64_t first = -1, last = -1;

	for (size_t n = 0; n < loop.attempted; n++) {
		if (loop.acked_ms[n] != 0)
			continue;
		if (first < 0)
			first = loop.sent_ms[n];
		last = loop.sent_ms[n];
	}
	return first < 0 ? 0 : last - first;
}

static void removed_leader_hands_over(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t first = cluster_follower(&cluster, leader);
	size_t second = 3 - leader - first;
	size_t targets[] = {first, second};
	size_t added;

	(void)state;
	write_loop_init(&loop, &cluster, targets, 2, "handover", WRITES_MAX, LOOP_MS);
	write_loop_start(&loop);
	write_loop_wait_acked(&loop, 20, TIMEOUT_MS);

	added = fourth_node_joins(first);
	/* A removed node no longer counts when the others agree on a leader. */
	member_remove(first, leader);
	cluster.members[leader].removed = true;
	wait_membership(cluster.members[leader].id, 0);
	cluster_node_stop(&cluster, leader);
	write_loop_wait_acked(&loop, atomic_load(&loop.acked) + 20, TIMEOUT_MS);
	write_loop_stop(&loop);

	printf("%zu writes, %zu failed during the leader change, for %" PRId64 " ms\n", loop.attempted,
	       write_loop_failures(&loop), failing_ms());
	assert_true(cluster_node_running(&cluster, added));
	assert_true(cluster_wait_leader(&cluster, TIMEOUT_MS) != leader);
	write_loop_assert_present(&loop, &cluster, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

/* A removed node's disk is wiped and it comes back under a new address: the others reconnect to it. */
static void removed_node_rejoins_at_new_address(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t node = cluster_follower(&cluster, leader);
	struct cluster_member *m = &cluster.members[node];
	uint64_t index = 0;

	(void)state;
	member_remove(leader, node);
	m->removed = true;
	wait_membership(m->id, 0);
	jkd_process_cleanup(m->node);
	m->started = false;
	m->removed = false;
	m->port = m->operator_port = 0;
	snprintf(m->address, sizeof(m->address), "tcp://127.0.0.1:%d", harness_free_port());
	for (int i = 0; i < 10; i++) {
		char key[32];
		uint64_t acked;

		snprintf(key, sizeof(key), "while-away-%d", i);
		assert_int_equal(cluster_kv_put(cluster.members[leader].node, key, "v", &acked), 201);
		index = acked;
	}
	cluster_node_start(&cluster, node);
	member_add(leader, node);
	wait_membership(m->id, 2);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(node_joins_and_follower_leaves, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(removed_leader_hands_over, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(removed_node_rejoins_at_new_address, cluster_setup, cluster_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
