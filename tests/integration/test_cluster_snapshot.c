/*
 * Snapshots between real jkd processes, with a short compaction threshold.
 * A follower stopped while the leader compacted past its log comes back by
 * snapshot, and so does a node added after compaction: each logs
 * snapshot_installed, restarts itself and ends with the same digest as the
 * others. Writes after the install still reach them.
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

#define TIMEOUT_MS 15000
#define COMPACT_ENTRIES "40"
#define WRITES 200 /* five times the threshold, so the leader compacts well past a stopped node */

static const char *const compact_flags[] = {"--cluster-compact-entries", COMPACT_ENTRIES, NULL};
static struct cluster cluster;

static int cluster_setup(void **state)
{
	(void)state;
	cluster_start(&cluster, 3, compact_flags);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	return 0;
}

/* Writes keys prefix-0.. on member via; returns the highest applied index acknowledged. */
static uint64_t write_keys(size_t via, const char *prefix, int count)
{
	uint64_t max_index = 0;

	for (int i = 0; i < count; i++) {
		char key[64], value[32];
		uint64_t index;
		int status;

		snprintf(key, sizeof(key), "%s-%03d", prefix, i);
		snprintf(value, sizeof(value), "v%d", i);
		status = cluster_kv_put(cluster.members[via].node, key, value, &index);
		if (status != 201 && status != 200)
			fail_msg("PUT %s on node %" PRIu32 " returned %d; log: %s", key, cluster.members[via].id, status,
				 cluster.members[via].node->log_path);
		if (index > max_index)
			max_index = index;
	}
	return max_index;
}

/* True if the node's log file contains text. */
static bool log_contains(const struct jkd_node *node, const char *text)
{
	FILE *f = fopen(node->log_path, "r");
	char line[4096];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

static void assert_key_on(size_t member, const char *key, const char *expected)
{
	char value[64];

	assert_int_equal(cluster_kv_get(cluster.members[member].node, key, NULL, value, sizeof(value)), 200);
	assert_string_equal(value, expected);
}

static void stopped_follower_returns_by_snapshot(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t follower = cluster_follower(&cluster, leader);
	uint64_t index;

	(void)state;
	assert_int_equal(cluster_node_stop(&cluster, follower), 0);
	index = write_keys(leader, "behind", WRITES);
	cluster_node_start(&cluster, follower);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	if (!log_contains(cluster.members[follower].node, "msg=snapshot_installed"))
		fail_msg("node %" PRIu32 " caught up without a snapshot; log: %s", cluster.members[follower].id,
			 cluster.members[follower].node->log_path);
	assert_key_on(follower, "behind-000", "v0");
	assert_key_on(follower, "behind-199", "v199");
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);

	/* The restarted node takes part in replication again. */
	index = write_keys(leader, "after", 10);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	assert_key_on(follower, "after-009", "v9");
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

static void node_added_after_compaction_gets_snapshot(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t added;
	uint64_t index = write_keys(leader, "before-join", WRITES);
	char body[256];
	struct http_reply reply;

	(void)state;
	added = cluster_add_slot(&cluster);
	cluster_node_start(&cluster, added);
	snprintf(body, sizeof(body), "{\"id\":%" PRIu32 ",\"address\":\"%s\"}", cluster.members[added].id,
		 cluster.members[added].address);
	http_operator(cluster.members[leader].node, "POST", "/ops/v1/cluster/members",
		      "Content-Type: application/json\r\n", body, strlen(body), &reply);
	assert_int_equal(reply.status, 202);
	http_reply_free(&reply);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	if (!log_contains(cluster.members[added].node, "msg=snapshot_installed"))
		fail_msg("node %" PRIu32 " joined without a snapshot; log: %s", cluster.members[added].id,
			 cluster.members[added].node->log_path);
	assert_key_on(added, "before-join-000", "v0");
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stopped_follower_returns_by_snapshot, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(node_added_after_compaction_gets_snapshot, cluster_setup,
						cluster_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
