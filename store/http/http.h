/*
 * HTTP/1.1 server on libuv and http-parser.
 *
 * Shape: http_server_start() binds every listener once per worker thread
 * (SO_REUSEPORT, so the kernel spreads connections) and runs one libuv loop
 * per worker. A request is parsed completely (headers and body, chunked or
 * not) before its handler runs on the worker's loop thread. Requests on one
 * connection are answered in order (pipelining): while a handler has not
 * responded, the connection reads nothing further.
 *
 * Connection states:
 *
 *   IDLE --first byte--> HEADERS --headers complete--> BODY --complete--> HANDLER
 *     ^                     |                            |                   |
 *     |                     +-- header timeout / 431 ----+-- body timeout ---+--> CLOSING
 *     +------------- response written, keep-alive -------------------------- +
 *
 * Limits, each per listener: header bytes (431), body bytes (413, per route),
 * connections (excess connections get 503 and are closed), header, body and
 * idle timeouts (408 or a silent close when idle). A protocol error gets a
 * 400 problem+json and the connection is closed. So does framing that a
 * proxy in front could read differently (a field name that is not a token,
 * obsolete line folding, a bad Host, a Transfer-Encoding other than
 * "chunked"): 400, or 501 and 505 for what is valid but not supported.
 *
 * Handlers may respond later (after a write was applied, say): they keep the
 * struct http_request pointer and call http_respond() exactly once, on the
 * same worker's loop thread. If the client went away meanwhile the response
 * is dropped and the request freed; the pointer is valid until
 * http_respond() returns.
 *
 * Shutdown (http_server_stop): every worker closes its listeners, closes idle
 * connections, lets requests in progress finish and be answered (with
 * "Connection: close"), then closes the rest after shutdown_timeout_ms.
 * Then it calls worker_stop, even if handlers still hold requests. When the
 * worker's loop has ended, the server frees every request that was never
 * answered, so after worker_stop returns nothing may call http_respond()
 * for that worker (see struct http_server_config).
 */
#ifndef JKD_STORE_HTTP_HTTP_H
#define JKD_STORE_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/i18n.h"
#include "common/metrics.h"

enum http_method {
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_OTHER,
};

const char *http_method_name(enum http_method method);

#define HTTP_PARAMS_MAX 8
#define HTTP_REQUEST_ID_MAX 64

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A path parameter, percent-decoded and NUL-terminated (it may contain NUL bytes itself). */
struct http_param {
	const char *name;
	const char *value;
	size_t value_len;
};

struct http_route;

/*
 * One parsed request. Every pointer here stays valid until http_respond()
 * returns. The handler may set user_data freely.
 */
struct http_request {
	enum http_method method;
	const char *path; /* raw path, no query, NUL-terminated */
	size_t path_len;
	const char *query; /* raw query after '?', NUL-terminated, "" if none */
	size_t query_len;
	const struct http_header *headers;
	size_t header_count;
	const char *body; /* NUL-terminated copy, "" if none */
	size_t body_len;
	struct http_param params[HTTP_PARAMS_MAX];
	size_t param_count;
	char request_id[HTTP_REQUEST_ID_MAX + 1]; /* from X-Request-Id if valid, else generated */
	char peer[64];                            /* client address "ip:port" */
	enum i18n_lang lang;                      /* from Accept-Language */
	const struct http_route *route;           /* NULL only for errors before routing */
	void *route_ctx;                          /* the route's ctx */
	void *worker_data;                        /* what worker_start returned */
	unsigned worker_index;
	void *user_data;
	/* Frees user_data if the server frees the request unanswered after a forced shutdown; may be NULL. */
	void (*user_data_free)(void *user_data);
	struct http_conn *conn; /* private to the server */
};

/* Finds a header by case-insensitive name; returns NULL if absent. */
const char *http_header_get(const struct http_request *req, const char *name, size_t *value_len);

/* Finds a path parameter by name; returns NULL if absent. */
const struct http_param *http_param_get(const struct http_request *req, const char *name);

/*
 * Copies the value of query parameter name, percent-decoded, into out
 * (NUL-terminated). Returns the decoded length, -1 if absent, -2 if it does
 * not fit or is malformed.
 */
int http_query_get(const struct http_request *req, const char *name, char *out, size_t out_size);

struct http_response {
	int status;
	const char *content_type;  /* NULL for no Content-Type */
	const char *headers;       /* extra header lines "Name: value\r\n...", or NULL */
	const void *body;          /* copied before http_respond() returns */
	size_t body_len;
};

/*
 * Sends the response (Content-Length, Date, X-Request-Id, security headers
 * and Connection are added here), writes the access log line and records
 * metrics. Call exactly once per request, on the worker's loop thread.
 * For HEAD requests the body is not sent but Content-Length is.
 */
void http_respond(struct http_request *req, const struct http_response *res);

/* Responds with json serialised compactly as application/json; steals the reference. */
void http_respond_json(struct http_request *req, int status, json_t *json, const char *headers);

/*
 * Responds with an RFC 9457 problem+json body:
 *   {"type": "/problems/<code>", "title": <translated status title>,
 *    "status": status, "detail": <translated detail>, "field": field (if not NULL),
 *    "instance": <request path>, "request_id": ...}
 * detail_msgid is an English message id translated into req->lang, then used
 * as a printf format with the arguments that follow.
 */
void http_respond_problem(struct http_request *req, int status, const char *code,
			  const char *field, const char *detail_msgid, ...) __attribute__((format(printf, 5, 6)));

/* Same, with extra header lines ("WWW-Authenticate: Bearer\r\n") added to the response. */
void http_respond_problem_headers(struct http_request *req, int status, const char *headers,
				  const char *code, const char *field, const char *detail_msgid, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * Same, with detail already worded in req->lang and extension members taken
 * from extra (stolen, may be NULL); members named like a standard one, and
 * "message" (the untranslated message id), are skipped.
 */
void http_respond_problem_with(struct http_request *req, int status, const char *headers, const char *code,
			       const char *field, const char *detail, json_t *extra);

typedef void (*http_handler_fn)(struct http_request *req);

struct http_route_def {
	enum http_method method; /* GET routes also serve HEAD */
	const char *pattern;     /* "/kv/v1/{key}": literal segments and {name} parameters;
				    a final "{name...}" takes the rest of the path */
	http_handler_fn handler;
	void *ctx;
	size_t body_max_bytes;   /* 0: the listener's default */
};

struct http_route_stats;

struct http_route {
	struct http_route_def def;
	struct http_route_stats *stats;
};

struct http_router;

/* Creates an empty router; returns NULL on allocation failure. */
struct http_router *http_router_new(void);
void http_router_free(struct http_router *router);

/* Adds a route. Returns 0, or -1 if the pattern is invalid or the router is full. */
int http_router_add(struct http_router *router, const struct http_route_def *def);

enum http_match {
	HTTP_MATCH_FOUND,
	HTTP_MATCH_NOT_FOUND,          /* 404 */
	HTTP_MATCH_METHOD_NOT_ALLOWED, /* 405, *allow lists the methods, "GET, HEAD" */
};

/*
 * Matches method and path (raw, percent-encoded, without query) against the
 * routes, filling params (decoded) and *route on HTTP_MATCH_FOUND. The
 * decoded parameter values are written into scratch (scratch_size bytes);
 * a path whose decoding does not fit is HTTP_MATCH_NOT_FOUND.
 */
enum http_match http_router_match(const struct http_router *router, enum http_method method,
				  const char *path, size_t path_len, struct http_param *params,
				  size_t *param_count, char *scratch, size_t scratch_size,
				  const struct http_route **route, char *allow, size_t allow_size);

/* Calls visit with the method and pattern of every route, in the order they were added. */
void http_router_each(const struct http_router *router,
		      void (*visit)(enum http_method method, const char *pattern, void *ctx), void *ctx);

/* Writes request counters by route, method and status, and latency histograms by route and method. */
void http_router_write_metrics(const struct http_router *router, struct buf *out);

/* Same for several routers (one per listener) on one page, so each metric's HELP and TYPE appear once. */
void http_routers_write_metrics(const struct http_router *const *routers, size_t router_count,
				struct buf *out);

struct http_listener_config {
	const char *name;           /* "public" or "operator", for logs and metrics */
	const char *host;           /* IPv4 or IPv6 literal */
	int port;
	struct http_router *router; /* borrowed, must outlive the server */
	size_t header_max_bytes;
	size_t body_max_bytes;      /* default for routes that set none */
	unsigned max_connections;   /* across all workers */
	unsigned header_timeout_ms; /* first byte of a request to end of headers */
	unsigned body_timeout_ms;   /* end of headers to end of body */
	unsigned idle_timeout_ms;   /* keep-alive wait for the next request */
	/*
	 * Origins (e.g. "http://10.0.0.2:8080") whose pages may call this
	 * listener from a browser: their requests get CORS headers with
	 * credentials, and their preflight OPTIONS requests get 204. Borrowed;
	 * NULL or empty for none.
	 */
	const char *const *cors_origins;
	size_t cors_origin_count;
};

#define HTTP_LISTENERS_MAX 4

struct http_server_config {
	unsigned workers;
	struct http_listener_config listeners[HTTP_LISTENERS_MAX];
	unsigned listener_count;
	unsigned shutdown_timeout_ms;
	/* Called on each worker thread before it serves; the result becomes req->worker_data. */
	void *(*worker_start)(uv_loop_t *loop, unsigned worker_index, void *ctx);
	/*
	 * Called on each worker thread after its last request was answered or,
	 * once shutdown_timeout_ms has passed, with requests still unanswered.
	 * It must stop every source of later responses (close the inbox that
	 * delivers write results, say): after it returns, only callbacks that
	 * are already pending on the worker's loop may still call
	 * http_respond(), and every request unanswered when the loop ends is
	 * freed by the server (user_data through user_data_free).
	 */
	void (*worker_stop)(void *worker_data, void *ctx);
	/*
	 * Optional; called on the worker thread before each routed request's
	 * handler. Returning false defers the request: the hook then either
	 * responds itself or calls http_request_run_handler() later on the
	 * same thread (after waiting for replication to catch up, say).
	 */
	bool (*before_handler)(struct http_request *req, void *ctx);
	/*
	 * Header lines ("Name: value\r\n") sent on every response instead of
	 * the default security headers; borrowed. NULL keeps the defaults.
	 */
	const char *security_headers;
	void *ctx;
};

/* The security headers sent when http_server_config.security_headers is NULL. */
extern const char http_default_security_headers[];

/*
 * Returns the default security headers with origins added to the CSP's
 * connect-src (malloc'ed; free it), or NULL when out of memory.
 */
char *http_security_headers_with_origins(const char *const *origins, size_t count);

/* Runs the route's handler of a request that before_handler deferred. */
void http_request_run_handler(struct http_request *req);

struct http_server;

/*
 * Binds every listener and starts the workers. Returns 0, or a negative
 * libuv error code (for example UV_EADDRINUSE) with nothing left running.
 */
int http_server_start(const struct http_server_config *config, struct http_server **out);

/* The port listener index is bound to (useful when it was configured as 0). */
int http_server_port(const struct http_server *server, unsigned listener_index);

/* Stops gracefully (see the file comment), joins the workers and frees server. */
void http_server_stop(struct http_server *server);

/* Writes server-wide metrics: open connections, rejected connections, parse errors. */
void http_server_write_metrics(const struct http_server *server, struct buf *out);

#endif
