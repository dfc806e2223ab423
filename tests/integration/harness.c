/* Test harness for the real jkd binary; see harness.h. */
#include "tests/integration/harness.h"

#include "tests/integration/cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define START_TIMEOUT_S 20

struct log_reader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t ready_cond;
	bool ready;
	bool ended;
	int fd;
	FILE *log;
};

static void *reader_main(void *arg)
{
	struct log_reader *reader = arg;
	char chunk[4096];
	char line[8192];
	size_t line_len = 0;
	ssize_t n;

	while ((n = read(reader->fd, chunk, sizeof(chunk))) > 0) {
		fwrite(chunk, 1, (size_t)n, reader->log);
		fflush(reader->log);
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (line_len < sizeof(line) - 1)
					line[line_len++] = chunk[i];
				continue;
			}
			line[line_len] = '\0';
			line_len = 0;
			if (strstr(line, "msg=node_started") != NULL) {
				pthread_mutex_lock(&reader->lock);
				reader->ready = true;
				pthread_cond_broadcast(&reader->ready_cond);
				pthread_mutex_unlock(&reader->lock);
			}
		}
	}
	pthread_mutex_lock(&reader->lock);
	reader->ended = true;
	pthread_cond_broadcast(&reader->ready_cond);
	pthread_mutex_unlock(&reader->lock);
	return NULL;
}

static void buffer_drop(int fd);

/*
 * Ports are drawn below Linux's default ephemeral range (32768-60999).
 * The kernel hands a port it gave for binding to 0 to the next outgoing
 * connection as well, so a parallel test could take it before jkd binds
 * it. A port below the range is only taken by a test that draws the same.
 */
#define TEST_PORT_FIRST 20000
#define TEST_PORT_COUNT 12768
#define TEST_PORT_TRIES 1000

static bool port_bindable(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	assert_true(fd >= 0);
	ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static int free_port(void)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
	for (int i = 0; i < TEST_PORT_TRIES; i++) {
		int port = TEST_PORT_FIRST + (int)(rand_r(&seed) % TEST_PORT_COUNT);

		if (port_bindable(port))
			return port;
	}
	fail_msg("no free port in %d-%d after %d tries", TEST_PORT_FIRST, TEST_PORT_FIRST + TEST_PORT_COUNT - 1,
		 TEST_PORT_TRIES);
	return -1;
}

int harness_free_port(void)
{
	return free_port();
}

const char *harness_tmp_dir(void)
{
	const char *tmp = getenv("JKD_TEST_TMP");

	return tmp != NULL ? tmp : "/tmp";
}

static void read_token(struct jkd_node *node)
{
	char path[600];
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "%s/operator.token", node->data_dir);
	f = fopen(path, "r");
	assert_non_null(f);
	len = fread(node->token, 1, sizeof(node->token) - 1, f);
	fclose(f);
	while (len > 0 && node->token[len - 1] == '\n')
		len--;
	node->token[len] = '\0';
}

static const char *node_host(const struct jkd_node *node)
{
	return node->host[0] != '\0' ? node->host : "127.0.0.1";
}

/* Moves the child into the network namespace that `ip netns add name` made. */
static void enter_netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "cannot enter network namespace %s: %s\n", name, strerror(errno));
		_exit(126);
	}
	close(fd);
}

/*
 * Every jkd this process started, so that a test that fails halfway (a
 * longjmp out of its setup, say) leaves no node running when it exits.
 */
#define STARTED_MAX 256

static pid_t started[STARTED_MAX];
static size_t started_count;

static void started_kill_all(void)
{
	for (size_t i = 0; i < started_count; i++)
		if (started[i] > 0 && kill(started[i], 0) == 0 && waitpid(started[i], NULL, WNOHANG) == 0)
			kill(started[i], SIGKILL);
}

static void started_remember(pid_t pid)
{
	if (started_count == 0)
		atexit(started_kill_all);
	if (started_count < STARTED_MAX)
		started[started_count++] = pid;
}

static void exec_node(struct jkd_node *node, int stderr_pipe[2], const char *const *extra_flags, const char *netns)
{
	char listen[96], operator_listen[96];
	const char *argv[64];
	size_t argc = 0;
	const char *bin = getenv("JKD_BIN");
	int null_fd;

	snprintf(listen, sizeof(listen), "%s:%d", node_host(node), node->port);
	snprintf(operator_listen, sizeof(operator_listen), "%s:%d", node_host(node), node->operator_port);
	argv[argc++] = bin != NULL ? bin : "jkd";
	argv[argc++] = "--node-data-dir";
	argv[argc++] = node->data_dir;
	argv[argc++] = "--http-listen";
	argv[argc++] = listen;
	argv[argc++] = "--operator-listen";
	argv[argc++] = operator_listen;
	argv[argc++] = "--http-workers";
	argv[argc++] = "2";
	for (size_t i = 0; extra_flags != NULL && extra_flags[i] != NULL && argc < 62; i++)
		argv[argc++] = extra_flags[i];
	argv[argc] = NULL;

	dup2(stderr_pipe[1], STDERR_FILENO);
	close(stderr_pipe[0]);
	close(stderr_pipe[1]);
	/*
	 * jkd writes nothing to stdout. Not inheriting the test's keeps a node
	 * left running after a failed test from holding ctest's output pipe
	 * open, which made ctest wait out the whole test timeout.
	 */
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd >= 0)
		dup2(null_fd, STDOUT_FILENO);
	if (netns != NULL)
		enter_netns(netns);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

void jkd_start_with(struct jkd_node *node, bool reuse_data, const char *const *extra_flags,
		    const struct jkd_start_options *options)
{
	static const struct jkd_start_options defaults;
	struct log_reader *reader = calloc(1, sizeof(*reader));
	int stderr_pipe[2];
	struct timespec deadline;
	bool ready;

	assert_non_null(reader);
	if (options == NULL)
		options = &defaults;
	if (!reuse_data) {
		memset(node, 0, sizeof(*node));
		snprintf(node->data_dir, sizeof(node->data_dir), "%s/node-XXXXXX", harness_tmp_dir());
		assert_non_null(mkdtemp(node->data_dir));
	}
	snprintf(node->host, sizeof(node->host), "%s", options->host != NULL ? options->host : "");
	node->port = options->port != 0 ? options->port : free_port();
	node->operator_port = options->operator_port != 0 ? options->operator_port : free_port();
	snprintf(node->log_path, sizeof(node->log_path), "%s.log", node->data_dir);

	assert_int_equal(pipe2(stderr_pipe, O_CLOEXEC), 0);
	node->pid = fork();
	assert_true(node->pid >= 0);
	if (node->pid == 0)
		exec_node(node, stderr_pipe, extra_flags, options->netns);
	started_remember(node->pid);
	close(stderr_pipe[1]);

	reader->fd = stderr_pipe[0];
	reader->log = fopen(node->log_path, "a");
	assert_non_null(reader->log);
	pthread_mutex_init(&reader->lock, NULL);
	pthread_cond_init(&reader->ready_cond, NULL);
	assert_int_equal(pthread_create(&reader->thread, NULL, reader_main, reader), 0);
	node->reader = reader;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += START_TIMEOUT_S;
	pthread_mutex_lock(&reader->lock);
	while (!reader->ready && !reader->ended &&
	       pthread_cond_timedwait(&reader->ready_cond, &reader->lock, &deadline) == 0)
		;
	ready = reader->ready;
	pthread_mutex_unlock(&reader->lock);
	if (!ready)
		fail_msg("jkd did not start within %d s; its log: %s", START_TIMEOUT_S, node->log_path);
	read_token(node);
}

void jkd_start(struct jkd_node *node, bool reuse_data, const char *const *extra_flags)
{
	const char *cluster = getenv("JKD_TEST_CLUSTER");

	if ((reuse_data && node->cluster != NULL) || (!reuse_data && cluster != NULL && cluster[0] != '\0')) {
		cluster_test_node_start(node, reuse_data, extra_flags);
		return;
	}
	jkd_start_with(node, reuse_data, extra_flags, NULL);
}

static int reap(struct jkd_node *node)
{
	struct log_reader *reader = node->reader;
	int status = 0;

	while (waitpid(node->pid, &status, 0) < 0 && errno == EINTR)
		;
	node->pid = 0;
	if (reader != NULL) {
		pthread_join(reader->thread, NULL);
		close(reader->fd);
		fclose(reader->log);
		pthread_cond_destroy(&reader->ready_cond);
		pthread_mutex_destroy(&reader->lock);
		free(reader);
		node->reader = NULL;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int jkd_process_stop(struct jkd_node *node)
{
	if (node->pid <= 0)
		return -1;
	kill(node->pid, SIGTERM);
	return reap(node);
}

int jkd_stop(struct jkd_node *node)
{
	if (node->cluster != NULL)
		return cluster_test_node_stop(node);
	return jkd_process_stop(node);
}

void jkd_process_kill(struct jkd_node *node)
{
	if (node->pid <= 0)
		return;
	kill(node->pid, SIGKILL);
	reap(node);
}

void jkd_kill(struct jkd_node *node)
{
	if (node->cluster != NULL) {
		cluster_test_node_kill(node);
		return;
	}
	jkd_process_kill(node);
}

bool jkd_alive(struct jkd_node *node)
{
	return node->pid > 0 && kill(node->pid, 0) == 0 && waitpid(node->pid, NULL, WNOHANG) == 0;
}

void jkd_process_cleanup(struct jkd_node *node)
{
	char command[1200];

	jkd_process_kill(node);
	snprintf(command, sizeof(command), "rm -rf '%s' '%s'", node->data_dir, node->log_path);
	if (system(command) != 0)
		fprintf(stderr, "cleanup of %s failed\n", node->data_dir);
}

void jkd_cleanup(struct jkd_node *node)
{
	if (node->cluster != NULL) {
		cluster_test_node_cleanup(node);
		return;
	}
	jkd_process_cleanup(node);
}

int http_try_connect(const char *host, int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval timeout = {.tv_sec = 10};
	int fd, one = 1;

	if (inet_pton(AF_INET, host != NULL ? host : "127.0.0.1", &addr.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int http_connect(int port)
{
	int fd = http_try_connect("127.0.0.1", port);

	if (fd < 0)
		fail_msg("connect to 127.0.0.1:%d failed: %s", port, strerror(errno));
	return fd;
}

void http_close(int fd)
{
	buffer_drop(fd);
	close(fd);
}

int http_send(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A per-connection read buffer, so pipelined replies can be read one by one. */
struct conn_buffer {
	int fd;
	char data[1 << 16];
	size_t len;
};

static __thread struct conn_buffer *buffers[64];

static struct conn_buffer *buffer_for(int fd)
{
	for (size_t i = 0; i < 64; i++) {
		if (buffers[i] != NULL && buffers[i]->fd == fd)
			return buffers[i];
	}
	for (size_t i = 0; i < 64; i++) {
		if (buffers[i] == NULL) {
			buffers[i] = calloc(1, sizeof(*buffers[i]));
			assert_non_null(buffers[i]);
			buffers[i]->fd = fd;
			return buffers[i];
		}
	}
	fail_msg("too many open test connections");
	return NULL;
}

/* Forgets the buffered bytes of fd; call before closing it. */
static void buffer_drop(int fd)
{
	for (size_t i = 0; i < 64; i++) {
		if (buffers[i] != NULL && buffers[i]->fd == fd) {
			free(buffers[i]);
			buffers[i] = NULL;
		}
	}
}

static int buffer_fill(struct conn_buffer *b)
{
	ssize_t n;

	if (b->len == sizeof(b->data))
		return -1;
	do {
		n = recv(b->fd, b->data + b->len, sizeof(b->data) - b->len, 0);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	b->len += (size_t)n;
	return 0;
}

static void buffer_consume(struct conn_buffer *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static int read_exact(struct conn_buffer *b, char *out, size_t n)
{
	while (n > 0) {
		size_t take;

		if (b->len == 0 && buffer_fill(b) != 0)
			return -1;
		take = b->len < n ? b->len : n;
		memcpy(out, b->data, take);
		buffer_consume(b, take);
		out += take;
		n -= take;
	}
	return 0;
}

static int read_line(struct conn_buffer *b, char *out, size_t out_size)
{
	for (;;) {
		char *nl = memchr(b->data, '\n', b->len);

		if (nl != NULL) {
			size_t len = (size_t)(nl - b->data) + 1;

			if (len >= out_size)
				return -1;
			memcpy(out, b->data, len);
			out[len] = '\0';
			buffer_consume(b, len);
			return 0;
		}
		if (buffer_fill(b) != 0)
			return -1;
	}
}

static int read_chunked(struct conn_buffer *b, struct http_reply *reply)
{
	char line[128];

	for (;;) {
		unsigned long size;

		if (read_line(b, line, sizeof(line)) != 0)
			return -1;
		size = strtoul(line, NULL, 16);
		if (size == 0)
			return read_line(b, line, sizeof(line));
		reply->body = realloc(reply->body, reply->body_len + size + 1);
		assert_non_null(reply->body);
		if (read_exact(b, reply->body + reply->body_len, size) != 0)
			return -1;
		reply->body_len += size;
		reply->body[reply->body_len] = '\0';
		if (read_line(b, line, sizeof(line)) != 0)
			return -1;
	}
}

int http_read_reply(int fd, struct http_reply *reply)
{
	struct conn_buffer *b = buffer_for(fd);
	char line[4096], value[64];
	size_t head_len = 0;
	long content_length = -1;
	bool chunked = false;

	memset(reply, 0, sizeof(*reply));
	for (;;) {
		size_t len;

		if (read_line(b, line, sizeof(line)) != 0)
			return -1;
		len = strlen(line);
		if (head_len + len < sizeof(reply->head)) {
			memcpy(reply->head + head_len, line, len + 1);
			head_len += len;
		}
		if (strcmp(line, "\r\n") == 0)
			break;
	}
	if (sscanf(reply->head, "HTTP/1.%*d %d", &reply->status) != 1)
		return -1;
	if (http_reply_header(reply, "Content-Length", value, sizeof(value)))
		content_length = strtol(value, NULL, 10);
	if (http_reply_header(reply, "Transfer-Encoding", value, sizeof(value)))
		chunked = strcasecmp(value, "chunked") == 0;
	reply->body = calloc(1, 1);
	assert_non_null(reply->body);
	if (chunked)
		return read_chunked(b, reply);
	if (content_length <= 0 || reply->status == 304 || reply->status == 204 || reply->status < 200)
		return 0;
	reply->body = realloc(reply->body, (size_t)content_length + 1);
	assert_non_null(reply->body);
	if (read_exact(b, reply->body, (size_t)content_length) != 0)
		return -1;
	reply->body_len = (size_t)content_length;
	reply->body[reply->body_len] = '\0';
	return 0;
}

bool http_wait_closed(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char scratch[4096];
	struct timespec start, now;

	buffer_drop(fd);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long elapsed_ms, left_ms;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		left_ms = timeout_ms - elapsed_ms;
		if (left_ms <= 0)
			return false;
		if (poll(&pfd, 1, (int)left_ms) <= 0)
			return false;
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return true;
	}
}

int http_request_at(const char *host, int port, const char *method, const char *path, const char *headers,
		    const void *body, size_t body_len, struct http_reply *reply)
{
	char head[8192];
	int fd, len, result = 0;

	memset(reply, 0, sizeof(*reply));
	len = snprintf(head, sizeof(head),
		       "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", method,
		       path, host != NULL ? host : "127.0.0.1", body_len, headers != NULL ? headers : "");
	if (len <= 0 || (size_t)len >= sizeof(head))
		return -1;
	fd = http_try_connect(host, port);
	if (fd < 0)
		return -1;
	if (http_send(fd, head, (size_t)len) != 0 || (body_len > 0 && http_send(fd, body, body_len) != 0))
		result = -1;
	else if (http_read_reply(fd, reply) != 0)
		reply->status = 0;
	buffer_drop(fd);
	close(fd);
	return result;
}

void http_request(int port, const char *method, const char *path, const char *headers,
		  const void *body, size_t body_len, struct http_reply *reply)
{
	if (http_request_at(NULL, port, method, path, headers, body, body_len, reply) != 0)
		fail_msg("%s %s to 127.0.0.1:%d failed: %s", method, path, port, strerror(errno));
}

void http_operator(struct jkd_node *node, const char *method, const char *path, const char *headers,
		   const void *body, size_t body_len, struct http_reply *reply)
{
	char all[4096];

	snprintf(all, sizeof(all), "Authorization: Bearer %s\r\n%s", node->token, headers != NULL ? headers : "");
	if (http_request_at(node_host(node), node->operator_port, method, path, all, body, body_len, reply) != 0)
		fail_msg("%s %s to %s:%d failed: %s", method, path, node_host(node), node->operator_port,
			 strerror(errno));
}

bool http_reply_header(const struct http_reply *reply, const char *name, char *out, size_t out_size)
{
	const char *line = strstr(reply->head, "\r\n");
	size_t name_len = strlen(name);

	while (line != NULL && line[2] != '\r') {
		const char *start = line + 2;
		const char *end = strstr(start, "\r\n");

		if (end == NULL)
			return false;
		if (strncasecmp(start, name, name_len) == 0 && start[name_len] == ':') {
			const char *value = start + name_len + 1;
			size_t len;

			while (*value == ' ')
				value++;
			len = (size_t)(end - value);
			if (len >= out_size)
				len = out_size - 1;
			memcpy(out, value, len);
			out[len] = '\0';
			return true;
		}
		line = end;
	}
	return false;
}

void http_reply_free(struct http_reply *reply)
{
	free(reply->body);
	reply->body = NULL;
}

void assert_node_healthy(struct jkd_node *node)
{
	struct http_reply reply;

	if (http_request_at(node_host(node), node->port, "GET", "/healthz", NULL, NULL, 0, &reply) != 0)
		fail_msg("node not healthy: cannot connect to %s:%d; log: %s", node_host(node), node->port,
			 node->log_path);
	if (reply.status != 200)
		fail_msg("node not healthy: GET /healthz returned %d; log: %s", reply.status, node->log_path);
	http_reply_free(&reply);
}
