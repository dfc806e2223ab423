/*
 * CSV reading and writing (RFC 4180 with the dialects spreadsheets
 * produce): an optional UTF-8 byte order mark, ',' or ';' as separator,
 * fields quoted with '"' (a quote inside doubled), LF or CRLF line ends,
 * and line breaks inside quoted fields.
 *
 * The reader works on a complete buffer and yields one record at a time;
 * field pointers stay valid until the next call or csv_reader_free().
 * Errors name the line (1-based, counting physical lines) where the record
 * starts.
 */
#ifndef JKD_COMMON_CSV_H
#define JKD_COMMON_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define CSV_FIELDS_MAX 64
#define CSV_FIELD_MAX_BYTES 65536

struct csv_dialect {
	char separator;  /* ',' or ';' */
	bool bom;        /* the text starts with EF BB BF */
	bool crlf;       /* lines end in CR LF */
};

enum csv_status {
	CSV_RECORD,        /* a record was read */
	CSV_END,           /* no more records */
	CSV_ERROR,         /* malformed input; see csv_reader.error */
};

struct csv_reader {
	const char *data;
	size_t len;
	size_t pos;
	size_t line;          /* line of the next record */
	size_t record_line;   /* line where the last record started */
	struct csv_dialect dialect;
	const char *error;    /* English message id of the last error */
	char *fields[CSV_FIELDS_MAX];
	size_t field_lens[CSV_FIELDS_MAX];
	size_t field_count;
	struct buf scratch;
};

/*
 * Starts reading data[0..len). The dialect is detected: a BOM is skipped,
 * the separator is the first ',' or ';' outside quotes on the first line,
 * and CRLF is assumed if the first line ends in CR LF.
 */
void csv_reader_init(struct csv_reader *r, const char *data, size_t len);
void csv_reader_free(struct csv_reader *r);

/* Reads the next record into r->fields; blank lines are skipped. */
enum csv_status csv_read(struct csv_reader *r);

/* Appends one field to out, quoted if it contains the separator, a quote, CR or LF. */
void csv_write_field(struct buf *out, const struct csv_dialect *d, const char *field, size_t len, bool first);

/* Appends the line end of the dialect. */
void csv_write_end(struct buf *out, const struct csv_dialect *d);

#endif
