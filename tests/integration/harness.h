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
	char data_dir[512];
	char log_path[600];
	char token[128];
	void *reader; /* private */
};

/*
 * Starts jkd with a new data directory (or the existing one in node->data_dir
 * if reuse_data is true) and extra flags (NULL-terminated, may be NULL).
 * Waits until it is ready; fails the test if it does not start in 20 s.
 */
/* Returns a TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed). */
int harness_free_port(void);

void jkd_start(struct jkd_node *node, bool reuse_data, const char *const *extra_flags);

/* Sends SIGTERM and waits for exit; returns the exit status (or -1 if killed by a signal). */
int jkd_stop(struct jkd_node *node);

/* Sends SIGKILL and reaps the process. */
void jkd_kill(struct jkd_node *node);

/* Removes the data directory. */
void jkd_cleanup(struct jkd_node *node);

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

/* Same as http_request but adds the operator token. */
void http_operator(struct jkd_node *node, const char *method, const char *path, const char *headers,
		   const void *body, size_t body_len, struct http_reply *reply);

/* Finds a response header; copies its value into out. Returns true if present. */
bool http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t out_size);

void http_reply_free(struct http_reply *reply);

/* Fails the test unless GET /healthz on the public port returns 200. */
void assert_node_healthy(struct jkd_node *node);

#endif
