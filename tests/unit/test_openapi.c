/*
 * docs/api/openapi.yaml and the router agree: every route the node
 * registers is described, and every described path and method is a route.
 * A final {name...} parameter in a route is {name} in OpenAPI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/node.h"

#define OPERATIONS_MAX 512

struct operation_set {
	char items[OPERATIONS_MAX][160]; /* "GET /api/v1/me" */
	size_t count;
};

static void set_add(struct operation_set *set, const char *method, const char *path)
{
	char item[160];

	snprintf(item, sizeof(item), "%.7s %.150s", method, path);
	for (size_t i = 0; i < set->count; i++) {
		if (strcmp(set->items[i], item) == 0)
			return;
	}
	assert_true(set->count < OPERATIONS_MAX);
	strcpy(set->items[set->count++], item);
}

static bool set_has(const struct operation_set *set, const char *item)
{
	for (size_t i = 0; i < set->count; i++) {
		if (strcmp(set->items[i], item) == 0)
			return true;
	}
	return false;
}

static void route_visit(enum http_method method, const char *pattern, void *ctx)
{
	char path[160];
	char *rest;

	snprintf(path, sizeof(path), "%.159s", pattern);
	rest = strstr(path, "...}");
	if (rest != NULL)
		memmove(rest, rest + 3, strlen(rest + 3) + 1);
	set_add(ctx, http_method_name(method), path);
}

/* Reads "  /path:" and "    get:" lines of the paths section. */
static void load_openapi(struct operation_set *set)
{
	char path_name[1024], line[1024], current[160] = "";
	static const char *const methods[] = {"get", "put", "post", "patch", "delete"};
	FILE *f;
	bool in_paths = false;

	snprintf(path_name, sizeof(path_name), "%s/docs/api/openapi.yaml", getenv("JKD_SOURCE_DIR"));
	f = fopen(path_name, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "paths:") == 0) {
			in_paths = true;
			continue;
		}
		if (!in_paths)
			continue;
		if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
			snprintf(current, sizeof(current), "%.*s", (int)strlen(line) - 3, line + 2);
			continue;
		}
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			char expected[32];
			char upper[16];

			snprintf(expected, sizeof(expected), "    %s:", methods[i]);
			if (strcmp(line, expected) != 0)
				continue;
			for (size_t k = 0; k <= strlen(methods[i]); k++)
				upper[k] = (char)(methods[i][k] >= 'a' ? methods[i][k] - 32 : methods[i][k]);
			set_add(set, upper, current);
		}
	}
	fclose(f);
}

static void routes_match_openapi(void **state)
{
	static struct operation_set routes, documented;
	struct node node;
	bool ok = true;

	(void)state;
	memset(&node, 0, sizeof(node));
	assert_int_equal(config_set_defaults(node_config_options, node_config_option_count, &node.config), 0);
	assert_int_equal(node_routes_register(&node), 0);
	http_router_each(node.public_router, route_visit, &routes);
	http_router_each(node.operator_router, route_visit, &routes);
	load_openapi(&documented);

	for (size_t i = 0; i < routes.count; i++) {
		if (!set_has(&documented, routes.items[i])) {
			fprintf(stderr, "route missing from docs/api/openapi.yaml: %s\n", routes.items[i]);
			ok = false;
		}
	}
	for (size_t i = 0; i < documented.count; i++) {
		if (!set_has(&routes, documented.items[i])) {
			fprintf(stderr, "documented operation has no route: %s\n", documented.items[i]);
			ok = false;
		}
	}
	http_router_free(node.public_router);
	http_router_free(node.operator_router);
	ratelimit_destroy(&node.login_by_account);
	ratelimit_destroy(&node.login_by_address);
	config_free(node_config_options, node_config_option_count, &node.config);
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_match_openapi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
