/* Leveled key=value logging; see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_level_min = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
	char line[2048];
	struct timespec now;
	struct tm tm;
	size_t len;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ level=%s msg=%s",
		     now.tv_nsec / 1000000, level_names[level], event);
	len += (size_t)n;

	if (fmt[0] != '\0' && len < sizeof(line) - 2) {
		va_list ap;

		line[len++] = ' ';
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		va_end(ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';

	/* A short write of a log line is not worth failing the caller over. */
	ssize_t written = write(STDERR_FILENO, line, len);
	(void)written;
}

const char *log_quote(char *buf, size_t buf_size, const char *value, size_t value_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0;

	if (buf_size < 3) {
		if (buf_size > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[out++] = '"';
	for (size_t i = 0; i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (out + 5 >= buf_size)
			break;
		if (c == '"' || c == '\\') {
			buf[out++] = '\\';
			buf[out++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			buf[out++] = '\\';
			buf[out++] = 'x';
			buf[out++] = hex[c >> 4];
			buf[out++] = hex[c & 0xf];
		} else {
			buf[out++] = (char)c;
		}
	}
	buf[out++] = '"';
	buf[out] = '\0';
	return buf;
}
