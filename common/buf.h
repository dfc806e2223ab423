/*
 * A growable byte buffer with a hard size limit. Appends past the limit or
 * past available memory fail and leave the buffer marked failed, so a caller
 * may append many pieces and check once at the end.
 */
#ifndef JKD_COMMON_BUF_H
#define JKD_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max_bytes;
	bool failed;
};

void buf_init(struct buf *b, size_t max_bytes);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_append(struct buf *b, const void *data, size_t len);
bool buf_append_str(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
