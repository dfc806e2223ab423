/* Cluster harness for integration tests; see cluster.h. */
#include "tests/integration/cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#define POLL_INTERVAL_MS 10
#define LEADER_TIMEOUT_MS 20000

int64_t cluster_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void cluster_poll_pause(void)
{
	struct timespec pause = {.tv_nsec = POLL_INTERVAL_MS * 1000000L};

	nanosleep(&pause, NULL);
}

static void keygen(struct cluster *c)
{
	const char *bin = getenv("JKDCTL_BIN");
	pid_t pid;
	int status;

	snprintf(c->key_path, sizeof(c->key_path), "%s/cluster.key", c->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Its confirmation on stdout is noise in test output; errors still go to stderr. */
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execl(bin != NULL ? bin : "jkdctl", "jkdctl", "cluster", "keygen", c->key_path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || access(c->key_path, R_OK) != 0)
		fail_msg("jkdctl cluster keygen %s failed (status %d)", c->key_path, status);
}

static void member_init(struct cluster *c, size_t i)
{
	struct cluster_member *m = &c->members[i];

	memset(m, 0, sizeof(*m));
	m->node = &m->storage;
	m->id = (uint32_t)i + 1;
	snprintf(m->address, sizeof(m->address), "tcp://127.0.0.1:%d", harness_free_port());
}

void cluster_init(struct cluster *c, size_t count, const char *const *flags)
{
	int len = 0;

	assert_true(count >= 1 && count <= CLUSTER_NODES_MAX);
	memset(c, 0, sizeof(*c));
	c->count = count;
	c->initial_count = count;
	c->flags = flags;
	snprintf(c->dir, sizeof(c->dir), "%s/cluster-XXXXXX", harness_tmp_dir());
	assert_non_null(mkdtemp(c->dir));
	keygen(c);
	for (size_t i = 0; i < count; i++) {
		member_init(c, i);
		len += snprintf(c->bootstrap + len, sizeof(c->bootstrap) - (size_t)len, "%s%zu", i > 0 ? "," : "",
				i + 1);
	}
}

size_t cluster_add_slot(struct cluster *c)
{
	size_t i = c->count;

	assert_true(i < CLUSTER_NODES_MAX);
	member_init(c, i);
	c->count++;
	return i;
}

/* Writes "2=tcp://...,3=tcp://..." for the members other than i that are in the configuration. */
static void peers_format(const struct cluster *c, size_t i, char *out, size_t out_size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t j = 0; j < c->count; j++) {
		const struct cluster_member *m = &c->members[j];
		int n;

		/* A member added later is a peer only once it runs. */
		if (j == i || m->removed || (j >= c->initial_count && !m->started))
			continue;
		n = snprintf(out + len, out_size - len, "%s%" PRIu32 "=%s", len > 0 ? "," : "", m->id, m->address);
		assert_true(n > 0 && (size_t)n < out_size - len);
		len += (size_t)n;
	}
}

void cluster_node_start(struct cluster *c, size_t i)
{
	struct cluster_member *m = &c->members[i];
	struct jkd_start_options options = {
		.netns = m->netns[0] != '\0' ? m->netns : NULL,
		.host = m->host[0] != '\0' ? m->host : NULL,
		.port = m->port,
		.operator_port = m->operator_port,
	};
	char id[16], peers[CLUSTER_NODES_MAX * 112];
	const char *argv[CLUSTER_FLAGS_MAX + 16];
	size_t argc = 0;

	assert_true(i < c->count);
	snprintf(id, sizeof(id), "%" PRIu32, m->id);
	peers_format(c, i, peers, sizeof(peers));
	argv[argc++] = "--cluster-node-id";
	argv[argc++] = id;
	argv[argc++] = "--cluster-listen";
	argv[argc++] = m->address;
	argv[argc++] = "--cluster-peers";
	argv[argc++] = peers;
	argv[argc++] = "--cluster-bootstrap";
	argv[argc++] = c->bootstrap;
	argv[argc++] = "--cluster-key-file";
	argv[argc++] = c->key_path;
	argv[argc++] = "--cluster-tick-ms";
	argv[argc++] = CLUSTER_TICK_MS;
	argv[argc++] = "--cluster-election-ticks";
	argv[argc++] = c->election_ticks != NULL ? c->election_ticks : CLUSTER_ELECTION_TICKS;
	for (size_t f = 0; c->flags != NULL && c->flags[f] != NULL; f++) {
		assert_true(f < CLUSTER_FLAGS_MAX);
		argv[argc++] = c->flags[f];
	}
	argv[argc] = NULL;

	jkd_start_with(m->node, m->started, argv, &options);
	m->started = true;
	/* Restarts keep the ports, so that loops holding a member's address reach it again. */
	m->port = m->node->port;
	m->operator_port = m->node->operator_port;
}

size_t cluster_start(struct cluster *c, size_t count, const char *const *flags)
{
	cluster_init(c, count, flags);
	for (size_t i = 0; i < count; i++)
		cluster_node_start(c, i);
	return cluster_wait_leader(c, LEADER_TIMEOUT_MS);
}

void cluster_node_kill(struct cluster *c, size_t i)
{
	jkd_process_kill(c->members[i].node);
}

int cluster_node_stop(struct cluster *c, size_t i)
{
	return jkd_process_stop(c->members[i].node);
}

bool cluster_node_running(struct cluster *c, size_t i)
{
	return c->members[i].node->pid > 0;
}

static void remove_dir(const char *dir)
{
	char command[700];

	snprintf(command, sizeof(command), "rm -rf '%s'", dir);
	if (system(command) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

void cluster_stop(struct cluster *c)
{
	int failed = 0;
	size_t failed_index = 0;

	for (size_t i = 0; i < c->count; i++) {
		if (cluster_node_running(c, i) && cluster_node_stop(c, i) != 0 && failed == 0) {
			failed = 1;
			failed_index = i;
		}
	}
	if (failed)
		fail_msg("node %" PRIu32 " did not exit cleanly; log: %s", c->members[failed_index].id,
			 c->members[failed_index].node->log_path);
	cluster_destroy(c);
}

void cluster_destroy(struct cluster *c)
{
	for (size_t i = 0; i < c->count; i++) {
		struct jkd_node *node = c->members[i].node;

		if (!c->members[i].started)
			continue;
		node->cluster = NULL;
		jkd_process_cleanup(node);
		c->members[i].started = false;
	}
	if (c->dir[0] != '\0')
		remove_dir(c->dir);
	c->dir[0] = '\0';
	c->count = 0;
}

static json_t *operator_json(struct jkd_node *node, const char *path)
{
	char headers[256];
	struct http_reply reply;
	json_t *json = NULL;

	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", node->token);
	if (http_request_at(node->host[0] != '\0' ? node->host : NULL, node->operator_port, "GET", path, headers,
			    NULL, 0, &reply) == 0 &&
	    reply.status == 200)
		json = json_loadb(reply.body, reply.body_len, 0, NULL);
	http_reply_free(&reply);
	return json;
}

static uint64_t json_u64(const json_t *object, const char *name)
{
	return (uint64_t)json_integer_value(json_object_get(object, name));
}

bool cluster_state_read(struct jkd_node *node, struct cluster_state *out)
{
	json_t *json = operator_json(node, "/ops/v1/cluster");
	json_t *members, *member;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (json == NULL)
		return false;
	out->node_id = (uint32_t)json_u64(json, "node_id");
	snprintf(out->role, sizeof(out->role), "%s", json_string_value(json_object_get(json, "role")) != NULL
							  ? json_string_value(json_object_get(json, "role"))
							  : "");
	out->term = json_u64(json, "term");
	out->leader = (uint32_t)json_u64(json, "leader");
	out->commit_index = json_u64(json, "commit_index");
	out->applied_index = json_u64(json, "applied_index");
	out->last_index = json_u64(json, "last_index");
	members = json_object_get(json, "members");
	json_array_foreach(members, i, member) {
		if (out->member_count >= CLUSTER_NODES_MAX + 1)
			break;
		out->member_ids[out->member_count] = (uint32_t)json_u64(member, "id");
		out->member_voter[out->member_count] = json_is_true(json_object_get(member, "voter"));
		out->member_count++;
	}
	json_decref(json);
	return true;
}

bool cluster_health_read(struct jkd_node *node, struct cluster_state *out)
{
	struct http_reply reply;
	json_t *json = NULL;
	const char *role;

	memset(out, 0, sizeof(*out));
	if (http_request_at(node->host[0] != '\0' ? node->host : NULL, node->port, "GET", "/healthz", NULL, NULL, 0,
			    &reply) == 0 &&
	    reply.status == 200)
		json = json_loadb(reply.body, reply.body_len, 0, NULL);
	http_reply_free(&reply);
	if (json == NULL)
		return false;
	role = json_string_value(json_object_get(json, "role"));
	snprintf(out->role, sizeof(out->role), "%s", role != NULL ? role : "");
	out->term = json_u64(json, "term");
	out->leader = (uint32_t)json_u64(json, "leader");
	out->applied_index = json_u64(json, "applied_index");
	json_decref(json);
	return true;
}

/* Prints every member's state, to explain a timeout. */
static void states_print(struct cluster *c)
{
	for (size_t i = 0; i < c->count; i++) {
		struct cluster_state s;

		if (!cluster_node_running(c, i)) {
			fprintf(stderr, "node %" PRIu32 ": not running\n", c->members[i].id);
			continue;
		}
		if (!cluster_health_read(c->members[i].node, &s)) {
			fprintf(stderr, "node %" PRIu32 ": no answer; log: %s\n", c->members[i].id,
				c->members[i].node->log_path);
			continue;
		}
		fprintf(stderr, "node %" PRIu32 ": role=%s term=%" PRIu64 " leader=%" PRIu32 " applied=%" PRIu64 "; log: %s\n",
			c->members[i].id, s.role, s.term, s.leader, s.applied_index, c->members[i].node->log_path);
	}
}

size_t cluster_index_of(struct cluster *c, uint32_t id)
{
	for (size_t i = 0; i < c->count; i++) {
		if (c->members[i].id == id)
			return i;
	}
	fail_msg("no member has node id %" PRIu32, id);
	return 0;
}

/* Returns the leader's index if every running member names it and it reports role leader, else -1. */
static long agreed_leader(struct cluster *c)
{
	uint32_t leader = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct cluster_state s;

		if (!cluster_node_running(c, i) || c->members[i].removed)
			continue;
		if (!cluster_health_read(c->members[i].node, &s) || s.leader == 0)
			return -1;
		if (leader != 0 && s.leader != leader)
			return -1;
		leader = s.leader;
	}
	for (size_t i = 0; i < c->count; i++) {
		struct cluster_state s;

		if (c->members[i].id != leader || !cluster_node_running(c, i))
			continue;
		if (cluster_health_read(c->members[i].node, &s) && strcmp(s.role, "leader") == 0)
			return (long)i;
	}
	return -1;
}

size_t cluster_wait_leader(struct cluster *c, int timeout_ms)
{
	int64_t deadline = cluster_now_ms() + timeout_ms;

	for (;;) {
		long leader = agreed_leader(c);

		if (leader >= 0)
			return (size_t)leader;
		if (cluster_now_ms() > deadline)
			break;
		cluster_poll_pause();
	}
	states_print(c);
	fail_msg("the running nodes did not agree on a leader within %d ms", timeout_ms);
	return 0;
}

void cluster_wait_applied(struct cluster *c, uint64_t index, int timeout_ms)
{
	int64_t deadline = cluster_now_ms() + timeout_ms;

	for (;;) {
		bool all = true;

		for (size_t i = 0; i < c->count && all; i++) {
			struct cluster_state s;

			if (!cluster_node_running(c, i) || c->members[i].removed)
				continue;
			all = cluster_health_read(c->members[i].node, &s) && s.applied_index >= index;
		}
		if (all)
			return;
		if (cluster_now_ms() > deadline)
			break;
		cluster_poll_pause();
	}
	states_print(c);
	fail_msg("not every running node applied index %" PRIu64 " within %d ms", index, timeout_ms);
}

uint64_t cluster_applied_max(struct cluster *c)
{
	uint64_t max = 0;

	for (size_t i = 0; i < c->count; i++) {
		struct cluster_state s;

		if (cluster_node_running(c, i) && !c->members[i].removed && cluster_health_read(c->members[i].node, &s) &&
		    s.applied_index > max)
			max = s.applied_index;
	}
	return max;
}

bool cluster_digest_read(struct jkd_node *node, char digest[65], uint64_t *applied_index)
{
	json_t *json = operator_json(node, "/ops/v1/digest");
	const char *text;

	if (json == NULL)
		return false;
	text = json_string_value(json_object_get(json, "digest"));
	snprintf(digest, 65, "%s", text != NULL ? text : "");
	*applied_index = json_u64(json, "applied_index");
	json_decref(json);
	return strlen(digest) == 64;
}

/* Reads every running member's digest; returns true if all were read at one applied index. */
static bool digests_read(struct cluster *c, char digests[][65], uint64_t applied[])
{
	bool same_index = true;
	long first = -1;

	for (size_t i = 0; i < c->count; i++) {
		applied[i] = 0;
		digests[i][0] = '\0';
		if (!cluster_node_running(c, i) || c->members[i].removed)
			continue;
		if (!cluster_digest_read(c->members[i].node, digests[i], &applied[i]))
			return false;
		if (first < 0)
			first = (long)i;
		else if (applied[i] != applied[first])
			same_index = false;
	}
	return same_index;
}

void cluster_assert_digests_equal(struct cluster *c, int timeout_ms)
{
	int64_t deadline = cluster_now_ms() + timeout_ms;
	char digests[CLUSTER_NODES_MAX][65];
	uint64_t applied[CLUSTER_NODES_MAX];
	long first = -1;

	cluster_wait_applied(c, cluster_applied_max(c), timeout_ms);
	while (!digests_read(c, digests, applied)) {
		if (cluster_now_ms() > deadline) {
			states_print(c);
			for (size_t i = 0; i < c->count; i++)
				fprintf(stderr, "node %" PRIu32 ": digest \"%s\" at applied index %" PRIu64 "\n",
					c->members[i].id, digests[i], applied[i]);
			fail_msg("the running nodes did not reach one applied index within %d ms", timeout_ms);
		}
		cluster_poll_pause();
	}
	for (size_t i = 0; i < c->count; i++) {
		if (!cluster_node_running(c, i) || c->members[i].removed)
			continue;
		if (first < 0) {
			first = (long)i;
			continue;
		}
		if (strcmp(digests[i], digests[first]) != 0)
			fail_msg("at applied index %" PRIu64 " node %" PRIu32 " has digest %s but node %" PRIu32
				 " has %s",
				 applied[i], c->members[i].id, digests[i], c->members[first].id, digests[first]);
	}
}

size_t cluster_follower(struct cluster *c, size_t leader)
{
	for (size_t i = 0; i < c->count; i++) {
		if (i != leader && cluster_node_running(c, i) && !c->members[i].removed)
			return i;
	}
	fail_msg("no running follower");
	return 0;
}

static const char *member_host(const struct jkd_node *node)
{
	return node->host[0] != '\0' ? node->host : NULL;
}

int cluster_kv_put(const struct jkd_node *node, const char *key, const char *value, uint64_t *applied_index)
{
	char path[256], headers[256], index[32];
	struct http_reply reply;
	int status;

	*applied_index = 0;
	snprintf(path, sizeof(path), "/kv/v1/%s", key);
	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", node->token);
	if (http_request_at(member_host(node), node->operator_port, "PUT", path, headers, value, strlen(value),
			    &reply) != 0)
		return 0;
	status = reply.status;
	if (http_reply_header(&reply, "X-Jkd-Applied-Index", index, sizeof(index)))
		*applied_index = strtoull(index, NULL, 10);
	http_reply_free(&reply);
	return status;
}

int cluster_kv_get(const struct jkd_node *node, const char *key, const char *headers, char *value,
		   size_t value_size)
{
	char path[256], all[512];
	struct http_reply reply;
	int status;

	value[0] = '\0';
	snprintf(path, sizeof(path), "/kv/v1/%s", key);
	snprintf(all, sizeof(all), "Authorization: Bearer %s\r\n%s", node->token, headers != NULL ? headers : "");
	if (http_request_at(member_host(node), node->operator_port, "GET", path, all, NULL, 0, &reply) != 0)
		return 0;
	status = reply.status;
	if (reply.body != NULL)
		snprintf(value, value_size, "%s", reply.body);
	http_reply_free(&reply);
	return status;
}

double cluster_metric(struct jkd_node *node, const char *series)
{
	struct http_reply reply;
	size_t len = strlen(series);
	double value = -1;
	const char *line;

	http_operator(node, "GET", "/metrics", NULL, NULL, 0, &reply);
	if (reply.status != 200)
		fail_msg("GET /metrics returned %d", reply.status);
	line = reply.body;
	while (line != NULL && *line != '\0') {
		if (strncmp(line, series, len) == 0 && line[len] == ' ') {
			value = strtod(line + len + 1, NULL);
			break;
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	http_reply_free(&reply);
	return value;
}

/* JKD_TEST_CLUSTER: the shop tests' node is one member of a cluster. */

static size_t chosen_member(struct cluster *c, size_t leader)
{
	const char *env = getenv("JKD_TEST_CLUSTER_NODE");

	if (env != NULL && env[0] != '\0') {
		long id = strtol(env, NULL, 10);

		if (id < 1 || (size_t)id > c->count)
			fail_msg("JKD_TEST_CLUSTER_NODE=%s is not a node id from 1 to %zu", env, c->count);
		return (size_t)id - 1;
	}
	return cluster_follower(c, leader);
}

void cluster_test_node_start(struct jkd_node *node, bool reuse_data, const char *const *extra_flags)
{
	struct cluster *c = node->cluster;
	size_t leader, chosen;

	if (!reuse_data) {
		long count = strtol(getenv("JKD_TEST_CLUSTER"), NULL, 10);

		if (count < 1 || count > CLUSTER_NODES_MAX)
			fail_msg("JKD_TEST_CLUSTER=%s is not a node count from 1 to %d", getenv("JKD_TEST_CLUSTER"),
				 CLUSTER_NODES_MAX);
		c = calloc(1, sizeof(*c));
		assert_non_null(c);
		cluster_init(c, (size_t)count, extra_flags);
		c->election_ticks = CLUSTER_SHOP_ELECTION_TICKS;
	}
	c->flags = extra_flags;
	for (size_t i = 0; i < c->count; i++)
		cluster_node_start(c, i);
	leader = cluster_wait_leader(c, LEADER_TIMEOUT_MS);
	if (reuse_data)
		return;

	chosen = chosen_member(c, leader);
	*node = c->members[chosen].storage;
	node->cluster = c;
	c->members[chosen].node = node;
}

int cluster_test_node_stop(struct jkd_node *node)
{
	struct cluster *c = node->cluster;
	int result = 0;

	for (size_t i = 0; i < c->count; i++) {
		int status;

		if (!cluster_node_running(c, i))
			continue;
		status = cluster_node_stop(c, i);
		if (status != 0 && result == 0)
			result = status;
	}
	return result;
}

void cluster_test_node_kill(struct jkd_node *node)
{
	struct cluster *c = node->cluster;

	for (size_t i = 0; i < c->count; i++)
		cluster_node_kill(c, i);
}

void cluster_test_node_cleanup(struct jkd_node *node)
{
	struct cluster *c = node->cluster;

	cluster_destroy(c);
	free(c);
}
