/*
 * Cluster harness: starts several real jkd processes that form one Raft
 * cluster, with one key file made by `jkdctl cluster keygen` ($JKDCTL_BIN),
 * and reads their state through GET /healthz, /ops/v1/cluster and
 * /ops/v1/digest. Every wait polls a condition until a deadline.
 *
 * Members are numbered by index 0..count-1; member i has node id i + 1.
 * By default every node runs on 127.0.0.1 with free ports. A test that sets
 * netns and the addresses before cluster_node_start() runs members in
 * network namespaces of its own.
 */
#ifndef JKD_TESTS_CLUSTER_H
#define JKD_TESTS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/integration/harness.h"

#define CLUSTER_NODES_MAX 5
#define CLUSTER_FLAGS_MAX 48

/* Raft timing for tests: short ticks make elections take a few hundred milliseconds. */
#define CLUSTER_TICK_MS "20"
#define CLUSTER_ELECTION_TICKS "10"
/*
 * The shop tests rerun against a cluster (JKD_TEST_CLUSTER) only need a
 * stable leader, so they use a longer election timeout (600 to 1200 ms):
 * a node starved of CPU under the sanitizers then keeps its leader.
 */
#define CLUSTER_SHOP_ELECTION_TICKS "30"

struct cluster_member {
	struct jkd_node *node;      /* &storage, or the caller's node under JKD_TEST_CLUSTER */
	struct jkd_node storage;
	uint32_t id;
	bool started;               /* has a data directory */
	bool removed;               /* removed from the configuration; not a peer of later starts */
	char address[96];           /* cluster listen address, tcp://host:port */
	char netns[64];             /* "" runs in the test's own network namespace */
	char host[64];              /* HTTP and operator listen address; "" is 127.0.0.1 */
	int port;                   /* HTTP and operator ports; 0 picks free ones at each start */
	int operator_port;
};

struct cluster {
	size_t count;
	size_t initial_count;       /* members of the bootstrap configuration */
	struct cluster_member members[CLUSTER_NODES_MAX];
	char dir[512];              /* contains the key file */
	char key_path[600];
	char bootstrap[64];         /* "1,2,3": the voters of the first configuration */
	const char *const *flags;   /* extra flags for every member, NULL-terminated, may be NULL */
	const char *election_ticks; /* --cluster-election-ticks; NULL means CLUSTER_ELECTION_TICKS */
};

/* State of one node from GET /ops/v1/cluster, or its part that GET /healthz reports. */
struct cluster_state {
	uint32_t node_id;
	char role[24];
	uint64_t term;
	uint32_t leader;
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_index;
	size_t member_count;
	uint32_t member_ids[CLUSTER_NODES_MAX + 1];
	bool member_voter[CLUSTER_NODES_MAX + 1];
};

/*
 * Prepares count members (ids 1..count, bootstrap "1,..,count") with loopback
 * cluster addresses and writes the key file, but starts nothing.
 */
void cluster_init(struct cluster *c, size_t count, const char *const *flags);

/* cluster_init() plus starting every member and waiting for a leader; returns the leader's index. */
size_t cluster_start(struct cluster *c, size_t count, const char *const *flags);

/*
 * Appends a member with the next id that is not yet in the configuration,
 * for a membership change; returns its index. It is started by
 * cluster_node_start() with peers = the other started members and the
 * original bootstrap list.
 */
size_t cluster_add_slot(struct cluster *c);

/* Starts member i, with a new data directory unless it has one already. */
void cluster_node_start(struct cluster *c, size_t i);

/* Sends SIGKILL to member i; its data stays for a restart. */
void cluster_node_kill(struct cluster *c, size_t i);

/* Sends SIGTERM to member i and returns its exit status; its data stays. */
int cluster_node_stop(struct cluster *c, size_t i);

bool cluster_node_running(struct cluster *c, size_t i);

/* Stops every member, fails the test if one exits with an error, and removes all data. */
void cluster_stop(struct cluster *c);

/* Kills every member and removes all data, for teardown after a failure. */
void cluster_destroy(struct cluster *c);

/* Reads GET /ops/v1/cluster of a node; returns false unless it responds with 200. */
bool cluster_state_read(struct jkd_node *node, struct cluster_state *out);

/* Reads role, term, leader and applied index from the public GET /healthz; false unless it responds with 200. */
bool cluster_health_read(struct jkd_node *node, struct cluster_state *out);

/*
 * Waits (at most timeout_ms) until every running member names the same
 * leader and that member reports role leader; returns the leader's index.
 * Fails the test with every member's state on timeout.
 */
size_t cluster_wait_leader(struct cluster *c, int timeout_ms);

/* Waits until every running member has applied index; fails the test on timeout. */
void cluster_wait_applied(struct cluster *c, uint64_t index, int timeout_ms);

/* Returns the highest applied index that a running member reports. */
uint64_t cluster_applied_max(struct cluster *c);

/* Reads GET /ops/v1/digest; returns false unless the node responds with 200. */
bool cluster_digest_read(struct jkd_node *node, char digest[65], uint64_t *applied_index);

/*
 * Waits until every running member has applied the highest applied index of
 * any member, then fails the test unless their digests are equal. Call it
 * while nothing writes.
 */
void cluster_assert_digests_equal(struct cluster *c, int timeout_ms);

/* Returns the index of the member with that node id; fails the test if none. */
size_t cluster_index_of(struct cluster *c, uint32_t id);

/* Returns the index of a running member that is not the leader at index leader. */
size_t cluster_follower(struct cluster *c, size_t leader);

/*
 * Raw KV PUT of value at /kv/v1/<key> on the node's operator port. Returns the
 * HTTP status (0 if the node did not respond) and sets *applied_index from
 * X-Jkd-Applied-Index (0 if absent). Never fails the test, so threads may call it.
 */
int cluster_kv_put(const struct jkd_node *node, const char *key, const char *value, uint64_t *applied_index);

/*
 * Raw KV GET; copies the body into value and returns the status (0 if no
 * response). headers may be NULL. Never fails the test.
 */
int cluster_kv_get(const struct jkd_node *node, const char *key, const char *headers, char *value,
		   size_t value_size);

/* Returns the value of the Prometheus sample named exactly series (name and labels), or -1 if absent. */
double cluster_metric(struct jkd_node *node, const char *series);

/* Pauses 10 ms between two polls of a condition; a deadline, not this pause, bounds every wait. */
void cluster_poll_pause(void);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t cluster_now_ms(void);

/*
 * Hooks of jkd_start() and friends for JKD_TEST_CLUSTER=3 (harness.h): the
 * node the test uses is one member, and these act on the whole cluster.
 */
void cluster_test_node_start(struct jkd_node *node, bool reuse_data, const char *const *extra_flags);
int cluster_test_node_stop(struct jkd_node *node);
void cluster_test_node_kill(struct jkd_node *node);
void cluster_test_node_cleanup(struct jkd_node *node);

#endif
