/*
 * GET /ops/v1/digest against two real jkd processes with separate data
 * directories: the same writes in the same order give the same digest and
 * applied index, and one more write changes the digest.
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

#define DIGEST_HEX_CHARS 64

static struct jkd_node first, second;

static int nodes_setup(void **state)
{
	(void)state;
	jkd_start(&first, false, NULL);
	jkd_start(&second, false, NULL);
	return 0;
}

static int nodes_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&first), 0);
	assert_int_equal(jkd_stop(&second), 0);
	jkd_cleanup(&first);
	jkd_cleanup(&second);
	return 0;
}

struct digest {
	long long applied_index;
	char hex[DIGEST_HEX_CHARS + 1];
};

static void digest_get(struct jkd_node *node, struct digest *out)
{
	struct http_reply reply;
	json_error_t error;
	json_t *body;
	const char *hex = NULL;

	http_operator(node, "GET", "/ops/v1/digest", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	body = json_loads(reply.body, 0, &error);
	assert_non_null(body);
	assert_int_equal(json_unpack(body, "{s:I, s:s}", "applied_index", &out->applied_index, "digest", &hex), 0);
	assert_int_equal(strlen(hex), DIGEST_HEX_CHARS);
	assert_int_equal(strspn(hex, "0123456789abcdef"), DIGEST_HEX_CHARS);
	memcpy(out->hex, hex, DIGEST_HEX_CHARS + 1);
	json_decref(body);
	http_reply_free(&reply);
}

static void put(struct jkd_node *node, const char *key, const char *value)
{
	struct http_reply reply;
	char path[256];

	snprintf(path, sizeof(path), "/kv/v1/%s", key);
	http_operator(node, "PUT", path, NULL, value, strlen(value), &reply);
	/* 201 creates the key, 200 replaces its value. */
	assert_in_range(reply.status, 200, 201);
	http_reply_free(&reply);
}

static void del(struct jkd_node *node, const char *key)
{
	struct http_reply reply;
	char path[256];

	snprintf(path, sizeof(path), "/kv/v1/%s", key);
	http_operator(node, "DELETE", path, NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
}

/* The same writes, in the same order, on one node. */
static void writes_apply(struct jkd_node *node)
{
	put(node, "tienda/nombre", "JKD Clothing");
	put(node, "tienda/moneda", "EUR");
	put(node, "tienda/temporal", "se borra");
	put(node, "tienda/moneda", "EUR (euro)");
	del(node, "tienda/temporal");
}

static void digest_requires_operator_token(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(first.operator_port, "GET", "/ops/v1/digest", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 401);
	assert_non_null(strstr(reply.body, "\"field\":\"Authorization\""));
	http_reply_free(&reply);
}

static void digest_absent_on_public_port(void **state)
{
	struct http_reply reply;

	(void)state;
	http_request(first.port, "GET", "/ops/v1/digest", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void digest_equal_on_fresh_nodes(void **state)
{
	struct digest a, b;

	(void)state;
	digest_get(&first, &a);
	digest_get(&second, &b);
	/* The applied index may count the leader's no-op entry or not yet; the digest leaves it out. */
	assert_string_equal(a.hex, b.hex);
}

static void digest_equal_after_same_writes(void **state)
{
	struct digest a, b;

	(void)state;
	writes_apply(&first);
	writes_apply(&second);
	digest_get(&first, &a);
	digest_get(&second, &b);
	/* Five writes after the no-op entry each node appends when it elects itself. */
	assert_int_equal(a.applied_index, 6);
	assert_int_equal(b.applied_index, a.applied_index);
	assert_string_equal(a.hex, b.hex);
}

static void digest_changes_after_extra_write(void **state)
{
	struct digest before, after, other;

	(void)state;
	writes_apply(&first);
	writes_apply(&second);
	digest_get(&second, &before);
	put(&second, "tienda/extra", "1");
	digest_get(&second, &after);
	digest_get(&first, &other);
	assert_int_equal(after.applied_index, before.applied_index + 1);
	assert_string_not_equal(after.hex, before.hex);
	assert_string_not_equal(after.hex, other.hex);
}

static void digest_survives_restart(void **state)
{
	struct digest before, after;

	(void)state;
	writes_apply(&first);
	digest_get(&first, &before);
	assert_int_equal(jkd_stop(&first), 0);
	jkd_start(&first, true, NULL);
	digest_get(&first, &after);
	assert_int_equal(after.applied_index, before.applied_index);
	assert_string_equal(after.hex, before.hex);
}

#define NODES_TEST(name) cmocka_unit_test_setup_teardown(name, nodes_setup, nodes_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		NODES_TEST(digest_requires_operator_token),
		NODES_TEST(digest_absent_on_public_port),
		NODES_TEST(digest_equal_on_fresh_nodes),
		NODES_TEST(digest_equal_after_same_writes),
		NODES_TEST(digest_changes_after_extra_write),
		NODES_TEST(digest_survives_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
