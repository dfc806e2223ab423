/*
 * Test harness: starts the real jkd binary on loopback ports with a fresh
 * data directory, and talks HTTP to it over plain blocking sockets.
 *
 * Readiness is the "msg=node_started" log line, read from the node's stderr
 * by a thread that copies every line into <data_dir>.log for diagnosis.
 */
#ifndef JKD_TESTS_HARNESS_H
#define JKD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jkd_node {
	pid_t pid;
	int port;
	int operator_port;
	char host[64];     /* address both listeners bind and tests connect to; "" means 127.0.0.1 */
	char data_dir[512];
	char log_path[600];
	char token[128];
	void *reader;      /* private */
	void *cluster;     /* private: the other nodes when JKD_TEST_CLUSTER is set */
};

/* Where and how jkd_start_with() runs a node. */
struct jkd_start_options {
	const char *netns;  /* network namespace (a name under /run/netns) to run in, or NULL */
	const char *host;   /* listen address, NULL for 127.0.0.1 */
	int port;           /* 0 picks a free loopback port */
	int operator_port;  /* 0 picks a free loopback port */
};

/* Returns a TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed). */
int harness_free_port(void);

/* Returns the directory for test data: $JKD_TEST_TMP or /tmp. */
const char *harness_tmp_dir(void);

/*
 * Starts jkd with a new data directory (or the existing one in node->data_dir
 * if reuse_data is true) and extra flags (NULL-terminated, may be NULL).
 * Waits until it is ready; fails the test if it does not start in 20 s.
 *
 * With JKD_TEST_CLUSTER=3 in the environment (and reuse_data false, or node
 * started that way), it starts a cluster of three nodes instead (cluster.h),
 * waits for a leader and makes node the member numbered JKD_TEST_CLUSTER_NODE
 * (1..3), by default the first follower. jkd_stop(), jkd_kill() and
 * jkd_cleanup() then act on every member.
 */
void jkd_start(struct jkd_node *node, bool reuse_data, const char *const *extra_flags);

/* Starts one jkd process like jkd_start(), but never a cluster, with the given options (may be NULL). */
void jkd_start_with(struct jkd_node *node, bool reuse_data, const char *const *extra_flags,
		    const struct jkd_start_options *options);

/*
 * Sends SIGTERM and waits for exit; returns the exit status (or -1 if killed
 * by a signal). For a test cluster: the first non-zero status of all members.
 */
int jkd_stop(struct jkd_node *node);

/* Sends SIGKILL and reaps the process. */
void jkd_kill(struct jkd_node *node);

/* Removes the data directory (and, for a test cluster, every member's). */
void jkd_cleanup(struct jkd_node *node);

/* jkd_stop(), jkd_kill() and jkd_cleanup() of node's own process only, even in a test cluster. */
int jkd_process_stop(struct jkd_node *node);
void jkd_process_kill(struct jkd_node *node);
void jkd_process_cleanup(struct jkd_node *node);

/* Returns true if the process is still running. */
bool jkd_alive(struct jkd_node *node);

struct http_reply {
	int status;        /* 0 if no response arrived (connection closed or timed out) */
	char head[8192];   /* status line and headers */
	char *body;        /* malloc'ed, NUL-terminated */
	size_t body_len;
};

/* Connects to 127.0.0.1:port with 10 s send and receive timeouts; fails the test on error. */
int http_connect(int port);

/* Connects to host:port (an IPv4 address) like http_connect(); returns -1 instead of failing. */
int http_try_connect(const char *host, int port);

/* Forgets buffered bytes of fd and closes it. */
void http_close(int fd);

/* Writes all of data; returns 0, or -1 if the peer closed. */
int http_send(int fd, const void *data, size_t len);

/* Reads one response (Content-Length or chunked). Returns 0, or -1 on close or timeout. */
int http_read_reply(int fd, struct http_reply *reply);

/* Returns true if the peer closes fd within timeout_ms (reading and dropping any bytes). */
bool http_wait_closed(int fd, int timeout_ms);

/*
 * Sends one request on a new connection and reads the reply. headers are
 * extra header lines, each ending in "\r\n", or NULL.
 */
void http_request(int port, const char *method, const char *path, const char *headers,
		  const void *body, size_t body_len, struct http_reply *reply);

/*
 * Sends one request to host:port (NULL host: 127.0.0.1). Returns 0 with
 * reply filled, or -1 if it could not connect or send, without failing the
 * test, so that threads and tests of stopped nodes may call it. reply->status
 * is 0 if no response arrived.
 */
int http_request_at(const char *host, int port, const char *method, const char *path, const char *headers,
		    const void *body, size_t body_len, struct http_reply *reply);

/* Same as http_request but adds the operator token (and uses node->host). */
void http_operator(struct jkd_node *node, const char *method, const char *path, const char *headers,
		   const void *body, size_t body_len, struct http_reply *reply);

/* Finds a response header; copies its value into out. Returns true if present. */
bool http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t out_size);

void http_reply_free(struct http_reply *reply);

/* Fails the test unless GET /healthz on the public port returns 200. */
void assert_node_healthy(struct jkd_node *node);

#endif
