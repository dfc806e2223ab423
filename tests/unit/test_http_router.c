/* Route table tests: pattern validation, matching, parameter decoding, 404 vs 405, statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/http/internal.h"

static void handler_noop(struct http_request *req)
{
	(void)req;
}

struct match_result {
	enum http_match match;
	const struct http_route *route;
	struct http_param params[HTTP_PARAMS_MAX];
	size_t param_count;
	char scratch[256];
	char allow[96];
};

static void add_route(struct http_router *router, enum http_method method, const char *pattern)
{
	struct http_route_def def = {.method = method, .pattern = pattern, .handler = handler_noop};

	assert_int_equal(http_router_add(router, &def), 0);
}

static enum http_match match(const struct http_router *router, enum http_method method,
			     const char *path, struct match_result *r)
{
	memset(r, 0, sizeof(*r));
	r->match = http_router_match(router, method, path, strlen(path), r->params,
				     &r->param_count, r->scratch, sizeof(r->scratch), &r->route,
				     r->allow, sizeof(r->allow));
	return r->match;
}

static void literal_route_matches(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/health");
	add_route(router, HTTP_METHOD_GET, "/");
	add_route(router, HTTP_METHOD_GET, "/kv/v1/");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/health", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/health");
	assert_int_equal(r.param_count, 0);

	assert_int_equal(match(router, HTTP_METHOD_GET, "/", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/kv/v1/");

	/* Literals compare with the decoded segment. */
	assert_int_equal(match(router, HTTP_METHOD_GET, "/h%65alth", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/health");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/healthz", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "/health/", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "*", &r), HTTP_MATCH_NOT_FOUND);
	assert_null(r.route);
	http_router_free(router);
}

static void param_values_are_decoded(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/kv/v1/{key}");
	add_route(router, HTTP_METHOD_GET, "/users/{id}/orders/{order}");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/a%2Fb", &r), HTTP_MATCH_FOUND);
	assert_int_equal(r.param_count, 1);
	assert_string_equal(r.params[0].name, "key");
	assert_int_equal(r.params[0].value_len, 3);
	assert_memory_equal(r.params[0].value, "a/b", 4);

	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/x%00y", &r), HTTP_MATCH_FOUND);
	assert_int_equal(r.params[0].value_len, 3);
	assert_memory_equal(r.params[0].value, "x\0y\0", 4);

	assert_int_equal(match(router, HTTP_METHOD_GET, "/users/7/orders/caf%C3%A9", &r),
			 HTTP_MATCH_FOUND);
	assert_int_equal(r.param_count, 2);
	assert_string_equal(r.params[0].name, "id");
	assert_string_equal(r.params[0].value, "7");
	assert_string_equal(r.params[1].name, "order");
	assert_string_equal(r.params[1].value, "caf\xc3\xa9");

	/* '+' is a literal plus in a path, not a space. */
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/a+b", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.params[0].value, "a+b");
	http_router_free(router);
}

static void malformed_escape_is_not_found(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/kv/v1/{key}");
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/a%zz", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/a%2", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/", &r), HTTP_MATCH_NOT_FOUND);
	http_router_free(router);
}

static void params_not_fitting_scratch_are_not_found(void **state)
{
	struct http_router *router = http_router_new();
	struct http_param params[HTTP_PARAMS_MAX];
	const struct http_route *route;
	size_t count;
	char scratch[4];

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/kv/v1/{key}");
	assert_int_equal(http_router_match(router, HTTP_METHOD_GET, "/kv/v1/abc", 10, params, &count,
					   scratch, sizeof(scratch), &route, NULL, 0),
			 HTTP_MATCH_FOUND);
	assert_int_equal(http_router_match(router, HTTP_METHOD_GET, "/kv/v1/abcd", 11, params,
					   &count, scratch, sizeof(scratch), &route, NULL, 0),
			 HTTP_MATCH_NOT_FOUND);
	assert_null(route);
	http_router_free(router);
}

static void rest_param_takes_remainder(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/files/{path...}");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/files/a/b%20c/d", &r), HTTP_MATCH_FOUND);
	assert_int_equal(r.param_count, 1);
	assert_string_equal(r.params[0].name, "path");
	assert_string_equal(r.params[0].value, "a/b c/d");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/files/x", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.params[0].value, "x");

	/* The remainder must not be empty. */
	assert_int_equal(match(router, HTTP_METHOD_GET, "/files/", &r), HTTP_MATCH_NOT_FOUND);
	assert_int_equal(match(router, HTTP_METHOD_GET, "/files", &r), HTTP_MATCH_NOT_FOUND);
	http_router_free(router);
}

static void unknown_path_is_404_wrong_method_is_405(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/items/{id}");
	add_route(router, HTTP_METHOD_DELETE, "/items/{id}");
	add_route(router, HTTP_METHOD_PUT, "/items/{id}");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/nothing", &r), HTTP_MATCH_NOT_FOUND);
	assert_string_equal(r.allow, "");

	assert_int_equal(match(router, HTTP_METHOD_POST, "/items/3", &r),
			 HTTP_MATCH_METHOD_NOT_ALLOWED);
	assert_null(r.route);
	assert_string_equal(r.allow, "GET, HEAD, PUT, DELETE");
	http_router_free(router);
}

static void head_matches_get_route(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/a");
	add_route(router, HTTP_METHOD_GET, "/b");
	add_route(router, HTTP_METHOD_HEAD, "/b");

	assert_int_equal(match(router, HTTP_METHOD_HEAD, "/a", &r), HTTP_MATCH_FOUND);
	assert_int_equal(r.route->def.method, HTTP_METHOD_GET);

	/* An explicit HEAD route wins over the GET route of the same pattern. */
	assert_int_equal(match(router, HTTP_METHOD_HEAD, "/b", &r), HTTP_MATCH_FOUND);
	assert_int_equal(r.route->def.method, HTTP_METHOD_HEAD);
	http_router_free(router);
}

static void literal_beats_param(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/kv/{rest...}");
	add_route(router, HTTP_METHOD_GET, "/kv/{key}");
	add_route(router, HTTP_METHOD_GET, "/kv/_stats");
	add_route(router, HTTP_METHOD_PUT, "/kv/{key}");

	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/_stats", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/kv/_stats");
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/other", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/kv/{key}");
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/a/b", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/kv/{rest...}");

	/* The literal route has no PUT, so the parameter route takes it. */
	assert_int_equal(match(router, HTTP_METHOD_PUT, "/kv/_stats", &r), HTTP_MATCH_FOUND);
	assert_string_equal(r.route->def.pattern, "/kv/{key}");
	assert_string_equal(r.params[0].value, "_stats");
	http_router_free(router);
}

static void invalid_patterns_are_rejected(void **state)
{
	static const char *const invalid[] = {
		"",
		"health",
		"/a//b",
		"/{}",
		"/{a",
		"/a}",
		"/x{a}",
		"/{a}{b}",
		"/{a-b}",
		"/{rest...}/more",
		"/{...}",
		"/{a}/{a}",
		"/a b",
		"/a%20b",
		"/a?b",
		"/a#b",
		"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
		"/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
	};
	struct http_router *router = http_router_new();
	struct http_route_def def = {.method = HTTP_METHOD_GET, .handler = handler_noop};

	(void)state;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		def.pattern = invalid[i];
		if (http_router_add(router, &def) != -1)
			fail_msg("pattern \"%s\" was accepted", invalid[i]);
	}
	def.pattern = NULL;
	assert_int_equal(http_router_add(router, &def), -1);
	def.pattern = "/ok";
	def.handler = NULL;
	assert_int_equal(http_router_add(router, &def), -1);
	def.handler = handler_noop;
	def.method = HTTP_METHOD_OTHER;
	assert_int_equal(http_router_add(router, &def), -1);
	def.method = HTTP_METHOD_GET;
	assert_int_equal(http_router_add(router, &def), 0);
	http_router_free(router);
}

static void duplicate_route_is_rejected(void **state)
{
	struct http_router *router = http_router_new();
	struct http_route_def def = {.method = HTTP_METHOD_GET, .handler = handler_noop};

	(void)state;
	def.pattern = "/items/{id}";
	assert_int_equal(http_router_add(router, &def), 0);
	def.pattern = "/items/{other}";
	assert_int_equal(http_router_add(router, &def), -1);
	def.method = HTTP_METHOD_PUT;
	assert_int_equal(http_router_add(router, &def), 0);
	http_router_free(router);
}

static void router_fills_up(void **state)
{
	struct http_router *router = http_router_new();
	struct http_route_def def = {.method = HTTP_METHOD_GET, .handler = handler_noop};
	char pattern[32];
	int added = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(pattern, sizeof(pattern), "/r%d", i);
		def.pattern = pattern;
		if (http_router_add(router, &def) != 0)
			break;
		added++;
	}
	assert_true(added > 0);
	assert_true(added < 1000);
	http_router_free(router);
}

static void method_names_are_standard(void **state)
{
	(void)state;
	assert_string_equal(http_method_name(HTTP_METHOD_GET), "GET");
	assert_string_equal(http_method_name(HTTP_METHOD_OPTIONS), "OPTIONS");
	assert_string_equal(http_method_name(HTTP_METHOD_OTHER), "OTHER");
	assert_string_equal(http_method_name((enum http_method)99), "OTHER");
}

static void metrics_count_by_route_and_status(void **state)
{
	struct http_router *router = http_router_new();
	struct match_result r;
	struct buf out;

	(void)state;
	add_route(router, HTTP_METHOD_GET, "/kv/v1/{key}");
	http_router_attach_listener(router, "public");
	assert_int_equal(match(router, HTTP_METHOD_GET, "/kv/v1/a", &r), HTTP_MATCH_FOUND);
	http_route_stats_record(r.route->stats, HTTP_METHOD_GET, 200, 120);
	http_route_stats_record(r.route->stats, HTTP_METHOD_GET, 200, 80);
	http_route_stats_record(r.route->stats, HTTP_METHOD_HEAD, 404, 10);
	http_route_stats_record(http_router_unmatched_stats(router), HTTP_METHOD_POST, 404, 10);

	buf_init(&out, 1 << 20);
	http_router_write_metrics(router, &out);
	assert_false(out.failed);
	assert_non_null(strstr(out.data, "# TYPE jkd_http_requests_total counter\n"));
	assert_non_null(strstr(out.data, "jkd_http_requests_total{listener=\"public\",route=\"/kv/v1/{key}\",method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(out.data, "jkd_http_requests_total{listener=\"public\",route=\"/kv/v1/{key}\",method=\"HEAD\",status=\"404\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_requests_total{listener=\"public\",route=\"unmatched\",method=\"POST\",status=\"404\"} 1\n"));
	assert_non_null(strstr(out.data, "# TYPE jkd_http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_count{listener=\"public\",route=\"/kv/v1/{key}\",method=\"GET\"} 2\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_count{listener=\"public\",route=\"/kv/v1/{key}\",method=\"HEAD\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_bucket{listener=\"public\",route=\"/kv/v1/{key}\",method=\"GET\",le=\"0.0001\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_bucket{listener=\"public\",route=\"/kv/v1/{key}\",method=\"GET\",le=\"0.00025\"} 2\n"));
	assert_non_null(strstr(out.data, "jkd_http_request_duration_seconds_count{listener=\"public\",route=\"unmatched\",method=\"POST\"} 1\n"));
	buf_free(&out);

	/* A router shared by two listeners loses the listener label. */
	http_router_attach_listener(router, "operator");
	buf_init(&out, 1 << 20);
	http_router_write_metrics(router, &out);
	assert_null(strstr(out.data, "listener="));
	buf_free(&out);
	http_router_free(router);
}

/* Counts the lines of text that start with prefix. */
static size_t count_lines_starting(const char *text, const char *prefix)
{
	size_t count = 0, len = strlen(prefix);

	for (const char *line = text; line != NULL && *line != '\0'; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, prefix, len) == 0)
			count++;
	}
	return count;
}

static void shared_pattern_histograms_do_not_repeat(void **state)
{
	static const enum http_method methods[] = {HTTP_METHOD_GET, HTTP_METHOD_PUT, HTTP_METHOD_DELETE};
	struct http_router *router = http_router_new();
	struct buf out;

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		add_route(router, methods[i], "/kv/v1/{key}");
	buf_init(&out, 1 << 20);
	http_router_write_metrics(router, &out);
	assert_false(out.failed);
	assert_int_equal(count_lines_starting(out.data, "jkd_http_request_duration_seconds_count{route=\"/kv/v1/{key}\",method=\"GET\"}"), 1);
	assert_int_equal(count_lines_starting(out.data, "jkd_http_request_duration_seconds_count{route=\"/kv/v1/{key}\",method=\"PUT\"}"), 1);
	assert_int_equal(count_lines_starting(out.data, "jkd_http_request_duration_seconds_count{route=\"/kv/v1/{key}\",method=\"DELETE\"}"), 1);
	assert_int_equal(count_lines_starting(out.data, "jkd_http_request_duration_seconds_count{route=\"/kv/v1/{key}\"}"), 0);
	buf_free(&out);
	http_router_free(router);
}

static void histogram_without_labels_has_no_braces(void **state)
{
	struct metrics_histogram histogram;
	struct buf out;

	(void)state;
	memset(&histogram, 0, sizeof(histogram));
	metrics_histogram_observe(&histogram, 1500000);
	buf_init(&out, 1 << 16);
	metrics_histogram_write(&out, "jkd_test_seconds", "", &histogram);
	assert_false(out.failed);
	assert_non_null(strstr(out.data, "jkd_test_seconds_bucket{le=\"+Inf\"} 1\n"));
	assert_non_null(strstr(out.data, "\njkd_test_seconds_sum 1.500000\n"));
	assert_non_null(strstr(out.data, "\njkd_test_seconds_count 1\n"));
	assert_null(strstr(out.data, "{}"));
	buf_free(&out);
}

static void status_slots_overflow_to_other(void **state)
{
	struct http_router *router = http_router_new();
	struct http_route_stats *stats = http_router_unmatched_stats(router);
	struct buf out;

	(void)state;
	for (int status = 200; status < 200 + HTTP_STATUS_SLOTS + 3; status++)
		http_route_stats_record(stats, HTTP_METHOD_GET, status, 1);
	buf_init(&out, 1 << 20);
	http_router_write_metrics(router, &out);
	assert_non_null(strstr(out.data, "route=\"unmatched\",method=\"GET\",status=\"other\"} 3\n"));
	buf_free(&out);
	http_router_free(router);
}

static void percent_decode_checks_bounds(void **state)
{
	char out[8];
	size_t len;

	(void)state;
	assert_true(http_percent_decode("a%41+b", 6, true, out, sizeof(out), &len));
	assert_int_equal(len, 4);
	assert_string_equal(out, "aA b");
	assert_true(http_percent_decode("a+b", 3, false, out, sizeof(out), &len));
	assert_string_equal(out, "a+b");
	assert_false(http_percent_decode("abcdefgh", 8, false, out, sizeof(out), &len));
	assert_true(http_percent_decode("abcdefg", 7, false, out, sizeof(out), &len));
	assert_false(http_percent_decode("%4", 2, false, NULL, 0, &len));
	assert_false(http_percent_decode("%g1", 3, false, NULL, 0, &len));
	assert_true(http_percent_equals("a%2fb", 5, false, "a/b", 3));
	assert_false(http_percent_equals("a%2fb", 5, false, "a/bc", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(literal_route_matches),
		cmocka_unit_test(param_values_are_decoded),
		cmocka_unit_test(malformed_escape_is_not_found),
		cmocka_unit_test(params_not_fitting_scratch_are_not_found),
		cmocka_unit_test(rest_param_takes_remainder),
		cmocka_unit_test(unknown_path_is_404_wrong_method_is_405),
		cmocka_unit_test(head_matches_get_route),
		cmocka_unit_test(literal_beats_param),
		cmocka_unit_test(invalid_patterns_are_rejected),
		cmocka_unit_test(duplicate_route_is_rejected),
		cmocka_unit_test(router_fills_up),
		cmocka_unit_test(method_names_are_standard),
		cmocka_unit_test(metrics_count_by_route_and_status),
		cmocka_unit_test(shared_pattern_histograms_do_not_repeat),
		cmocka_unit_test(histogram_without_labels_has_no_braces),
		cmocka_unit_test(status_slots_overflow_to_other),
		cmocka_unit_test(percent_decode_checks_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
