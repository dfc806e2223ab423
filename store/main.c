/*
 * jkd: the JKD Clothing node daemon.
 *
 * Reads defaults, then the INI file given by --config, then command-line
 * flags (each overriding the one before), starts the node and runs until
 * SIGINT or SIGTERM, then shuts down gracefully.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/i18n.h"
#include "common/log.h"
#include "store/node.h"

#define EXIT_USAGE 2

static void print_help(enum i18n_lang lang)
{
	printf("%s\n\n", i18n_text(lang, "Usage: jkd [--config FILE] [--SECTION-KEY VALUE ...]"));
	printf("%s\n\n", i18n_text(lang, "JKD Clothing node: stores the shop in LMDB and serves it over HTTP."));
	printf("  %-32s %s\n", i18n_text(lang, "--config FILE"), i18n_text(lang, "INI file to read before the flags."));
	printf("  %-32s %s\n", "--help", i18n_text(lang, "Print this help and exit."));
	printf("  %-32s %s\n\n", "--version", i18n_text(lang, "Print the version and exit."));
	printf("%s\n", i18n_text(lang, "Settings: the flag, then below it the INI file's [section] key=default and the unit."));
	config_print_help(stdout, node_config_options, node_config_option_count, lang);
}

/* Splits "--name=value" or "--name value"; returns the flag's value or NULL if missing. */
static const char *flag_value(int argc, char **argv, int *i, char *name, size_t name_size)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');

	if (eq != NULL) {
		snprintf(name, name_size, "%.*s", (int)(eq - arg), arg);
		return eq + 1;
	}
	snprintf(name, name_size, "%s", arg);
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int usage_error(enum i18n_lang lang, const char *message)
{
	fprintf(stderr, "jkd: %s\n%s\n", message, i18n_text(lang, "Run \"jkd --help\" for the list of settings."));
	return EXIT_USAGE;
}

/* Applies --config and then every other flag. Returns 0, or an exit code after printing why. */
static int parse_arguments(int argc, char **argv, struct node_config *config, enum i18n_lang lang)
{
	char name[128], err[512];
	const char *value;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
			value = flag_value(argc, argv, &i, name, sizeof(name));
			if (value == NULL)
				return usage_error(lang, i18n_text(lang, "missing value for --config"));
			if (config_load_file(node_config_options, node_config_option_count, config, value, lang,
					     err, sizeof(err)) != 0)
				return usage_error(lang, err);
		}
	}
	for (int i = 1; i < argc; i++) {
		const struct config_option *option;

		if (strncmp(argv[i], "--", 2) != 0) {
			snprintf(err, sizeof(err), i18n_text(lang, "unexpected argument \"%s\""), argv[i]);
			return usage_error(lang, err);
		}
		value = flag_value(argc, argv, &i, name, sizeof(name));
		if (strcmp(name, "config") == 0)
			continue;
		option = config_find_flag(node_config_options, node_config_option_count, name);
		if (option == NULL) {
			snprintf(err, sizeof(err), i18n_text(lang, "unknown option --%s"), name);
			return usage_error(lang, err);
		}
		if (value == NULL) {
			snprintf(err, sizeof(err), i18n_text(lang, "missing value for --%s"), name);
			return usage_error(lang, err);
		}
		if (config_set(option, config, value, lang, err, sizeof(err)) != 0)
			return usage_error(lang, err);
	}
	if (log_level_parse(config->log_level, &log_level_min) != 0) {
		snprintf(err, sizeof(err), i18n_text(lang, "invalid log level \"%s\": expected debug, info, warn or error"),
			 config->log_level);
		return usage_error(lang, err);
	}
	if (node_cluster_config_check(config, lang, err, sizeof(err)) != 0)
		return usage_error(lang, err);
	return 0;
}

/* Logs why messages stay in English, so an operator can point jkd at the catalog. */
static void log_catalog_missing(void)
{
	const char *dir = i18n_locale_dir();
	char quoted[600];

	log_quote(quoted, sizeof(quoted), dir, strlen(dir));
	log_warn("i18n_catalog_missing",
		 "dir=%s file=es/LC_MESSAGES/jkd.mo effect=\"messages stay in English\" "
		 "fix=\"set JKD_LOCALE_DIR to the directory that contains es/LC_MESSAGES/jkd.mo\"",
		 quoted);
}

int main(int argc, char **argv)
{
	struct node node;
	enum i18n_lang lang;
	sigset_t signals;
	int rc, signal_number;
	bool catalog_loaded;

	catalog_loaded = i18n_init(getenv("JKD_LOCALE_DIR")) == 0;
	lang = i18n_from_environment();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_help(lang);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("jkd 0.1.0\n");
			return 0;
		}
	}

	memset(&node, 0, sizeof(node));
	node.argv = argv;
	if (config_set_defaults(node_config_options, node_config_option_count, &node.config) != 0)
		return EXIT_FAILURE;
	rc = parse_arguments(argc, argv, &node.config, lang);
	if (rc != 0) {
		config_free(node_config_options, node_config_option_count, &node.config);
		return rc;
	}
	/* Logged only now, so that --log-level applies to it. */
	if (!catalog_loaded)
		log_catalog_missing();

	/* Worker threads inherit this mask, so only sigwait() below receives the signals. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);

	if (node_start(&node) != 0) {
		fprintf(stderr, "jkd: %s\n", i18n_text(lang, "the node failed to start; see the log above"));
		config_free(node_config_options, node_config_option_count, &node.config);
		return EXIT_FAILURE;
	}
	sigdelset(&signals, SIGPIPE);
	do {
		rc = sigwait(&signals, &signal_number);
	} while (rc != 0);
	log_info("signal_received", "signal=%s", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
	node_stop(&node);
	config_free(node_config_options, node_config_option_count, &node.config);
	return 0;
}
