/*
 * jkdctl: the operator's command-line tool. It talks HTTP to a node's
 * operator listener with the operator token and prints results in the
 * user's language (Spanish unless LANG or LANGUAGE selects English).
 *
 * Exit codes: 0 success, 1 the node rejected or failed the request (or a
 * local file was not written), 2 usage error, 3 the node could not be
 * reached.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/http_client.h"
#include "cli/jkdctl.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/i18n.h"

#define RESPONSE_MAX_BYTES HTTP_CLIENT_RESPONSE_MAX_BYTES
#define PASSWORD_MAX_BYTES 512
#define HELP_COLUMN 40 /* characters before a command's description in --help */

int jkdctl_request(const struct options *o, const char *method, const char *path, const char *content_type,
		   const void *body, size_t body_len, struct response *res)
{
	char headers[512];
	struct http_client_response reply;
	enum http_client_err err;

	snprintf(headers, sizeof(headers), "Authorization: Bearer %s\r\nAccept-Language: %s\r\n%s%s%s", o->token,
		 o->lang == I18N_EN ? "en" : "es", content_type != NULL ? "Content-Type: " : "",
		 content_type != NULL ? content_type : "", content_type != NULL ? "\r\n" : "");
	err = http_client_request(o->host, o->port, method, path, headers, body, body_len, &reply);
	if (err == HTTP_CLIENT_UNREACHABLE) {
		fprintf(stderr, tr(o, "jkdctl: cannot reach the node at %s:%d: %s\n"), o->host, o->port,
			strerror(errno != 0 ? errno : ECONNREFUSED));
		buf_free(&reply.body);
		return EXIT_UNREACHABLE;
	}
	if (err != HTTP_CLIENT_OK) {
		fprintf(stderr, tr(o, "jkdctl: the node at %s:%d sent no valid response\n"), o->host, o->port);
		buf_free(&reply.body);
		return EXIT_UNREACHABLE;
	}
	res->status = reply.status;
	res->body = reply.body;
	return 0;
}

int jkdctl_report_failure(const struct options *o, struct response *res)
{
	json_t *problem = json_loadb(res->body.data != NULL ? res->body.data : "", res->body.len, 0, NULL);
	const char *detail = json_string_value(json_object_get(problem, "detail"));

	fprintf(stderr, tr(o, "jkdctl: the node returned %d: %s\n"), res->status,
		detail != NULL ? detail : (res->body.data != NULL ? res->body.data : ""));
	json_decref(problem);
	buf_free(&res->body);
	return EXIT_REJECTED;
}

int jkdctl_run_and_print(const struct options *o, const char *method, const char *path, const char *type,
			 const void *body, size_t body_len)
{
	struct response res;
	int rc = jkdctl_request(o, method, path, type, body, body_len, &res);

	if (rc != 0)
		return rc;
	if (res.status >= 300)
		return jkdctl_report_failure(o, &res);
	if (res.body.len > 0) {
		fwrite(res.body.data, 1, res.body.len, stdout);
		if (res.body.data[res.body.len - 1] != '\n')
			fputc('\n', stdout);
	}
	buf_free(&res.body);
	return 0;
}

/* Percent-encodes a key for a URL path, keeping '/' so keys read naturally. */
static void path_encode(const char *in, char *out, size_t out_size)
{
	http_client_percent_encode(in, "-._~/", out, out_size);
}

int jkdctl_usage(const struct options *o, const char *message)
{
	if (message != NULL)
		fprintf(stderr, "jkdctl: %s\n", message);
	fprintf(stderr, "%s\n", tr(o, "Run \"jkdctl --help\" for the commands."));
	return EXIT_USAGE;
}

void jkdctl_help_row(const char *command, const char *description)
{
	size_t chars = 0;

	/* Columns count characters, not bytes, so that "DIRECCIÓN" lines up. */
	for (const unsigned char *p = (const unsigned char *)command; *p != '\0'; p++)
		chars += (*p & 0xc0) != 0x80;
	if (chars >= HELP_COLUMN) {
		printf("  %s\n  %*s %s\n", command, HELP_COLUMN, "", description);
		return;
	}
	printf("  %s%*s %s\n", command, (int)(HELP_COLUMN - chars), "", description);
}

static void print_help(const struct options *o)
{
	printf("%s\n\n", tr(o, "Usage: jkdctl [--node HOST:PORT] [--token-file FILE] COMMAND [ARGUMENTS]"));
	printf("%s\n\n", tr(o, "Operator tool of JKD Clothing: talks to a node's operator port."));
	printf("%s\n", tr(o, "Commands:"));
	jkdctl_help_row("health", tr(o, "Show the node's health and applied index."));
	jkdctl_help_row("metrics", tr(o, "Print the node's Prometheus metrics."));
	jkdctl_help_row(tr(o, "admin create --email EMAIL --name NAME"),
	       tr(o, "Create an administrator; the password is read from standard input."));
	jkdctl_help_row(tr(o, "kv get KEY"), tr(o, "Print a raw value."));
	jkdctl_help_row(tr(o, "kv put KEY VALUE"), tr(o, "Store a raw value (\"-\" reads it from standard input)."));
	jkdctl_help_row(tr(o, "kv delete KEY"), tr(o, "Delete a raw value."));
	jkdctl_help_row(tr(o, "kv list [PREFIX]"), tr(o, "List raw keys by prefix."));
	jkdctl_cluster_help(o);
	printf("\n");
	printf("%s\n", tr(o, "Options:"));
	jkdctl_help_row(tr(o, "--node HOST:PORT"),
	       tr(o, "Operator address of the node (default $JKD_NODE or 127.0.0.1:9080)."));
	jkdctl_help_row(tr(o, "--token-file FILE"),
	       tr(o, "File with the operator token (default $JKD_TOKEN_FILE or ./data/operator.token)."));
	printf("\n%s\n", tr(o, "Exit status: 0 success, 1 rejected by the node or a file not written, 2 usage error, 3 node unreachable."));
}

static bool read_token(struct options *o, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len;

	if (f == NULL) {
		fprintf(stderr, tr(o, "jkdctl: cannot read the token file %s: %s\n"), path, strerror(errno));
		return false;
	}
	len = fread(o->token, 1, sizeof(o->token) - 1, f);
	fclose(f);
	while (len > 0 && (o->token[len - 1] == '\n' || o->token[len - 1] == '\r' || o->token[len - 1] == ' '))
		len--;
	o->token[len] = '\0';
	return true;
}

static int cmd_admin_create(const struct options *o, int argc, char **argv)
{
	const char *email = NULL, *name = NULL;
	char password[PASSWORD_MAX_BYTES + 2];
	json_t *body;
	char *text;
	int rc;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--email") == 0)
			email = argv[i + 1];
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else
			return jkdctl_usage(o, tr(o, "admin create takes --email and --name"));
	}
	if (email == NULL || name == NULL || argc % 2 != 0)
		return jkdctl_usage(o, tr(o, "admin create takes --email and --name"));
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "%s", tr(o, "Password: "));
	if (fgets(password, sizeof(password), stdin) == NULL) {
		fprintf(stderr, "jkdctl: %s\n", tr(o, "missing password on standard input"));
		return EXIT_USAGE;
	}
	password[strcspn(password, "\r\n")] = '\0';
	body = json_pack("{s:s, s:s, s:s}", "email", email, "name", name, "password", password);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	explicit_bzero(password, sizeof(password));
	if (text == NULL)
		return jkdctl_usage(o, tr(o, "the email, name and password must be valid UTF-8"));
	rc = jkdctl_run_and_print(o, "POST", "/ops/v1/admins", "application/json", text, strlen(text));
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* Reads all of standard input into out (at most max bytes). */
static bool read_stdin(struct buf *out)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (!buf_append(out, chunk, n))
			return false;
	}
	return !ferror(stdin);
}

static int cmd_kv(const struct options *o, int argc, char **argv)
{
	char path[4096], encoded[3072];
	struct buf value;
	int rc;

	if (argc < 1)
		return jkdctl_usage(o, tr(o, "kv needs get, put, delete or list"));
	if (strcmp(argv[0], "list") == 0 && argc <= 2) {
		path_encode(argc == 2 ? argv[1] : "", encoded, sizeof(encoded));
		snprintf(path, sizeof(path), "/kv/v1?prefix=%s", encoded);
		return jkdctl_run_and_print(o, "GET", path, NULL, NULL, 0);
	}
	if (argc < 2)
		return jkdctl_usage(o, tr(o, "kv needs get, put, delete or list"));
	path_encode(argv[1], encoded, sizeof(encoded));
	snprintf(path, sizeof(path), "/kv/v1/%s", encoded);
	if (strcmp(argv[0], "get") == 0 && argc == 2)
		return jkdctl_run_and_print(o, "GET", path, NULL, NULL, 0);
	if (strcmp(argv[0], "delete") == 0 && argc == 2)
		return jkdctl_run_and_print(o, "DELETE", path, NULL, NULL, 0);
	if (strcmp(argv[0], "put") != 0 || argc != 3)
		return jkdctl_usage(o, tr(o, "kv needs get, put, delete or list"));
	if (strcmp(argv[2], "-") != 0)
		return jkdctl_run_and_print(o, "PUT", path, NULL, argv[2], strlen(argv[2]));
	buf_init(&value, RESPONSE_MAX_BYTES);
	if (!read_stdin(&value)) {
		buf_free(&value);
		fprintf(stderr, "jkdctl: %s\n", tr(o, "could not read the value from standard input"));
		return EXIT_USAGE;
	}
	rc = jkdctl_run_and_print(o, "PUT", path, NULL, value.data, value.len);
	buf_free(&value);
	return rc;
}

static bool command_known(const char *name)
{
	static const char *const commands[] = {"health", "metrics", "admin", "kv", "cluster"};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i]) == 0)
			return true;
	return false;
}

static int dispatch(const struct options *o, int argc, char **argv)
{
	if (strcmp(argv[0], "health") == 0 && argc == 1)
		return jkdctl_run_and_print(o, "GET", "/healthz", NULL, NULL, 0);
	if (strcmp(argv[0], "metrics") == 0 && argc == 1)
		return jkdctl_run_and_print(o, "GET", "/metrics", NULL, NULL, 0);
	if (strcmp(argv[0], "admin") == 0 && argc >= 2 && strcmp(argv[1], "create") == 0)
		return cmd_admin_create(o, argc - 2, argv + 2);
	if (strcmp(argv[0], "kv") == 0)
		return cmd_kv(o, argc - 1, argv + 1);
	if (strcmp(argv[0], "cluster") == 0)
		return jkdctl_cluster(o, argc - 1, argv + 1);
	return jkdctl_usage(o, NULL);
}

int main(int argc, char **argv)
{
	struct options o = {.port = 9080};
	const char *node = getenv("JKD_NODE"), *token_file = getenv("JKD_TOKEN_FILE");
	char message[512];
	int i;

	i18n_init(getenv("JKD_LOCALE_DIR"));
	o.lang = i18n_from_environment();
	snprintf(o.host, sizeof(o.host), "127.0.0.1");
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			print_help(&o);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("jkdctl 0.1.0\n");
			return 0;
		}
		if (strcmp(argv[i], "--node") != 0 && strcmp(argv[i], "--token-file") != 0) {
			snprintf(message, sizeof(message), tr(&o, "unknown option %s"), argv[i]);
			return jkdctl_usage(&o, message);
		}
		if (i + 1 >= argc) {
			snprintf(message, sizeof(message), tr(&o, "missing value for %s"), argv[i]);
			return jkdctl_usage(&o, message);
		}
		if (strcmp(argv[i], "--node") == 0)
			node = argv[++i];
		else
			token_file = argv[++i];
	}
	if (i >= argc)
		return jkdctl_usage(&o, tr(&o, "missing command"));
	/* Checked before the token is read, so that a typo is not reported as a token problem. */
	if (!command_known(argv[i])) {
		snprintf(message, sizeof(message), tr(&o, "unknown command \"%s\""), argv[i]);
		return jkdctl_usage(&o, message);
	}
	if (jkdctl_cluster_is_offline(argc - i, argv + i))
		return dispatch(&o, argc - i, argv + i);
	if (node != NULL && config_parse_endpoint(node, o.host, sizeof(o.host), &o.port) != 0) {
		snprintf(message, sizeof(message), tr(&o, "invalid node address \"%s\": expected host:port"), node);
		return jkdctl_usage(&o, message);
	}
	if (getenv("JKD_TOKEN") != NULL)
		snprintf(o.token, sizeof(o.token), "%s", getenv("JKD_TOKEN"));
	else if (!read_token(&o, token_file != NULL ? token_file : "data/operator.token"))
		return EXIT_USAGE;
	return dispatch(&o, argc - i, argv + i);
}
