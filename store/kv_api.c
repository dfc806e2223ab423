/*
 * Operator raw KV API: GET, PUT and DELETE /kv/v1/{key}, and GET /kv/v1 to
 * list keys by prefix. Every route needs the operator token.
 *
 * Versions: a key's version is the log index of its last write, sent as a
 * strong ETag ("123"). PUT and DELETE take If-Match with a version for
 * compare-and-set, and PUT takes If-None-Match: * to create only. A failed
 * condition gets 412 with the current version. Writes go through the log
 * and are acknowledged after they are applied and durable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "kv/kv.h"
#include "store/apply.h"
#include "store/api.h"
#include "store/node.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000

/* Returns true if s is 1 to KV_KEY_MAX_BYTES of UTF-8 without control characters (keys appear in JSON and logs). */
static bool key_is_valid(const char *s, size_t len)
{
	return len > 0 && len <= KV_KEY_MAX_BYTES && api_utf8_chars(s, len, false) >= 0;
}

static const struct http_param *key_param(struct http_request *req)
{
	const struct http_param *key = http_param_get(req, "key");

	if (key == NULL || !key_is_valid(key->value, key->value_len)) {
		http_respond_problem(req, 400, "invalid_key", "key",
				     "Invalid key: expected 1 to %d bytes of UTF-8 without control characters.",
				     KV_KEY_MAX_BYTES);
		return NULL;
	}
	return key;
}

#define ETAGS_MAX STORE_IF_VERSIONS_MAX

struct etag {
	uint64_t version;
	bool weak;
};

/*
 * Parses a comma-separated list of entity tags holding versions, such as
 * "12", W/"13". Returns the number of tags, or -1 if the list is malformed
 * or longer than max.
 */
static int etag_list_parse(const char *s, size_t len, struct etag *tags, size_t max)
{
	size_t i = 0, count = 0;

	while (i < len) {
		uint64_t v = 0;
		size_t digits = 0;
		bool weak = false;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i + 1 < len && s[i] == 'W' && s[i + 1] == '/') {
			weak = true;
			i += 2;
		}
		if (i >= len || s[i++] != '"')
			return -1;
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 19) {
			v = v * 10 + (uint64_t)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || v == 0 || i >= len || s[i++] != '"' || count == max)
			return -1;
		tags[count++] = (struct etag){.version = v, .weak = weak};
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i < len && s[i++] != ',')
			return -1;
	}
	return count > 0 ? (int)count : -1;
}

/* Reads If-Match (strong comparison: weak tags never match) into c. Returns false after responding 400. */
static bool if_match_parse(struct http_request *req, const char *value, size_t len, struct store_kv_condition *c)
{
	struct etag tags[ETAGS_MAX];
	int n;

	if (len == 1 && value[0] == '*') {
		c->if_version = STORE_IF_PRESENT;
		return true;
	}
	n = etag_list_parse(value, len, tags, ETAGS_MAX);
	if (n < 0) {
		http_respond_problem(req, 400, "invalid_header", "If-Match",
				     "Invalid If-Match: expected a version such as \"12\", or *.");
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (!tags[i].weak)
			c->versions[c->count++] = tags[i].version;
	}
	c->never = c->count == 0;
	return true;
}

/*
 * Reads If-Match and If-None-Match into *c. Returns false after responding
 * 400 if a header is malformed.
 */
static bool conditions_parse(struct http_request *req, bool allow_create_only, struct store_kv_condition *c)
{
	size_t len;
	const char *match = http_header_get(req, "If-Match", &len);
	const char *none_match;

	memset(c, 0, sizeof(*c));
	c->if_version = STORE_IF_ANY;
	if (match != NULL && !if_match_parse(req, match, len, c))
		return false;
	none_match = http_header_get(req, "If-None-Match", &len);
	if (none_match != NULL) {
		if (!allow_create_only || len != 1 || none_match[0] != '*' || match != NULL) {
			http_respond_problem(req, 400, "invalid_header", "If-None-Match",
					     "Invalid If-None-Match: only \"*\" is accepted here, and not together with If-Match.");
			return false;
		}
		c->if_version = STORE_IF_ABSENT;
	}
	return true;
}

static void respond_written(struct http_request *req, int status, const char *key, size_t key_len,
			    uint64_t version, uint64_t index)
{
	char headers[128];
	json_t *body = json_pack("{s:s%, s:I}", "key", key, key_len, "version", (json_int_t)version);

	snprintf(headers, sizeof(headers), "ETag: \"%" PRIu64 "\"\r\nX-Jkd-Applied-Index: %" PRIu64 "\r\n",
		 version, index);
	http_respond_json(req, status, body, headers);
}

static void respond_repl_error(struct http_request *req, enum repl_err err)
{
	if (api_respond_repl_error(req, err))
		return;
	switch (err) {
	case REPL_TOO_LARGE:
		http_respond_problem(req, 413, "too_large", "value", "The value is too large.");
		break;
	default:
		log_error("kv_write_failed", "rid=%s err=\"%s\"", req->request_id, repl_strerror(err));
		http_respond_problem(req, 500, "internal", NULL, "The write failed. The node's log has the cause.");
		break;
	}
}

/* Responds 412 for a failed If-Match or If-None-Match, with the current version as ETag. */
static void respond_mismatch(struct http_request *req, uint64_t version)
{
	char headers[64];

	if (http_header_get(req, "If-None-Match", NULL) != NULL) {
		snprintf(headers, sizeof(headers), "ETag: \"%" PRIu64 "\"\r\n", version);
		http_respond_problem_headers(req, 412, headers, "key_exists", "If-None-Match",
					     "The key already exists.");
	} else if (version == 0) {
		http_respond_problem(req, 412, "version_mismatch", "If-Match", "The key does not exist.");
	} else {
		snprintf(headers, sizeof(headers), "ETag: \"%" PRIu64 "\"\r\n", version);
		http_respond_problem_headers(req, 412, headers, "version_mismatch", "If-Match",
					     "The key has changed: its current version is %llu.",
					     (unsigned long long)version);
	}
}

static void write_done(void *ctx, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct http_request *req = ctx;
	const struct http_param *key = http_param_get(req, "key");
	const struct store_kv_result *kv = result->data;

	if (err != REPL_OK) {
		respond_repl_error(req, err);
		return;
	}
	switch (result->status) {
	case STORE_OK:
		if (req->method == HTTP_METHOD_DELETE) {
			char headers[64];
			struct http_response res = {.status = 204, .headers = headers};

			snprintf(headers, sizeof(headers), "X-Jkd-Applied-Index: %" PRIu64 "\r\n", index);
			http_respond(req, &res);
		} else {
			/* A PUT that creates the key is 201 Created (RFC 9110, section 9.3.4). */
			respond_written(req, kv->previous == 0 ? 201 : 200, key->value, key->value_len, kv->version,
					index);
		}
		break;
	case STORE_NOT_FOUND:
		http_respond_problem(req, 404, "not_found", "key", "Key not found.");
		break;
	case STORE_VERSION_MISMATCH:
		respond_mismatch(req, kv->version);
		break;
	default:
		log_error("kv_apply_rejected", "rid=%s status=%d", req->request_id, result->status);
		http_respond_problem(req, 500, "internal", NULL, "The write failed. The node's log has the cause.");
		break;
	}
}

static void propose(struct http_request *req, struct buf *command)
{
	struct node_worker *worker = req->worker_data;
	enum repl_err err;

	if (command->failed) {
		respond_repl_error(req, REPL_NO_MEMORY);
		return;
	}
	err = worker->inbox != NULL ? repl_propose(worker->node->repl, worker->inbox, command->data, command->len,
						   write_done, req)
				    : REPL_STOPPED;
	if (err != REPL_OK)
		respond_repl_error(req, err);
}

/* Rejects a body sent as JSON that does not parse; returns false after responding 400. */
static bool json_body_valid(struct http_request *req)
{
	json_error_t error;
	json_t *parsed;

	if (!api_content_type_is(req, "application/json"))
		return true;
	parsed = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &error);
	if (parsed == NULL) {
		http_respond_problem(req, 400, "invalid_json", "body", "Invalid JSON at line %d, column %d.", error.line,
				     error.column);
		return false;
	}
	json_decref(parsed);
	return true;
}

static void handle_put(struct http_request *req)
{
	const struct http_param *key;
	struct store_kv_condition condition;
	struct buf command;

	if (!node_require_operator(req) || (key = key_param(req)) == NULL ||
	    !conditions_parse(req, true, &condition) || !json_body_valid(req))
		return;
	buf_init(&command, SIZE_MAX);
	store_command_kv_put(&command, key->value, key->value_len, req->body, req->body_len, &condition);
	propose(req, &command);
	buf_free(&command);
}

static void handle_delete(struct http_request *req)
{
	const struct http_param *key;
	struct store_kv_condition condition;
	struct buf command;

	if (!node_require_operator(req) || (key = key_param(req)) == NULL ||
	    !conditions_parse(req, false, &condition))
		return;
	buf_init(&command, SIZE_MAX);
	store_command_kv_delete(&command, key->value, key->value_len, &condition);
	propose(req, &command);
	buf_free(&command);
}

static void handle_get(struct http_request *req)
{
	struct node *node = req->route_ctx;
	const struct http_param *key;
	struct http_response res = {.status = 200, .content_type = "application/octet-stream"};
	struct kv_txn *txn;
	struct kv_val val;
	uint64_t version;
	char etag[32], headers[96];
	enum kv_err err;

	if (!node_require_operator(req) || (key = key_param(req)) == NULL)
		return;
	err = kv_read_begin(node->env, &txn);
	if (err != KV_OK) {
		log_error("kv_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
		return;
	}
	err = kv_get(txn, node->store.raw, key->value, key->value_len, &val);
	if (err == KV_OK && store_raw_value_decode(val.data, val.len, &version, &res.body, &res.body_len) != 0)
		err = KV_BAD_RECORD;
	if (err == KV_OK) {
		snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", version);
		snprintf(headers, sizeof(headers), "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
		res.headers = headers;
		if (api_etag_matches(req, etag, strlen(etag))) {
			res.status = 304;
			res.body_len = 0;
		}
		http_respond(req, &res);
	} else if (err == KV_NOT_FOUND) {
		http_respond_problem(req, 404, "not_found", "key", "Key not found.");
	} else {
		log_error("kv_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 500, "internal", NULL, "The read failed. The node's log has the cause.");
	}
	kv_read_end(txn);
}

/* Reads limit, prefix and after from the query; responds 400 and returns false if one is invalid. */
static bool list_params(struct http_request *req, char *prefix, char *after, size_t size, unsigned *limit)
{
	char number[16];
	int n = http_query_get(req, "limit", number, sizeof(number));
	char *end;
	unsigned long v;

	*limit = LIST_LIMIT_DEFAULT;
	if (n >= 0) {
		v = strtoul(number, &end, 10);
		if (n == 0 || *end != '\0' || v < 1 || v > LIST_LIMIT_MAX || number[0] < '0' || number[0] > '9') {
			http_respond_problem(req, 400, "invalid_parameter", "limit",
					     "Invalid limit: expected a whole number from 1 to %d.", LIST_LIMIT_MAX);
			return false;
		}
		*limit = (unsigned)v;
	} else if (n == -2) {
		goto invalid_limit;
	}
	n = http_query_get(req, "prefix", prefix, size);
	if (n == -2 || (n > 0 && strlen(prefix) != (size_t)n)) {
		http_respond_problem(req, 400, "invalid_parameter", "prefix", "Invalid prefix: too long, badly percent-encoded or containing a NUL byte.");
		return false;
	}
	n = http_query_get(req, "after", after, size);
	if (n == -2 || (n > 0 && strlen(after) != (size_t)n)) {
		http_respond_problem(req, 400, "invalid_parameter", "after", "Invalid after: too long, badly percent-encoded or containing a NUL byte.");
		return false;
	}
	return true;

invalid_limit:
	http_respond_problem(req, 400, "invalid_parameter", "limit",
			     "Invalid limit: expected a whole number from 1 to %d.", LIST_LIMIT_MAX);
	return false;
}

static json_t *list_items(struct kv_cursor *cursor, unsigned limit, bool *more, json_t **next)
{
	json_t *items = json_array();
	struct kv_val key, val;
	const void *value;
	size_t value_len;
	uint64_t version;
	unsigned count = 0;

	*more = false;
	while (kv_scan_next(cursor, &key, &val) == KV_OK) {
		if (count == limit) {
			*more = true;
			break;
		}
		if (store_raw_value_decode(val.data, val.len, &version, &value, &value_len) != 0)
			continue;
		json_array_append_new(items, json_pack("{s:s%, s:I, s:I}", "key", key.data, key.len, "version",
						       (json_int_t)version, "size_bytes", (json_int_t)value_len));
		json_decref(*next);
		*next = json_stringn(key.data, key.len);
		count++;
	}
	return items;
}

static void handle_list(struct http_request *req)
{
	struct node *node = req->route_ctx;
	char prefix[KV_KEY_MAX_BYTES + 1] = "", after[KV_KEY_MAX_BYTES + 1] = "";
	struct kv_cursor *cursor;
	struct kv_txn *txn;
	json_t *items, *next = NULL;
	unsigned limit;
	bool more;
	enum kv_err err;

	if (!node_require_operator(req) || !list_params(req, prefix, after, sizeof(prefix), &limit))
		return;
	err = kv_read_begin(node->env, &txn);
	if (err == KV_OK) {
		err = kv_scan_begin(txn, node->store.raw, prefix, strlen(prefix), after, strlen(after), &cursor);
		if (err != KV_OK)
			kv_read_end(txn);
	}
	if (err != KV_OK) {
		log_error("kv_list_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
		return;
	}
	items = list_items(cursor, limit, &more, &next);
	kv_scan_end(cursor);
	kv_read_end(txn);
	if (!more) {
		json_decref(next);
		next = json_null();
	}
	http_respond_json(req, 200, json_pack("{s:o, s:o}", "items", items, "next_after", next), NULL);
}

int kv_api_register(struct http_router *router, struct node *node)
{
	size_t value_max = node->config.kv_value_max_bytes;
	const struct http_route_def routes[] = {
		{HTTP_METHOD_GET, "/kv/v1", handle_list, node, 0},
		{HTTP_METHOD_GET, "/kv/v1/{key...}", handle_get, node, 0},
		{HTTP_METHOD_PUT, "/kv/v1/{key...}", handle_put, node, value_max},
		{HTTP_METHOD_DELETE, "/kv/v1/{key...}", handle_delete, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
