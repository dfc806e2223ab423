/*
 * Helpers shared by the shop's HTTP handlers (/api/v1). They parse JSON
 * bodies and validate fields, with problem+json errors that name the field.
 * They authenticate a bearer token or a session cookie with its CSRF check.
 * They propose a command and send its JSON result as the response.
 */
#ifndef JKD_STORE_API_H
#define JKD_STORE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/http/http.h"
#include "store/node.h"

enum api_role {
	API_ROLE_ANONYMOUS = 0,
	API_ROLE_CUSTOMER = 1,
	API_ROLE_ADMIN = 2,
};

/* The sender of a request, as found by api_authenticate(). */
struct api_principal {
	enum api_role role;
	uint64_t user_id;                /* 0 for anonymous */
	unsigned char token_hash[32];    /* SHA-256 of the session token */
	bool by_cookie;                  /* the token came in the session cookie */
	char email[256];
	char name[401];
	char csrf[64];                   /* the session's CSRF token */
	uint64_t expires_at_ms;          /* the session's expiry */
	bool signed_session;             /* a signed token made without a majority (signed_session.h) */
};

#define API_SESSION_COOKIE "jkd_session"
#define API_CSRF_HEADER "X-CSRF-Token"

/*
 * Finds the request's session (bearer token first, then the cookie) and
 * fills *who; a request without one is anonymous. If the request needs at
 * least role min_role and does not have it, or presents an unknown or
 * expired token, or is a cookie-authenticated state-changing request
 * without the session's CSRF token, responds 401 or 403 and returns false.
 */
bool api_authenticate(struct http_request *req, enum api_role min_role, struct api_principal *who);

/* Returns true if the Content-Type's media type is media_type (parameters ignored, case-insensitive). */
bool api_content_type_is(struct http_request *req, const char *media_type);

/*
 * Parses the body as a JSON object. Responds 415 if the Content-Type is not
 * JSON, 400 naming "body" if it does not parse or is not an object, and
 * returns NULL; the caller owns the result.
 */
json_t *api_json_body(struct http_request *req);

/*
 * Field readers: each validates one member of obj and on failure responds
 * 400 (or 422) naming the field and returns false. Strings are checked as
 * UTF-8 without control characters (newlines allowed where multiline) and
 * counted in characters.
 */
bool api_string(struct http_request *req, json_t *obj, const char *field, bool required,
		size_t min_chars, size_t max_chars, bool multiline, const char **out);
bool api_integer(struct http_request *req, json_t *obj, const char *field, bool required, int64_t min,
		 int64_t max, int64_t *out);
bool api_boolean(struct http_request *req, json_t *obj, const char *field, bool required, bool *out);

/*
 * Reads path parameter name as an id (a decimal number from 1 to 2^63 - 1).
 * Responds 400 naming the parameter and returns false if it is not one.
 */
bool api_path_id(struct http_request *req, const char *name, uint64_t *out);

/* Finds the value of cookie name in the Cookie header; returns its length, or 0 if absent. */
size_t api_cookie_get(const struct http_request *req, const char *name, const char **value);

/* Counts the characters of valid UTF-8, or returns -1 if s is not valid or has control characters. */
long api_utf8_chars(const char *s, size_t len, bool allow_newlines);

/*
 * Called with the command's outcome on the request's loop; the default
 * (api_done_default) maps the status to HTTP and sends the result JSON.
 */
typedef void (*api_done_fn)(struct http_request *req, enum repl_err err, uint64_t index,
			    struct repl_result *result);

/*
 * Proposes command for the request; done is called once with the outcome.
 * success_status is the HTTP status used by api_done_default on STORE_OK.
 * Returns false after responding if the proposal could not be queued.
 */
bool api_propose(struct http_request *req, const struct buf *command, int success_status, api_done_fn done);

/* Sends the outcome of a command: success_status with the result JSON, or the mapped problem. */
void api_done_default(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result);

/*
 * Responds to the errors of the write path that are the same for every route:
 * 503 with Retry-After (busy, stopping, no quorum, timed out) and 507.
 * Returns false, having sent nothing, for any other error.
 */
bool api_respond_repl_error(struct http_request *req, enum repl_err err);

/* Responds with the problem for a failed command (err != REPL_OK or a non-OK status). */
void api_respond_failure(struct http_request *req, enum repl_err err, const struct repl_result *result);

/*
 * Parses the JSON result of a command for a done callback that edits it
 * before responding (new reference). If the command failed or its result
 * does not parse, responds with the problem and returns NULL.
 */
json_t *api_result_json(struct http_request *req, enum repl_err err, uint64_t index,
			const struct repl_result *result);

/*
 * Returns true if If-None-Match is "*" or lists etag (quotes included),
 * comparing weakly as RFC 9110 prescribes for GET: a W/ prefix is ignored.
 */
bool api_etag_matches(struct http_request *req, const char *etag, size_t etag_len);

/*
 * Sends body as 200 application/json with an ETag hashed from it and the
 * given Cache-Control, or 304 if If-None-Match lists that ETag.
 */
void api_respond_cacheable(struct http_request *req, const char *body, size_t len, const char *cache_control);

/* Same for json (stolen). */
void api_respond_json_cacheable(struct http_request *req, json_t *json, const char *cache_control);

/* Current wall-clock time in milliseconds since the Unix epoch (never used inside apply). */
uint64_t api_now_ms(void);

/* Per-request state kept in req->user_data while a command is in flight. */
struct api_call {
	int success_status;
	api_done_fn done;
	void *extra; /* freed with free() after done */
};

#endif
