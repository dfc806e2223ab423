/*
 * Start-up and shutdown of the real jkd binary: SIGTERM lets a request in
 * progress finish, drops connections that have not sent a whole request
 * line and headers, and exits with status 0. Also the configuration errors
 * that stop start-up.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

/* Long timeouts, so only the shutdown logic can end the connections below. */
static const char *const slow_flags[] = {
	"--http-header-timeout-ms", "60000",
	"--http-body-timeout-ms", "60000",
	"--http-shutdown-timeout-ms", "60000",
	NULL,
};

static void sigterm_finishes_request_in_progress(void **state)
{
	struct jkd_node node;
	struct http_reply reply;
	char head[512], connection[32];
	int fd, len;

	(void)state;
	jkd_start(&node, false, slow_flags);
	fd = http_connect(node.operator_port);
	len = snprintf(head, sizeof(head),
		       "PUT /kv/v1/late HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		       "Content-Length: 10\r\nExpect: 100-continue\r\n\r\n",
		       node.token);
	assert_int_equal(http_send(fd, head, (size_t)len), 0);
	/* The interim 100 proves the node parsed the headers, so the request is in progress at SIGTERM. */
	assert_int_equal(http_read_reply(fd, &reply), 0);
	assert_int_equal(reply.status, 100);
	http_reply_free(&reply);
	assert_int_equal(http_send(fd, "half-", 5), 0);

	kill(node.pid, SIGTERM);
	assert_int_equal(http_send(fd, "done!", 5), 0);
	assert_int_equal(http_read_reply(fd, &reply), 0);
	assert_int_equal(reply.status, 201);
	assert_true(http_reply_header(&reply, "Connection", connection, sizeof(connection)));
	assert_string_equal(connection, "close");
	http_reply_free(&reply);
	http_close(fd);
	assert_int_equal(jkd_stop(&node), 0);

	jkd_start(&node, true, NULL);
	http_operator(&node, "GET", "/kv/v1/late", NULL, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_string_equal(reply.body, "half-done!");
	http_reply_free(&reply);
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
}

static void sigterm_drops_partial_headers(void **state)
{
	static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	struct jkd_node node;
	int fd;

	(void)state;
	jkd_start(&node, false, slow_flags);
	fd = http_connect(node.port);
	assert_int_equal(http_send(fd, partial, strlen(partial)), 0);
	assert_node_healthy(&node);

	kill(node.pid, SIGTERM);
	/* With 60 s timeouts, only the shutdown can close this connection within 20 s. */
	assert_true(http_wait_closed(fd, 20000));
	http_close(fd);
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
}

/* Runs jkd with args and returns its exit status, with its stderr in out. */
static int run_jkd(const char *const *args, char *out, size_t out_size)
{
	char command[2048] = "";
	FILE *pipe;
	size_t len;
	int status;

	snprintf(command, sizeof(command), "env LANG=C.UTF-8 '%s'", getenv("JKD_BIN"));
	for (size_t i = 0; args[i] != NULL; i++) {
		strncat(command, " '", sizeof(command) - strlen(command) - 1);
		strncat(command, args[i], sizeof(command) - strlen(command) - 1);
		strncat(command, "'", sizeof(command) - strlen(command) - 1);
	}
	strncat(command, " 2>&1", sizeof(command) - strlen(command) - 1);
	pipe = popen(command, "r");
	assert_non_null(pipe);
	len = fread(out, 1, out_size - 1, pipe);
	out[len] = '\0';
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void unknown_flag_exits_2_in_spanish(void **state)
{
	static const char *const args[] = {"--no-such-flag", "1", NULL};
	char out[4096];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "opción desconocida --no-such-flag"));
}

static void out_of_range_value_names_flag(void **state)
{
	static const char *const args[] = {"--http-workers", "100000", NULL};
	char out[4096];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--http-workers"));
	assert_non_null(strstr(out, "0 a 256"));
}

static void malformed_peer_list_exits_2(void **state)
{
	static const char *const args[] = {"--cluster-listen", "tcp://127.0.0.1:1", "--cluster-peers", "2", NULL};
	char out[4096];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--cluster-peers \"2\" no es válido"));
}

static void peers_without_listen_address_exit_2(void **state)
{
	static const char *const args[] = {"--cluster-peers", "2=tcp://127.0.0.1:1", NULL};
	char out[4096];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--cluster-peers necesita --cluster-listen"));
}

static void origin_with_path_exits_2(void **state)
{
	static const char *const args[] = {"--http-cluster-origins", "http://10.0.0.1:8080/tienda", NULL};
	char out[4096];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "--http-cluster-origins"));
}

static void second_node_on_same_directory_fails(void **state)
{
	struct jkd_node node;
	char output[8192], dir_flag[600];
	const char *args[] = {"--node-data-dir", dir_flag, "--http-listen", "127.0.0.1:0", "--operator-listen",
			      "127.0.0.1:0", NULL};

	(void)state;
	jkd_start(&node, false, NULL);
	snprintf(dir_flag, sizeof(dir_flag), "%s", node.data_dir);
	assert_int_equal(run_jkd(args, output, sizeof(output)), 1);
	assert_non_null(strstr(output, "msg=data_dir_locked"));
	assert_node_healthy(&node);
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
}

static void config_directory_is_rejected(void **state)
{
	static const char *const args[] = {"--config", "/tmp", NULL};
	char output[4096];

	(void)state;
	assert_int_equal(run_jkd(args, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "/tmp"));
}

static void host_name_listen_is_rejected(void **state)
{
	static const char *const args[] = {"--http-listen", "localhost:8080", NULL};
	char output[4096];

	(void)state;
	assert_int_equal(run_jkd(args, output, sizeof(output)), 2);
	assert_non_null(strstr(output, "--http-listen"));
}

static void help_lists_every_setting(void **state)
{
	static const char *const args[] = {"--help", NULL};
	char out[16384];

	(void)state;
	assert_int_equal(run_jkd(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "--http-listen"));
	assert_non_null(strstr(out, "--storage-map-size-max-mb"));
	assert_non_null(strstr(out, "milisegundos"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigterm_finishes_request_in_progress),
		cmocka_unit_test(sigterm_drops_partial_headers),
		cmocka_unit_test(unknown_flag_exits_2_in_spanish),
		cmocka_unit_test(malformed_peer_list_exits_2),
		cmocka_unit_test(peers_without_listen_address_exit_2),
		cmocka_unit_test(origin_with_path_exits_2),
		cmocka_unit_test(out_of_range_value_names_flag),
		cmocka_unit_test(help_lists_every_setting),
		cmocka_unit_test(second_node_on_same_directory_fails),
		cmocka_unit_test(config_directory_is_rejected),
		cmocka_unit_test(host_name_listen_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
