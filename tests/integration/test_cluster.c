/*
 * A three-node cluster of real jkd processes: writes sent to any node are
 * applied on every node, read-your-writes across nodes with
 * X-Jkd-Min-Index, and a stopped follower that catches up after a restart.
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

#include "tests/integration/cluster.h"

#define TIMEOUT_MS 10000

static struct cluster cluster;

static int cluster_setup(void **state)
{
	(void)state;
	cluster_start(&cluster, 3, NULL);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	return 0;
}

static uint64_t put_ok(size_t member, const char *key, const char *value)
{
	uint64_t index;
	int status = cluster_kv_put(cluster.members[member].node, key, value, &index);

	if (status < 200 || status >= 300)
		fail_msg("PUT %s on node %" PRIu32 " returned %d; log: %s", key, cluster.members[member].id, status,
			 cluster.members[member].node->log_path);
	if (index == 0)
		fail_msg("PUT %s on node %" PRIu32 " has no X-Jkd-Applied-Index", key, cluster.members[member].id);
	return index;
}

static void writes_to_every_node_replicate(void **state)
{
	char key[32], value[32], read[64];
	uint64_t max_index = 0;

	(void)state;
	for (size_t i = 0; i < cluster.count; i++) {
		uint64_t index;

		snprintf(key, sizeof(key), "every-%zu", i);
		snprintf(value, sizeof(value), "from-node-%zu", i + 1);
		index = put_ok(i, key, value);
		if (index > max_index)
			max_index = index;
	}
	cluster_wait_applied(&cluster, max_index, TIMEOUT_MS);
	for (size_t reader = 0; reader < cluster.count; reader++) {
		for (size_t i = 0; i < cluster.count; i++) {
			snprintf(key, sizeof(key), "every-%zu", i);
			snprintf(value, sizeof(value), "from-node-%zu", i + 1);
			assert_int_equal(cluster_kv_get(cluster.members[reader].node, key, NULL, read, sizeof(read)), 200);
			assert_string_equal(read, value);
		}
	}
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

static void min_index_reads_own_write_elsewhere(void **state)
{
	char value[64], read[64], headers[64];
	int status;

	(void)state;
	for (size_t writer = 0; writer < cluster.count; writer++) {
		for (size_t reader = 0; reader < cluster.count; reader++) {
			uint64_t index;

			if (reader == writer)
				continue;
			snprintf(value, sizeof(value), "written-on-%zu-for-%zu", writer + 1, reader + 1);
			index = put_ok(writer, "read-your-writes", value);
			snprintf(headers, sizeof(headers), "X-Jkd-Min-Index: %" PRIu64 "\r\n", index);
			status = cluster_kv_get(cluster.members[reader].node, "read-your-writes", headers, read,
						sizeof(read));
			if (status != 200 || strcmp(read, value) != 0)
				fail_msg("GET with X-Jkd-Min-Index: %" PRIu64 " on node %zu after PUT on node %zu returned "
					 "%d \"%s\", expected 200 \"%s\"",
					 index, reader + 1, writer + 1, status, read, value);
		}
	}
}

static void restarted_follower_catches_up(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t follower = cluster_follower(&cluster, leader);
	struct cluster_state follower_state, leader_state;
	char key[32];
	uint64_t index = 0;

	(void)state;
	assert_int_equal(cluster_node_stop(&cluster, follower), 0);
	for (size_t n = 0; n < 50; n++) {
		snprintf(key, sizeof(key), "while-down-%zu", n);
		index = put_ok(leader, key, "missed");
	}
	cluster_node_start(&cluster, follower);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
	assert_true(cluster_health_read(cluster.members[follower].node, &follower_state));
	assert_true(cluster_health_read(cluster.members[leader].node, &leader_state));
	assert_int_equal(follower_state.applied_index, leader_state.applied_index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_to_every_node_replicate),
		cmocka_unit_test(min_index_reads_own_write_elsewhere),
		cmocka_unit_test(restarted_follower_catches_up),
	};

	return cmocka_run_group_tests(tests, cluster_setup, cluster_teardown);
}
