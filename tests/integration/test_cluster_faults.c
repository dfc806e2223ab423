/*
 * Crashes in a three-node cluster of real jkd processes: the leader killed
 * under a write loop (writes resume on the survivors), and every node
 * killed under a write loop (every acknowledged write survives a restart).
 * bench/failover.c measures the unavailable window; these tests only check
 * that writes resume.
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

#define TIMEOUT_MS 15000
#define WRITES_MAX 3000
#define LOOP_MS 30000

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

static void loop_over_all_nodes(const char *prefix)
{
	size_t all[CLUSTER_NODES_MAX];

	for (size_t i = 0; i < cluster.count; i++)
		all[i] = i;
	write_loop_init(&loop, &cluster, all, cluster.count, prefix, WRITES_MAX, LOOP_MS);
	write_loop_start(&loop);
}

static void killed_leader_writes_resume(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t acked_before;
	int64_t killed_ms, resumed_ms;

	(void)state;
	loop_over_all_nodes("failover");
	write_loop_wait_acked(&loop, 20, TIMEOUT_MS);
	killed_ms = cluster_now_ms();
	cluster_node_kill(&cluster, leader);
	acked_before = atomic_load(&loop.acked);
	write_loop_wait_acked(&loop, acked_before + 20, TIMEOUT_MS);
	write_loop_stop(&loop);

	resumed_ms = write_loop_first_ack_after(&loop, killed_ms);
	assert_true(resumed_ms >= killed_ms);
	printf("writes resumed %" PRId64 " ms after the leader was killed (%zu of %zu writes failed)\n",
	       resumed_ms - killed_ms, write_loop_failures(&loop), loop.attempted);
	assert_true(cluster_wait_leader(&cluster, TIMEOUT_MS) != leader);
	write_loop_assert_present(&loop, &cluster, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

static void all_killed_acked_writes_survive(void **state)
{
	(void)state;
	loop_over_all_nodes("crash");
	write_loop_wait_acked(&loop, 50, TIMEOUT_MS);
	for (size_t i = 0; i < cluster.count; i++)
		cluster_node_kill(&cluster, i);
	write_loop_stop(&loop);
	printf("%zu writes acknowledged before the crash, %zu attempted\n", atomic_load(&loop.acked), loop.attempted);

	for (size_t i = 0; i < cluster.count; i++)
		cluster_node_start(&cluster, i);
	cluster_wait_leader(&cluster, TIMEOUT_MS);
	write_loop_assert_present(&loop, &cluster, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(killed_leader_writes_resume, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(all_killed_acked_writes_survive, cluster_setup, cluster_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
