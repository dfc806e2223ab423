/*
 * Table-driven configuration: each option has an INI section and key, a
 * long command-line flag, a type, a unit, a default and a help text. Values
 * are applied in order default, INI file, command line, so a flag always
 * overrides the file. Parsing checks ranges and reports the first bad value
 * with the option's name.
 */
#ifndef JKD_COMMON_CONFIG_H
#define JKD_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/i18n.h"

enum config_type {
	CONFIG_STRING,  /* char *, malloc'ed by config; free with config_free() */
	CONFIG_UINT,    /* unsigned */
	CONFIG_SIZE_MB, /* size_t bytes, written in the file and flag as MiB */
	CONFIG_ENDPOINT /* char * "host:port", or "[v6]:port" */
};

struct config_option {
	const char *section;
	const char *key;  /* also the flag: --<section>-<key> with '_' as '-' */
	enum config_type type;
	size_t offset;    /* of the field in the caller's struct */
	const char *default_value;
	unsigned long min, max; /* numeric types only */
	const char *unit;       /* message id for help, e.g. N_("milliseconds") */
	const char *help;       /* message id */
};

/* Sets every option's default value into target. Returns 0, or -1 on allocation failure. */
int config_set_defaults(const struct config_option *options, size_t count, void *target);

/*
 * Parses value for option into target. Returns 0, or -1 with a translated
 * message in err (err_size bytes) naming the option and the expected range.
 */
int config_set(const struct config_option *option, void *target, const char *value,
	       enum i18n_lang lang, char *err, size_t err_size);

/* Reads an INI file into target. Unknown sections and keys are errors. */
int config_load_file(const struct config_option *options, size_t count, void *target,
		     const char *path, enum i18n_lang lang, char *err, size_t err_size);

/* Finds the option whose flag is name (without the leading "--"). */
const struct config_option *config_find_flag(const struct config_option *options, size_t count,
					     const char *name);

/* Writes the flag of option ("--http-port") into out. */
void config_flag_name(const struct config_option *option, char *out, size_t out_size);

/* Prints one line per option: flag, unit, default and help, in lang. */
void config_print_help(FILE *out, const struct config_option *options, size_t count,
		       enum i18n_lang lang);

/* Frees the strings config allocated in target. */
void config_free(const struct config_option *options, size_t count, void *target);

/* Splits "host:port" or "[v6]:port" into host (out, host_size) and port. */
int config_parse_endpoint(const char *value, char *host, size_t host_size, int *port);

#endif
