/*
 * Shared parts of jkdctl: the options every command gets, the request
 * helpers and the exit codes. jkdctl.c contains the general commands and
 * jkdctl_cluster.c the cluster commands.
 */
#ifndef JKD_CLI_JKDCTL_H
#define JKD_CLI_JKDCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/i18n.h"

#define EXIT_REJECTED 1    /* the node, or the local file system, rejected the command */
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

struct options {
	char host[256];
	int port;
	char token[256];
	enum i18n_lang lang;
};

struct response {
	int status;
	struct buf body;
};

/* Returns msgid in the user's language; scripts/update-po extracts its second argument. */
static inline const char *tr(const struct options *o, const char *msgid)
{
	return i18n_text(o->lang, msgid);
}

/* Sends one request with the token and language headers. Returns 0, or EXIT_UNREACHABLE. */
int jkdctl_request(const struct options *o, const char *method, const char *path, const char *content_type,
		   const void *body, size_t body_len, struct response *res);

/* Prints the problem detail of an error response, frees res->body and returns EXIT_REJECTED. */
int jkdctl_report_failure(const struct options *o, struct response *res);

/* Runs a request and prints the body on success. Returns an exit code. */
int jkdctl_run_and_print(const struct options *o, const char *method, const char *path, const char *type,
			 const void *body, size_t body_len);

/* Prints message (if not NULL) and a pointer to --help; returns EXIT_USAGE. */
int jkdctl_usage(const struct options *o, const char *message);

/* Prints the help lines of the cluster commands. */
void jkdctl_cluster_help(const struct options *o);

/* Returns true if argv (the command and its arguments) needs neither a node nor a token. */
bool jkdctl_cluster_is_offline(int argc, char **argv);

/* Runs "cluster ..." with argv[0] the subcommand. Returns an exit code. */
int jkdctl_cluster(const struct options *o, int argc, char **argv);

/* Prints one line of --help: the command padded to a fixed column, then its description. */
void jkdctl_help_row(const char *command, const char *description);

#endif
