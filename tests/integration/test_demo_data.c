/*
 * The demo catalog loader against the real jkd binary: it creates at least
 * eighty products with variants and pictures, some sold out, and a second
 * run adds no products.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "tests/integration/accounts_helpers.h"

static struct jkd_node node;

static int node_setup(void **state)
{
	static const char *const flags[] = {TEST_AUTH_FLAGS, NULL};
	struct test_session admin;

	(void)state;
	jkd_start(&node, false, flags);
	create_admin(&node, "demo@jkd.es", "demo-jkd-2026", &admin);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

/* Runs jkd-demo against the node; returns its exit status and its output in out. */
static int run_demo(char *out, size_t out_size)
{
	char command[1024];
	FILE *pipe;
	size_t len;
	int status;

	snprintf(command, sizeof(command), "echo demo-jkd-2026 | '%s' --url http://127.0.0.1:%d --email demo@jkd.es 2>&1",
		 getenv("JKD_DEMO_BIN"), node.port);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	len = fread(out, 1, out_size - 1, pipe);
	out[len] = '\0';
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *get_json(const char *path)
{
	struct http_reply reply;
	json_t *json;

	http_request(node.port, "GET", path, NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	json = json_loads(reply.body, 0, NULL);
	assert_non_null(json);
	http_reply_free(&reply);
	return json;
}

static void demo_loads_eighty_products(void **state)
{
	char output[4096];
	json_t *list;

	(void)state;
	if (run_demo(output, sizeof(output)) != 0)
		fail_msg("jkd-demo failed: %s", output);
	list = get_json("/api/v1/products?page_size=1");
	assert_true(json_integer_value(json_object_get(list, "total")) >= 80);
	json_decref(list);
}

static void demo_has_sold_out_products(void **state)
{
	json_t *all = get_json("/api/v1/products?page_size=1");
	json_t *in_stock = get_json("/api/v1/products?page_size=1&in_stock=true");
	json_t *product = get_json("/api/v1/products/zapatillas-running-mujer");
	json_t *variants = json_object_get(product, "variants");
	size_t sold_out = 0, i;
	json_t *variant;

	(void)state;
	json_array_foreach(variants, i, variant) sold_out += json_is_false(json_object_get(variant, "available"));
	/* The seeded loader sells out about one variant in eight, so a product with 18 variants has some. */
	assert_true(json_array_size(variants) >= 12);
	assert_true(sold_out > 0);
	assert_true(json_integer_value(json_object_get(in_stock, "total")) <= json_integer_value(json_object_get(all, "total")));
	json_decref(all);
	json_decref(in_stock);
	json_decref(product);
}

static void demo_pictures_are_png(void **state)
{
	json_t *product = get_json("/api/v1/products/vestido-midi-mujer");
	json_t *image = json_array_get(json_object_get(product, "images"), 0);
	const char *url = json_string_value(json_object_get(image, "url"));
	struct http_reply reply;
	char type[64];

	(void)state;
	assert_non_null(url);
	http_request(node.port, "GET", url, NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "image/png");
	assert_memory_equal(reply.body, "\x89PNG", 4);
	http_reply_free(&reply);
	json_decref(product);
}

static void second_run_changes_nothing(void **state)
{
	char output[4096];
	json_t *before = get_json("/api/v1/products?page_size=1"), *after;

	(void)state;
	assert_int_equal(run_demo(output, sizeof(output)), 0);
	assert_non_null(strstr(output, "ya está cargado"));
	after = get_json("/api/v1/products?page_size=1");
	assert_int_equal(json_integer_value(json_object_get(before, "total")),
			 json_integer_value(json_object_get(after, "total")));
	json_decref(before);
	json_decref(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(demo_loads_eighty_products),
		cmocka_unit_test(demo_has_sold_out_products),
		cmocka_unit_test(demo_pictures_are_png),
		cmocka_unit_test(second_run_changes_nothing),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
