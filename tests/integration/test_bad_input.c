/*
 * Bad input against the real jkd binary: each malformed or abusive request
 * gets the right 4xx status or a closed connection, and the node keeps
 * serving afterwards. One node serves the whole file; it runs with short
 * timeouts and a small connection limit so the limits are reachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define HEADER_TIMEOUT_MS 500
#define MAX_CONNECTIONS 16

static struct jkd_node node;

static int node_setup(void **state)
{
	static const char *const flags[] = {
		"--http-header-timeout-ms", "500",
		"--http-body-timeout-ms", "500",
		"--http-max-connections", "16",
		"--http-header-max-bytes", "4096",
		"--operator-kv-value-max-bytes", "1024",
		NULL,
	};

	(void)state;
	jkd_start(&node, false, flags);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

/* Sends raw bytes on a new connection and reads one reply. */
static void send_raw(int port, const char *raw, struct http_reply *reply)
{
	int fd = http_connect(port);

	assert_int_equal(http_send(fd, raw, strlen(raw)), 0);
	if (http_read_reply(fd, reply) != 0)
		reply->status = 0;
	http_close(fd);
}

static void assert_problem(const struct http_reply *reply, int status, const char *field)
{
	char type[128];

	assert_int_equal(reply->status, status);
	assert_true(http_reply_header(reply, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "application/problem+json");
	if (field != NULL) {
		char expected[128];

		snprintf(expected, sizeof(expected), "\"field\":\"%s\"", field);
		if (strstr(reply->body, expected) == NULL)
			fail_msg("problem body does not name field %s: %s", field, reply->body);
	}
}

static void malformed_request_line_gets_400(void **state)
{
	struct http_reply reply;

	(void)state;
	send_raw(node.port, "GET /healthz HTTP/9.9 extra\r\n\r\n", &reply);
	assert_problem(&reply, 400, NULL);
	http_reply_free(&reply);
	assert_node_healthy(&node);
}

static void garbage_bytes_get_400(void **state)
{
	struct http_reply reply;

	(void)state;
	send_raw(node.port, "\x01\x02\x03 nonsense\r\n\r\n", &reply);
	assert_problem(&reply, 400, NULL);
	http_reply_free(&reply);
	assert_node_healthy(&node);
}

static void oversized_headers_get_431(void **state)
{
	size_t filler_len = 8192;
	char *raw = malloc(filler_len + 128);
	struct http_reply reply;
	int fd;

	(void)state;
	assert_non_null(raw);
	strcpy(raw, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ");
	memset(raw + strlen(raw), 'a', filler_len);
	strcpy(raw + strlen("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ") + filler_len, "\r\n\r\n");
	fd = http_connect(node.port);
	http_send(fd, raw, strlen(raw));
	free(raw);
	if (http_read_reply(fd, &reply) != 0)
		reply.status = 0;
	assert_problem(&reply, 431, NULL);
	assert_true(http_wait_closed(fd, 5000));
	http_close(fd);
	http_reply_free(&reply);
	assert_node_healthy(&node);
}

static void oversized_body_gets_413(void **state)
{
	char body[2048];
	char headers[256];
	struct http_reply reply;

	(void)state;
	memset(body, 'v', sizeof(body));
	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", node.token);
	http_request(node.operator_port, "PUT", "/kv/v1/too-big", headers, body, sizeof(body), &reply);
	assert_problem(&reply, 413, NULL);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/too-big", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	assert_node_healthy(&node);
}

static void oversized_chunked_body_gets_413(void **state)
{
	char raw[4096];
	char chunk[600];
	struct http_reply reply;
	int fd = http_connect(node.operator_port);
	int len;

	(void)state;
	memset(chunk, 'c', sizeof(chunk));
	len = snprintf(raw, sizeof(raw),
		       "PUT /kv/v1/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       node.token);
	http_send(fd, raw, (size_t)len);
	for (int i = 0; i < 3; i++) {
		len = snprintf(raw, sizeof(raw), "%zx\r\n%.*s\r\n", sizeof(chunk), (int)sizeof(chunk), chunk);
		if (http_send(fd, raw, (size_t)len) != 0)
			break;
	}
	if (http_read_reply(fd, &reply) != 0)
		reply.status = 0;
	assert_problem(&reply, 413, NULL);
	http_close(fd);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/chunky", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void truncated_body_changes_nothing(void **state)
{
	char raw[512];
	int fd = http_connect(node.operator_port);
	struct http_reply reply;
	int len = snprintf(raw, sizeof(raw),
			   "PUT /kv/v1/truncated HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
			   "Content-Length: 100\r\n\r\nonly-part",
			   node.token);

	(void)state;
	http_send(fd, raw, (size_t)len);
	http_close(fd);

	http_operator(&node, "GET", "/kv/v1/truncated", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	assert_node_healthy(&node);
}

static void stalled_body_times_out_with_408(void **state)
{
	char raw[512];
	int fd = http_connect(node.operator_port);
	struct http_reply reply;
	int len = snprintf(raw, sizeof(raw),
			   "PUT /kv/v1/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
			   "Content-Length: 100\r\n\r\npart",
			   node.token);

	(void)state;
	http_send(fd, raw, (size_t)len);
	if (http_read_reply(fd, &reply) != 0)
		reply.status = 0;
	assert_problem(&reply, 408, NULL);
	assert_true(http_wait_closed(fd, 5000));
	http_close(fd);
	http_reply_free(&reply);
}

static void invalid_json_gets_400_naming_body(void **state)
{
	static const char body[] = "{\"talla\": \"M\", ";
	struct http_reply reply;

	(void)state;
	http_operator(&node, "PUT", "/kv/v1/config.json", "Content-Type: application/json\r\n", body,
		      strlen(body), &reply);
	assert_problem(&reply, 400, "body");
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/config.json", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void unknown_route_gets_404(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(node.port, "GET", "/no/such/route", NULL, NULL, 0, &reply);
	assert_problem(&reply, 404, NULL);
	http_reply_free(&reply);
}

static void wrong_method_gets_405_with_allow(void **state)
{
	struct http_reply reply;
	char allow[64];

	(void)state;
	http_request(node.port, "DELETE", "/healthz", NULL, NULL, 0, &reply);
	assert_problem(&reply, 405, NULL);
	assert_true(http_reply_header(&reply, "Allow", allow, sizeof(allow)));
	assert_non_null(strstr(allow, "GET"));
	http_reply_free(&reply);
}

static void slowloris_client_is_cut_off(void **state)
{
	static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	int fd = http_connect(node.port);
	bool closed = false;

	(void)state;
	assert_int_equal(http_send(fd, partial, strlen(partial)), 0);
	/* Keep trickling one byte at a time; the header timeout must still fire. */
	for (int i = 0; i < 40 && !closed; i++) {
		if (http_send(fd, "a", 1) != 0)
			closed = true;
		else
			closed = http_wait_closed(fd, 100);
	}
	assert_true(closed);
	http_close(fd);
	assert_node_healthy(&node);
}

static void connections_over_limit_are_rejected(void **state)
{
	int fds[MAX_CONNECTIONS + 8];
	size_t open_count = 0;
	bool rejected = false;
	struct http_reply reply;

	(void)state;
	/* Fill every slot with a connection that has sent a complete request on keep-alive. */
	for (size_t i = 0; i < MAX_CONNECTIONS + 8 && !rejected; i++) {
		static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
		int fd = http_connect(node.port);

		fds[open_count++] = fd;
		http_send(fd, request, strlen(request));
		if (http_read_reply(fd, &reply) != 0)
			reply.status = 0;
		if (reply.status == 503 || reply.status == 0)
			rejected = true;
		http_reply_free(&reply);
	}
	assert_true(rejected);
	/*
	 * Half-close each connection and wait until the node closes its side:
	 * the node frees a connection slot before closing, so then every slot
	 * is free and the health check cannot be refused.
	 */
	for (size_t i = 0; i < open_count; i++) {
		shutdown(fds[i], SHUT_WR);
		assert_true(http_wait_closed(fds[i], 5000));
		http_close(fds[i]);
	}
	assert_node_healthy(&node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(malformed_request_line_gets_400),
		cmocka_unit_test(garbage_bytes_get_400),
		cmocka_unit_test(oversized_headers_get_431),
		cmocka_unit_test(oversized_body_gets_413),
		cmocka_unit_test(oversized_chunked_body_gets_413),
		cmocka_unit_test(truncated_body_changes_nothing),
		cmocka_unit_test(stalled_body_times_out_with_408),
		cmocka_unit_test(invalid_json_gets_400_naming_body),
		cmocka_unit_test(unknown_route_gets_404),
		cmocka_unit_test(wrong_method_gets_405_with_allow),
		cmocka_unit_test(slowloris_client_is_cut_off),
		cmocka_unit_test(connections_over_limit_are_rejected),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
