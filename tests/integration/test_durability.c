/*
 * Durability of the real jkd binary: writers keep putting keys, the node
 * is killed with SIGKILL in the middle, and after a restart every write that
 * was acknowledged (201 or 200) is present with its value. Also: a full map
 * answers 507 while reads go on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define WRITERS 4
#define WRITES_PER_WRITER_MAX 20000
#define ACKS_BEFORE_KILL 400

struct writer {
	struct jkd_node *node;
	int id;
	int acked; /* writes 0..acked-1 of this writer were acknowledged */
	pthread_t thread;
};

static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ack_cond = PTHREAD_COND_INITIALIZER;
static int acks_total;

/* Puts keys w<id>/<n> with value v<n> on one keep-alive connection until the node dies. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int fd = http_connect(w->node->operator_port);

	for (int n = 0; n < WRITES_PER_WRITER_MAX; n++) {
		char request[512], value[32];
		struct http_reply reply;
		int value_len = snprintf(value, sizeof(value), "v%d", n);
		int len = snprintf(request, sizeof(request),
				   "PUT /kv/v1/w%d/%06d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
				   "Content-Length: %d\r\n\r\n%s",
				   w->id, n, w->node->token, value_len, value);

		if (http_send(fd, request, (size_t)len) != 0 || http_read_reply(fd, &reply) != 0)
			break;
		http_reply_free(&reply);
		if (reply.status != 201 && reply.status != 200)
			break;
		w->acked = n + 1;
		pthread_mutex_lock(&ack_lock);
		acks_total++;
		pthread_cond_signal(&ack_cond);
		pthread_mutex_unlock(&ack_lock);
	}
	http_close(fd);
	return NULL;
}

static void assert_writes_present(struct jkd_node *node, const struct writer *w)
{
	for (int n = 0; n < w->acked; n++) {
		char path[64], value[32];
		struct http_reply reply;

		snprintf(path, sizeof(path), "/kv/v1/w%d/%06d", w->id, n);
		snprintf(value, sizeof(value), "v%d", n);
		http_operator(node, "GET", path, NULL, NULL, 0, &reply);
		if (reply.status != 200 || strcmp(reply.body, value) != 0)
			fail_msg("acknowledged write %s lost after SIGKILL: status %d body \"%s\"; log: %s", path,
				 reply.status, reply.body != NULL ? reply.body : "", node->log_path);
		http_reply_free(&reply);
	}
}

static void sigkill_keeps_acknowledged_writes(void **state)
{
	struct jkd_node node;
	struct writer writers[WRITERS];
	int total = 0;

	(void)state;
	jkd_start(&node, false, NULL);
	for (int i = 0; i < WRITERS; i++) {
		writers[i] = (struct writer){.node = &node, .id = i};
		assert_int_equal(pthread_create(&writers[i].thread, NULL, writer_main, &writers[i]), 0);
	}

	pthread_mutex_lock(&ack_lock);
	while (acks_total < ACKS_BEFORE_KILL)
		pthread_cond_wait(&ack_cond, &ack_lock);
	pthread_mutex_unlock(&ack_lock);
	jkd_kill(&node);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(writers[i].thread, NULL);
		total += writers[i].acked;
	}
	assert_true(total >= ACKS_BEFORE_KILL);

	jkd_start(&node, true, NULL);
	for (int i = 0; i < WRITERS; i++)
		assert_writes_present(&node, &writers[i]);
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
}

static void full_map_gets_507_and_reads_go_on(void **state)
{
	static const char *const flags[] = {
		"--storage-map-size-mb", "1",
		"--storage-map-size-max-mb", "2",
		NULL,
	};
	struct jkd_node node;
	struct http_reply reply;
	size_t value_len = 64 * 1024;
	char *value = malloc(value_len);
	int status = 201, written = 0;

	(void)state;
	assert_non_null(value);
	memset(value, 'x', value_len);
	jkd_start(&node, false, flags);
	http_operator(&node, "PUT", "/kv/v1/small", NULL, "kept", 4, &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);

	/* 2 MiB hold at most 32 values of 64 KiB, so the loop ends well before 100. */
	for (int i = 0; i < 100 && status == 201; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/kv/v1/big/%03d", i);
		http_operator(&node, "PUT", path, NULL, value, value_len, &reply);
		status = reply.status;
		if (status == 201)
			written++;
		http_reply_free(&reply);
	}
	assert_int_equal(status, 507);
	assert_true(written > 0);

	http_operator(&node, "GET", "/kv/v1/small", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_string_equal(reply.body, "kept");
	http_reply_free(&reply);
	assert_node_healthy(&node);

	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	free(value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigkill_keeps_acknowledged_writes),
		cmocka_unit_test(full_map_gets_507_and_reads_go_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
