/*
 * Network partitions of a three-node cluster. Each node runs in a network
 * namespace of its own, made by this test, with two links to a hub
 * namespace where the test itself runs: a cluster link on a bridge, which
 * the test cuts, and a client link, which stays up so the test can still
 * talk to a node that is cut off. Needs root (CMake registers it only then).
 *
 *   node i (namespace jkd<pid>n<i>)     hub (jkd<pid>hub, the test's sockets)
 *     c<i>n 10.101.0.i/24  <--veth-->  c<i>h -- bridge br0
 *     h<i>n 10.102.i.2/24  <--veth-->  h<i>h 10.102.i.1/24
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/cluster.h"

#define NODES 3
#define TIMEOUT_MS 15000
#define HTTP_PORT 8080
#define OPERATOR_PORT 9080
#define CLUSTER_PORT 7400

static const char *const node_flags[] = {"--cluster-write-timeout-ms", "1000", NULL};

static struct cluster cluster;
static char hub[32];
static char node_ns[NODES][32];
static int original_netns = -1;

/* Runs an ip(8) command line; fails the test if it fails. */
static void ip(const char *format, ...)
{
	char command[512];
	va_list args;
	int n;

	va_start(args, format);
	n = vsnprintf(command, sizeof(command), format, args);
	va_end(args);
	assert_true(n > 0 && (size_t)n < sizeof(command));
	if (system(command) != 0)
		fail_msg("command failed: %s", command);
}

static void netns_enter(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
		fail_msg("cannot enter network namespace %s: %s", name, strerror(errno));
	close(fd);
}

static void network_build(void)
{
	snprintf(hub, sizeof(hub), "jkd%dhub", (int)getpid());
	ip("ip netns add %s", hub);
	ip("ip -n %s link set lo up", hub);
	ip("ip -n %s link add name br0 type bridge", hub);
	ip("ip -n %s link set br0 up", hub);
	for (int i = 1; i <= NODES; i++) {
		const char *ns = node_ns[i - 1];

		snprintf(node_ns[i - 1], sizeof(node_ns[i - 1]), "jkd%dn%d", (int)getpid(), i);
		ip("ip netns add %s", ns);
		ip("ip -n %s link set lo up", ns);
		ip("ip -n %s link add name c%dh type veth peer name c%dn netns %s", hub, i, i, ns);
		ip("ip -n %s link set c%dh master br0 up", hub, i);
		ip("ip -n %s addr add 10.101.0.%d/24 dev c%dn", ns, i, i);
		ip("ip -n %s link set c%dn up", ns, i);
		ip("ip -n %s link add name h%dh type veth peer name h%dn netns %s", hub, i, i, ns);
		ip("ip -n %s addr add 10.102.%d.1/24 dev h%dh", hub, i, i);
		ip("ip -n %s link set h%dh up", hub, i);
		ip("ip -n %s addr add 10.102.%d.2/24 dev h%dn", ns, i, i);
		ip("ip -n %s link set h%dn up", ns, i);
	}
	original_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(original_netns >= 0);
	netns_enter(hub);
}

static void network_remove(void)
{
	char command[128];

	if (original_netns >= 0) {
		setns(original_netns, CLONE_NEWNET);
		close(original_netns);
		original_netns = -1;
	}
	for (int i = 0; i < NODES; i++) {
		if (node_ns[i][0] == '\0')
			continue;
		snprintf(command, sizeof(command), "ip netns del %s 2>/dev/null", node_ns[i]);
		if (system(command) != 0)
			fprintf(stderr, "could not remove network namespace %s\n", node_ns[i]);
		node_ns[i][0] = '\0';
	}
	if (hub[0] != '\0') {
		snprintf(command, sizeof(command), "ip netns del %s 2>/dev/null", hub);
		if (system(command) != 0)
			fprintf(stderr, "could not remove network namespace %s\n", hub);
		hub[0] = '\0';
	}
}

static int cluster_setup(void **state)
{
	(void)state;
	network_build();
	cluster_init(&cluster, NODES, node_flags);
	for (int i = 0; i < NODES; i++) {
		struct cluster_member *m = &cluster.members[i];

		snprintf(m->netns, sizeof(m->netns), "%s", node_ns[i]);
		snprintf(m->host, sizeof(m->host), "10.102.%d.2", i + 1);
		snprintf(m->address, sizeof(m->address), "tcp://10.101.0.%d:%d", i + 1, CLUSTER_PORT);
		m->port = HTTP_PORT;
		m->operator_port = OPERATOR_PORT;
	}
	for (size_t i = 0; i < NODES; i++)
		cluster_node_start(&cluster, i);
	cluster_wait_leader(&cluster, TIMEOUT_MS);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	network_remove();
	return 0;
}

static void link_set(size_t i, const char *state)
{
	ip("ip -n %s link set c%zuh %s", hub, i + 1, state);
}

/*
 * Writes key on member i, retrying after a 503 while the majority elects a
 * new leader; putting the same value again is harmless. Returns the applied index.
 */
static uint64_t put_ok(size_t i, const char *key, const char *value)
{
	int64_t deadline = cluster_now_ms() + TIMEOUT_MS;
	uint64_t index;
	int status;

	while ((status = cluster_kv_put(cluster.members[i].node, key, value, &index)) == 503 &&
	       cluster_now_ms() < deadline)
		cluster_poll_pause();
	if (status < 200 || status >= 300)
		fail_msg("PUT %s on node %" PRIu32 " returned %d; log: %s", key, cluster.members[i].id, status,
			 cluster.members[i].node->log_path);
	return index;
}

/* Writes sent to the cut-off node, and whether each was rejected with no_quorum. */
#define ATTEMPTS_MAX 2048
#define REJECTIONS_CHECKED 5

struct cut_off_writes {
	size_t count;
	bool rejected[ATTEMPTS_MAX];
};

/* Sends one write to member i; returns true if it was rejected with no_quorum, checking that rejection. */
static bool cut_off_write(size_t i, struct cut_off_writes *writes)
{
	struct jkd_node *node = cluster.members[i].node;
	char headers[256], path[64], retry_after[16];
	struct http_reply reply;
	bool rejected;

	assert_true(writes->count < ATTEMPTS_MAX);
	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", node->token);
	snprintf(path, sizeof(path), "/kv/v1/cut-off-%zu", writes->count);
	assert_int_equal(http_request_at(node->host, node->operator_port, "PUT", path, headers, "x", 1, &reply), 0);
	if (reply.status != 503)
		fail_msg("a write on the cut-off node returned %d: %s", reply.status, reply.body);

	/* Problem types are /problems/<code> (RFC 9457), as for every jkd error. */
	rejected = strstr(reply.body, "\"type\":\"/problems/no_quorum\"") != NULL;
	writes->rejected[writes->count++] = rejected;
	if (rejected) {
		assert_true(http_reply_header(&reply, "Retry-After", retry_after, sizeof(retry_after)));
		assert_string_equal(retry_after, "1");
		assert_non_null(strstr(reply.head, "application/problem+json"));
	}
	http_reply_free(&reply);
	return rejected;
}

/*
 * Writes to the cut-off node until one is rejected with no_quorum; earlier
 * writes may time out (write_timeout) while the node still follows the old
 * leader. Then checks that the next writes are rejected too.
 */
static void assert_rejects_writes(size_t i, struct cut_off_writes *writes)
{
	int64_t deadline = cluster_now_ms() + TIMEOUT_MS;

	while (!cut_off_write(i, writes)) {
		if (cluster_now_ms() > deadline) {
			struct cluster_state s;

			cluster_health_read(cluster.members[i].node, &s);
			fail_msg("the cut-off node (role %s, leader %" PRIu32 ", term %" PRIu64
				 ") did not reject writes with no_quorum within %d ms",
				 s.role, s.leader, s.term, TIMEOUT_MS);
		}
		cluster_poll_pause();
	}
	for (int n = 0; n < REJECTIONS_CHECKED; n++)
		assert_true(cut_off_write(i, writes));
}

/* Fails the test if a write rejected with no_quorum was applied on any node. */
static void assert_rejected_absent(const struct cut_off_writes *writes)
{
	for (size_t i = 0; i < NODES; i++) {
		for (size_t n = 0; n < writes->count; n++) {
			char key[32], read[64];
			int status;

			if (!writes->rejected[n])
				continue;
			snprintf(key, sizeof(key), "cut-off-%zu", n);
			status = cluster_kv_get(cluster.members[i].node, key, NULL, read, sizeof(read));
			if (status != 404)
				fail_msg("%s was rejected with no_quorum but node %zu returns %d for it", key, i + 1,
					 status);
		}
	}
}

/* The cut-off node still serves the catalog, /healthz and raw KV reads. */
static void assert_serves_reads(size_t i, const char *key, const char *value)
{
	struct jkd_node *node = cluster.members[i].node;
	struct http_reply reply;
	char read[64];

	assert_node_healthy(node);
	assert_int_equal(http_request_at(node->host, node->port, "GET", "/api/v1/products", NULL, NULL, 0, &reply), 0);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(cluster_kv_get(node, key, NULL, read, sizeof(read)), 200);
	assert_string_equal(read, value);
}

/* Cuts member i off, checks both sides, heals and checks that all nodes agree again. */
static void partition_and_heal(size_t cut, size_t writer)
{
	static struct cut_off_writes writes;
	char key[32];
	uint64_t index = put_ok(writer, "before-cut", "seen-by-all");

	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	link_set(cut, "down");

	memset(&writes, 0, sizeof(writes));
	assert_rejects_writes(cut, &writes);
	assert_serves_reads(cut, "before-cut", "seen-by-all");
	for (int n = 0; n < 20; n++) {
		snprintf(key, sizeof(key), "majority-%d", n);
		index = put_ok(writer, key, "written-during-cut");
	}

	link_set(cut, "up");
	cluster_wait_leader(&cluster, TIMEOUT_MS);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
	for (size_t i = 0; i < NODES; i++) {
		char read[64];

		assert_int_equal(cluster_kv_get(cluster.members[i].node, "majority-19", NULL, read, sizeof(read)), 200);
		assert_string_equal(read, "written-during-cut");
	}
	assert_rejected_absent(&writes);
}

static void cut_off_follower_rejects_writes(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);

	(void)state;
	partition_and_heal(cluster_follower(&cluster, leader), leader);
}

static void cut_off_leader_rejects_writes(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t writer = cluster_follower(&cluster, leader);

	(void)state;
	partition_and_heal(leader, writer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(cut_off_follower_rejects_writes, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(cut_off_leader_rejects_writes, cluster_setup, cluster_teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_cluster_partition needs root to make network namespaces\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
