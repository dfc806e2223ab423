/*
 * Responses and request helpers: http_respond() and http_respond_json(), the
 * access log, route statistics, request ids, the cached Date header, and
 * header, parameter and query lookups.
 *
 * http_respond() copies head and body into one buffer, hands it to libuv as
 * one uv_write and frees the request before returning. When the connection
 * is already gone, the response is only counted and logged.
 */
#include "store/http/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

#define LOG_PATH_MAX 256

/*
 * Sent on every response of both listeners, API and errors included, so a
 * page can never load script, style, frames or form targets from another
 * origin, even when a response is opened directly in a browser. A node of
 * a cluster sends its own copy with the other nodes' origins added to
 * connect-src, so its pages can fail over to them.
 */
#define SECURITY_HEADERS_HEAD                                                                       \
	"X-Content-Type-Options: nosniff\r\n"                                                       \
	"Content-Security-Policy: default-src 'self'; connect-src 'self'"
#define SECURITY_HEADERS_TAIL                                                                       \
	"; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "             \
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'\r\n"                              \
	"Referrer-Policy: no-referrer\r\n"                                                          \
	"X-Frame-Options: DENY\r\n"                                                                 \
	"Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=(), usb=()\r\n"

const char http_default_security_headers[] = SECURITY_HEADERS_HEAD SECURITY_HEADERS_TAIL;

char *http_security_headers_with_origins(const char *const *origins, size_t count)
{
	struct buf headers;

	buf_init(&headers, 8192);
	buf_append_str(&headers, SECURITY_HEADERS_HEAD);
	for (size_t i = 0; i < count; i++)
		buf_printf(&headers, " %s", origins[i]);
	buf_append_str(&headers, SECURITY_HEADERS_TAIL);
	buf_append(&headers, "", 1);
	if (headers.failed) {
		buf_free(&headers);
		return NULL;
	}
	return headers.data;
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Returns the IMF-fixdate of now, formatted at most once per second per worker. */
static const char *worker_date(struct http_worker *w)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == w->date_second && w->date[0] != '\0')
		return w->date;
	gmtime_r(&now, &tm);
	snprintf(w->date, sizeof(w->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	w->date_second = now;
	return w->date;
}

/* The SplitMix64 finalizer: a bijection, so distinct inputs give distinct outputs. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

static bool request_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static void record_stats(const struct http_exchange *ex, int status, uint64_t duration_us)
{
	struct http_route_stats *stats = ex->req.route != NULL
						 ? ex->req.route->stats
						 : http_router_unmatched_stats(ex->listener->config.router);

	http_route_stats_record(stats, ex->req.method, status, duration_us);
}

/* Writes the access log line; headers are never logged, so no credentials can leak. */
static void log_access(const struct http_exchange *ex, int status, size_t bytes,
		       uint64_t duration_us, bool delivered)
{
	char path[LOG_PATH_MAX];

	log_quote(path, sizeof(path), ex->req.path, ex->req.path_len);
	log_info("http_request",
		 "rid=%s listener=%s method=%s path=%s status=%d bytes=%zu dur_us=%" PRIu64
		 " peer=%s%s",
		 ex->req.request_id, ex->listener->name, ex->method_name, path, status, bytes,
		 duration_us, ex->req.peer, delivered ? "" : " dropped=client_gone");
}

/* Queues the response on c; returns the number of body bytes it sends. */
static size_t queue_response(struct http_conn *c, struct http_exchange *ex,
			     const struct http_response *res, int status)
{
	bool keep_alive = c->keep_alive && !c->close_after && !c->worker->stopping;
	/* RFC 9110 forbids a body for 204 and 304, and Content-Length for 204. */
	bool bodiless_status = status == 204 || status == 304;
	bool send_body = !bodiless_status && ex->req.method != HTTP_METHOD_HEAD;
	size_t length = res->body_len;

	c->exchange = NULL;
	buf_reset(&c->out);
	http_format_head(&c->out, c->worker, status, res->content_type,
			 bodiless_status ? NULL : &length, ex->req.request_id, ex->cors, res->headers,
			 keep_alive);
	if (send_body && res->body_len > 0)
		buf_append(&c->out, res->body, res->body_len);
	if (c->out.failed) {
		log_error("http_response_failed", "rid=%s status=%d bytes=%zu error=\"out of memory\"",
			  ex->req.request_id, status, res->body_len);
		http_conn_close(c);
		return 0;
	}
	c->close_after = !keep_alive;
	http_conn_send(c);
	return send_body ? res->body_len : 0;
}

void http_request_id_generate(struct http_worker *worker, char *out, size_t out_size)
{
	uint64_t n = worker->request_counter++ << 8 | worker->index;

	snprintf(out, out_size, "%016" PRIx64, mix64(n ^ worker->server->request_id_key));
}

bool http_request_id_valid(const char *value, size_t len)
{
	if (len == 0 || len > HTTP_REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!request_id_char(value[i]))
			return false;
	}
	return true;
}

void http_format_head(struct buf *out, struct http_worker *worker, int status,
		      const char *content_type, const size_t *content_length,
		      const char *request_id, const char *cors_headers, const char *extra_headers,
		      bool keep_alive)
{
	const char *security = worker->server->config.security_headers;

	buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_reason(status),
		   worker_date(worker));
	if (content_type != NULL)
		buf_printf(out, "Content-Type: %s\r\n", content_type);
	if (content_length != NULL)
		buf_printf(out, "Content-Length: %zu\r\n", *content_length);
	buf_printf(out, "X-Request-Id: %s\r\n", request_id);
	buf_append_str(out, security != NULL ? security : http_default_security_headers);
	if (cors_headers != NULL && cors_headers[0] != '\0')
		buf_append_str(out, cors_headers);
	if (extra_headers != NULL)
		buf_append_str(out, extra_headers);
	buf_printf(out, "Connection: %s\r\n\r\n", keep_alive ? "keep-alive" : "close");
}

void http_respond(struct http_request *req, const struct http_response *res)
{
	struct http_exchange *ex = HTTP_CONTAINER_OF(req, struct http_exchange, req);
	struct http_conn *c = req->conn;
	struct http_worker *worker = ex->worker;
	uint64_t duration_us = (uv_hrtime() - ex->start_ns) / 1000;
	int status = res->status;
	size_t sent = 0;

	if (status < 200 || status > 599) {
		log_error("http_invalid_status", "rid=%s status=%d", req->request_id, status);
		status = 500;
	}
	record_stats(ex, status, duration_us);
	if (c != NULL)
		sent = queue_response(c, ex, res, status);
	log_access(ex, status, sent, duration_us, c != NULL);
	if (ex->in_handler)
		http_exchange_handler_end(ex);
	http_exchange_free(ex);
	if (c == NULL)
		http_worker_check_finished(worker);
}

void http_respond_json(struct http_request *req, int status, json_t *json, const char *headers)
{
	char *text = json != NULL ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) : NULL;
	struct http_response res = {
		.status = status,
		.content_type = "application/json",
		.headers = headers,
	};

	json_decref(json);
	if (text == NULL) {
		log_error("http_json_encode_failed", "rid=%s status=%d", req->request_id, status);
		http_respond_problem(req, 500, "internal_error", NULL,
				     N_("The response could not be encoded."));
		return;
	}
	res.body = text;
	res.body_len = strlen(text);
	http_respond(req, &res);
	free(text);
}

const char *http_header_get(const struct http_request *req, const char *name, size_t *value_len)
{
	size_t name_len = strlen(name);

	for (size_t i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == name_len && strncasecmp(h->name, name, name_len) == 0) {
			if (value_len != NULL)
				*value_len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

const struct http_param *http_param_get(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->param_count; i++) {
		if (strcmp(req->params[i].name, name) == 0)
			return &req->params[i];
	}
	return NULL;
}

int http_query_get(const struct http_request *req, const char *name, char *out, size_t out_size)
{
	const char *p = req->query, *end = req->query + req->query_len;
	size_t name_len = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pair_end = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pair_end - p));
		const char *key_end = eq != NULL ? eq : pair_end;

		if (http_percent_equals(p, (size_t)(key_end - p), true, name, name_len)) {
			const char *value = eq != NULL ? eq + 1 : pair_end;
			size_t len;

			if (out == NULL || out_size == 0 ||
			    !http_percent_decode(value, (size_t)(pair_end - value), true, out,
						 out_size, &len) ||
			    len > INT32_MAX)
				return -2;
			return (int)len;
		}
		p = pair_end + 1;
	}
	return -1;
}
