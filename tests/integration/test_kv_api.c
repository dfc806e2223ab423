/*
 * Operator raw KV API against the real jkd binary: token check, put, get,
 * delete, versions with compare-and-set, prefix listing with pagination,
 * /healthz and /metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static struct jkd_node node;

static int node_setup(void **state)
{
	(void)state;
	jkd_start(&node, false, NULL);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

static void put(const char *key, const char *value, const char *headers, struct http_reply *reply)
{
	char path[256];

	snprintf(path, sizeof(path), "/kv/v1/%s", key);
	http_operator(&node, "PUT", path, headers, value, strlen(value), reply);
}

static unsigned long long etag_version(const struct http_reply *reply)
{
	char etag[64];

	assert_true(http_reply_header(reply, "ETag", etag, sizeof(etag)));
	return strtoull(etag + 1, NULL, 10);
}

static void missing_token_gets_401(void **state)
{
	struct http_reply reply;
	char challenge[64];

	(void)state;

	http_request(node.operator_port, "GET", "/kv/v1/anything", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 401);
	assert_non_null(strstr(reply.body, "\"field\":\"Authorization\""));
	assert_true(http_reply_header(&reply, "WWW-Authenticate", challenge, sizeof(challenge)));
	assert_non_null(strstr(challenge, "Bearer"));
	http_reply_free(&reply);
}

static void wrong_token_gets_401(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(node.operator_port, "GET", "/kv/v1/anything",
		     "Authorization: Bearer 0000000000000000000000000000000000000000000000000000000000000000\r\n",
		     NULL, 0, &reply);
	assert_int_equal(reply.status, 401);
	http_reply_free(&reply);
}

static void kv_routes_absent_on_public_port(void **state)
{
	struct http_reply reply;
	char headers[256];

	(void)state;
	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\n", node.token);
	http_request(node.port, "GET", "/kv/v1/anything", headers, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void put_then_get_returns_value(void **state)
{
	struct http_reply reply;
	unsigned long long version;

	(void)state;
	put("camisetas/azul", "talla M", NULL, &reply);
	assert_int_equal(reply.status, 201);
	version = etag_version(&reply);
	assert_true(version > 0);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/camisetas/azul", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_string_equal(reply.body, "talla M");
	assert_int_equal(etag_version(&reply), version);
	http_reply_free(&reply);
}

static void utf8_key_and_value_round_trip(void **state)
{
	struct http_reply reply;
	static const char value[] = "Camiseta Niño Añil — 19,99 €";

	(void)state;
	put("ni%C3%B1o", value, NULL, &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/ni%C3%B1o", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply.body_len, strlen(value));
	assert_memory_equal(reply.body, value, strlen(value));
	http_reply_free(&reply);
}

static void get_missing_key_gets_404(void **state)
{
	struct http_reply reply;

	(void)state;
	http_operator(&node, "GET", "/kv/v1/no-such-key", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	assert_non_null(strstr(reply.body, "\"field\":\"key\""));
	http_reply_free(&reply);
}

static void invalid_utf8_key_gets_400(void **state)
{
	struct http_reply reply;

	(void)state;
	put("bad%FFkey", "x", NULL, &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"key\""));
	http_reply_free(&reply);
}

static void if_match_current_version_succeeds(void **state)
{
	struct http_reply reply;
	char headers[64];
	unsigned long long version;

	(void)state;
	put("cas/ok", "one", NULL, &reply);
	version = etag_version(&reply);
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-Match: \"%llu\"\r\n", version);
	put("cas/ok", "two", headers, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(etag_version(&reply) > version);
	http_reply_free(&reply);
}

static void if_match_stale_version_gets_412(void **state)
{
	struct http_reply reply;
	char headers[64];
	unsigned long long version;

	(void)state;
	put("cas/stale", "one", NULL, &reply);
	version = etag_version(&reply);
	http_reply_free(&reply);
	put("cas/stale", "two", NULL, &reply);
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-Match: \"%llu\"\r\n", version);
	put("cas/stale", "three", headers, &reply);
	assert_int_equal(reply.status, 412);
	assert_non_null(strstr(reply.body, "\"field\":\"If-Match\""));
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1/cas/stale", NULL, NULL, 0, &reply);
	assert_string_equal(reply.body, "two");
	http_reply_free(&reply);
}

static void if_none_match_star_creates_only(void **state)
{
	struct http_reply reply;

	(void)state;
	put("cas/create", "first", "If-None-Match: *\r\n", &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);
	put("cas/create", "second", "If-None-Match: *\r\n", &reply);
	assert_int_equal(reply.status, 412);
	http_reply_free(&reply);
}

static void malformed_if_match_gets_400(void **state)
{
	struct http_reply reply;

	(void)state;
	put("cas/bad", "x", "If-Match: \"abc\"\r\n", &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"If-Match\""));
	http_reply_free(&reply);
}

static void delete_removes_key(void **state)
{
	struct http_reply reply;

	(void)state;
	put("gone", "soon", NULL, &reply);
	http_reply_free(&reply);
	http_operator(&node, "DELETE", "/kv/v1/gone", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	http_operator(&node, "GET", "/kv/v1/gone", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	http_operator(&node, "DELETE", "/kv/v1/gone", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void get_with_current_etag_gets_304(void **state)
{
	struct http_reply reply;
	char headers[64];

	(void)state;
	put("cached", "value", NULL, &reply);
	snprintf(headers, sizeof(headers), "If-None-Match: \"%llu\"\r\n", etag_version(&reply));
	http_reply_free(&reply);
	http_operator(&node, "GET", "/kv/v1/cached", headers, NULL, 0, &reply);
	assert_int_equal(reply.status, 304);
	http_reply_free(&reply);
}

static void list_pages_through_prefix(void **state)
{
	struct http_reply reply;
	char key[32], path[128];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "page/%02d", i);
		put(key, "x", NULL, &reply);
		assert_int_equal(reply.status, 201);
		http_reply_free(&reply);
	}
	put("pagf", "outside the prefix", NULL, &reply);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/kv/v1?prefix=page%2F&limit=2", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "\"page/00\""));
	assert_non_null(strstr(reply.body, "\"page/01\""));
	assert_null(strstr(reply.body, "\"page/02\""));
	assert_non_null(strstr(reply.body, "\"next_after\":\"page/01\""));
	http_reply_free(&reply);

	snprintf(path, sizeof(path), "/kv/v1?prefix=page%%2F&limit=10&after=page%%2F01");
	http_operator(&node, "GET", path, NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_null(strstr(reply.body, "\"page/01\""));
	assert_non_null(strstr(reply.body, "\"page/04\""));
	assert_null(strstr(reply.body, "pagf"));
	assert_non_null(strstr(reply.body, "\"next_after\":null"));
	http_reply_free(&reply);
}

static void list_rejects_bad_limit(void **state)
{
	struct http_reply reply;

	(void)state;
	http_operator(&node, "GET", "/kv/v1?limit=100000", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"limit\""));
	http_reply_free(&reply);
}

static void problem_is_spanish_by_default(void **state)
{
	struct http_reply reply;

	(void)state;
	http_operator(&node, "GET", "/kv/v1/no-such-key", NULL, NULL, 0, &reply);
	assert_non_null(strstr(reply.body, "no encontrad"));
	http_reply_free(&reply);
	http_operator(&node, "GET", "/kv/v1/no-such-key", "Accept-Language: en-GB,en;q=0.9\r\n", NULL, 0,
		      &reply);
	assert_non_null(strstr(reply.body, "not found"));
	http_reply_free(&reply);
}

static void healthz_reports_applied_index(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(node.port, "GET", "/healthz", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "\"status\":\"ok\""));
	assert_non_null(strstr(reply.body, "\"applied_index\":"));
	http_reply_free(&reply);
}

static void metrics_expose_requests_and_storage(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(node.operator_port, "GET", "/metrics", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 401);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/metrics", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "jkd_http_requests_total{"));
	assert_non_null(strstr(reply.body, "jkd_http_request_duration_seconds_bucket{"));
	assert_non_null(strstr(reply.body, "jkd_kv_map_used_bytes "));
	assert_non_null(strstr(reply.body, "jkd_repl_commit_batch_size_bucket{"));
	assert_non_null(strstr(reply.body, "listener=\"operator\""));
	http_reply_free(&reply);
}

static void metrics_declare_each_type_once(void **state)
{
	struct http_reply reply;
	const char *first, *second;

	(void)state;
	http_operator(&node, "GET", "/metrics", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	first = strstr(reply.body, "# TYPE jkd_http_requests_total counter");
	assert_non_null(first);
	second = strstr(first + 1, "# TYPE jkd_http_requests_total counter");
	assert_null(second);
	http_reply_free(&reply);
}

static void weak_if_match_never_matches(void **state)
{
	struct http_reply reply;
	char headers[64];
	unsigned long long version;

	(void)state;
	put("strong/weak", "one", NULL, &reply);
	version = etag_version(&reply);
	http_reply_free(&reply);
	snprintf(headers, sizeof(headers), "If-Match: W/\"%llu\"\r\n", version);
	put("strong/weak", "two", headers, &reply);
	assert_int_equal(reply.status, 412);
	http_reply_free(&reply);
}

static void if_match_list_accepts_any_listed(void **state)
{
	struct http_reply reply;
	char headers[96];
	unsigned long long version;

	(void)state;
	put("strong/list", "one", NULL, &reply);
	version = etag_version(&reply);
	http_reply_free(&reply);
	snprintf(headers, sizeof(headers), "If-Match: \"999999\", \"%llu\"\r\n", version);
	put("strong/list", "two", headers, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
}

static void conditional_delete_of_missing_gets_412(void **state)
{
	struct http_reply reply;

	(void)state;
	http_operator(&node, "DELETE", "/kv/v1/never-there", "If-Match: *\r\n", NULL, 0, &reply);
	assert_int_equal(reply.status, 412);
	http_reply_free(&reply);
}

static void create_only_conflict_names_header(void **state)
{
	struct http_reply reply;
	char etag[64];

	(void)state;
	put("cas/exists", "first", NULL, &reply);
	http_reply_free(&reply);
	put("cas/exists", "second", "If-None-Match: *\r\n", &reply);
	assert_int_equal(reply.status, 412);
	assert_non_null(strstr(reply.body, "\"field\":\"If-None-Match\""));
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	http_reply_free(&reply);
}

static void if_none_match_needs_exact_tag(void **state)
{
	struct http_reply reply;
	char headers[96];
	unsigned long long version;

	(void)state;
	put("cached/exact", "value", NULL, &reply);
	version = etag_version(&reply);
	http_reply_free(&reply);
	snprintf(headers, sizeof(headers), "If-None-Match: garbage\"%llu\"garbage\r\n", version);
	http_operator(&node, "GET", "/kv/v1/cached/exact", headers, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
}

static void list_rejects_nul_prefix(void **state)
{
	struct http_reply reply;

	(void)state;
	http_operator(&node, "GET", "/kv/v1?prefix=f%00zzz", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"prefix\""));
	http_reply_free(&reply);
	http_operator(&node, "GET", "/kv/v1?limit=%2B5", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 400);
	http_reply_free(&reply);
}

static void c1_control_key_gets_400(void **state)
{
	struct http_reply reply;

	(void)state;
	put("a%C2%85b", "x", NULL, &reply);
	assert_int_equal(reply.status, 400);
	http_reply_free(&reply);
}

static void json_lines_body_is_not_json(void **state)
{
	static const char body[] = "{\"a\":1}\n{\"b\":2}\n";
	struct http_reply reply;

	(void)state;
	http_operator(&node, "PUT", "/kv/v1/lines", "Content-Type: application/jsonlines\r\n", body, strlen(body),
		      &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_token_gets_401),
		cmocka_unit_test(wrong_token_gets_401),
		cmocka_unit_test(kv_routes_absent_on_public_port),
		cmocka_unit_test(put_then_get_returns_value),
		cmocka_unit_test(utf8_key_and_value_round_trip),
		cmocka_unit_test(get_missing_key_gets_404),
		cmocka_unit_test(invalid_utf8_key_gets_400),
		cmocka_unit_test(if_match_current_version_succeeds),
		cmocka_unit_test(if_match_stale_version_gets_412),
		cmocka_unit_test(if_none_match_star_creates_only),
		cmocka_unit_test(malformed_if_match_gets_400),
		cmocka_unit_test(delete_removes_key),
		cmocka_unit_test(get_with_current_etag_gets_304),
		cmocka_unit_test(list_pages_through_prefix),
		cmocka_unit_test(list_rejects_bad_limit),
		cmocka_unit_test(problem_is_spanish_by_default),
		cmocka_unit_test(healthz_reports_applied_index),
		cmocka_unit_test(metrics_expose_requests_and_storage),
		cmocka_unit_test(metrics_declare_each_type_once),
		cmocka_unit_test(weak_if_match_never_matches),
		cmocka_unit_test(if_match_list_accepts_any_listed),
		cmocka_unit_test(conditional_delete_of_missing_gets_412),
		cmocka_unit_test(create_only_conflict_names_header),
		cmocka_unit_test(if_none_match_needs_exact_tag),
		cmocka_unit_test(list_rejects_nul_prefix),
		cmocka_unit_test(c1_control_key_gets_400),
		cmocka_unit_test(json_lines_body_is_not_json),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
