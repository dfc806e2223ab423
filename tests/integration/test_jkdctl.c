/*
 * jkdctl against the real jkd binary: creating an administrator, raw KV
 * commands, health, and its exit codes for usage errors, refusals and an
 * unreachable node.
 */
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

/*
 * Runs "jkdctl ARGS" with stdin_text on standard input, against node (or
 * against port if it is not 0). Returns the exit status; output holds
 * standard output and standard error.
 */
static int jkdctl(const char *args, const char *stdin_text, int port, char *output, size_t output_size)
{
	char command[2048];
	FILE *pipe;
	size_t len;
	int status;

	snprintf(command, sizeof(command),
		 "printf '%%s\\n' '%s' | env LANG=C.UTF-8 LANGUAGE= JKD_NODE=127.0.0.1:%d "
		 "JKD_TOKEN_FILE='%s/operator.token' '%s' %s 2>&1",
		 stdin_text != NULL ? stdin_text : "", port != 0 ? port : node.operator_port, node.data_dir,
		 getenv("JKDCTL_BIN"), args);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	len = fread(output, 1, output_size - 1, pipe);
	output[len] = '\0';
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void admin_create_reads_password_from_stdin(void **state)
{
	char output[4096];
	struct test_session admin;

	(void)state;
	assert_int_equal(jkdctl("admin create --email dueña@jkd.es --name 'Dueña de la tienda'", "clave-segura-2026", 0,
				output, sizeof(output)),
			 0);
	assert_non_null(strstr(output, "\"role\":\"admin\""));
	assert_int_equal(login(&node, "dueña@jkd.es", "clave-segura-2026", &admin), 200);
}

static void admin_create_weak_password_exits_1(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("admin create --email otra@jkd.es --name Otra", "corta", 0, output, sizeof(output)), 1);
	assert_non_null(strstr(output, "contraseña"));
}

static void kv_put_then_get(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("kv put saludos/hola 'buenos días'", NULL, 0, output, sizeof(output)), 0);
	assert_int_equal(jkdctl("kv get saludos/hola", NULL, 0, output, sizeof(output)), 0);
	assert_string_equal(output, "buenos días\n");
	assert_int_equal(jkdctl("kv list saludos/", NULL, 0, output, sizeof(output)), 0);
	assert_non_null(strstr(output, "\"saludos/hola\""));
	assert_int_equal(jkdctl("kv delete saludos/hola", NULL, 0, output, sizeof(output)), 0);
	assert_int_equal(jkdctl("kv get saludos/hola", NULL, 0, output, sizeof(output)), 1);
	assert_non_null(strstr(output, "404"));
}

static void health_prints_applied_index(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("health", NULL, 0, output, sizeof(output)), 0);
	assert_non_null(strstr(output, "\"applied_index\""));
}

static void unknown_command_exits_2(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("desconocido", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "jkdctl --help"));
	assert_int_equal(jkdctl("--bogus x health", NULL, 0, output, sizeof(output)), 2);
}

static void unreachable_node_exits_3(void **state)
{
	char output[4096];

	(void)state;
	/* Port 1 on loopback has no listener on a test machine, so the connection is refused. */
	assert_int_equal(jkdctl("health", NULL, 1, output, sizeof(output)), 3);
	assert_non_null(strstr(output, "127.0.0.1:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_create_reads_password_from_stdin),
		cmocka_unit_test(admin_create_weak_password_exits_1),
		cmocka_unit_test(kv_put_then_get),
		cmocka_unit_test(health_prints_applied_index),
		cmocka_unit_test(unknown_command_exits_2),
		cmocka_unit_test(unreachable_node_exits_3),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
