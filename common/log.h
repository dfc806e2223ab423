/*
 * Leveled key=value logging to stderr.
 *
 * One line per event: "ts=<RFC 3339> level=<lvl> msg=<event> key=value ...".
 * The caller writes the fields after the event name in key=value form; a
 * value that may hold spaces goes through log_quote(). Lines are written with
 * one write(2) so lines of concurrent threads never interleave. The level
 * check happens before any formatting, so a disabled level costs one compare.
 * Never pass a password, token or key to these macros.
 */
#ifndef JKD_COMMON_LOG_H
#define JKD_COMMON_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

extern enum log_level log_level_min;

/* Parses "debug", "info", "warn" or "error"; returns -1 on anything else. */
int log_level_parse(const char *name, enum log_level *out);

void log_write(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Copies value into buf as a double-quoted string with '"', '\\' and
 * control bytes escaped, truncated to fit; returns buf.
 */
const char *log_quote(char *buf, size_t buf_size, const char *value, size_t value_len);

#define LOG_AT(level, event, ...)                                    \
	do {                                                         \
		if ((level) >= log_level_min)                        \
			log_write((level), (event), "" __VA_ARGS__); \
	} while (0)

#define log_debug(event, ...) LOG_AT(LOG_LEVEL_DEBUG, event, __VA_ARGS__)
#define log_info(event, ...) LOG_AT(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define log_warn(event, ...) LOG_AT(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define log_error(event, ...) LOG_AT(LOG_LEVEL_ERROR, event, __VA_ARGS__)

#endif
