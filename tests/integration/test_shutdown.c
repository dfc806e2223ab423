/*
 * Shutdown of the real jkd binary under write load: SIGTERM with a shutdown
 * timeout of 0 ms closes every connection while writes are still queued or
 * being applied, so their results reach a worker that has already stopped.
 * jkd must still exit with status 0 (under ASan that includes no leak
 * report) within a bounded time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define WRITER_THREADS 16
#define PUTS_PER_THREAD_MAX 2000
/* SIGTERM goes out once this many PUTs got a 200 response, so the writers are busy. */
#define PUTS_BEFORE_SIGTERM (WRITER_THREADS * 8)
#define LOAD_START_TIMEOUT_S 20
#define EXIT_TIMEOUT_MS 20000

struct load {
	struct jkd_node *node;
	atomic_uint puts_succeeded;
	pthread_mutex_t lock;
	pthread_cond_t progress;
};

struct writer {
	pthread_t thread;
	struct load *load;
	unsigned index;
};

/* Connects to the operator port. Returns -1 instead of failing the test, because the node may be stopping. */
static int connect_operator(const struct jkd_node *node)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)node->operator_port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval timeout = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void load_count_success(struct load *load)
{
	pthread_mutex_lock(&load->lock);
	atomic_fetch_add(&load->puts_succeeded, 1);
	pthread_cond_broadcast(&load->progress);
	pthread_mutex_unlock(&load->lock);
}

/* Sends keep-alive PUTs until PUTS_PER_THREAD_MAX or until a PUT gets no 200 response. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	const struct jkd_node *node = w->load->node;
	int fd = connect_operator(node);

	for (unsigned i = 0; fd >= 0 && i < PUTS_PER_THREAD_MAX; i++) {
		char request[512];
		struct http_reply reply;
		int len = snprintf(request, sizeof(request),
				   "PUT /kv/v1/load-%u-%u HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
				   "Content-Length: 5\r\n\r\nvalue",
				   w->index, i, node->token);

		if (http_send(fd, request, (size_t)len) != 0 || http_read_reply(fd, &reply) != 0)
			break;
		http_reply_free(&reply);
		if (reply.status != 200 && reply.status != 201)
			break;
		load_count_success(w->load);
	}
	if (fd >= 0)
		http_close(fd);
	return NULL;
}

/* Waits until at least count PUTs got a 200 response. Returns false after LOAD_START_TIMEOUT_S. */
static bool load_wait_successes(struct load *load, unsigned count)
{
	struct timespec deadline;
	bool reached;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LOAD_START_TIMEOUT_S;
	pthread_mutex_lock(&load->lock);
	while (atomic_load(&load->puts_succeeded) < count &&
	       pthread_cond_timedwait(&load->progress, &load->lock, &deadline) == 0)
		;
	reached = atomic_load(&load->puts_succeeded) >= count;
	pthread_mutex_unlock(&load->lock);
	return reached;
}

/* Returns true if the process behind pidfd exits within timeout_ms. */
static bool process_exits_within(int pidfd, int timeout_ms)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int rc;

	do {
		rc = poll(&pfd, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	return rc == 1;
}

static void sigterm_during_writes_exits_cleanly(void **state)
{
	static const char *const flags[] = {"--http-shutdown-timeout-ms", "0", NULL};
	struct jkd_node node;
	struct writer writers[WRITER_THREADS];
	struct load load = {.node = &node};
	bool started, exited;
	int pidfd, status;

	(void)state;
	jkd_start(&node, false, flags);
	pthread_mutex_init(&load.lock, NULL);
	pthread_cond_init(&load.progress, NULL);
	for (unsigned i = 0; i < WRITER_THREADS; i++) {
		writers[i] = (struct writer){.load = &load, .index = i};
		assert_int_equal(pthread_create(&writers[i].thread, NULL, writer_main, &writers[i]), 0);
	}
	started = load_wait_successes(&load, PUTS_BEFORE_SIGTERM);
	pidfd = pidfd_open(node.pid, 0);
	assert_true(pidfd >= 0);

	kill(node.pid, SIGTERM);
	exited = process_exits_within(pidfd, EXIT_TIMEOUT_MS);
	close(pidfd);
	if (!exited)
		jkd_kill(&node);
	for (unsigned i = 0; i < WRITER_THREADS; i++)
		pthread_join(writers[i].thread, NULL);
	pthread_cond_destroy(&load.progress);
	pthread_mutex_destroy(&load.lock);

	if (!started)
		fail_msg("only %u PUTs got a 200 response before SIGTERM; log: %s",
			 atomic_load(&load.puts_succeeded), node.log_path);
	if (!exited)
		fail_msg("jkd did not exit within %d ms of SIGTERM; log: %s", EXIT_TIMEOUT_MS, node.log_path);
	/* The process has exited, so jkd_stop() only reaps it. */
	status = jkd_stop(&node);
	if (status != 0)
		fail_msg("jkd exited with status %d (-1: killed by a signal); log: %s", status, node.log_path);
	jkd_cleanup(&node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigterm_during_writes_exits_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
