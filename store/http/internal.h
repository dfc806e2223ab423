/*
 * Private declarations shared by the HTTP server's source files:
 *   server.c  - listeners, worker threads, graceful shutdown, server metrics
 *   conn.c    - connection state machine: reads, dispatch, writes, timeouts
 *   parse.c   - http-parser callbacks, routing at headers-complete, rejections
 *   respond.c - responses, access log, request ids, header and query helpers
 *   router.c  - route table, matching, per-route statistics
 *   problem.c - problem+json responses and reason phrases
 * Nothing here is part of the public interface in http.h.
 */
#ifndef JKD_STORE_HTTP_INTERNAL_H
#define JKD_STORE_HTTP_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/http/http.h"

/*
 * http_parser.h declares its own enum http_method, which clashes with the
 * one in http.h. The macro renames the http-parser enum while its header is
 * read; the two enums are never mixed (see http_method_from_parser).
 */
#define http_method http_parser_method
#include <http_parser.h>
#undef http_method

#define HTTP_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* More header fields than this in one request get a 431. */
#define HTTP_HEADERS_MAX 64
#define HTTP_CORS_HEADERS_MAX 512 /* the CORS lines of one response, the origin included */
/* Size of the per-worker read buffer, so also the max input kept while a handler runs. */
#define HTTP_READ_BUFFER_BYTES 65536
/* How long a connection drains input after its last response before it closes. */
#define HTTP_LINGER_MS 1000
/* Worker indexes fill the low 8 bits of a generated request id. */
#define HTTP_WORKERS_MAX 256
/* Distinct (method, status) pairs counted per route. Further pairs count as status="other". */
#define HTTP_STATUS_SLOTS 48
#define HTTP_LISTENER_NAME_MAX 32

/* Request counters and latency of one route, updated by every worker without a lock. */
struct http_status_slot {
	_Atomic uint32_t key; /* 0 while free, else ((method + 1) << 16) | status */
	_Atomic uint64_t count;
};

struct http_route_stats {
	struct http_status_slot slots[HTTP_STATUS_SLOTS];
	_Atomic uint64_t overflow[HTTP_METHOD_OTHER + 1]; /* by method, when every slot is taken */
	struct metrics_histogram latency[HTTP_METHOD_OTHER + 1]; /* by method */
};

void http_route_stats_record(struct http_route_stats *stats, enum http_method method, int status,
			     uint64_t duration_us);

/* Statistics of the requests that matched no route, owned by the router. */
struct http_route_stats *http_router_unmatched_stats(const struct http_router *router);

/*
 * Records the listener that serves router, for the listener label of its
 * metrics. A router shared by listeners of different names gets no label.
 */
void http_router_attach_listener(struct http_router *router, const char *listener_name);

/*
 * Decodes %XX escapes (and '+' as a space if plus_is_space) of in[0..len).
 * With out == NULL it only validates and measures. Otherwise it writes the
 * decoded bytes and a NUL into out, which must hold the decoded length + 1.
 * Returns false on a malformed escape or if out is too small.
 */
bool http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t out_size,
			 size_t *out_len);

/* Compares decoded raw[0..raw_len) with text[0..text_len). Malformed escapes never match. */
bool http_percent_equals(const char *raw, size_t raw_len, bool plus_is_space, const char *text,
			 size_t text_len);

/* Returns the English reason phrase of status, or a class name such as "Client Error". */
const char *http_status_reason(int status);

/* http_respond_problem with extra header lines (such as "Allow: GET\r\n") and a va_list. */
void http_respond_problem_va(struct http_request *req, int status, const char *headers,
			     const char *code, const char *field, const char *detail_msgid,
			     va_list args);

enum http_conn_state {
	HTTP_CONN_IDLE,    /* waiting for the first byte of a request */
	HTTP_CONN_HEADERS, /* request line and headers arriving */
	HTTP_CONN_BODY,    /* body arriving */
	HTTP_CONN_HANDLER, /* request complete and no response yet, so nothing is read */
	HTTP_CONN_WRITING, /* response handed to libuv, waiting for the write callback */
	HTTP_CONN_LINGER,  /* last response sent, draining input before closing */
};

/* Reason the server responds to a request itself instead of calling a handler. */
enum http_reject {
	HTTP_REJECT_NONE,
	HTTP_REJECT_BAD_REQUEST,
	HTTP_REJECT_BAD_HEADER_NAME,      /* 400: a field name that is not a token ("Content-Length : 5") */
	HTTP_REJECT_LINE_FOLDING,         /* 400: obsolete line folding in the head */
	HTTP_REJECT_BAD_HOST,             /* 400: Host missing (HTTP/1.1), repeated or malformed */
	HTTP_REJECT_BAD_CHUNK,            /* 400: chunk data not followed by CRLF */
	HTTP_REJECT_HTTP10_TRANSFER_ENCODING, /* 400: Transfer-Encoding in an HTTP/1.0 request */
	HTTP_REJECT_NOT_FOUND,
	HTTP_REJECT_PREFLIGHT,            /* 204: a CORS preflight from an allowed origin (not an error) */
	HTTP_REJECT_METHOD_NOT_ALLOWED,
	HTTP_REJECT_NOT_IMPLEMENTED,      /* 501: a method http-parser parses but no route uses, or CONNECT */
	HTTP_REJECT_UNKNOWN_METHOD,       /* 501: a well-formed method http-parser does not know */
	HTTP_REJECT_TRANSFER_CODING,      /* 501: Transfer-Encoding other than exactly "chunked" */
	HTTP_REJECT_VERSION_NOT_SUPPORTED, /* 505: an HTTP version other than 1.0 and 1.1 */
	HTTP_REJECT_BODY_TOO_LARGE,
	HTTP_REJECT_HEADERS_TOO_LARGE,
	HTTP_REJECT_TOO_MANY_HEADERS,
	HTTP_REJECT_HEADER_TIMEOUT,
	HTTP_REJECT_BODY_TIMEOUT,
	HTTP_REJECT_OUT_OF_MEMORY,
};

enum http_timeout_phase {
	HTTP_TIMEOUT_HEADER,
	HTTP_TIMEOUT_BODY,
	HTTP_TIMEOUT_WRITE,
	HTTP_TIMEOUT_PHASES,
};

/* One configured listener and its counters, shared by all workers. */
struct http_listener_state {
	struct http_listener_config config;
	char name[HTTP_LISTENER_NAME_MAX];
	int port;
	_Atomic unsigned open_connections;
	_Atomic uint64_t rejected_connections;
	_Atomic uint64_t parse_errors;
	_Atomic uint64_t timeouts[HTTP_TIMEOUT_PHASES];
};

struct http_worker;

/* A worker's own listening socket for one listener (SO_REUSEPORT group member). */
struct http_worker_listener {
	uv_tcp_t tcp;
	struct http_worker *worker;
	struct http_listener_state *listener;
	bool open;
};

struct http_conn;

/* Everything a worker thread owns; only that thread touches it after start. */
struct http_worker {
	struct http_server *server;
	unsigned index;
	uv_loop_t loop;
	bool loop_ready;
	uv_thread_t thread;
	bool thread_started;
	uv_async_t stop_async;
	uv_timer_t shutdown_timer;
	struct http_worker_listener listeners[HTTP_LISTENERS_MAX];
	void *worker_data;
	struct http_conn *conns; /* every connection not yet freed, closing ones included */
	unsigned conn_count;
	struct http_exchange *handled; /* requests handed to a handler that has not responded yet */
	unsigned pending_handlers;     /* length of that list */
	bool stopping;
	bool forced;
	bool finished;
	time_t date_second;
	char date[64]; /* IMF-fixdate of date_second */
	uint64_t request_counter;
	uint64_t rejects_unlogged;
	uint64_t reject_log_ms;
	char read_buffer[HTTP_READ_BUFFER_BYTES];
};

struct http_server {
	struct http_server_config config;
	struct http_listener_state listeners[HTTP_LISTENERS_MAX];
	struct http_worker *workers;
	unsigned worker_count;
	uint64_t request_id_key; /* random, so generated ids differ between runs */
};

struct http_header_span {
	size_t name_off;
	size_t name_len;
	size_t value_off;
	size_t value_len;
};

enum http_head_part {
	HTTP_PART_URL,
	HTTP_PART_FIELD,
	HTTP_PART_VALUE,
};

/*
 * One request from its first byte until http_respond() returns. It outlives
 * its connection when the client goes away while a handler still has it.
 */
struct http_exchange {
	struct http_request req; /* req.conn is NULL once the connection is gone */
	struct http_worker *worker;
	struct http_listener_state *listener;
	struct buf head;         /* request target and header fields, NUL after each */
	struct buf body;
	char *scratch;           /* decoded path parameters */
	size_t scratch_size;
	size_t body_max;
	size_t url_len;
	size_t header_count;
	enum http_head_part part;
	bool headers_complete;
	bool value_split;        /* the last value callback ended with the input, so the value may go on */
	bool in_handler;         /* on worker->handled until http_respond() */
	struct http_exchange *handled_prev;
	struct http_exchange *handled_next;
	uint64_t start_ns;
	const char *method_name;
	char allow[96];          /* Allow header value of a 405 */
	char cors[HTTP_CORS_HEADERS_MAX]; /* CORS header lines for an allowed Origin, "" otherwise */
	struct http_header_span spans[HTTP_HEADERS_MAX];
	struct http_header headers[HTTP_HEADERS_MAX];
};

/*
 * Checks that http-parser 2.9 skips when it is built without
 * HTTP_PARSER_STRICT, as Debian builds it: obsolete line folding, which it
 * joins to the previous value, and the two bytes after chunk data, which it
 * takes without looking at them. Offsets count input bytes fed to the parser
 * on one connection.
 */
struct http_framing {
	const char *data;       /* input of the http_parser_execute() call in progress */
	size_t len;
	uint64_t offset;        /* input bytes the parser consumed before data */
	uint64_t crlf_offset;   /* where the CRLF after the last chunk's data must be */
	bool crlf_pending;      /* some of that CRLF has not been seen yet */
	size_t line_len;        /* bytes other than CR in the current head line */
	bool first_line;        /* no request line seen yet in this head */
	bool head_done;         /* the blank line that ends the head was seen */
};

struct http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write_req;
	uv_write_t continue_req;
	uv_shutdown_t shutdown_req;
	http_parser parser;
	struct http_worker *worker;
	struct http_listener_state *listener;
	struct http_conn *prev;
	struct http_conn *next;
	struct http_exchange *exchange;
	enum http_conn_state state;
	enum http_reject reject;
	size_t head_bytes;   /* bytes of the current request line and headers so far */
	struct http_framing framing;
	char *pending;       /* input read behind a complete request */
	size_t pending_off;
	size_t pending_len;
	struct buf out;      /* response being written */
	int handles_open;
	bool counted;        /* counted in listener->open_connections */
	bool reading;
	bool closing;
	bool close_after;    /* close once the current response is written */
	bool keep_alive;     /* what the current request asked for */
	bool continue_busy;  /* a "100 Continue" write is in flight */
	char peer[64];
};

/* conn.c */
void http_conn_on_connection(uv_stream_t *listener, int status);
void http_conn_set_timer(struct http_conn *conn, uint64_t timeout_ms);
void http_conn_send(struct http_conn *conn);
void http_conn_close(struct http_conn *conn);
void http_conn_begin_shutdown(struct http_conn *conn);

/* parse.c */
extern const http_parser_settings http_request_settings;
/* Starts the head checks of a new request. */
void http_framing_begin(struct http_framing *framing);
/*
 * Scans head input for obsolete line folding. Returns the offset in data of
 * the first byte of a folded line, or len if there is none.
 */
size_t http_framing_scan_head(struct http_framing *framing, const char *data, size_t len);
/* Checks input about to be parsed against a pending chunk CRLF. Returns false on a mismatch. */
bool http_framing_check_crlf(struct http_framing *framing, const char *data, size_t len);
/*
 * Returns true if input at which http-parser failed with HPE_INVALID_METHOD
 * still reads as a method token followed by a space (RFC 9110 section 9.1),
 * so the method is only unknown, not malformed.
 */
bool http_method_token_follows(const struct http_conn *conn, const char *at, size_t len);
struct http_exchange *http_exchange_new(struct http_conn *conn);
void http_exchange_free(struct http_exchange *ex);
/* Moves ex onto and off its worker's list of requests a handler holds. */
void http_exchange_handler_begin(struct http_exchange *ex);
void http_exchange_handler_end(struct http_exchange *ex);
void http_respond_reject(struct http_conn *conn);

/* respond.c */
void http_request_id_generate(struct http_worker *worker, char *out, size_t out_size);
bool http_request_id_valid(const char *value, size_t len);
/* cors_headers and extra_headers may be NULL; both are header lines ending in CRLF. */
void http_format_head(struct buf *out, struct http_worker *worker, int status,
		      const char *content_type, const size_t *content_length,
		      const char *request_id, const char *cors_headers, const char *extra_headers,
		      bool keep_alive);

/* server.c */
void http_worker_check_finished(struct http_worker *worker);

#endif
