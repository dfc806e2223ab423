/*
 * The deployment behind one address that docs/es/despliegue.md describes:
 * HAProxy in front of a three-node cluster, with health checks on /healthz
 * and a retry on another node when a connection fails. Killing a node
 * loses no read through the balancer, and writes through it succeed again
 * once the cluster has a leader.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/accounts_helpers.h"
#include "tests/integration/cluster.h"

#define TIMEOUT_MS 15000
#define READS_AFTER_KILL 100

static struct cluster cluster;
static pid_t haproxy_pid = -1;
static int haproxy_port;
static char haproxy_config[700];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int status_through_balancer(const char *method, const char *path, const char *body)
{
	struct http_reply reply;
	int status;

	if (http_request_at("127.0.0.1", haproxy_port, method, path,
			    body != NULL ? "Content-Type: application/json\r\n" : NULL, body,
			    body != NULL ? strlen(body) : 0, &reply) != 0)
		return 0;
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

/* Writes the configuration the Spanish deployment guide shows, with this test's ports. */
static void config_write(void)
{
	FILE *f;

	snprintf(haproxy_config, sizeof(haproxy_config), "%s/haproxy.cfg", cluster.dir);
	f = fopen(haproxy_config, "w");
	assert_non_null(f);
	fprintf(f, "global\n  maxconn 256\n\n"
		   "defaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n"
		   "  retries 3\n  option redispatch 1\n  retry-on conn-failure\n\n"
		   "frontend shop\n  bind 127.0.0.1:%d\n  default_backend nodes\n\n"
		   "backend nodes\n  balance roundrobin\n  option httpchk GET /healthz\n"
		   "  http-check expect status 200\n  default-server inter 200ms fall 2 rise 2\n",
		haproxy_port);
	for (size_t i = 0; i < cluster.count; i++)
		fprintf(f, "  server node%zu 127.0.0.1:%d check\n", i + 1, cluster.members[i].node->port);
	assert_int_equal(fclose(f), 0);
}

static int balancer_setup(void **state)
{
	const char *bin = getenv("HAPROXY_BIN");
	int64_t deadline;

	static const char *const auth_flags[] = {TEST_AUTH_FLAGS, NULL};

	(void)state;
	cluster_start(&cluster, 3, auth_flags);
	haproxy_port = harness_free_port();
	config_write();
	haproxy_pid = fork();
	assert_true(haproxy_pid >= 0);
	if (haproxy_pid == 0) {
		execl(bin, bin, "-db", "-f", haproxy_config, (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + TIMEOUT_MS;
	while (status_through_balancer("GET", "/healthz", NULL) != 200) {
		if (now_ms() > deadline)
			fail_msg("HAProxy (%s -f %s) did not serve /healthz within %d ms", bin, haproxy_config,
				 TIMEOUT_MS);
		usleep(20000); /* polling the balancer's port, with a deadline */
	}
	return 0;
}

static int balancer_teardown(void **state)
{
	(void)state;
	if (haproxy_pid > 0) {
		kill(haproxy_pid, SIGTERM);
		waitpid(haproxy_pid, NULL, 0);
	}
	cluster_stop(&cluster);
	return 0;
}

static void reads_survive_node_kill(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	int failed = 0;

	(void)state;
	assert_int_equal(status_through_balancer("GET", "/api/v1/products?limit=1", NULL), 200);
	cluster_node_kill(&cluster, leader);
	for (int i = 0; i < READS_AFTER_KILL; i++)
		if (status_through_balancer("GET", "/api/v1/products?limit=1", NULL) != 200)
			failed++;
	assert_int_equal(failed, 0);
}

static void writes_resume_after_node_kill(void **state)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	int64_t deadline;
	int status = 0;

	(void)state;
	cluster_node_kill(&cluster, leader);
	deadline = now_ms() + TIMEOUT_MS;
	/* A write may get 503 until the survivors elect a leader, so the client retries as the deployment guide describes. */
	while (status != 201 && now_ms() < deadline) {
		status = status_through_balancer("POST", "/api/v1/auth/register",
						 "{\"email\":\"balanceador@example.es\",\"name\":\"Bea\","
						 "\"password\":\"una-clave-larga-9\"}");
		if (status != 201 && status != 503 && status != 0)
			fail_msg("register through the balancer returned %d", status);
	}
	assert_int_equal(status, 201);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reads_survive_node_kill, balancer_setup, balancer_teardown),
		cmocka_unit_test_setup_teardown(writes_resume_after_node_kill, balancer_setup, balancer_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
