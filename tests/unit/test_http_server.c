/*
 * HTTP server tests over real sockets on 127.0.0.1 with port 0. The server
 * runs in this process with two workers. The client side is plain blocking
 * sockets with receive timeouts, so a missing response fails a test instead
 * of hanging it. Handlers report events ('s' started, 'r' responded) through
 * a pipe, which the test thread waits on with poll().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "store/http/http.h"

#define CLIENT_TIMEOUT_MS 5000
#define SMALL_BODY_MAX 16
#define HEADER_MAX 2048

static int event_pipe[2];
static atomic_uint workers_started;
static atomic_uint workers_stopped;
static atomic_uint user_data_freed;

struct async_job {
	uv_timer_t timer;
	struct http_request *req;
	struct test_worker *worker;
	struct async_job *prev;
	struct async_job *next;
};

struct test_worker {
	uv_loop_t *loop;
	struct async_job *jobs;
};

struct fixture {
	struct http_router *router;
	struct http_server *server;
	struct http_server_config config;
	int port;
};

struct client {
	int fd;
	size_t len;
	char buf[1 << 17];
};

struct response {
	int status;
	char head[8192];
	char body[1 << 16];
	size_t body_len;
};

/* ---- handlers and worker hooks ---- */

static void signal_event(char event)
{
	ssize_t n = write(event_pipe[1], &event, 1);

	assert_int_equal(n, 1);
}

static void respond_text(struct http_request *req, int status, const char *text,
			 const char *headers)
{
	struct http_response res = {
		.status = status,
		.content_type = "text/plain",
		.headers = headers,
		.body = text,
		.body_len = strlen(text),
	};

	http_respond(req, &res);
}

static void handle_hello(struct http_request *req)
{
	respond_text(req, 200, "hello", NULL);
}

static void handle_echo(struct http_request *req)
{
	struct http_response res = {
		.status = 200,
		.content_type = "application/octet-stream",
		.body = req->body,
		.body_len = req->body_len,
	};

	http_respond(req, &res);
}

static void handle_item_get(struct http_request *req)
{
	const struct http_param *id = http_param_get(req, "id");
	char q[64] = "", flag[8] = "";
	json_t *json;

	assert_non_null(id);
	json = json_pack("{s:s%,s:i,s:i}", "id", id->value, id->value_len, "q_len",
			 http_query_get(req, "q", q, sizeof(q)), "flag_len",
			 http_query_get(req, "flag", flag, sizeof(flag)));
	json_object_set_new(json, "q", json_string(q));
	http_respond_json(req, 200, json, "Cache-Control: no-store\r\n");
}

/* Returns the path and query the server split from the request target. */
static void handle_target(struct http_request *req)
{
	json_t *json = json_pack("{s:s%,s:s%}", "path", req->path, req->path_len, "query", req->query,
				 req->query_len);

	http_respond_json(req, 200, json, NULL);
}

static void handle_item_put(struct http_request *req)
{
	struct http_response res = {.status = 204};

	http_respond(req, &res);
}

static void job_unlink(struct async_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		job->worker->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
}

static void job_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static void async_fired(uv_timer_t *timer)
{
	struct async_job *job = timer->data;

	job_unlink(job);
	respond_text(job->req, 200, "late", NULL);
	uv_close((uv_handle_t *)&job->timer, job_closed);
	signal_event('r');
}

/* Responds after ?ms= milliseconds from a timer on the worker's loop. */
static void handle_async(struct http_request *req)
{
	struct test_worker *tw = req->worker_data;
	struct async_job *job = calloc(1, sizeof(*job));
	char ms[16];
	long delay = 50;

	assert_non_null(job);
	if (http_query_get(req, "ms", ms, sizeof(ms)) > 0)
		delay = strtol(ms, NULL, 10);
	job->req = req;
	job->worker = tw;
	job->next = tw->jobs;
	if (tw->jobs != NULL)
		tw->jobs->prev = job;
	tw->jobs = job;
	uv_timer_init(tw->loop, &job->timer);
	job->timer.data = job;
	uv_timer_start(&job->timer, async_fired, (uint64_t)delay, 0);
	signal_event('s');
}

static void user_data_free_counted(void *user_data)
{
	free(user_data);
	atomic_fetch_add(&user_data_freed, 1);
}

/* Never responds, like a write whose result was dropped at shutdown. */
static void handle_never(struct http_request *req)
{
	req->user_data = malloc(32);
	assert_non_null(req->user_data);
	req->user_data_free = user_data_free_counted;
	signal_event('s');
}

static void *worker_start(uv_loop_t *loop, unsigned index, void *ctx)
{
	struct test_worker *tw = calloc(1, sizeof(*tw));

	(void)index;
	(void)ctx;
	assert_non_null(tw);
	tw->loop = loop;
	atomic_fetch_add(&workers_started, 1);
	return tw;
}

/* Responds to requests that the shutdown timeout cut off, so the server frees them. */
static void worker_stop(void *worker_data, void *ctx)
{
	struct test_worker *tw = worker_data;

	(void)ctx;
	while (tw->jobs != NULL) {
		struct async_job *job = tw->jobs;

		job_unlink(job);
		uv_timer_stop(&job->timer);
		respond_text(job->req, 503, "cancelled", NULL);
		uv_close((uv_handle_t *)&job->timer, job_closed);
	}
	free(tw);
	atomic_fetch_add(&workers_stopped, 1);
}

/* ---- fixture ---- */

static struct http_router *make_router(void)
{
	const struct http_route_def defs[] = {
		{HTTP_METHOD_GET, "/hello", handle_hello, NULL, 0},
		{HTTP_METHOD_GET, "/", handle_target, NULL, 0},
		{HTTP_METHOD_GET, "/target/{rest...}", handle_target, NULL, 0},
		{HTTP_METHOD_POST, "/echo", handle_echo, NULL, 0},
		{HTTP_METHOD_POST, "/small", handle_echo, NULL, SMALL_BODY_MAX},
		{HTTP_METHOD_GET, "/async", handle_async, NULL, 0},
		{HTTP_METHOD_GET, "/never", handle_never, NULL, 0},
		{HTTP_METHOD_GET, "/items/{id}", handle_item_get, NULL, 0},
		{HTTP_METHOD_PUT, "/items/{id}", handle_item_put, NULL, 0},
	};
	struct http_router *router = http_router_new();

	assert_non_null(router);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		assert_int_equal(http_router_add(router, &defs[i]), 0);
	return router;
}

static void drain_events(void)
{
	char byte;

	while (read(event_pipe[0], &byte, 1) == 1)
		;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct http_listener_config *l = &f->config.listeners[0];

	drain_events();
	atomic_store(&workers_started, 0);
	atomic_store(&workers_stopped, 0);
	atomic_store(&user_data_freed, 0);
	f->router = make_router();
	f->config.workers = 2;
	f->config.listener_count = 1;
	f->config.shutdown_timeout_ms = 2000;
	f->config.worker_start = worker_start;
	f->config.worker_stop = worker_stop;
	l->name = "public";
	l->host = "127.0.0.1";
	l->port = 0;
	l->router = f->router;
	l->header_max_bytes = HEADER_MAX;
	l->body_max_bytes = 65536;
	l->max_connections = 64;
	l->header_timeout_ms = 5000;
	l->body_timeout_ms = 5000;
	l->idle_timeout_ms = 10000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http_server_stop(f->server);
	http_router_free(f->router);
	free(f);
	return 0;
}

static void start(struct fixture *f)
{
	assert_int_equal(http_server_start(&f->config, &f->server), 0);
	f->port = http_server_port(f->server, 0);
	assert_true(f->port > 0);
}

/* ---- client ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_recv_timeout(int fd, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

static struct client *client_connect_addr(const struct sockaddr *addr, socklen_t len)
{
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	set_recv_timeout(c->fd, CLIENT_TIMEOUT_MS);
	assert_int_equal(connect(c->fd, addr, len), 0);
	return c;
}

static struct client *client_open(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return client_connect_addr((const struct sockaddr *)&addr, sizeof(addr));
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Sends all of data; returns false if the server closed the connection. */
static bool client_send_bytes(struct client *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static void client_send(struct client *c, const char *text)
{
	assert_true(client_send_bytes(c, text, strlen(text)));
}

/* Receives more bytes; returns what recv() returned. */
static ssize_t client_fill(struct client *c)
{
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return -1;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

static bool response_header(const struct response *r, const char *name, char *value,
			    size_t value_size)
{
	size_t name_len = strlen(name);
	const char *line = strstr(r->head, "\r\n");

	while (line != NULL && line[2] != '\r' && line[2] != '\0') {
		const char *start = line + 2;
		const char *end = strstr(start, "\r\n");

		if (strncasecmp(start, name, name_len) == 0 && start[name_len] == ':') {
			const char *v = start + name_len + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = (size_t)(end - v);
			if (len >= value_size)
				len = value_size - 1;
			memcpy(value, v, len);
			value[len] = '\0';
			return true;
		}
		line = end;
	}
	return false;
}

/* Reads one response; returns 0, or -1 if the connection closed or timed out first. */
static int client_read_response(struct client *c, struct response *r, bool head_request)
{
	char length[32];
	char *end;
	size_t head_len, total;

	r->status = 0;
	r->head[0] = '\0';
	r->body[0] = '\0';
	r->body_len = 0;
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
		if (client_fill(c) <= 0)
			return -1;
	}
	head_len = (size_t)(end + 4 - c->buf);
	assert_true(head_len < sizeof(r->head));
	memcpy(r->head, c->buf, head_len);
	r->head[head_len] = '\0';
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	if (!head_request && response_header(r, "Content-Length", length, sizeof(length)))
		r->body_len = strtoul(length, NULL, 10);
	assert_true(r->body_len < sizeof(r->body));
	total = head_len + r->body_len;
	while (c->len < total) {
		if (client_fill(c) <= 0)
			return -1;
	}
	memcpy(r->body, c->buf + head_len, r->body_len);
	r->body[r->body_len] = '\0';
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return 0;
}

/* Waits for the server to close; returns false on timeout or if more data arrives. */
static bool client_closed(struct client *c)
{
	ssize_t n;

	if (c->len > 0)
		return false;
	n = recv(c->fd, c->buf, sizeof(c->buf), 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void read_ok(struct client *c, struct response *r)
{
	assert_int_equal(client_read_response(c, r, false), 0);
}

static void request_hello(struct client *c)
{
	struct response r;

	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
}

static void wait_event(char expected)
{
	struct pollfd p = {.fd = event_pipe[0], .events = POLLIN};
	char event = 0;

	assert_int_equal(poll(&p, 1, CLIENT_TIMEOUT_MS), 1);
	assert_int_equal(read(event_pipe[0], &event, 1), 1);
	assert_int_equal(event, expected);
}

static json_t *problem_of(const struct response *r)
{
	char type[64];
	json_error_t error;
	json_t *json;

	assert_true(response_header(r, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "application/problem+json");
	json = json_loadb(r->body, r->body_len, 0, &error);
	if (json == NULL)
		fail_msg("problem body is not JSON: %s (%s)", error.text, r->body);
	return json;
}

static void assert_problem(const struct response *r, int status, const char *type)
{
	json_t *json = problem_of(r);

	assert_int_equal(r->status, status);
	assert_string_equal(json_string_value(json_object_get(json, "type")), type);
	assert_int_equal(json_integer_value(json_object_get(json, "status")), status);
	assert_non_null(json_string_value(json_object_get(json, "title")));
	assert_non_null(json_string_value(json_object_get(json, "detail")));
	assert_non_null(json_string_value(json_object_get(json, "request_id")));
	json_decref(json);
}

static void assert_header(const struct response *r, const char *name, const char *expected)
{
	char value[256];

	if (!response_header(r, name, value, sizeof(value)))
		fail_msg("header %s missing in:\n%s", name, r->head);
	assert_string_equal(value, expected);
}

static void write_server_metrics(const struct fixture *f, struct buf *out)
{
	buf_init(out, 1 << 20);
	http_server_write_metrics(f->server, out);
	assert_false(out->failed);
}

/* ---- basic requests ---- */

static void get_returns_200_with_headers(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char value[128];

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "HTTP/1.1 200 OK\r\n"));
	assert_string_equal(r.body, "hello");
	assert_header(&r, "Content-Type", "text/plain");
	assert_header(&r, "Content-Length", "5");
	assert_header(&r, "X-Content-Type-Options", "nosniff");
	assert_header(&r, "Connection", "keep-alive");
	assert_true(response_header(&r, "X-Request-Id", value, sizeof(value)));
	assert_int_equal(strlen(value), 16);
	assert_int_equal(strspn(value, "0123456789abcdef"), 16);
	assert_true(response_header(&r, "Date", value, sizeof(value)));
	assert_int_equal(strlen(value), 29);
	assert_non_null(strstr(value, " GMT"));
	assert_false(response_header(&r, "Cache-Control", value, sizeof(value)));
	client_free(c);
}

static void keep_alive_serves_two_requests(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char first[80], second[80];

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_true(response_header(&r, "X-Request-Id", first, sizeof(first)));
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_true(response_header(&r, "X-Request-Id", second, sizeof(second)));
	assert_string_not_equal(first, second);
	client_free(c);
}

static void pipelined_requests_answered_in_order(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /items/1 HTTP/1.1\r\nHost: test\r\n\r\n"
		       "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\ntwo"
		       "GET /items/3 HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"id\":\"1\""));
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "two");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"id\":\"3\""));
	client_free(c);
}

static void pipelined_request_waits_for_async_handler(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /async?ms=100 HTTP/1.1\r\nHost: test\r\n\r\n"
		       "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "late");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	wait_event('s');
	wait_event('r');
	client_free(c);
}

static void many_pipelined_requests_in_one_write(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	struct buf request;
	char expected[32];

	start(f);
	buf_init(&request, 1 << 20);
	for (int i = 0; i < 200; i++)
		buf_printf(&request, "GET /items/%d HTTP/1.1\r\nHost: test\r\n\r\n", i);
	c = client_open(f->port);
	client_send(c, request.data);
	for (int i = 0; i < 200; i++) {
		read_ok(c, &r);
		assert_int_equal(r.status, 200);
		snprintf(expected, sizeof(expected), "\"id\":\"%d\"", i);
		if (strstr(r.body, expected) == NULL)
			fail_msg("response %d has body %s", i, r.body);
	}
	buf_free(&request);
	client_free(c);
}

static void pipelined_request_split_across_reads(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	/* The second request's head starts behind the first and ends in a later read. */
	client_send(c, "GET /async?ms=50 HTTP/1.1\r\nHost: test\r\n\r\nPOST /echo HTTP/1.1\r\nHost: test\r\nCont");
	read_ok(c, &r);
	assert_string_equal(r.body, "late");
	client_send(c, "ent-Length: 4\r\n\r\nrest");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "rest");
	wait_event('s');
	wait_event('r');
	client_free(c);
}

static void connection_close_request_closes(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
		       "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Connection", "close");
	/* The request behind it is dropped, not answered. */
	assert_true(client_closed(c));
	client_free(c);
}

static void chunked_body_is_echoed(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: ignored\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello world");
	request_hello(c);
	client_free(c);
}

static void head_request_has_no_body(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	assert_int_equal(client_read_response(c, &r, true), 0);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Length", "5");
	/* A stray body would show up as the start of the next response. */
	request_hello(c);
	client_free(c);
}

static void no_content_has_no_length(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char value[16];

	start(f);
	c = client_open(f->port);
	client_send(c, "PUT /items/1 HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\n{}");
	read_ok(c, &r);
	assert_int_equal(r.status, 204);
	assert_false(response_header(&r, "Content-Length", value, sizeof(value)));
	request_hello(c);
	client_free(c);
}

static void params_query_and_extra_headers(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	json_t *json;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /items/a%2Fb?q=x%20y+z&flag HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/json");
	assert_header(&r, "Cache-Control", "no-store");
	json = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(json);
	assert_string_equal(json_string_value(json_object_get(json, "id")), "a/b");
	assert_string_equal(json_string_value(json_object_get(json, "q")), "x y z");
	assert_int_equal(json_integer_value(json_object_get(json, "q_len")), 5);
	assert_int_equal(json_integer_value(json_object_get(json, "flag_len")), 0);
	json_decref(json);
	client_free(c);
}

static void absolute_form_target_is_routed(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET http://shop.test/hello?x=1 HTTP/1.1\r\nHost: shop.test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	client_free(c);
}

static void request_id_header_is_echoed(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char value[80];

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\nX-Request-Id: abc-123.DEF_x\r\n\r\n");
	read_ok(c, &r);
	assert_header(&r, "X-Request-Id", "abc-123.DEF_x");

	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\nX-Request-Id: bad id!\r\n\r\n");
	read_ok(c, &r);
	assert_true(response_header(&r, "X-Request-Id", value, sizeof(value)));
	assert_int_equal(strlen(value), 16);
	assert_int_equal(strspn(value, "0123456789abcdef"), 16);
	client_free(c);
}

static void expect_continue_gets_100_first(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
		       "Content-Length: 5\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 100);
	assert_string_equal(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	client_send(c, "hello");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	client_free(c);
}

static void http10_closes_unless_keep_alive(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Connection", "keep-alive");
	client_send(c, "GET /hello HTTP/1.0\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Connection", "close");
	assert_true(client_closed(c));
	client_free(c);
}

/* ---- errors and limits ---- */

static void unknown_route_gets_404_problem(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char rid[80];
	json_t *json;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /nope HTTP/1.1\r\nHost: test\r\nAccept-Language: en-GB, es;q=0.5\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 404, "/problems/not_found");
	json = problem_of(&r);
	assert_string_equal(json_string_value(json_object_get(json, "title")), "Not Found");
	assert_string_equal(json_string_value(json_object_get(json, "instance")), "/nope");
	assert_true(response_header(&r, "X-Request-Id", rid, sizeof(rid)));
	assert_string_equal(json_string_value(json_object_get(json, "request_id")), rid);
	assert_null(json_object_get(json, "field"));
	json_decref(json);

	/* Spanish is the default. Without a loaded catalog the title stays English. */
	client_send(c, "GET /nope HTTP/1.1\r\nHost: test\r\nAccept-Language: es\r\n\r\n");
	read_ok(c, &r);
	json = problem_of(&r);
	assert_string_equal(json_string_value(json_object_get(json, "title")),
			    i18n_text(I18N_ES, "Not Found"));
	json_decref(json);
	assert_header(&r, "Connection", "keep-alive");
	request_hello(c);
	client_free(c);
}

static void wrong_method_gets_405_with_allow(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "DELETE /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 405, "/problems/method_not_allowed");
	assert_header(&r, "Allow", "GET, HEAD");
	request_hello(c);
	client_free(c);
}

static void unsupported_method_gets_501(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "PROPFIND /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 501, "/problems/not_implemented");
	request_hello(c);
	client_free(c);
}

static void malformed_request_line_gets_400_and_close(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	struct buf metrics;

	start(f);
	c = client_open(f->port);
	client_send(c, "G@T /hello HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 400, "/problems/bad_request");
	assert_header(&r, "Connection", "close");
	assert_true(client_closed(c));
	client_free(c);

	write_server_metrics(f, &metrics);
	assert_non_null(strstr(metrics.data, "jkd_http_parse_errors_total{listener=\"public\"} 1\n"));
	buf_free(&metrics);
}

static void content_length_over_limit_gets_413(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char request[512];

	start(f);
	c = client_open(f->port);
	snprintf(request, sizeof(request),
		 "POST /small HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n%0100d", 0);
	client_send(c, request);
	read_ok(c, &r);
	assert_problem(&r, 413, "/problems/body_too_large");
	assert_header(&r, "Connection", "close");
	assert_true(client_closed(c));
	client_free(c);

	/* The limit belongs to the route, so a route with the default limit takes the same body. */
	c = client_open(f->port);
	snprintf(request, sizeof(request),
		 "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n%0100d", 0);
	client_send(c, request);
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 100);
	client_free(c);
}

static void chunked_body_over_limit_gets_413(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "POST /small HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 413, "/problems/body_too_large");
	assert_true(client_closed(c));
	client_free(c);
}

static void oversized_headers_get_431(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	char *request = malloc(HEADER_MAX * 2);

	start(f);
	c = client_open(f->port);
	snprintf(request, HEADER_MAX * 2, "GET /hello HTTP/1.1\r\nHost: test\r\nX-Big: %0*d\r\n\r\n",
		 HEADER_MAX, 0);
	client_send(c, request);
	read_ok(c, &r);
	assert_problem(&r, 431, "/problems/headers_too_large");
	assert_true(client_closed(c));
	client_free(c);
	free(request);
}

static void headers_just_under_limit_pass(void **state)
{
	struct fixture *f = *state;
	const char *prefix = "GET /hello HTTP/1.1\r\nHost: test\r\nX-Pad: ";
	struct client *c;
	struct response r;
	char request[HEADER_MAX + 1];
	size_t pad = HEADER_MAX - strlen(prefix) - strlen("\r\n\r\n");

	start(f);
	c = client_open(f->port);
	/* Exactly HEADER_MAX bytes of request line and headers are allowed. */
	snprintf(request, sizeof(request), "%s%0*d\r\n\r\n", prefix, (int)pad, 0);
	assert_int_equal(strlen(request), HEADER_MAX);
	client_send(c, request);
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	client_free(c);
}

static void too_many_header_fields_get_431(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	struct buf request;

	start(f);
	buf_init(&request, 1 << 16);
	buf_append_str(&request, "GET /hello HTTP/1.1\r\n");
	for (int i = 0; i < 70; i++)
		buf_printf(&request, "X-H%d: v\r\n", i);
	buf_append_str(&request, "\r\n");
	c = client_open(f->port);
	client_send(c, request.data);
	read_ok(c, &r);
	assert_problem(&r, 431, "/problems/headers_too_large");
	assert_true(client_closed(c));
	client_free(c);
	buf_free(&request);
}

static void truncated_body_then_close_keeps_serving(void **state)
{
	struct fixture *f = *state;
	struct client *c;

	start(f);
	c = client_open(f->port);
	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc");
	client_free(c);

	c = client_open(f->port);
	request_hello(c);
	client_free(c);
}

/* ---- request framing (request smuggling) ---- */

/* Sends raw on a new connection and expects a problem with status and type, then a close. */
static void expect_rejected(struct fixture *f, const char *raw, int status, const char *type)
{
	struct client *c = client_open(f->port);
	struct response r;

	client_send(c, raw);
	read_ok(c, &r);
	assert_problem(&r, status, type);
	assert_header(&r, "Connection", "close");
	assert_true(client_closed(c));
	client_free(c);
}

static void space_before_colon_gets_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length : 5\r\n\r\nhello", 400,
			"/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: test\r\nX Y: z\r\n\r\n", 400, "/problems/bad_request");
}

static void obsolete_line_folding_gets_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: a\r\n b\r\n\r\n", 400,
			"/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: test\r\nX-A:\r\n\tb\r\n\r\n", 400,
			"/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\n Host: test\r\n\r\n", 400, "/problems/bad_request");
}

/*
 * Waits until the only worker has read what was sent before: on loopback a
 * send() is in the server's socket before it returns, and one loop
 * iteration reads every ready socket, so a response on a new connection
 * comes after the earlier bytes were read.
 */
static void sync_single_worker(struct fixture *f)
{
	struct client *c;

	assert_int_equal(f->config.workers, 1);
	c = client_open(f->port);
	request_hello(c);
	client_free(c);
}

static void folding_split_across_reads_gets_400(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	f->config.workers = 1;
	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\nHost: test\r\nX-A: a\r\n");
	sync_single_worker(f);
	client_send(c, " b\r\n\r\n");
	read_ok(c, &r);
	assert_problem(&r, 400, "/problems/bad_request");
	client_free(c);
}

static void host_errors_get_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "GET /hello HTTP/1.1\r\n\r\n", 400, "/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "/problems/bad_request");
	expect_rejected(f, "GET /hello HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, "/problems/bad_request");
}

static void host_problem_names_field(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	json_t *json;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /hello HTTP/1.1\r\n\r\n");
	read_ok(c, &r);
	json = problem_of(&r);
	assert_string_equal(json_string_value(json_object_get(json, "field")), "Host");
	assert_string_equal(json_string_value(json_object_get(json, "instance")), "/hello");
	json_decref(json);
	client_free(c);
}

static void valid_hosts_are_accepted(void **state)
{
	static const char *const hosts[] = {"127.0.0.1:8080", "[::1]:9080", "shop.example", ""};
	struct fixture *f = *state;
	char request[256];

	start(f);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct client *c = client_open(f->port);
		struct response r;

		snprintf(request, sizeof(request), "GET /hello HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
		client_send(c, request);
		read_ok(c, &r);
		if (r.status != 200)
			fail_msg("Host \"%s\" got %d", hosts[i], r.status);
		client_free(c);
	}
}

static void transfer_coding_not_chunked_gets_501(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
			   "5\r\nhello\r\n0\r\n\r\n",
			501, "/problems/not_implemented");
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\nhello", 501,
			"/problems/not_implemented");
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			501, "/problems/not_implemented");
}

static void chunked_in_any_case_is_accepted(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: Chunked \r\n\r\n"
		       "2\r\nok\r\n0\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	client_free(c);
}

static void http10_transfer_encoding_gets_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400,
			"/problems/bad_request");
}

static void chunk_without_crlf_gets_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nhelloXY0\r\n\r\n",
			400, "/problems/bad_request");
	expect_rejected(f, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5\r\nhello\rX0\r\n\r\n",
			400, "/problems/bad_request");
}

/* Sends a chunked body in two writes split at split_at, each write read separately by the server. */
static int chunked_split_status(struct fixture *f, const char *chunks, size_t split_at)
{
	struct client *c = client_open(f->port);
	struct response r;
	char first[128];

	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
	/* The 100 shows the head was parsed, so the body parts arrive in reads of their own. */
	read_ok(c, &r);
	assert_int_equal(r.status, 100);
	snprintf(first, sizeof(first), "%.*s", (int)split_at, chunks);
	client_send(c, first);
	sync_single_worker(f);
	client_send(c, chunks + split_at);
	read_ok(c, &r);
	client_free(c);
	return r.status;
}

static void chunk_crlf_split_across_reads(void **state)
{
	static const char good[] = "5\r\nhello\r\n0\r\n\r\n";
	static const char bad[] = "5\r\nhelloXY0\r\n\r\n";
	struct fixture *f = *state;

	f->config.workers = 1;
	start(f);
	/* Split right after the data, and between CR and LF. */
	assert_int_equal(chunked_split_status(f, good, 8), 200);
	assert_int_equal(chunked_split_status(f, good, 9), 200);
	assert_int_equal(chunked_split_status(f, bad, 8), 400);
	assert_int_equal(chunked_split_status(f, bad, 9), 400);
}

static void http2_version_gets_505(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "GET /hello HTTP/2.0\r\nHost: test\r\n\r\n", 505,
			"/problems/http_version_not_supported");
	expect_rejected(f, "GET /hello HTTP/1.2\r\nHost: test\r\n\r\n", 505,
			"/problems/http_version_not_supported");
	expect_rejected(f, "GET /hello HTTP/0.9\r\nHost: test\r\n\r\n", 505,
			"/problems/http_version_not_supported");
}

static void unknown_method_gets_501(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "FOO /hello HTTP/1.1\r\nHost: test\r\n\r\n", 501, "/problems/not_implemented");
	expect_rejected(f, "GEX /hello HTTP/1.1\r\nHost: test\r\n\r\n", 501, "/problems/not_implemented");
	expect_rejected(f, "get /hello HTTP/1.1\r\nHost: test\r\n\r\n", 501, "/problems/not_implemented");
	expect_rejected(f, "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n", 501,
			"/problems/not_implemented");
}

static void garbage_method_gets_400(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_rejected(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "/problems/bad_request");
	expect_rejected(f, " GET /hello HTTP/1.1\r\nHost: test\r\n\r\n", 400, "/problems/bad_request");
}

/* Returns the path and query of the target as the "/" and "/target/..." routes report them. */
static void expect_target(struct fixture *f, const char *target, const char *path, const char *query)
{
	struct client *c = client_open(f->port);
	struct response r;
	char request[512];
	json_t *json;

	snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: shop.test\r\n\r\n", target);
	client_send(c, request);
	read_ok(c, &r);
	if (r.status != 200)
		fail_msg("target %s got %d", target, r.status);
	json = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(json);
	assert_string_equal(json_string_value(json_object_get(json, "path")), path);
	assert_string_equal(json_string_value(json_object_get(json, "query")), query);
	json_decref(json);
	client_free(c);
}

static void absolute_form_without_path_is_root(void **state)
{
	struct fixture *f = *state;

	start(f);
	expect_target(f, "http://shop.test", "/", "");
	expect_target(f, "http://shop.test?b=1", "/", "b=1");
	expect_target(f, "http://shop.test:8080/target/a?b", "/target/a", "b");
	expect_target(f, "http://shop.test/target/a?b#frag", "/target/a", "b");
	expect_target(f, "/target/x?y=z", "/target/x", "y=z");
}

/* ---- language of errors before the head is complete ---- */

/* Returns the problem title of the response to raw, sent on a new connection. */
static char *early_error_title(struct fixture *f, const char *raw, int status)
{
	struct client *c = client_open(f->port);
	struct response r;
	json_t *json;
	char *title;

	client_send(c, raw);
	read_ok(c, &r);
	assert_int_equal(r.status, status);
	json = problem_of(&r);
	title = strdup(json_string_value(json_object_get(json, "title")));
	json_decref(json);
	client_free(c);
	return title;
}

static void early_errors_use_accept_language(void **state)
{
	struct fixture *f = *state;
	char *request = malloc(HEADER_MAX * 2);
	char *title;

	assert_non_null(request);
	start(f);
	snprintf(request, HEADER_MAX * 2, "GET /hello HTTP/1.1\r\nAccept-Language: en\r\nX-Big: %0*d\r\n\r\n",
		 HEADER_MAX, 0);
	title = early_error_title(f, request, 431);
	assert_string_equal(title, "Request Header Fields Too Large");
	free(title);

	title = early_error_title(f, "GET /hello HTTP/1.1\r\nAccept-Language: en\r\nBad Name: x\r\n\r\n", 400);
	assert_string_equal(title, "Bad Request");
	free(title);

	snprintf(request, HEADER_MAX * 2, "GET /hello HTTP/1.1\r\nX-Big: %0*d\r\n\r\n", HEADER_MAX, 0);
	title = early_error_title(f, request, 431);
	assert_string_equal(title, i18n_text(I18N_ES, "Request Header Fields Too Large"));
	free(title);
	free(request);
}

static void header_timeout_uses_accept_language(void **state)
{
	struct fixture *f = *state;
	char *title;

	f->config.listeners[0].header_timeout_ms = 200;
	start(f);
	title = early_error_title(f, "GET /hello HTTP/1.1\r\nAccept-Language: en\r\nX-Slow: ", 408);
	assert_string_equal(title, "Request Timeout");
	free(title);

	/* A value still arriving may be cut short, so it does not count. */
	title = early_error_title(f, "GET /hello HTTP/1.1\r\nAccept-Language: en", 408);
	assert_string_equal(title, i18n_text(I18N_ES, "Request Timeout"));
	free(title);
}

/* ---- timeouts ---- */

static void slowloris_cut_off_at_header_timeout(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	uint64_t started, elapsed;
	int rounds = 0;

	f->config.listeners[0].header_timeout_ms = 300;
	start(f);
	c = client_open(f->port);
	/* The receive timeout paces the client: one header byte per 50 ms. */
	set_recv_timeout(c->fd, 50);
	started = now_ms();
	client_send(c, "GET /hello HTTP/1.1\r\nX-Slow: ");
	while (rounds++ < 100 && client_fill(c) < 0 && errno == EAGAIN) {
		if (!client_send_bytes(c, "a", 1))
			break;
	}
	elapsed = now_ms() - started;
	set_recv_timeout(c->fd, CLIENT_TIMEOUT_MS);
	read_ok(c, &r);
	assert_problem(&r, 408, "/problems/request_timeout");
	assert_true(client_closed(c));
	if (elapsed < 280 || elapsed > 2000)
		fail_msg("header timeout took %llu ms, expected about 300", (unsigned long long)elapsed);
	client_free(c);
}

static void body_timeout_gets_408(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	struct buf metrics;

	f->config.listeners[0].body_timeout_ms = 300;
	start(f);
	c = client_open(f->port);
	client_send(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
	read_ok(c, &r);
	assert_problem(&r, 408, "/problems/request_timeout");
	assert_true(client_closed(c));
	client_free(c);

	write_server_metrics(f, &metrics);
	assert_non_null(strstr(metrics.data,
			       "jkd_http_timeouts_total{listener=\"public\",phase=\"body\"} 1\n"));
	buf_free(&metrics);
}

static void idle_connection_closed_silently(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	uint64_t started, elapsed;

	f->config.listeners[0].idle_timeout_ms = 300;
	start(f);
	c = client_open(f->port);
	request_hello(c);
	started = now_ms();
	assert_int_equal(recv(c->fd, c->buf, sizeof(c->buf), 0), 0);
	elapsed = now_ms() - started;
	if (elapsed < 250 || elapsed > 3000)
		fail_msg("idle close took %llu ms, expected about 300", (unsigned long long)elapsed);
	client_free(c);
}

/* ---- connection limit ---- */

static void too_many_connections_get_503(void **state)
{
	struct fixture *f = *state;
	struct client *a, *b, *over, *again;
	struct response r;
	struct buf metrics;

	f->config.listeners[0].max_connections = 2;
	start(f);
	a = client_open(f->port);
	b = client_open(f->port);
	/* A response on each proves the server counted both before the third connects. */
	request_hello(a);
	request_hello(b);

	over = client_open(f->port);
	read_ok(over, &r);
	assert_problem(&r, 503, "/problems/too_many_connections");
	assert_header(&r, "Connection", "close");
	assert_header(&r, "Retry-After", "1");
	assert_true(client_closed(over));
	client_free(over);

	/* The server releases the slot before its side closes, so EOF means it is free. */
	assert_int_equal(shutdown(a->fd, SHUT_WR), 0);
	assert_true(client_closed(a));
	client_free(a);
	again = client_open(f->port);
	request_hello(again);

	write_server_metrics(f, &metrics);
	assert_non_null(strstr(metrics.data,
			       "jkd_http_connections_rejected_total{listener=\"public\"} 1\n"));
	assert_non_null(strstr(metrics.data, "jkd_http_connections_open{listener=\"public\"} 2\n"));
	buf_free(&metrics);
	client_free(again);
	client_free(b);
}

/* ---- asynchronous handlers and shutdown ---- */

static void async_handler_response_arrives(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /async?ms=50 HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "late");
	wait_event('s');
	wait_event('r');
	request_hello(c);
	client_free(c);
}

static void client_close_during_async_handler(void **state)
{
	struct fixture *f = *state;
	struct client *c;

	start(f);
	c = client_open(f->port);
	client_send(c, "GET /async?ms=100 HTTP/1.1\r\nHost: test\r\n\r\n");
	wait_event('s');
	client_free(c);
	wait_event('r');

	c = client_open(f->port);
	request_hello(c);
	client_free(c);
}

static void stop_answers_request_in_flight(void **state)
{
	struct fixture *f = *state;
	struct client *busy, *idle;
	struct response r;

	start(f);
	idle = client_open(f->port);
	request_hello(idle);
	busy = client_open(f->port);
	client_send(busy, "GET /async?ms=200 HTTP/1.1\r\nHost: test\r\n\r\n");
	wait_event('s');

	http_server_stop(f->server);
	f->server = NULL;
	wait_event('r');
	read_ok(busy, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "late");
	assert_header(&r, "Connection", "close");
	assert_true(client_closed(busy));
	assert_true(client_closed(idle));
	assert_int_equal(atomic_load(&workers_started), 2);
	assert_int_equal(atomic_load(&workers_stopped), 2);
	client_free(busy);
	client_free(idle);
}

static void stop_timeout_drops_pending_request(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	uint64_t started;

	f->config.shutdown_timeout_ms = 100;
	start(f);
	c = client_open(f->port);
	client_send(c, "GET /async?ms=60000 HTTP/1.1\r\nHost: test\r\n\r\n");
	wait_event('s');

	started = now_ms();
	http_server_stop(f->server);
	f->server = NULL;
	assert_true(now_ms() - started < 3000);
	assert_int_equal(client_read_response(c, &r, false), -1);
	assert_int_equal(atomic_load(&workers_stopped), 2);
	client_free(c);
}

/* ASan's leak check at exit fails the test if the server keeps the request. */
static void stop_timeout_frees_unanswered_request(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;

	f->config.shutdown_timeout_ms = 0;
	start(f);
	c = client_open(f->port);
	client_send(c, "GET /never HTTP/1.1\r\nHost: test\r\n\r\n");
	wait_event('s');

	http_server_stop(f->server);
	f->server = NULL;
	assert_int_equal(client_read_response(c, &r, false), -1);
	assert_int_equal(atomic_load(&user_data_freed), 1);
	assert_int_equal(atomic_load(&workers_stopped), 2);
	client_free(c);
}

/* ---- start-up ---- */

static void port_in_use_fails_start(void **state)
{
	struct fixture *f = *state;
	struct http_server_config second;
	struct http_server *server = NULL;
	struct client *c;

	start(f);
	second = f->config;
	second.listeners[0].port = f->port;
	assert_int_equal(http_server_start(&second, &server), UV_EADDRINUSE);
	assert_null(server);

	/* The running server keeps its port. */
	c = client_open(f->port);
	request_hello(c);
	client_free(c);
}

static void invalid_config_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct http_server_config config = f->config;
	struct http_server *server;

	config.workers = 0;
	assert_int_equal(http_server_start(&config, &server), UV_EINVAL);
	assert_null(server);
	config = f->config;
	config.listeners[0].host = "localhost";
	assert_int_equal(http_server_start(&config, &server), UV_EINVAL);
	config = f->config;
	config.listeners[0].name = "bad name";
	assert_int_equal(http_server_start(&config, &server), UV_EINVAL);
	config = f->config;
	config.listeners[0].idle_timeout_ms = 0;
	assert_int_equal(http_server_start(&config, &server), UV_EINVAL);
	assert_int_equal(atomic_load(&workers_started), 0);
}

static void ipv6_loopback_listener(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct client *c;
	int err;

	f->config.listeners[0].host = "::1";
	err = http_server_start(&f->config, &f->server);
	if (err == UV_EADDRNOTAVAIL || err == UV_EAFNOSUPPORT) {
		f->server = NULL;
		skip();
	}
	assert_int_equal(err, 0);
	addr.sin6_port = htons((uint16_t)http_server_port(f->server, 0));
	c = client_connect_addr((const struct sockaddr *)&addr, sizeof(addr));
	request_hello(c);
	client_free(c);
}

static void metrics_cover_routes_and_connections(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct response r;
	struct buf out;

	start(f);
	c = client_open(f->port);
	request_hello(c);
	client_send(c, "GET /nope HTTP/1.1\r\nHost: test\r\n\r\n");
	read_ok(c, &r);

	write_server_metrics(f, &out);
	assert_non_null(strstr(out.data, "# TYPE jkd_http_connections_open gauge\n"));
	assert_non_null(strstr(out.data, "jkd_http_connections_open{listener=\"public\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_parse_errors_total{listener=\"public\"} 0\n"));
	buf_free(&out);

	buf_init(&out, 1 << 20);
	http_router_write_metrics(f->router, &out);
	assert_non_null(strstr(out.data, "jkd_http_requests_total{listener=\"public\",route=\"/hello\",method=\"GET\",status=\"200\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_requests_total{listener=\"public\",route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_count{listener=\"public\",route=\"/hello\",method=\"GET\"} 1\n"));
	buf_free(&out);
	client_free(c);
}

/* ---- helpers without a server ---- */

static void query_get_handles_edge_cases(void **state)
{
	const char query[] = "a=1&b=%zz&c&d=x+y%21&long=0123456789&a=2&e%3Dq=v";
	struct http_request req = {.path = "/", .query = query, .query_len = sizeof(query) - 1};
	char out[8];

	(void)state;
	assert_int_equal(http_query_get(&req, "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(http_query_get(&req, "b", out, sizeof(out)), -2);
	assert_int_equal(http_query_get(&req, "c", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(http_query_get(&req, "d", out, sizeof(out)), 4);
	assert_string_equal(out, "x y!");
	assert_int_equal(http_query_get(&req, "long", out, sizeof(out)), -2);
	assert_int_equal(http_query_get(&req, "e=q", out, sizeof(out)), 1);
	assert_int_equal(http_query_get(&req, "missing", out, sizeof(out)), -1);
	assert_int_equal(http_query_get(&req, "a", out, 0), -2);
}

static void header_get_ignores_case(void **state)
{
	const struct http_header headers[] = {
		{"Content-Type", 12, "text/plain", 10},
		{"X-Empty", 7, "", 0},
	};
	struct http_request req = {.headers = headers, .header_count = 2};
	size_t len = 99;

	(void)state;
	assert_string_equal(http_header_get(&req, "content-type", &len), "text/plain");
	assert_int_equal(len, 10);
	assert_string_equal(http_header_get(&req, "X-EMPTY", NULL), "");
	assert_null(http_header_get(&req, "Content", &len));
}

#define SERVER_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SERVER_TEST(get_returns_200_with_headers),
		SERVER_TEST(keep_alive_serves_two_requests),
		SERVER_TEST(pipelined_requests_answered_in_order),
		SERVER_TEST(pipelined_request_waits_for_async_handler),
		SERVER_TEST(many_pipelined_requests_in_one_write),
		SERVER_TEST(pipelined_request_split_across_reads),
		SERVER_TEST(connection_close_request_closes),
		SERVER_TEST(chunked_body_is_echoed),
		SERVER_TEST(head_request_has_no_body),
		SERVER_TEST(no_content_has_no_length),
		SERVER_TEST(params_query_and_extra_headers),
		SERVER_TEST(absolute_form_target_is_routed),
		SERVER_TEST(request_id_header_is_echoed),
		SERVER_TEST(expect_continue_gets_100_first),
		SERVER_TEST(http10_closes_unless_keep_alive),
		SERVER_TEST(unknown_route_gets_404_problem),
		SERVER_TEST(wrong_method_gets_405_with_allow),
		SERVER_TEST(unsupported_method_gets_501),
		SERVER_TEST(malformed_request_line_gets_400_and_close),
		SERVER_TEST(content_length_over_limit_gets_413),
		SERVER_TEST(chunked_body_over_limit_gets_413),
		SERVER_TEST(oversized_headers_get_431),
		SERVER_TEST(headers_just_under_limit_pass),
		SERVER_TEST(too_many_header_fields_get_431),
		SERVER_TEST(truncated_body_then_close_keeps_serving),
		SERVER_TEST(space_before_colon_gets_400),
		SERVER_TEST(obsolete_line_folding_gets_400),
		SERVER_TEST(folding_split_across_reads_gets_400),
		SERVER_TEST(host_errors_get_400),
		SERVER_TEST(host_problem_names_field),
		SERVER_TEST(valid_hosts_are_accepted),
		SERVER_TEST(transfer_coding_not_chunked_gets_501),
		SERVER_TEST(chunked_in_any_case_is_accepted),
		SERVER_TEST(http10_transfer_encoding_gets_400),
		SERVER_TEST(chunk_without_crlf_gets_400),
		SERVER_TEST(chunk_crlf_split_across_reads),
		SERVER_TEST(http2_version_gets_505),
		SERVER_TEST(unknown_method_gets_501),
		SERVER_TEST(garbage_method_gets_400),
		SERVER_TEST(absolute_form_without_path_is_root),
		SERVER_TEST(early_errors_use_accept_language),
		SERVER_TEST(header_timeout_uses_accept_language),
		SERVER_TEST(slowloris_cut_off_at_header_timeout),
		SERVER_TEST(body_timeout_gets_408),
		SERVER_TEST(idle_connection_closed_silently),
		SERVER_TEST(too_many_connections_get_503),
		SERVER_TEST(async_handler_response_arrives),
		SERVER_TEST(client_close_during_async_handler),
		SERVER_TEST(stop_answers_request_in_flight),
		SERVER_TEST(stop_timeout_drops_pending_request),
		SERVER_TEST(stop_timeout_frees_unanswered_request),
		SERVER_TEST(port_in_use_fails_start),
		SERVER_TEST(invalid_config_is_rejected),
		SERVER_TEST(ipv6_loopback_listener),
		SERVER_TEST(metrics_cover_routes_and_connections),
		cmocka_unit_test(query_get_handles_edge_cases),
		cmocka_unit_test(header_get_ignores_case),
	};

	assert_int_equal(pipe2(event_pipe, O_CLOEXEC), 0);
	assert_int_equal(fcntl(event_pipe[0], F_SETFL, O_NONBLOCK), 0);
	log_level_min = LOG_LEVEL_DEBUG;
	i18n_init(getenv("JKD_LOCALE_DIR"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
