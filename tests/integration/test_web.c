/*
 * The storefront served by the real jkd binary: the HTML shell at every
 * page route, the embedded files under /static/ with ETag revalidation,
 * 404 problems for unknown files, and the security headers on every
 * response of both listeners.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tests/integration/harness.h"

#define EXPECTED_CSP                                                                                \
	"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "        \
	"script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "         \
	"form-action 'self'"

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

static void get(const char *path, const char *headers, struct http_reply *reply)
{
	http_request(node.port, "GET", path, headers, NULL, 0, reply);
}

static void assert_header(const struct http_reply *reply, const char *name, const char *expected)
{
	char value[512];

	if (!http_reply_header(reply, name, value, sizeof(value)))
		fail_msg("header %s is missing", name);
	assert_string_equal(value, expected);
}

static void assert_security_headers(const struct http_reply *reply)
{
	char value[256];

	assert_header(reply, "Content-Security-Policy", EXPECTED_CSP);
	assert_header(reply, "Referrer-Policy", "no-referrer");
	assert_header(reply, "X-Frame-Options", "DENY");
	assert_header(reply, "X-Content-Type-Options", "nosniff");
	assert_true(http_reply_header(reply, "Permissions-Policy", value, sizeof(value)));
	assert_non_null(strstr(value, "camera=()"));
}

static void page_routes_serve_shell(void **state)
{
	static const char *const pages[] = {"/", "/catalogo", "/catalogo?categoria=mujer&pagina=2",
					    "/producto/camiseta-basica", "/carrito", "/registro", "/entrar",
					    "/pedido", "/pedido/42", "/mis-pedidos"};
	struct http_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		get(pages[i], NULL, &reply);
		if (reply.status != 200)
			fail_msg("GET %s: status %d", pages[i], reply.status);
		assert_header(&reply, "Content-Type", "text/html; charset=utf-8");
		assert_header(&reply, "Cache-Control", "no-cache");
		assert_security_headers(&reply);
		assert_non_null(strstr(reply.body, "<script type=\"module\" src=\"/static/js/app.js\"></script>"));
		assert_null(strstr(reply.body, "<script>"));
		assert_null(strstr(reply.body, "style="));
		http_reply_free(&reply);
	}
}

static void shell_revalidates_with_etag(void **state)
{
	struct http_reply reply;
	char etag[128], headers[200];

	(void)state;
	get("/carrito", NULL, &reply);
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-None-Match: %s\r\n", etag);
	get("/producto/otro", headers, &reply);
	assert_int_equal(reply.status, 304);
	assert_int_equal(reply.body_len, 0);
	assert_security_headers(&reply);
	http_reply_free(&reply);
}

static void static_file_has_type_etag_and_cache_control(void **state)
{
	struct http_reply reply;
	char etag[128];

	(void)state;
	get("/static/js/app.js", NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_header(&reply, "Content-Type", "text/javascript; charset=utf-8");
	assert_header(&reply, "Cache-Control", "public, max-age=300");
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	/* Strong: quoted, no W/ prefix. */
	assert_int_equal(etag[0], '"');
	assert_int_equal(etag[strlen(etag) - 1], '"');
	assert_true(reply.body_len > 0);
	assert_security_headers(&reply);
	http_reply_free(&reply);

	get("/static/css/site.css", NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_header(&reply, "Content-Type", "text/css; charset=utf-8");
	http_reply_free(&reply);
}

static void static_file_if_none_match_gets_304(void **state)
{
	struct http_reply reply;
	char etag[128], headers[256];

	(void)state;
	get("/static/i18n/es.json", NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-None-Match: \"0000\", %s\r\n", etag);
	get("/static/i18n/es.json", headers, &reply);
	assert_int_equal(reply.status, 304);
	assert_int_equal(reply.body_len, 0);
	assert_header(&reply, "ETag", etag);
	http_reply_free(&reply);

	get("/static/i18n/es.json", "If-None-Match: \"0000\"\r\n", &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
}

static void unknown_static_path_gets_problem(void **state)
{
	static const char *const paths[] = {"/static/nope.js", "/static/js", "/static/%2e%2e/index.html",
					    "/static/js/app.js%00.css", "/static/TESTIDS.md"};
	struct http_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get(paths[i], NULL, &reply);
		if (reply.status != 404)
			fail_msg("GET %s: status %d", paths[i], reply.status);
		assert_header(&reply, "Content-Type", "application/problem+json");
		assert_non_null(strstr(reply.body, "\"field\":\"path\""));
		assert_security_headers(&reply);
		http_reply_free(&reply);
	}
}

static void api_responses_carry_security_headers(void **state)
{
	struct http_reply reply;

	(void)state;
	get("/api/v1/categories", NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_security_headers(&reply);
	http_reply_free(&reply);

	get("/api/v1/products/no-such-product", NULL, &reply);
	assert_int_equal(reply.status, 404);
	assert_security_headers(&reply);
	http_reply_free(&reply);

	http_request(node.port, "DELETE", "/api/v1/categories", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 405);
	assert_security_headers(&reply);
	http_reply_free(&reply);

	http_operator(&node, "GET", "/healthz", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_security_headers(&reply);
	http_reply_free(&reply);
}

/* Returns the catalog at path parsed as a JSON object (new reference). */
static json_t *get_catalog(const char *path)
{
	struct http_reply reply;
	json_error_t error;
	json_t *json;

	get(path, NULL, &reply);
	assert_int_equal(reply.status, 200);
	json = json_loads(reply.body, 0, &error);
	if (json == NULL)
		fail_msg("%s: %s at line %d", path, error.text, error.line);
	assert_true(json_is_object(json));
	http_reply_free(&reply);
	return json;
}

static void web_catalogs_have_same_keys(void **state)
{
	json_t *es = get_catalog("/static/i18n/es.json");
	json_t *en = get_catalog("/static/i18n/en.json");
	const char *key;
	json_t *value;

	(void)state;
	json_object_foreach(es, key, value) {
		if (json_object_get(en, key) == NULL)
			fail_msg("web/i18n/en.json lacks %s", key);
		assert_true(json_is_string(value));
	}
	assert_int_equal(json_object_size(es), json_object_size(en));
	json_decref(es);
	json_decref(en);
}

/* ---- Admin panel ---- */

static void admin_routes_serve_admin_shell(void **state)
{
	static const char *const pages[] = {"/admin", "/admin/productos", "/admin/productos/12?x=1"};
	struct http_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		get(pages[i], NULL, &reply);
		if (reply.status != 200)
			fail_msg("GET %s: status %d", pages[i], reply.status);
		assert_header(&reply, "Content-Type", "text/html; charset=utf-8");
		assert_header(&reply, "Cache-Control", "no-cache");
		assert_security_headers(&reply);
		assert_non_null(strstr(reply.body,
				       "<script type=\"module\" src=\"/static/admin/js/admin.js\"></script>"));
		assert_null(strstr(reply.body, "/static/js/app.js"));
		assert_null(strstr(reply.body, "<script>"));
		assert_null(strstr(reply.body, "style="));
		http_reply_free(&reply);
	}
}

/* ---- End of the admin panel ---- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(page_routes_serve_shell),
		cmocka_unit_test(shell_revalidates_with_etag),
		cmocka_unit_test(static_file_has_type_etag_and_cache_control),
		cmocka_unit_test(static_file_if_none_match_gets_304),
		cmocka_unit_test(unknown_static_path_gets_problem),
		cmocka_unit_test(api_responses_carry_security_headers),
		cmocka_unit_test(web_catalogs_have_same_keys),
		/* Admin panel */
		cmocka_unit_test(admin_routes_serve_admin_shell),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
