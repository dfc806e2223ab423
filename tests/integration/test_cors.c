/*
 * Cross-origin calls between the nodes of a cluster: a node started with
 * --http-cluster-origins lists them at GET /api/v1/nodes, adds them to its
 * CSP's connect-src, responds to their requests and preflights with CORS
 * headers with credentials, and gives any other origin none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define ALLOWED "http://127.0.0.1:18181"
#define OTHER_ALLOWED "https://tienda-2.example:8443"
#define FOREIGN "http://evil.example"

static struct jkd_node node;

static int node_setup(void **state)
{
	static const char *const flags[] = {"--http-cluster-origins", ALLOWED "," OTHER_ALLOWED, NULL};

	(void)state;
	jkd_start(&node, false, flags);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

static void request_from(const char *method, const char *path, const char *origin, struct http_reply *reply)
{
	char headers[256];

	snprintf(headers, sizeof(headers), "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n", origin);
	http_request(node.port, method, path, headers, NULL, 0, reply);
}

static void nodes_route_lists_origins(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(node.port, "GET", "/api/v1/nodes", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "\"" ALLOWED "\""));
	assert_non_null(strstr(reply.body, "\"" OTHER_ALLOWED "\""));
	http_reply_free(&reply);
}

static void csp_allows_cluster_origins(void **state)
{
	struct http_reply reply;
	char csp[512];

	(void)state;
	http_request(node.port, "GET", "/api/v1/nodes", NULL, NULL, 0, &reply);
	assert_true(http_reply_header(&reply, "Content-Security-Policy", csp, sizeof(csp)));
	assert_non_null(strstr(csp, "connect-src 'self' " ALLOWED " " OTHER_ALLOWED ";"));
	assert_non_null(strstr(csp, "script-src 'self';"));
	http_reply_free(&reply);
}

static void allowed_origin_gets_cors_headers(void **state)
{
	struct http_reply reply;
	char value[256];

	(void)state;
	request_from("GET", "/api/v1/products?limit=1", OTHER_ALLOWED, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "Access-Control-Allow-Origin", value, sizeof(value)));
	assert_string_equal(value, OTHER_ALLOWED);
	assert_true(http_reply_header(&reply, "Access-Control-Allow-Credentials", value, sizeof(value)));
	assert_string_equal(value, "true");
	assert_true(http_reply_header(&reply, "Vary", value, sizeof(value)));
	assert_string_equal(value, "Origin");
	http_reply_free(&reply);
}

static void errors_carry_cors_headers_too(void **state)
{
	struct http_reply reply;
	char value[256];

	(void)state;
	request_from("GET", "/api/v1/no-such-route", ALLOWED, &reply);
	assert_int_equal(reply.status, 404);
	assert_true(http_reply_header(&reply, "Access-Control-Allow-Origin", value, sizeof(value)));
	assert_string_equal(value, ALLOWED);
	http_reply_free(&reply);
}

static void foreign_origin_gets_no_cors_headers(void **state)
{
	struct http_reply reply;
	char value[256];

	(void)state;
	request_from("GET", "/api/v1/products?limit=1", FOREIGN, &reply);
	assert_int_equal(reply.status, 200);
	assert_false(http_reply_header(&reply, "Access-Control-Allow-Origin", value, sizeof(value)));
	http_reply_free(&reply);
}

static void allowed_preflight_gets_204(void **state)
{
	struct http_reply reply;
	char value[256];

	(void)state;
	request_from("OPTIONS", "/api/v1/cart/lines", ALLOWED, &reply);
	assert_int_equal(reply.status, 204);
	assert_true(http_reply_header(&reply, "Access-Control-Allow-Methods", value, sizeof(value)));
	assert_non_null(strstr(value, "POST"));
	assert_true(http_reply_header(&reply, "Access-Control-Allow-Headers", value, sizeof(value)));
	assert_non_null(strstr(value, "X-CSRF-Token"));
	assert_non_null(strstr(value, "Idempotency-Key"));
	http_reply_free(&reply);
}

static void foreign_preflight_gets_405(void **state)
{
	struct http_reply reply;

	(void)state;
	request_from("OPTIONS", "/api/v1/cart/lines", FOREIGN, &reply);
	assert_int_equal(reply.status, 405);
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nodes_route_lists_origins),
		cmocka_unit_test(csp_allows_cluster_origins),
		cmocka_unit_test(allowed_origin_gets_cors_headers),
		cmocka_unit_test(errors_carry_cors_headers_too),
		cmocka_unit_test(foreign_origin_gets_no_cors_headers),
		cmocka_unit_test(allowed_preflight_gets_204),
		cmocka_unit_test(foreign_preflight_gets_405),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
