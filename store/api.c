/* Helpers shared by the shop's HTTP handlers; see api.h. */
#include "store/api.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "store/accounts.h"
#include "store/node.h"
#include "store/signed_session.h"

uint64_t api_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

long api_utf8_chars(const char *s, size_t len, bool allow_newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t extra;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
				return -1;
			i++;
			chars++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			extra = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3;
			cp = c & 0x07;
		} else {
			return -1;
		}
		if (i + extra >= len + 1 || len - i <= extra)
			return -1;
		for (size_t k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return -1;
		i += extra + 1;
		chars++;
	}
	return chars;
}

bool api_content_type_is(struct http_request *req, const char *media_type)
{
	size_t len, n = strlen(media_type);
	const char *type = http_header_get(req, "Content-Type", &len);

	/* The media type ends at its parameters (";charset=utf-8") or white space. */
	if (type == NULL || len < n || strncasecmp(type, media_type, n) != 0)
		return false;
	return len == n || type[n] == ';' || type[n] == ' ' || type[n] == '\t';
}

json_t *api_json_body(struct http_request *req)
{
	json_error_t error;
	json_t *body;

	if (!api_content_type_is(req, "application/json")) {
		http_respond_problem(req, 415, "unsupported_media_type", "Content-Type",
				     "The request body must be JSON, sent with Content-Type: application/json.");
		return NULL;
	}
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &error);
	if (body == NULL) {
		http_respond_problem(req, 400, "invalid_json", "body", "Invalid JSON at line %d, column %d.", error.line,
				     error.column);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		http_respond_problem(req, 400, "invalid_json", "body", "The request body must be a JSON object.");
		return NULL;
	}
	return body;
}

bool api_string(struct http_request *req, json_t *obj, const char *field, bool required, size_t min_chars,
		size_t max_chars, bool multiline, const char **out)
{
	json_t *value = json_object_get(obj, field);
	long chars;

	*out = NULL;
	if (value == NULL || json_is_null(value)) {
		if (!required)
			return true;
		http_respond_problem(req, 400, "missing_field", field, "The field %s is required.", field);
		return false;
	}
	if (!json_is_string(value)) {
		http_respond_problem(req, 400, "invalid_field", field, "The field %s must be a string.", field);
		return false;
	}
	chars = api_utf8_chars(json_string_value(value), json_string_length(value), multiline);
	if (chars < 0) {
		http_respond_problem(req, 400, "invalid_field", field,
				     "The field %s contains control characters or invalid text.", field);
		return false;
	}
	if ((size_t)chars < min_chars || (size_t)chars > max_chars) {
		http_respond_problem(req, 400, "invalid_field", field,
				     "The field %s must have between %zu and %zu characters.", field, min_chars,
				     max_chars);
		return false;
	}
	*out = json_string_value(value);
	return true;
}

bool api_integer(struct http_request *req, json_t *obj, const char *field, bool required, int64_t min,
		 int64_t max, int64_t *out)
{
	json_t *value = json_object_get(obj, field);

	if (value == NULL || json_is_null(value)) {
		if (!required)
			return true;
		http_respond_problem(req, 400, "missing_field", field, "The field %s is required.", field);
		return false;
	}
	if (!json_is_integer(value) || json_integer_value(value) < min || json_integer_value(value) > max) {
		http_respond_problem(req, 400, "invalid_field", field,
				     "The field %s must be a whole number from %lld to %lld.", field, (long long)min,
				     (long long)max);
		return false;
	}
	*out = json_integer_value(value);
	return true;
}

bool api_boolean(struct http_request *req, json_t *obj, const char *field, bool required, bool *out)
{
	json_t *value = json_object_get(obj, field);

	if (value == NULL || json_is_null(value)) {
		if (!required)
			return true;
		http_respond_problem(req, 400, "missing_field", field, "The field %s is required.", field);
		return false;
	}
	if (!json_is_boolean(value)) {
		http_respond_problem(req, 400, "invalid_field", field, "The field %s must be true or false.", field);
		return false;
	}
	*out = json_is_true(value);
	return true;
}

bool api_path_id(struct http_request *req, const char *name, uint64_t *out)
{
	const struct http_param *param = http_param_get(req, name);
	uint64_t value = 0;
	size_t i;

	for (i = 0; param != NULL && i < param->value_len && i < 19; i++) {
		if (param->value[i] < '0' || param->value[i] > '9')
			break;
		value = value * 10 + (uint64_t)(param->value[i] - '0');
	}
	if (param == NULL || i == 0 || i != param->value_len || value == 0 || value > INT64_MAX) {
		http_respond_problem(req, 400, "invalid_field", name,
				     "The path segment %s must be a whole number from 1 to %lld.", name,
				     (long long)INT64_MAX);
		return false;
	}
	*out = value;
	return true;
}

size_t api_cookie_get(const struct http_request *req, const char *name, const char **value)
{
	size_t len, name_len = strlen(name);
	const char *header = http_header_get(req, "Cookie", &len);
	size_t i = 0;

	while (header != NULL && i < len) {
		size_t start, end;

		while (i < len && (header[i] == ' ' || header[i] == ';'))
			i++;
		start = i;
		while (i < len && header[i] != ';')
			i++;
		end = i;
		if (end - start > name_len && memcmp(header + start, name, name_len) == 0 &&
		    header[start + name_len] == '=') {
			*value = header + start + name_len + 1;
			return end - start - name_len - 1;
		}
	}
	return 0;
}

bool api_etag_matches(struct http_request *req, const char *etag, size_t etag_len)
{
	size_t len;
	const char *header = http_header_get(req, "If-None-Match", &len);
	size_t i = 0;

	while (header != NULL && i < len) {
		size_t start, end;

		while (i < len && (header[i] == ' ' || header[i] == ','))
			i++;
		/* Weak comparison (RFC 9110, 13.1.2): a W/ prefix does not matter here. */
		if (i + 2 <= len && header[i] == 'W' && header[i + 1] == '/')
			i += 2;
		start = i;
		while (i < len && header[i] != ',')
			i++;
		end = i;
		while (end > start && header[end - 1] == ' ')
			end--;
		if ((end - start == 1 && header[start] == '*') ||
		    (end - start == etag_len && memcmp(header + start, etag, etag_len) == 0))
			return true;
	}
	return false;
}

/* Finds the session token in "Authorization: Bearer" or the session cookie. */
static size_t token_find(struct http_request *req, const char **token, bool *by_cookie)
{
	size_t len;
	const char *auth = http_header_get(req, "Authorization", &len);

	*by_cookie = false;
	if (auth != NULL && len > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
		*token = auth + 7;
		return len - 7;
	}
	*by_cookie = true;
	return api_cookie_get(req, API_SESSION_COOKIE, token);
}

static bool method_changes_state(enum http_method method)
{
	return method != HTTP_METHOD_GET && method != HTTP_METHOD_HEAD && method != HTTP_METHOD_OPTIONS;
}

static bool csrf_valid(struct http_request *req, const struct accounts_session *session)
{
	size_t len;
	const char *sent = http_header_get(req, API_CSRF_HEADER, &len);

	return sent != NULL && len == strlen(session->csrf) && sodium_memcmp(sent, session->csrf, len) == 0;
}

/* Copies the session user's id, role, email and name into who. */
static void principal_fill(struct api_principal *who, const struct accounts_user *user)
{
	who->user_id = user->id;
	who->role = user->role == ACCOUNTS_ROLE_ADMIN ? API_ROLE_ADMIN : API_ROLE_CUSTOMER;
	snprintf(who->email, sizeof(who->email), "%s", user->email);
	snprintf(who->name, sizeof(who->name), "%s", user->name);
}

/* Reads the session of the token into who; returns 0, or -1 if unknown or expired, -2 on a storage error. */
static int session_load(struct http_request *req, const char *token, size_t token_len, struct api_principal *who,
			struct accounts_session *session)
{
	struct node_worker *worker = req->worker_data;
	struct accounts_user user;
	struct kv_txn *txn;
	enum kv_err err;

	crypto_hash_sha256(who->token_hash, (const unsigned char *)token, token_len);
	err = kv_read_begin(worker->node->env, &txn);
	if (err != KV_OK)
		return -2;
	err = accounts_session_get(&worker->node->store, txn, who->token_hash, session, &user);
	kv_read_end(txn);
	if (err == KV_NOT_FOUND)
		return -1;
	if (err != KV_OK) {
		log_error("session_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		return -2;
	}
	if (session->expires_at_ms <= api_now_ms())
		return -1;
	principal_fill(who, &user);
	return 0;
}

/*
 * Checks a signed session (made by a node without a majority): its MAC, its
 * expiry, that its user exists with the same password change time, and that
 * no logout revoked it. Returns like session_load().
 */
static int signed_session_load(struct http_request *req, const char *token, size_t token_len,
			       struct api_principal *who, struct accounts_session *session)
{
	struct node *node = ((struct node_worker *)req->worker_data)->node;
	struct accounts_session revoked;
	struct accounts_user user, revoked_user;
	struct signed_session s;
	struct kv_txn *txn;
	enum kv_err err;

	memset(session, 0, sizeof(*session));
	if (!node->has_session_key || !signed_session_open(node->session_key, token, token_len, &s, session->csrf) ||
	    s.expires_at_ms <= api_now_ms())
		return -1;
	crypto_hash_sha256(who->token_hash, (const unsigned char *)token, token_len);
	if (kv_read_begin(node->env, &txn) != KV_OK)
		return -2;
	err = accounts_user_get(&node->store, txn, s.user_id, &user);
	if (err == KV_OK) {
		/* A logout leaves a revoked record under the token's hash. */
		err = accounts_session_get(&node->store, txn, who->token_hash, &revoked, &revoked_user);
		if (err == KV_OK)
			err = KV_NOT_FOUND;
		else if (err == KV_NOT_FOUND)
			err = KV_OK;
	}
	kv_read_end(txn);
	if (err == KV_NOT_FOUND || (err == KV_OK && user.password_changed_at_ms != s.password_changed_at_ms))
		return -1;
	if (err != KV_OK) {
		log_error("session_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		return -2;
	}
	session->user_id = s.user_id;
	session->created_at_ms = s.created_at_ms;
	session->expires_at_ms = s.expires_at_ms;
	principal_fill(who, &user);
	who->signed_session = true;
	return 0;
}

bool api_authenticate(struct http_request *req, enum api_role min_role, struct api_principal *who)
{
	struct accounts_session session;
	const char *token = NULL;
	size_t token_len;
	int rc;

	memset(who, 0, sizeof(*who));
	token_len = token_find(req, &token, &who->by_cookie);
	if (token_len == 0) {
		if (min_role == API_ROLE_ANONYMOUS)
			return true;
		http_respond_problem_headers(req, 401, "WWW-Authenticate: Bearer realm=\"jkd\"\r\n", "unauthorized",
					     NULL, "Log in to continue.");
		return false;
	}
	if (signed_session_is_signed(token, token_len))
		rc = signed_session_load(req, token, token_len, who, &session);
	else
		rc = token_len == ACCOUNTS_TOKEN_CHARS ? session_load(req, token, token_len, who, &session) : -1;
	if (rc == -2) {
		http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
		return false;
	}
	if (rc == -1) {
		http_respond_problem_headers(req, 401, "WWW-Authenticate: Bearer realm=\"jkd\", error=\"invalid_token\"\r\n",
					     "session_expired", NULL, "The session has expired or was closed. Log in again.");
		return false;
	}
	snprintf(who->csrf, sizeof(who->csrf), "%s", session.csrf);
	who->expires_at_ms = session.expires_at_ms;
	if (who->by_cookie && method_changes_state(req->method) && !csrf_valid(req, &session)) {
		http_respond_problem(req, 403, "csrf", API_CSRF_HEADER,
				     "Missing or invalid CSRF token: send the X-CSRF-Token header received at login.");
		return false;
	}
	if (who->role < min_role) {
		http_respond_problem(req, 403, "forbidden", NULL, "This action needs an administrator account.");
		return false;
	}
	return true;
}

/* Maps a command's status to the HTTP status of its problem. */
static int http_status_of(int status)
{
	switch (status) {
	case STORE_VERSION_MISMATCH:
		return 412;
	case STORE_NOT_FOUND:
		return 404;
	case STORE_CONFLICT:
		return 409;
	case STORE_INVALID:
		return 422;
	case STORE_FORBIDDEN:
		return 403;
	case STORE_UNAUTHORIZED:
		return 401;
	default:
		return 500;
	}
}

bool api_respond_repl_error(struct http_request *req, enum repl_err err)
{
	switch (err) {
	case REPL_BUSY:
	case REPL_STOPPED:
		http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "unavailable", NULL,
					     "The node is busy or stopping. Retry in a moment.");
		return true;
	case REPL_NO_QUORUM:
		http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "no_quorum", NULL,
					     "This node cannot reach a majority of the cluster, so it accepts no changes right now. Browsing still works; retry in a moment.");
		return true;
	case REPL_TIMEOUT:
		http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "write_timeout", NULL,
					     "The change was not confirmed in time and may or may not have been made. Retry it; an order retried with the same Idempotency-Key is made only once.");
		return true;
	case REPL_STORAGE_FULL:
		http_respond_problem(req, 507, "storage_full", NULL,
				     "Storage is full, so writes are rejected while reads go on. Free space or raise storage.map_size_max_mb.");
		return true;
	default:
		return false;
	}
}

void api_respond_failure(struct http_request *req, enum repl_err err, const struct repl_result *result)
{
	const char *code, *field, *message;
	json_t *data;

	if (api_respond_repl_error(req, err))
		return;
	data = err == REPL_OK && result->data != NULL ? json_loadb(result->data, result->len, 0, NULL) : NULL;
	code = json_string_value(json_object_get(data, "code"));
	message = json_string_value(json_object_get(data, "message"));
	if (err != REPL_OK || result->status == STORE_BAD_COMMAND || code == NULL || message == NULL) {
		log_error("command_failed", "rid=%s err=\"%s\" status=%d", req->request_id, repl_strerror(err),
			  err == REPL_OK ? result->status : -1);
		json_decref(data);
		http_respond_problem(req, 500, "internal", NULL, "The write failed. The node's log has the cause.");
		return;
	}
	field = json_string_value(json_object_get(data, "field"));
	http_respond_problem_with(req, http_status_of(result->status), NULL, code, field,
				  i18n_text(req->lang, message), json_incref(data));
	json_decref(data);
}

json_t *api_result_json(struct http_request *req, enum repl_err err, uint64_t index,
			const struct repl_result *result)
{
	json_t *json;

	if (err != REPL_OK || result->status != STORE_OK) {
		api_respond_failure(req, err, result);
		return NULL;
	}
	json = result->data != NULL ? json_loadb(result->data, result->len, 0, NULL) : NULL;
	if (json == NULL) {
		log_error("command_result_invalid", "rid=%s index=%llu", req->request_id, (unsigned long long)index);
		http_respond_problem(req, 500, "internal", NULL, "The response could not be encoded.");
	}
	return json;
}

void api_done_default(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct api_call *call = req->user_data;
	char headers[64];
	struct http_response res = {.status = call->success_status, .headers = headers};

	if (err != REPL_OK || result->status != STORE_OK) {
		api_respond_failure(req, err, result);
		return;
	}
	snprintf(headers, sizeof(headers), "X-Jkd-Applied-Index: %llu\r\n", (unsigned long long)index);
	if (result->data != NULL) {
		res.content_type = "application/json";
		res.body = result->data;
		res.body_len = result->len;
	}
	http_respond(req, &res);
}

static void call_free(void *user_data)
{
	struct api_call *call = user_data;

	free(call->extra);
	free(call);
}

static void propose_done(void *ctx, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct http_request *req = ctx;
	struct api_call *call = req->user_data;

	req->user_data_free = NULL;
	call->done(req, err, index, result);
	call_free(call);
}

bool api_propose(struct http_request *req, const struct buf *command, int success_status, api_done_fn done)
{
	struct node_worker *worker = req->worker_data;
	struct api_call *call = calloc(1, sizeof(*call));
	enum repl_err err = REPL_NO_MEMORY;

	if (call != NULL && !command->failed) {
		call->success_status = success_status;
		call->done = done != NULL ? done : api_done_default;
		req->user_data = call;
		/* The server frees the call if it drops the request unanswered at a forced shutdown. */
		req->user_data_free = call_free;
		err = worker->inbox != NULL ? repl_propose(worker->node->repl, worker->inbox, command->data,
							   command->len, propose_done, req)
					    : REPL_STOPPED;
	}
	if (err != REPL_OK) {
		free(call);
		req->user_data = NULL;
		req->user_data_free = NULL;
		api_respond_failure(req, err, NULL);
		return false;
	}
	return true;
}
