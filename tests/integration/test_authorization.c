/*
 * Authorisation of every documented route against the real jkd binary.
 * The operations are read from docs/api/openapi.yaml (whose agreement with
 * the router test_openapi checks), so a new route is covered as soon as it
 * is documented:
 *   - /api/v1/admin/...: anonymous 401, customer 403, admin neither;
 *   - other routes that need a session only: anonymous 401;
 *   - operator routes: 401 without the operator token.
 * Path parameters are 1; on a node with no data the admin calls find
 * nothing to change. Ownership between customers (another customer's order
 * is 404) is tested with the orders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/accounts_helpers.h"

#define OPERATIONS_MAX 256

struct operation {
	char method[8];
	char path[160];     /* with parameters replaced by 1 */
	char security[64];  /* the security line, "" if none */
};

static struct jkd_node node;
static struct test_session customer, admin;
static struct operation operations[OPERATIONS_MAX];
static size_t operation_count;

static void path_fill(const char *pattern, char *out, size_t out_size)
{
	size_t n = 0;

	for (const char *p = pattern; *p != '\0' && n + 2 < out_size; p++) {
		if (*p == '{') {
			out[n++] = '1';
			while (*p != '\0' && *p != '}')
				p++;
			if (*p == '\0')
				break;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void operations_load(void)
{
	static const char *const methods[] = {"get", "put", "post", "patch", "delete"};
	char file[1024], line[1024], path[160] = "";
	struct operation *current = NULL;
	FILE *f;

	snprintf(file, sizeof(file), "%s/docs/api/openapi.yaml", getenv("JKD_SOURCE_DIR"));
	f = fopen(file, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
			snprintf(path, sizeof(path), "%.*s", (int)strlen(line) - 3, line + 2);
			current = NULL;
			continue;
		}
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			char expected[16];

			snprintf(expected, sizeof(expected), "    %s:", methods[i]);
			if (path[0] == '\0' || strcmp(line, expected) != 0)
				continue;
			assert_true(operation_count < OPERATIONS_MAX);
			current = &operations[operation_count++];
			for (size_t k = 0; methods[i][k] != '\0'; k++)
				current->method[k] = (char)(methods[i][k] - 32);
			path_fill(path, current->path, sizeof(current->path));
		}
		if (current != NULL && strncmp(line, "      security: ", 16) == 0)
			snprintf(current->security, sizeof(current->security), "%.63s", line + 16);
	}
	fclose(f);
	assert_true(operation_count > 40);
}

static int node_setup(void **state)
{
	static const char *const flags[] = {TEST_AUTH_FLAGS, "--auth-login-address-attempts", "100000", NULL};

	(void)state;
	operations_load();
	jkd_start(&node, false, flags);
	create_admin(&node, "control@jkd.es", "control-acceso-1", &admin);
	register_customer(&node, "cliente@example.es", "control-acceso-2", &customer);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

/* Sends the operation with an empty JSON object as body and extra headers; returns the status. */
static int send_operation(int port, const struct operation *op, const char *headers)
{
	char all[512];
	struct http_reply reply;
	int status;

	snprintf(all, sizeof(all), "Content-Type: application/json\r\n%s", headers != NULL ? headers : "");
	http_request(port, op->method, op->path, all, "{}", 2, &reply);
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

static bool is_admin(const struct operation *op)
{
	return strncmp(op->path, "/api/v1/admin/", 14) == 0;
}

static void admin_routes_need_admin(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < operation_count; i++) {
		const struct operation *op = &operations[i];
		int anonymous, as_customer, as_admin;

		if (!is_admin(op))
			continue;
		anonymous = send_operation(node.port, op, NULL);
		as_customer = send_operation(node.port, op, customer.bearer);
		as_admin = send_operation(node.port, op, admin.bearer);
		if (anonymous != 401 || as_customer != 403 || as_admin == 401 || as_admin == 403)
			fail_msg("%s %s: anonymous %d (want 401), customer %d (want 403), admin %d", op->method, op->path,
				 anonymous, as_customer, as_admin);
		checked++;
	}
	assert_true(checked > 20);
}

static void session_routes_need_login(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < operation_count; i++) {
		const struct operation *op = &operations[i];
		int anonymous;

		if (is_admin(op) || strcmp(op->security, "[{session: []}]") != 0)
			continue;
		anonymous = send_operation(node.port, op, NULL);
		if (anonymous != 401)
			fail_msg("%s %s: anonymous got %d, want 401", op->method, op->path, anonymous);
		checked++;
	}
	assert_true(checked > 0);
}

static void operator_routes_need_token(void **state)
{
	size_t checked = 0;

	(void)state;
	for (size_t i = 0; i < operation_count; i++) {
		const struct operation *op = &operations[i];
		int status;

		if (strcmp(op->security, "[{operator: []}]") != 0)
			continue;
		status = send_operation(node.operator_port, op, customer.bearer);
		if (status != 401)
			fail_msg("%s %s on the operator port with a customer token got %d, want 401", op->method,
				 op->path, status);
		checked++;
	}
	assert_true(checked >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_routes_need_admin),
		cmocka_unit_test(session_routes_need_login),
		cmocka_unit_test(operator_routes_need_token),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
