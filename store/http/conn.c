/*
 * Connection state machine (the diagram is in http.h): accepting, reading
 * into http-parser (whose callbacks are in parse.c), dispatching, writing,
 * timeouts and closing.
 *
 * Each connection has one timer, whose meaning follows the state: the idle
 * timeout in IDLE, the header timeout in HEADERS, the body timeout in BODY,
 * a write timeout (idle_timeout_ms) in WRITING, HTTP_LINGER_MS in LINGER and
 * none in HANDLER. The header timer starts at the first byte of a request
 * and later bytes do not restart it, so a client that trickles its headers
 * is cut off after header_timeout_ms.
 *
 * When a request is complete the parser is paused and reading stops. Input
 * that arrived behind it (pipelined requests) waits in conn->pending until
 * the response is written, so responses go out in request order and a slow
 * handler never makes the server hold more than one read per connection.
 *
 * A connection that closes after a response first shuts down its sending
 * side and drains input (LINGER): closing a socket with unread input makes
 * the kernel send RST, which can destroy the response before the client
 * reads it.
 */
#include "store/http/internal.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Responses up to this size keep their buffer for the next response. */
#define OUT_BUFFER_KEEP_BYTES 16384

static void conn_parse(struct http_conn *c, const char *data, size_t len, bool from_pending);

static int conn_start_reading(struct http_conn *c);

static void conn_stop_reading(struct http_conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
}

static void conn_drop_pending(struct http_conn *c)
{
	free(c->pending);
	c->pending = NULL;
	c->pending_off = 0;
	c->pending_len = 0;
}

/* Keeps the input behind a complete request until its response is written. */
static void conn_keep_pending(struct http_conn *c, const char *data, size_t len, bool from_pending)
{
	if (len == 0) {
		conn_drop_pending(c);
		return;
	}
	if (from_pending) {
		c->pending_off = (size_t)(data - c->pending);
		c->pending_len = len;
		return;
	}
	/* Reading only resumes once pending is empty, so this is at most one read. */
	conn_drop_pending(c);
	c->pending = malloc(len);
	if (c->pending == NULL) {
		log_error("http_pipeline_dropped", "peer=%s bytes=%zu error=\"out of memory\"", c->peer,
			  len);
		c->close_after = true;
		return;
	}
	memcpy(c->pending, data, len);
	c->pending_len = len;
}

/* Responds with the problem for reason, then closes the connection. */
static void conn_reject_now(struct http_conn *c, enum http_reject reason)
{
	c->reject = reason;
	c->close_after = true;
	conn_stop_reading(c);
	uv_timer_stop(&c->timer);
	conn_drop_pending(c);
	if (c->exchange == NULL && http_exchange_new(c) == NULL) {
		http_conn_close(c);
		return;
	}
	c->state = HTTP_CONN_HANDLER;
	http_respond_reject(c);
}

/* Hands a complete request to its handler, or responds itself when routing rejected it. */
static void conn_dispatch(struct http_conn *c)
{
	struct http_exchange *ex = c->exchange;

	conn_stop_reading(c);
	uv_timer_stop(&c->timer);
	ex->req.body = ex->body.data != NULL ? ex->body.data : "";
	ex->req.body_len = ex->body.len;
	if (c->reject != HTTP_REJECT_NONE) {
		http_respond_reject(c);
		return;
	}
	http_exchange_handler_begin(ex);
	if (c->worker->server->config.before_handler != NULL &&
	    !c->worker->server->config.before_handler(&ex->req, c->worker->server->config.ctx))
		return;
	ex->req.route->def.handler(&ex->req);
}

void http_request_run_handler(struct http_request *req)
{
	req->route->def.handler(req);
}

/* Returns true for the rejections that respond 400 to malformed input. */
static bool reject_is_malformed(enum http_reject reason)
{
	switch (reason) {
	case HTTP_REJECT_BAD_REQUEST:
	case HTTP_REJECT_BAD_HEADER_NAME:
	case HTTP_REJECT_LINE_FOLDING:
	case HTTP_REJECT_BAD_HOST:
	case HTTP_REJECT_BAD_CHUNK:
	case HTTP_REJECT_HTTP10_TRANSFER_ENCODING:
		return true;
	default:
		return false;
	}
}

/* Rejects the request after a parse error; at and len are the input from where the parser stopped. */
static void conn_parse_failed(struct http_conn *c, enum http_errno err, const char *at, size_t len)
{
	enum http_reject reason = c->reject;

	if (reason == HTTP_REJECT_NONE && err == HPE_HEADER_OVERFLOW)
		reason = HTTP_REJECT_HEADERS_TOO_LARGE;
	else if (reason == HTTP_REJECT_NONE && err == HPE_INVALID_METHOD &&
		 http_method_token_follows(c, at, len))
		reason = HTTP_REJECT_UNKNOWN_METHOD;
	else if (reason == HTTP_REJECT_NONE)
		reason = HTTP_REJECT_BAD_REQUEST;
	if (reason == HTTP_REJECT_OUT_OF_MEMORY) {
		log_error("http_request_failed", "listener=%s peer=%s error=\"out of memory\"",
			  c->listener->name, c->peer);
		http_conn_close(c);
		return;
	}
	if (reject_is_malformed(reason)) {
		atomic_fetch_add_explicit(&c->listener->parse_errors, 1, memory_order_relaxed);
		log_debug("http_parse_failed", "listener=%s peer=%s error=%s reject=%d", c->listener->name,
			  c->peer, http_errno_name(err), (int)reason);
	}
	conn_reject_now(c, reason);
}

/*
 * Runs the framing checks on input about to be parsed and shortens *n to
 * end before a folded head line. Returns false after rejecting the request.
 */
static bool conn_check_input(struct http_conn *c, const char *data, size_t *n, bool *folded)
{
	bool in_head = c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_HEADERS;
	size_t fold;

	if (c->state == HTTP_CONN_IDLE)
		http_framing_begin(&c->framing);
	if (!http_framing_check_crlf(&c->framing, data, *n)) {
		c->reject = HTTP_REJECT_BAD_CHUNK;
		conn_parse_failed(c, HPE_OK, data, 0);
		return false;
	}
	*folded = false;
	if (!in_head)
		return true;
	fold = http_framing_scan_head(&c->framing, data, *n);
	if (fold == *n)
		return true;
	*folded = true;
	*n = fold;
	if (fold == 0) {
		c->reject = HTTP_REJECT_LINE_FOLDING;
		conn_parse_failed(c, HPE_OK, data, 0);
		return false;
	}
	return true;
}

/* Feeds input to the parser until it runs out or a request is complete. */
static void conn_parse(struct http_conn *c, const char *data, size_t len, bool from_pending)
{
	size_t header_max = c->listener->config.header_max_bytes;

	while (len > 0) {
		bool in_head = c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_HEADERS;
		size_t n = len, used;
		enum http_errno err;
		bool folded;

		/*
		 * Never give the parser more head bytes than the limit allows, so the
		 * limit counts raw bytes (request line, headers, line ends) exactly.
		 */
		if (in_head && n > header_max - c->head_bytes)
			n = header_max - c->head_bytes;
		if (!conn_check_input(c, data, &n, &folded))
			return;
		c->framing.data = data;
		c->framing.len = n;
		used = http_parser_execute(&c->parser, &http_request_settings, data, n);
		c->framing.offset += used;
		err = HTTP_PARSER_ERRNO(&c->parser);
		if (err == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			conn_keep_pending(c, data + used, len - used, from_pending);
			conn_dispatch(c);
			return;
		}
		if (err != HPE_OK) {
			conn_parse_failed(c, err, data + used, n - used);
			return;
		}
		if (folded) {
			/* The fields before the folded line are parsed, so the 400 can use their Accept-Language. */
			c->reject = HTTP_REJECT_LINE_FOLDING;
			conn_parse_failed(c, HPE_OK, data, 0);
			return;
		}
		if (c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_HEADERS) {
			c->head_bytes += used;
			if (c->head_bytes >= header_max) {
				conn_reject_now(c, HTTP_REJECT_HEADERS_TOO_LARGE);
				return;
			}
		}
		data += used;
		len -= used;
	}
	if (from_pending)
		conn_drop_pending(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf)
{
	struct http_conn *c = handle->data;

	/* One buffer per worker is enough: on_read consumes it before returning. */
	(void)suggested_size;
	*buf = uv_buf_init(c->worker->read_buffer, sizeof(c->worker->read_buffer));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = stream->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF || c->state == HTTP_CONN_HEADERS || c->state == HTTP_CONN_BODY)
			log_debug("http_connection_lost", "listener=%s peer=%s state=%d error=%s",
				  c->listener->name, c->peer, (int)c->state, uv_err_name((int)nread));
		http_conn_close(c);
		return;
	}
	if (c->state == HTTP_CONN_LINGER)
		return;
	conn_parse(c, buf->base, (size_t)nread, false);
}

static int conn_start_reading(struct http_conn *c)
{
	int err;

	if (c->reading)
		return 0;
	err = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (err == 0)
		c->reading = true;
	return err;
}

static void on_timer(uv_timer_t *timer)
{
	struct http_conn *c = timer->data;
	struct http_listener_state *l = c->listener;

	switch (c->state) {
	case HTTP_CONN_HEADERS:
		atomic_fetch_add_explicit(&l->timeouts[HTTP_TIMEOUT_HEADER], 1, memory_order_relaxed);
		conn_reject_now(c, HTTP_REJECT_HEADER_TIMEOUT);
		break;
	case HTTP_CONN_BODY:
		atomic_fetch_add_explicit(&l->timeouts[HTTP_TIMEOUT_BODY], 1, memory_order_relaxed);
		conn_reject_now(c, HTTP_REJECT_BODY_TIMEOUT);
		break;
	case HTTP_CONN_WRITING:
		atomic_fetch_add_explicit(&l->timeouts[HTTP_TIMEOUT_WRITE], 1, memory_order_relaxed);
		log_debug("http_write_timeout", "listener=%s peer=%s", l->name, c->peer);
		http_conn_close(c);
		break;
	case HTTP_CONN_HANDLER:
		break;
	case HTTP_CONN_IDLE:
	case HTTP_CONN_LINGER:
		http_conn_close(c);
		break;
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = HTTP_CONTAINER_OF(req, struct http_conn, shutdown_req);

	if (status < 0 && !c->closing)
		http_conn_close(c);
}

/* Ends the sending side and discards input until the client closes or HTTP_LINGER_MS pass. */
static void conn_linger(struct http_conn *c)
{
	int err;

	c->state = HTTP_CONN_LINGER;
	conn_drop_pending(c);
	http_conn_set_timer(c, HTTP_LINGER_MS);
	err = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
	if (err == 0)
		err = conn_start_reading(c);
	if (err != 0)
		http_conn_close(c);
}

/* Continues after a response: parses pipelined input first, then reads again. */
static void conn_resume(struct http_conn *c)
{
	if (c->pending_len > 0)
		conn_parse(c, c->pending + c->pending_off, c->pending_len, true);
	if (c->closing)
		return;
	if (c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_HEADERS ||
	    c->state == HTTP_CONN_BODY) {
		if (conn_start_reading(c) != 0)
			http_conn_close(c);
	}
}

static void on_written(uv_write_t *req, int status)
{
	struct http_conn *c = HTTP_CONTAINER_OF(req, struct http_conn, write_req);

	if (c->out.cap > OUT_BUFFER_KEEP_BYTES)
		buf_free(&c->out);
	else
		buf_reset(&c->out);
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("http_write_failed", "listener=%s peer=%s error=%s", c->listener->name,
			  c->peer, uv_err_name(status));
		http_conn_close(c);
		return;
	}
	if (c->close_after) {
		conn_linger(c);
		return;
	}
	c->state = HTTP_CONN_IDLE;
	http_conn_set_timer(c, c->listener->config.idle_timeout_ms);
	conn_resume(c);
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct http_conn *c = handle->data;
	struct http_worker *w = c->worker;

	if (--c->handles_open > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->conn_count--;
	free(c->pending);
	buf_free(&c->out);
	free(c);
	http_worker_check_finished(w);
}

static struct http_conn *conn_new(struct http_worker *w, struct http_listener_state *listener)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (uv_tcp_init(&w->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	uv_timer_init(&w->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	c->worker = w;
	c->listener = listener;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	buf_init(&c->out, SIZE_MAX / 2);
	snprintf(c->peer, sizeof(c->peer), "-");
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->conn_count++;
	return c;
}

static void format_peer(struct http_conn *c)
{
	struct sockaddr_storage addr;
	int len = sizeof(addr);
	char ip[INET6_ADDRSTRLEN];

	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) != 0)
		return;
	if (addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;

		uv_ip4_name(in, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(in->sin_port));
	} else if (addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;

		uv_ip6_name(in6, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
	}
}

/* Takes a slot of the listener's connection limit. Returns false if none is free. */
static bool conn_admit(struct http_conn *c)
{
	struct http_listener_state *l = c->listener;
	unsigned open = atomic_fetch_add(&l->open_connections, 1);

	if (open < l->config.max_connections) {
		c->counted = true;
		return true;
	}
	atomic_fetch_sub(&l->open_connections, 1);
	atomic_fetch_add_explicit(&l->rejected_connections, 1, memory_order_relaxed);
	return false;
}

/* Logs rejected connections at most once a second per worker. The metric has the exact count. */
static void log_rejected(struct http_worker *w, const struct http_listener_state *l)
{
	uint64_t now = uv_now(&w->loop);

	w->rejects_unlogged++;
	if (w->reject_log_ms != 0 && now - w->reject_log_ms < 1000)
		return;
	log_warn("http_connections_rejected", "listener=%s worker=%u count=%" PRIu64
		 " max_connections=%u",
		 l->name, w->index, w->rejects_unlogged, l->config.max_connections);
	w->rejects_unlogged = 0;
	w->reject_log_ms = now;
}

/* Sends 503 to a connection over the limit, before reading anything from it. */
static void conn_send_overloaded(struct http_conn *c)
{
	enum i18n_lang lang = i18n_from_accept_language(NULL, 0);
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	json_t *body;
	char *text = NULL;
	size_t length;

	http_request_id_generate(c->worker, request_id, sizeof(request_id));
	body = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", "/problems/too_many_connections",
			 "title", i18n_text(lang, http_status_reason(503)), "status", 503, "detail",
			 i18n_text(lang, N_("The server has too many open connections. Retry later.")),
			 "request_id", request_id);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	if (text == NULL) {
		http_conn_close(c);
		return;
	}
	length = strlen(text);
	http_format_head(&c->out, c->worker, 503, "application/problem+json", &length, request_id, NULL,
			 "Retry-After: 1\r\n", false);
	buf_append(&c->out, text, length);
	free(text);
	c->close_after = true;
	http_conn_send(c);
}

void http_conn_on_connection(uv_stream_t *server, int status)
{
	struct http_worker_listener *wl = HTTP_CONTAINER_OF(server, struct http_worker_listener, tcp);
	struct http_worker *w = wl->worker;
	struct http_conn *c;

	if (status < 0) {
		log_warn("http_accept_failed", "listener=%s error=%s", wl->listener->name,
			 uv_err_name(status));
		return;
	}
	c = conn_new(w, wl->listener);
	if (c == NULL) {
		/* NOTE: libuv stops watching this listener until a later uv_accept(). */
		log_error("http_accept_failed", "listener=%s error=\"out of memory\"",
			  wl->listener->name);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		http_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	format_peer(c);
	if (!conn_admit(c)) {
		log_rejected(w, wl->listener);
		conn_send_overloaded(c);
		return;
	}
	c->state = HTTP_CONN_IDLE;
	http_conn_set_timer(c, c->listener->config.idle_timeout_ms);
	if (conn_start_reading(c) != 0)
		http_conn_close(c);
}

void http_conn_set_timer(struct http_conn *c, uint64_t timeout_ms)
{
	uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
}

void http_conn_send(struct http_conn *c)
{
	uv_buf_t buf;
	int err;

	if (c->out.failed || c->out.len > UINT_MAX) {
		log_error("http_response_failed", "listener=%s peer=%s bytes=%zu", c->listener->name,
			  c->peer, c->out.len);
		http_conn_close(c);
		return;
	}
	buf = uv_buf_init(c->out.data, (unsigned)c->out.len);
	c->state = HTTP_CONN_WRITING;
	conn_stop_reading(c);
	/* A client that takes none of its response for idle_timeout_ms is dropped. */
	http_conn_set_timer(c, c->listener->config.idle_timeout_ms);
	err = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
	if (err != 0) {
		log_debug("http_write_failed", "listener=%s peer=%s error=%s", c->listener->name,
			  c->peer, uv_err_name(err));
		http_conn_close(c);
	}
}

void http_conn_close(struct http_conn *c)
{
	struct http_exchange *ex = c->exchange;

	if (c->closing)
		return;
	c->closing = true;
	c->reading = false;
	/* Released before the socket closes, so a client that sees EOF finds the slot free. */
	if (c->counted) {
		atomic_fetch_sub(&c->listener->open_connections, 1);
		c->counted = false;
	}
	c->exchange = NULL;
	if (ex != NULL) {
		/* A handler still has the request, so http_respond() frees it. */
		if (ex->in_handler)
			ex->req.conn = NULL;
		else
			http_exchange_free(ex);
	}
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void http_conn_begin_shutdown(struct http_conn *c)
{
	if (c->closing || c->state == HTTP_CONN_LINGER)
		return;
	/* A request whose headers are still arriving has not started, so it is dropped rather than waited for. */
	if (c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_HEADERS) {
		http_conn_close(c);
		return;
	}
	c->close_after = true;
}

