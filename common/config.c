/* Table-driven INI and command-line configuration; see config.h. */
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FLAG_MAX 96

void config_flag_name(const struct config_option *option, char *out, size_t out_size)
{
	snprintf(out, out_size, "--%s-%s", option->section, option->key);
	for (char *p = out + 2; *p != '\0'; p++) {
		if (*p == '_')
			*p = '-';
	}
}

const struct config_option *config_find_flag(const struct config_option *options, size_t count,
					     const char *name)
{
	char flag[FLAG_MAX];

	for (size_t i = 0; i < count; i++) {
		config_flag_name(&options[i], flag, sizeof(flag));
		if (strcmp(flag + 2, name) == 0)
			return &options[i];
	}
	return NULL;
}

int config_parse_endpoint(const char *value, char *host, size_t host_size, int *port)
{
	const char *colon, *host_start = value;
	size_t host_len;
	char *end;
	long p;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		host_start = value + 1;
		host_len = (size_t)(close - host_start);
		colon = close + 1;
	} else {
		colon = strrchr(value, ':');
		if (colon == NULL)
			return -1;
		host_len = (size_t)(colon - value);
	}
	if (host_len == 0 || host_len >= host_size)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	*port = (int)p;
	return 0;
}

/* Listeners bind to addresses, not names, so a host must be an IPv4 or IPv6 literal. */
static bool ip_literal(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static int parse_unsigned(const char *value, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (value[0] == '\0' || value[0] == '-' || value[0] == '+')
		return -1;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int config_set(const struct config_option *option, void *target, const char *value,
	       enum i18n_lang lang, char *err, size_t err_size)
{
	char *field = (char *)target + option->offset;
	char flag[FLAG_MAX], host[256];
	unsigned long number;
	int port;

	config_flag_name(option, flag, sizeof(flag));
	switch (option->type) {
	case CONFIG_STRING:
		return set_string((char **)field, value);
	case CONFIG_ENDPOINT:
		if (config_parse_endpoint(value, host, sizeof(host), &port) != 0 || !ip_literal(host)) {
			snprintf(err, err_size,
				 i18n_text(lang, "invalid value \"%s\" for %s: expected an IP address and port, for example 127.0.0.1:8080"),
				 value, flag);
			return -1;
		}
		return set_string((char **)field, value);
	case CONFIG_UINT:
	case CONFIG_SIZE_MB:
		if (parse_unsigned(value, option->min, option->max, &number) != 0) {
			snprintf(err, err_size,
				 i18n_text(lang, "invalid value \"%s\" for %s: expected a whole number from %lu to %lu"),
				 value, flag, option->min, option->max);
			return -1;
		}
		if (option->type == CONFIG_UINT)
			*(unsigned *)field = (unsigned)number;
		else
			*(size_t *)field = (size_t)number << 20;
		return 0;
	}
	return -1;
}

int config_set_defaults(const struct config_option *options, size_t count, void *target)
{
	char err[256];

	for (size_t i = 0; i < count; i++) {
		if (config_set(&options[i], target, options[i].default_value, I18N_EN, err,
			       sizeof(err)) != 0)
			return -1;
	}
	return 0;
}

struct ini_state {
	const struct config_option *options;
	size_t count;
	void *target;
	enum i18n_lang lang;
	char *err;
	size_t err_size;
	bool failed;
};

static int ini_entry(void *user, const char *section, const char *key, const char *value)
{
	struct ini_state *state = user;

	if (state->failed)
		return 0;
	for (size_t i = 0; i < state->count; i++) {
		const struct config_option *option = &state->options[i];

		if (strcmp(option->section, section) != 0 || strcmp(option->key, key) != 0)
			continue;
		if (config_set(option, state->target, value, state->lang, state->err, state->err_size) != 0) {
			state->failed = true;
			return 0;
		}
		return 1;
	}
	snprintf(state->err, state->err_size, i18n_text(state->lang, "unknown setting [%s] %s"), section,
		 key);
	state->failed = true;
	return 0;
}

int config_load_file(const struct config_option *options, size_t count, void *target,
		     const char *path, enum i18n_lang lang, char *err, size_t err_size)
{
	struct ini_state state = {options, count, target, lang, err, err_size, false};
	char inner[256] = "";
	struct stat st;
	int line;

	state.err = inner;
	state.err_size = sizeof(inner);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, i18n_text(lang, "cannot open configuration file %s: %s"), path,
			 i18n_text(lang, "not a regular file"));
		return -1;
	}
	line = ini_parse(path, ini_entry, &state);
	if (line == -1) {
		snprintf(err, err_size, i18n_text(lang, "cannot open configuration file %s: %s"), path,
			 strerror(errno));
		return -1;
	}
	if (line != 0) {
		snprintf(err, err_size, i18n_text(lang, "%s, line %d: %s"), path, line,
			 inner[0] != '\0' ? inner : i18n_text(lang, "syntax error"));
		return -1;
	}
	return 0;
}

void config_print_help(FILE *out, const struct config_option *options, size_t count,
		       enum i18n_lang lang)
{
	char flag[FLAG_MAX];

	for (size_t i = 0; i < count; i++) {
		const struct config_option *option = &options[i];

		config_flag_name(option, flag, sizeof(flag));
		fprintf(out, "  %-32s %s\n", flag, i18n_text(lang, option->help));
		fprintf(out, "  %-32s [%s] %s=%s; %s: %s\n", "", option->section, option->key,
			option->default_value[0] != '\0' ? option->default_value : "\"\"",
			i18n_text(lang, "unit"), i18n_text(lang, option->unit));
	}
}

void config_free(const struct config_option *options, size_t count, void *target)
{
	for (size_t i = 0; i < count; i++) {
		if (options[i].type == CONFIG_STRING || options[i].type == CONFIG_ENDPOINT) {
			char **field = (char **)((char *)target + options[i].offset);

			free(*field);
			*field = NULL;
		}
	}
}
