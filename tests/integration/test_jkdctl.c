/*
 * jkdctl against the real jkd binary: creating an administrator, raw KV
 * commands, health, the cluster key file and digest, and its exit codes for
 * usage errors, refusals and an unreachable node. Output is in Spanish,
 * because the environment selects no other language.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	assert_non_null(strstr(output, "comando desconocido \"desconocido\""));
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

/* Fills path with a file name inside the node's data directory, removed with it. */
static void key_path(const char *name, char *path, size_t size)
{
	int len = snprintf(path, size, "%s/%s", node.data_dir, name);

	assert_true(len > 0 && (size_t)len < size);
}

/* Reads a small file into text as a C string; returns its length. */
static size_t small_file_read(const char *path, char *text, size_t size)
{
	FILE *file = fopen(path, "r");
	size_t len;

	assert_non_null(file);
	len = fread(text, 1, size - 1, file);
	fclose(file);
	text[len] = '\0';
	return len;
}

static void cluster_keygen_writes_hex_key(void **state)
{
	char path[600], args[700], output[4096], text[128];
	struct stat st;
	size_t len;

	(void)state;
	key_path("keygen-new.key", path, sizeof(path));
	/* keygen works offline, so a missing token file does not matter. */
	snprintf(args, sizeof(args), "--token-file /nonexistent/operator.token cluster keygen '%s'", path);
	assert_int_equal(jkdctl(args, NULL, 0, output, sizeof(output)), 0);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	len = small_file_read(path, text, sizeof(text));
	assert_int_equal(len, 65);
	assert_int_equal(strspn(text, "0123456789abcdef"), 64);
	assert_int_equal(text[64], '\n');
}

static void cluster_keygen_refuses_overwrite(void **state)
{
	char path[600], args[700], output[4096], before[128], after[128];

	(void)state;
	key_path("keygen-twice.key", path, sizeof(path));
	snprintf(args, sizeof(args), "cluster keygen '%s'", path);
	assert_int_equal(jkdctl(args, NULL, 0, output, sizeof(output)), 0);
	small_file_read(path, before, sizeof(before));

	assert_int_equal(jkdctl(args, NULL, 0, output, sizeof(output)), 1);
	assert_non_null(strstr(output, "ya existe"));
	small_file_read(path, after, sizeof(after));
	assert_string_equal(after, before);
}

static void cluster_keygen_without_path_exits_2(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("cluster keygen", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "cluster keygen necesita un argumento"));
}

static void cluster_digest_prints_endpoint_digest(void **state)
{
	struct http_reply reply;
	char output[4096], digest[65];
	const char *start;

	(void)state;
	assert_int_equal(jkdctl("kv put resumen/clave valor", NULL, 0, output, sizeof(output)), 0);
	http_operator(&node, "GET", "/ops/v1/digest", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	start = strstr(reply.body, "\"digest\":\"");
	assert_non_null(start);
	memcpy(digest, start + strlen("\"digest\":\""), 64);
	digest[64] = '\0';
	http_reply_free(&reply);

	assert_int_equal(jkdctl("cluster digest", NULL, 0, output, sizeof(output)), 0);
	assert_non_null(strstr(output, digest));
}

static void cluster_bad_node_id_exits_2(void **state)
{
	static const char *const commands[] = {
		"cluster add 0 tcp://127.0.0.1:7404",
		"cluster add 256 tcp://127.0.0.1:7404",
		"cluster add cuatro tcp://127.0.0.1:7404",
		"cluster add -4 tcp://127.0.0.1:7404",
		"cluster remove 0",
		"cluster remove 1x",
		"cluster transfer 1000",
	};
	char output[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int rc = jkdctl(commands[i], NULL, 0, output, sizeof(output));

		if (rc != 2 || strstr(output, "id de nodo") == NULL)
			fail_msg("\"%s\" exited %d with: %s", commands[i], rc, output);
	}
}

static void cluster_add_missing_address_exits_2(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("cluster add 4", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "cluster add necesita el id de un nodo y su dirección"));
}

static void cluster_add_bad_address_exits_2(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("cluster add 4 127.0.0.1:7404", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "dirección \"127.0.0.1:7404\" no válida"));
}

static void cluster_missing_id_exits_2(void **state)
{
	char output[4096];

	(void)state;
	assert_int_equal(jkdctl("cluster remove", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "cluster remove necesita el id de un nodo"));
	assert_int_equal(jkdctl("cluster transfer", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "cluster transfer necesita el id de un nodo"));
	assert_int_equal(jkdctl("cluster", NULL, 0, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "cluster necesita keygen"));
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
		cmocka_unit_test(cluster_keygen_writes_hex_key),
		cmocka_unit_test(cluster_keygen_refuses_overwrite),
		cmocka_unit_test(cluster_keygen_without_path_exits_2),
		cmocka_unit_test(cluster_digest_prints_endpoint_digest),
		cmocka_unit_test(cluster_bad_node_id_exits_2),
		cmocka_unit_test(cluster_add_missing_address_exits_2),
		cmocka_unit_test(cluster_add_bad_address_exits_2),
		cmocka_unit_test(cluster_missing_id_exits_2),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
