/*
 * Failover benchmark: starts a three-node cluster of real jkd processes on
 * loopback, runs a write loop over all nodes, kills the leader with SIGKILL
 * and measures the unavailable window, from the kill until the first write
 * acknowledged by a survivor. Repeats this --runs times (default 20) and
 * prints every window, the median (p50) and the maximum.
 *
 *   build/bin/bench_failover [--runs N]
 *
 * It finds jkd and jkdctl next to itself unless JKD_BIN and JKDCTL_BIN are
 * set. The window depends on --cluster-tick-ms and --cluster-election-ticks
 * (cluster.h sets 20 ms and 10 ticks), and on the machine.
 */
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/cluster_writes.h"

#define RUNS_MAX 200
#define TIMEOUT_MS 15000
#define WRITES_MAX 4000
#define LOOP_MS 30000

static int runs = 20;
static int64_t windows_ms[RUNS_MAX];

/* Measures one failover; returns the window in milliseconds. */
static int64_t failover_once(int run)
{
	static struct cluster cluster;
	static struct write_loop loop;
	size_t all[] = {0, 1, 2}, leader;
	char prefix[32];
	int64_t killed_ms, resumed_ms;

	leader = cluster_start(&cluster, 3, NULL);
	snprintf(prefix, sizeof(prefix), "failover-%d", run);
	write_loop_init(&loop, &cluster, all, 3, prefix, WRITES_MAX, LOOP_MS);
	write_loop_start(&loop);
	write_loop_wait_acked(&loop, 20, TIMEOUT_MS);

	killed_ms = cluster_now_ms();
	cluster_node_kill(&cluster, leader);
	write_loop_wait_acked(&loop, atomic_load(&loop.acked) + 5, TIMEOUT_MS);
	write_loop_stop(&loop);
	resumed_ms = write_loop_first_ack_after(&loop, killed_ms);
	assert_true(resumed_ms >= killed_ms);

	cluster_stop(&cluster);
	return resumed_ms - killed_ms;
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void failover_windows(void **state)
{
	(void)state;
	for (int run = 0; run < runs; run++) {
		windows_ms[run] = failover_once(run);
		printf("run %d: writes resumed %" PRId64 " ms after the leader was killed\n", run + 1, windows_ms[run]);
		fflush(stdout);
	}
	qsort(windows_ms, (size_t)runs, sizeof(windows_ms[0]), compare_i64);
	printf("failover over %d runs: p50 %" PRId64 " ms, max %" PRId64 " ms\n", runs, windows_ms[(runs - 1) / 2],
	       windows_ms[runs - 1]);
}

/* Sets name to the program next to this executable unless the environment sets it. */
static void default_binary(const char *name, const char *program)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t len;

	if (getenv(name) != NULL)
		return;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return;
	self[len] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dirname(self), program);
	setenv(name, path, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failover_windows),
	};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--runs N]  (N from 1 to %d)\n", argv[0], RUNS_MAX);
			return 2;
		}
	}
	if (runs < 1 || runs > RUNS_MAX) {
		fprintf(stderr, "--runs must be from 1 to %d\n", RUNS_MAX);
		return 2;
	}
	default_binary("JKD_BIN", "jkd");
	default_binary("JKDCTL_BIN", "jkdctl");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
