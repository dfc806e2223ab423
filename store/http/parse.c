/*
 * Request parsing: the http-parser callbacks that turn input into a struct
 * http_exchange, routing at headers-complete (so the route's body limit
 * applies before any body byte is stored), and the problem responses for
 * requests the server rejects itself.
 *
 * The head (request target and header fields) is copied into one buffer
 * with a NUL after each part. Header pointers are fixed once the head is
 * complete, because the buffer may move while it grows.
 *
 * Debian 12 ships http-parser 2.9.4 built only without HTTP_PARSER_STRICT
 * (feeding it such input shows it), so it accepts input that a front proxy
 * may frame differently from this server (request smuggling). The checks
 * here and in conn.c reject such input. They respond 400 to a header field
 * name that is not a token, obsolete line folding, a missing, repeated or
 * malformed Host, Transfer-Encoding in HTTP/1.0 and chunk data not followed
 * by CRLF. A Transfer-Encoding other than exactly "chunked" gets 501, and
 * an HTTP version other than 1.0 and 1.1 gets 505.
 */
#include "store/http/internal.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char continue_response[] = "HTTP/1.1 100 Continue\r\n\r\n";

static enum http_method method_from_parser(unsigned method)
{
	switch (method) {
	case HTTP_GET:
		return HTTP_METHOD_GET;
	case HTTP_HEAD:
		return HTTP_METHOD_HEAD;
	case HTTP_POST:
		return HTTP_METHOD_POST;
	case HTTP_PUT:
		return HTTP_METHOD_PUT;
	case HTTP_PATCH:
		return HTTP_METHOD_PATCH;
	case HTTP_DELETE:
		return HTTP_METHOD_DELETE;
	case HTTP_OPTIONS:
		return HTTP_METHOD_OPTIONS;
	default:
		return HTTP_METHOD_OTHER;
	}
}

static void respond_problem(struct http_request *req, int status, const char *headers,
			    const char *code, const char *detail_msgid, ...)
{
	va_list args;

	va_start(args, detail_msgid);
	http_respond_problem_va(req, status, headers, code, NULL, detail_msgid, args);
	va_end(args);
}

/* Responds to a CORS preflight from an allowed origin with the methods the path takes. */
static void respond_preflight(struct http_request *req, const struct http_exchange *ex)
{
	char headers[384];
	struct http_response res = {.status = 204, .headers = headers};

	snprintf(headers, sizeof(headers),
		 "Access-Control-Allow-Methods: %s\r\n"
		 "Access-Control-Allow-Headers: Content-Type, X-CSRF-Token, Idempotency-Key, X-Cart-Token, "
		 "X-Jkd-Min-Index, X-Jkd-Consistency, If-Match, If-None-Match, Accept-Language\r\n"
		 "Access-Control-Max-Age: 600\r\n",
		 ex->allow);
	http_respond(req, &res);
}

static int fail_parse(struct http_conn *c, enum http_reject reason)
{
	c->reject = reason;
	return -1;
}

/* Appends the NUL that ends the request target, a header name or a value. */
static bool head_end_part(struct http_exchange *ex)
{
	if (ex->part == HTTP_PART_URL)
		ex->url_len = ex->head.len;
	return buf_append(&ex->head, "", 1);
}

/* Sets the query of an absolute form without a path ("http://h?b"), whose path is "/". */
static void set_rootless_query(struct http_exchange *ex, char *target, const struct http_parser_url *url)
{
	ex->req.path = "/";
	ex->req.path_len = 1;
	if (!(url->field_set & (1 << UF_QUERY)))
		return;
	ex->req.query = target + url->field_data[UF_QUERY].off;
	ex->req.query_len = url->field_data[UF_QUERY].len;
	target[url->field_data[UF_QUERY].off + url->field_data[UF_QUERY].len] = '\0';
}

/*
 * Splits the request target into path and query, NUL-terminating both in
 * place. Accepts origin form ("/a?b"), absolute form ("http://h/a?b", and
 * "http://h" as "/") and "*".
 */
static int split_target(struct http_exchange *ex)
{
	char *path = ex->head.data;
	char *query;
	size_t path_len;

	if (ex->url_len == 0)
		return -1;
	if (path[0] != '/' && strcmp(path, "*") != 0) {
		struct http_parser_url url;

		http_parser_url_init(&url);
		if (http_parser_parse_url(path, ex->url_len, 0, &url) != 0 ||
		    !(url.field_set & (1 << UF_HOST)))
			return -1;
		if (!(url.field_set & (1 << UF_PATH))) {
			set_rootless_query(ex, path, &url);
			return 0;
		}
		path += url.field_data[UF_PATH].off;
	}
	path_len = strcspn(path, "?#");
	if (path[path_len] == '?') {
		query = path + path_len + 1;
		ex->req.query_len = strcspn(query, "#");
		query[ex->req.query_len] = '\0';
		ex->req.query = query;
	}
	path[path_len] = '\0';
	ex->req.path = path;
	ex->req.path_len = path_len;
	return 0;
}

/* RFC 9110 section 5.6.2: the characters of a token, such as a field name or a method. */
static bool is_token_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* RFC 3986 section 3.2: the characters of a host (name, IP literal) and port. */
static bool is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("-._~%!$&'()*+,;=:[]", ch) != NULL);
}

/* Counts the fields named name and returns the last one's value (NULL if none). */
static const char *header_find_all(const struct http_request *req, const char *name, size_t *count,
				   size_t *value_len)
{
	size_t name_len = strlen(name);
	const char *value = NULL;

	*count = 0;
	for (size_t i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];

		if (h->name_len == name_len && strncasecmp(h->name, name, name_len) == 0) {
			(*count)++;
			value = h->value;
			*value_len = h->value_len;
		}
	}
	return value;
}

/* RFC 9112 section 3.2: one Host field in HTTP/1.1, at most one in HTTP/1.0, a valid authority. */
static enum http_reject check_host(const struct http_request *req, const http_parser *parser)
{
	size_t count, len = 0;
	const char *host = header_find_all(req, "Host", &count, &len);

	if (count == 0)
		return parser->http_minor >= 1 ? HTTP_REJECT_BAD_HOST : HTTP_REJECT_NONE;
	if (count > 1)
		return HTTP_REJECT_BAD_HOST;
	for (size_t i = 0; i < len; i++) {
		if (!is_host_char(host[i]))
			return HTTP_REJECT_BAD_HOST;
	}
	return HTTP_REJECT_NONE;
}

/*
 * Only "chunked" alone is supported: http-parser 2.9 takes "gzip, chunked"
 * as chunked and would pass a still-encoded body on. HTTP/1.0 has no
 * Transfer-Encoding (RFC 9112 section 6.1), so a proxy may frame it otherwise.
 */
static enum http_reject check_transfer_encoding(const struct http_request *req, const http_parser *parser)
{
	size_t count, len = 0;
	const char *coding = header_find_all(req, "Transfer-Encoding", &count, &len);

	if (count == 0)
		return HTTP_REJECT_NONE;
	if (parser->http_minor == 0)
		return HTTP_REJECT_HTTP10_TRANSFER_ENCODING;
	if (count > 1 || len != 7 || strncasecmp(coding, "chunked", 7) != 0)
		return HTTP_REJECT_TRANSFER_CODING;
	return HTTP_REJECT_NONE;
}

/* Checks what decides how the request is framed. Returns why it is rejected, or HTTP_REJECT_NONE. */
static enum http_reject check_framing(const struct http_request *req, const http_parser *parser)
{
	enum http_reject reason;

	if (parser->http_major != 1 || parser->http_minor > 1)
		return HTTP_REJECT_VERSION_NOT_SUPPORTED;
	reason = check_host(req, parser);
	if (reason == HTTP_REJECT_NONE)
		reason = check_transfer_encoding(req, parser);
	return reason;
}

/*
 * Fixes the header pointers once the head is complete, reads the headers the
 * server uses and checks the framing. Returns 0, or -1 after fail_parse().
 */
static int finish_head(struct http_conn *c, struct http_exchange *ex)
{
	char *head = ex->head.data;
	struct http_request *req = &ex->req;
	enum http_reject reason;
	bool target_valid;
	const char *value;
	size_t len;

	for (size_t i = 0; i < ex->header_count; i++) {
		struct http_header_span *s = &ex->spans[i];

		/* http-parser drops whitespace before a value but may keep it after. */
		while (s->value_len > 0 && (head[s->value_off + s->value_len - 1] == ' ' ||
					    head[s->value_off + s->value_len - 1] == '\t'))
			head[s->value_off + --s->value_len] = '\0';
		ex->headers[i] = (struct http_header){head + s->name_off, s->name_len,
						      head + s->value_off, s->value_len};
	}
	req->headers = ex->headers;
	req->header_count = ex->header_count;

	value = http_header_get(req, "X-Request-Id", &len);
	if (value != NULL && http_request_id_valid(value, len)) {
		memcpy(req->request_id, value, len);
		req->request_id[len] = '\0';
	}
	value = http_header_get(req, "Accept-Language", &len);
	req->lang = i18n_from_accept_language(value, value != NULL ? len : 0);
	req->method = method_from_parser(c->parser.method);
	ex->method_name = http_method_str(c->parser.method);
	target_valid = split_target(ex) == 0;

	reason = check_framing(req, &c->parser);
	/* CONNECT's authority form ("host:443") has no path, and its 501 needs none. */
	if (reason == HTTP_REJECT_NONE && !target_valid && req->method != HTTP_METHOD_OTHER)
		reason = HTTP_REJECT_BAD_REQUEST;
	if (reason != HTTP_REJECT_NONE)
		return fail_parse(c, reason);

	/* Decoded parameters are never longer than the path, plus a NUL each. */
	ex->scratch_size = req->path_len + HTTP_PARAMS_MAX + 1;
	ex->scratch = malloc(ex->scratch_size);
	if (ex->scratch == NULL)
		return fail_parse(c, HTTP_REJECT_OUT_OF_MEMORY);
	return 0;
}

static bool request_has_body(const http_parser *parser)
{
	return (parser->flags & F_CHUNKED) ||
	       (parser->content_length > 0 && parser->content_length != ULLONG_MAX);
}

/* Routes the request. Returns why the server must respond to it itself, or HTTP_REJECT_NONE. */
/*
 * Fills ex->cors when the request's Origin is one the listener allows
 * (RFC 6454 serialisation, compared exactly), so every response to it,
 * errors included, lets that page read it with credentials.
 */
static void cors_prepare(struct http_exchange *ex, const struct http_listener_config *cfg)
{
	size_t len;
	const char *origin;

	ex->cors[0] = '\0';
	if (cfg->cors_origin_count == 0)
		return;
	origin = http_header_get(&ex->req, "Origin", &len);
	if (origin == NULL)
		return;
	for (size_t i = 0; i < cfg->cors_origin_count; i++) {
		if (strlen(cfg->cors_origins[i]) != len || memcmp(cfg->cors_origins[i], origin, len) != 0)
			continue;
		snprintf(ex->cors, sizeof(ex->cors),
			 "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\n"
			 "Access-Control-Expose-Headers: X-Jkd-Applied-Index, X-Cart-Token, X-Request-Id, ETag, "
			 "Location, Retry-After\r\nVary: Origin\r\n",
			 cfg->cors_origins[i]);
		return;
	}
}

static enum http_reject route_request(struct http_conn *c, struct http_exchange *ex,
				      const http_parser *parser)
{
	struct http_request *req = &ex->req;
	const struct http_listener_config *cfg = &c->listener->config;
	const struct http_route *route;
	enum http_match match;

	cors_prepare(ex, cfg);
	if (req->method == HTTP_METHOD_OTHER)
		return HTTP_REJECT_NOT_IMPLEMENTED;
	match = http_router_match(cfg->router, req->method, req->path, req->path_len, req->params,
				  &req->param_count, ex->scratch, ex->scratch_size, &route, ex->allow,
				  sizeof(ex->allow));
	if (match == HTTP_MATCH_NOT_FOUND)
		return HTTP_REJECT_NOT_FOUND;
	if (match == HTTP_MATCH_METHOD_NOT_ALLOWED && req->method == HTTP_METHOD_OPTIONS && ex->cors[0] != '\0')
		return HTTP_REJECT_PREFLIGHT;
	if (match == HTTP_MATCH_METHOD_NOT_ALLOWED)
		return HTTP_REJECT_METHOD_NOT_ALLOWED;

	req->route = route;
	req->route_ctx = route->def.ctx;
	ex->body_max = route->def.body_max_bytes != 0 ? route->def.body_max_bytes
						      : cfg->body_max_bytes;
	buf_init(&ex->body, ex->body_max);
	if (!(parser->flags & F_CHUNKED) && parser->content_length != ULLONG_MAX &&
	    parser->content_length > ex->body_max)
		return HTTP_REJECT_BODY_TOO_LARGE;
	return HTTP_REJECT_NONE;
}

static void on_continue_written(uv_write_t *req, int status)
{
	struct http_conn *c = HTTP_CONTAINER_OF(req, struct http_conn, continue_req);

	/* A failed write shows up again on the next read or write of the connection. */
	(void)status;
	c->continue_busy = false;
}

/* Sends "100 Continue" to an HTTP/1.1 client that waits for it before sending the body. */
static void maybe_send_continue(struct http_conn *c, const struct http_exchange *ex,
				const http_parser *parser)
{
	uv_buf_t buf = uv_buf_init((char *)continue_response, sizeof(continue_response) - 1);
	size_t len;
	const char *expect = http_header_get(&ex->req, "Expect", &len);

	if (expect == NULL || len != 12 || strncasecmp(expect, "100-continue", 12) != 0)
		return;
	if (parser->http_major != 1 || parser->http_minor < 1 || c->continue_busy)
		return;
	if (uv_write(&c->continue_req, (uv_stream_t *)&c->tcp, &buf, 1, on_continue_written) == 0)
		c->continue_busy = true;
}

static int on_message_begin(http_parser *parser)
{
	struct http_conn *c = parser->data;

	c->reject = HTTP_REJECT_NONE;
	if (http_exchange_new(c) == NULL)
		return fail_parse(c, HTTP_REJECT_OUT_OF_MEMORY);
	c->state = HTTP_CONN_HEADERS;
	http_conn_set_timer(c, c->listener->config.header_timeout_ms);
	return 0;
}

static int on_url(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *c = parser->data;

	if (!buf_append(&c->exchange->head, at, len))
		return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
	return 0;
}

static int on_header_field(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *c = parser->data;
	struct http_exchange *ex = c->exchange;

	/* Trailer fields after a chunked body are read and ignored. */
	if (ex->headers_complete)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_token_char(at[i]))
			return fail_parse(c, HTTP_REJECT_BAD_HEADER_NAME);
	}
	if (ex->part != HTTP_PART_FIELD) {
		if (ex->header_count == HTTP_HEADERS_MAX)
			return fail_parse(c, HTTP_REJECT_TOO_MANY_HEADERS);
		if (!head_end_part(ex))
			return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
		ex->spans[ex->header_count++] = (struct http_header_span){.name_off = ex->head.len};
		ex->part = HTTP_PART_FIELD;
	}
	if (!buf_append(&ex->head, at, len))
		return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
	ex->spans[ex->header_count - 1].name_len += len;
	return 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *c = parser->data;
	struct http_exchange *ex = c->exchange;

	if (ex->headers_complete)
		return 0;
	if (ex->part != HTTP_PART_VALUE) {
		if (!head_end_part(ex))
			return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
		ex->spans[ex->header_count - 1].value_off = ex->head.len;
		ex->part = HTTP_PART_VALUE;
	}
	if (!buf_append(&ex->head, at, len))
		return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
	ex->spans[ex->header_count - 1].value_len += len;
	/* A call that ends before the end of the input stopped at the value's CR, so the value is whole. */
	ex->value_split = at + len == c->framing.data + c->framing.len;
	return 0;
}

static int on_headers_complete(http_parser *parser)
{
	struct http_conn *c = parser->data;
	struct http_exchange *ex = c->exchange;

	/* A name without a value callback still gets an empty, NUL-terminated value. */
	if (ex->part == HTTP_PART_FIELD && on_header_value(parser, "", 0) != 0)
		return -1;
	if (!head_end_part(ex))
		return fail_parse(c, HTTP_REJECT_HEADERS_TOO_LARGE);
	ex->headers_complete = true;
	c->keep_alive = http_should_keep_alive(parser) != 0;
	if (finish_head(c, ex) != 0)
		return -1;
	c->reject = route_request(c, ex, parser);
	if (c->reject != HTTP_REJECT_NONE) {
		/*
		 * Without a body the problem is sent at message end and the connection
		 * stays open. With a body (or a CONNECT tunnel) it is sent now, unread
		 * input and all, and the connection closes.
		 */
		return request_has_body(parser) || parser->upgrade ? -1 : 0;
	}
	if (request_has_body(parser)) {
		c->state = HTTP_CONN_BODY;
		http_conn_set_timer(c, c->listener->config.body_timeout_ms);
		maybe_send_continue(c, ex, parser);
	}
	return 0;
}

/*
 * Notes where chunk data ends, so the two bytes after it must be CRLF, and
 * checks those already in the input. Returns false on a mismatch.
 */
static bool chunk_data_ended(struct http_conn *c, const char *end)
{
	struct http_framing *f = &c->framing;

	f->crlf_offset = f->offset + (uint64_t)(end - f->data);
	f->crlf_pending = true;
	return http_framing_check_crlf(f, f->data, f->len);
}

static int on_body(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *c = parser->data;

	/* http-parser calls on_body with the chunk's last bytes once the remaining length is 0. */
	if ((parser->flags & F_CHUNKED) && parser->content_length == 0 && !chunk_data_ended(c, at + len))
		return fail_parse(c, HTTP_REJECT_BAD_CHUNK);
	/* The buffer's limit is the route's body limit, which catches chunked bodies. */
	if (!buf_append(&c->exchange->body, at, len))
		return fail_parse(c, HTTP_REJECT_BODY_TOO_LARGE);
	return 0;
}

static int on_message_complete(http_parser *parser)
{
	struct http_conn *c = parser->data;

	c->state = HTTP_CONN_HANDLER;
	c->head_bytes = 0;
	/* http_parser_execute() returns right after this message, and the rest waits. */
	http_parser_pause(parser, 1);
	return 0;
}

const http_parser_settings http_request_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_framing_begin(struct http_framing *f)
{
	f->crlf_pending = false;
	f->line_len = 0;
	f->first_line = true;
	f->head_done = false;
}

/*
 * A head line that starts with a space or tab continues the previous field
 * value (obs-fold, RFC 9112 section 5.2), which a server must reject or
 * replace. Empty lines before the request line are skipped, as
 * http-parser skips them, and the first empty line after it ends the head.
 */
size_t http_framing_scan_head(struct http_framing *f, const char *data, size_t len)
{
	for (size_t i = 0; i < len && !f->head_done; i++) {
		char ch = data[i];

		if (ch == '\n') {
			if (f->line_len == 0 && !f->first_line)
				f->head_done = true;
			if (f->line_len > 0)
				f->first_line = false;
			f->line_len = 0;
		} else if (ch != '\r') {
			if (f->line_len == 0 && !f->first_line && (ch == ' ' || ch == '\t'))
				return i;
			f->line_len++;
		}
	}
	return len;
}

bool http_framing_check_crlf(struct http_framing *f, const char *data, size_t len)
{
	static const char crlf[2] = "\r\n";

	if (!f->crlf_pending)
		return true;
	for (uint64_t i = 0; i < 2; i++) {
		uint64_t at = f->crlf_offset + i;

		if (at >= f->offset && at < f->offset + len && data[at - f->offset] != crlf[i])
			return false;
	}
	f->crlf_pending = f->crlf_offset + 2 > f->offset + len;
	return true;
}

bool http_method_token_follows(const struct http_conn *c, const char *at, size_t len)
{
	/* The parser calls on_message_begin at the first letter it takes for a method. */
	bool have_prefix = c->state == HTTP_CONN_HEADERS;
	size_t i = 0;

	while (i < len && is_token_char(at[i]))
		i++;
	if (i == 0 && !have_prefix)
		return false;
	return i == len || at[i] == ' ';
}

struct http_exchange *http_exchange_new(struct http_conn *c)
{
	struct http_worker *w = c->worker;
	struct http_exchange *ex = calloc(1, sizeof(*ex));

	if (ex == NULL)
		return NULL;
	ex->worker = w;
	ex->listener = c->listener;
	ex->start_ns = uv_hrtime();
	ex->method_name = "-";
	/* The stored head is never longer than the raw one, plus one NUL per part. */
	buf_init(&ex->head, c->listener->config.header_max_bytes + 2 * HTTP_HEADERS_MAX + 2);
	buf_init(&ex->body, 0);
	ex->req.method = HTTP_METHOD_OTHER;
	ex->req.path = "";
	ex->req.query = "";
	ex->req.body = "";
	ex->req.lang = i18n_from_accept_language(NULL, 0);
	http_request_id_generate(w, ex->req.request_id, sizeof(ex->req.request_id));
	memcpy(ex->req.peer, c->peer, sizeof(ex->req.peer));
	ex->req.worker_data = w->worker_data;
	ex->req.worker_index = w->index;
	ex->req.conn = c;
	c->exchange = ex;
	return ex;
}

void http_exchange_handler_begin(struct http_exchange *ex)
{
	struct http_worker *w = ex->worker;

	assert(!ex->in_handler);
	ex->in_handler = true;
	ex->handled_prev = NULL;
	ex->handled_next = w->handled;
	if (w->handled != NULL)
		w->handled->handled_prev = ex;
	w->handled = ex;
	w->pending_handlers++;
}

void http_exchange_handler_end(struct http_exchange *ex)
{
	struct http_worker *w = ex->worker;

	assert(ex->in_handler);
	if (ex->handled_prev != NULL)
		ex->handled_prev->handled_next = ex->handled_next;
	else
		w->handled = ex->handled_next;
	if (ex->handled_next != NULL)
		ex->handled_next->handled_prev = ex->handled_prev;
	ex->in_handler = false;
	w->pending_handlers--;
}

void http_exchange_free(struct http_exchange *ex)
{
	buf_free(&ex->head);
	buf_free(&ex->body);
	free(ex->scratch);
	free(ex);
}

/*
 * Returns the language for an error sent before the head was complete: from
 * an Accept-Language field already received whole, else the default. The
 * last field may still be arriving unless its value ended at a CR.
 */
static enum i18n_lang early_lang(const struct http_exchange *ex)
{
	static const char name[] = "Accept-Language";

	for (size_t i = 0; i < ex->header_count; i++) {
		const struct http_header_span *s = &ex->spans[i];
		bool last = i + 1 == ex->header_count;

		if (last && (ex->part != HTTP_PART_VALUE || ex->value_split))
			break;
		if (s->name_len == sizeof(name) - 1 &&
		    strncasecmp(ex->head.data + s->name_off, name, sizeof(name) - 1) == 0)
			return i18n_from_accept_language(ex->head.data + s->value_off, s->value_len);
	}
	return i18n_from_accept_language(NULL, 0);
}

/* Responds to the framing errors of c->reject. Returns false if c->reject is not one. */
static bool respond_framing_reject(struct http_conn *c, struct http_request *req)
{
	switch (c->reject) {
	case HTTP_REJECT_BAD_HEADER_NAME:
		respond_problem(req, 400, NULL, "bad_request",
				N_("A header field name contains a character that is not allowed, such as a space before the colon."));
		return true;
	case HTTP_REJECT_LINE_FOLDING:
		respond_problem(req, 400, NULL, "bad_request",
				N_("A header field value continues on the next line (obsolete line folding). Send each field on one line."));
		return true;
	case HTTP_REJECT_BAD_HOST:
		http_respond_problem(req, 400, "bad_request", "Host",
				     N_("The request needs exactly one Host header field with a valid host and optional port."));
		return true;
	case HTTP_REJECT_BAD_CHUNK:
		respond_problem(req, 400, NULL, "bad_request",
				N_("The chunked body is malformed: chunk data must end with CRLF."));
		return true;
	case HTTP_REJECT_HTTP10_TRANSFER_ENCODING:
		http_respond_problem(req, 400, "bad_request", "Transfer-Encoding",
				     N_("HTTP/1.0 requests must not use Transfer-Encoding. Send Content-Length or use HTTP/1.1."));
		return true;
	case HTTP_REJECT_TRANSFER_CODING:
		http_respond_problem(req, 501, "not_implemented", "Transfer-Encoding",
				     N_("Only the chunked transfer coding is supported. Send Content-Length or Transfer-Encoding: chunked."));
		return true;
	case HTTP_REJECT_VERSION_NOT_SUPPORTED:
		respond_problem(req, 505, NULL, "http_version_not_supported",
				N_("HTTP version %u.%u is not supported. Use HTTP/1.1."),
				(unsigned)c->parser.http_major, (unsigned)c->parser.http_minor);
		return true;
	default:
		return false;
	}
}

/* Responds to the current request with the problem that c->reject names. */
void http_respond_reject(struct http_conn *c)
{
	struct http_exchange *ex = c->exchange;
	struct http_request *req = &ex->req;
	const struct http_listener_config *cfg = &c->listener->config;
	char allow[sizeof(ex->allow) + 16];

	if (!ex->headers_complete)
		req->lang = early_lang(ex);
	if (respond_framing_reject(c, req))
		return;
	switch (c->reject) {
	case HTTP_REJECT_PREFLIGHT:
		respond_preflight(req, ex);
		break;
	case HTTP_REJECT_NOT_FOUND:
		respond_problem(req, 404, NULL, "not_found", N_("No resource exists at this path."));
		break;
	case HTTP_REJECT_METHOD_NOT_ALLOWED:
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", ex->allow);
		respond_problem(req, 405, allow, "method_not_allowed",
				N_("The method %s is not allowed for this resource."), ex->method_name);
		break;
	case HTTP_REJECT_NOT_IMPLEMENTED:
		respond_problem(req, 501, NULL, "not_implemented",
				N_("The method %s is not supported."), ex->method_name);
		break;
	case HTTP_REJECT_UNKNOWN_METHOD:
		respond_problem(req, 501, NULL, "not_implemented", N_("The request method is not supported."));
		break;
	case HTTP_REJECT_BODY_TOO_LARGE:
		respond_problem(req, 413, NULL, "body_too_large",
				N_("The request body exceeds the limit of %zu bytes."), ex->body_max);
		break;
	case HTTP_REJECT_HEADERS_TOO_LARGE:
		respond_problem(req, 431, NULL, "headers_too_large",
				N_("The request line and headers exceed the limit of %zu bytes."),
				cfg->header_max_bytes);
		break;
	case HTTP_REJECT_TOO_MANY_HEADERS:
		respond_problem(req, 431, NULL, "headers_too_large",
				N_("The request has more than %d header fields."), HTTP_HEADERS_MAX);
		break;
	case HTTP_REJECT_HEADER_TIMEOUT:
		respond_problem(req, 408, NULL, "request_timeout",
				N_("The request headers did not arrive within %u ms."),
				cfg->header_timeout_ms);
		break;
	case HTTP_REJECT_BODY_TIMEOUT:
		respond_problem(req, 408, NULL, "request_timeout",
				N_("The request body did not arrive within %u ms."), cfg->body_timeout_ms);
		break;
	default:
		respond_problem(req, 400, NULL, "bad_request", N_("The request is not valid HTTP/1.1."));
		break;
	}
}
