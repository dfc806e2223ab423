/* CSV reading and writing; see csv.h. */
#include "common/csv.h"

#include <string.h>

#include "common/i18n.h"

static void detect_dialect(struct csv_reader *r)
{
	bool quoted = false;

	r->dialect.separator = ',';
	if (r->len >= 3 && memcmp(r->data, "\xEF\xBB\xBF", 3) == 0) {
		r->dialect.bom = true;
		r->pos = 3;
	}
	for (size_t i = r->pos; i < r->len; i++) {
		char c = r->data[i];

		if (c == '"')
			quoted = !quoted;
		else if (!quoted && (c == ',' || c == ';')) {
			r->dialect.separator = c;
			break;
		} else if (!quoted && c == '\n') {
			break;
		}
	}
	for (size_t i = r->pos; i < r->len; i++) {
		if (r->data[i] == '\n') {
			r->dialect.crlf = i > r->pos && r->data[i - 1] == '\r';
			break;
		}
	}
}

void csv_reader_init(struct csv_reader *r, const char *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	r->line = 1;
	buf_init(&r->scratch, (size_t)CSV_FIELDS_MAX * CSV_FIELD_MAX_BYTES);
	detect_dialect(r);
}

void csv_reader_free(struct csv_reader *r)
{
	buf_free(&r->scratch);
}

static enum csv_status fail(struct csv_reader *r, const char *message)
{
	r->error = message;
	return CSV_ERROR;
}

/* Reads a quoted field starting after its opening quote into the scratch buffer. */
static enum csv_status read_quoted(struct csv_reader *r)
{
	for (;;) {
		char c;

		if (r->pos >= r->len)
			return fail(r, N_("A quoted field is not closed."));
		c = r->data[r->pos++];
		if (c == '"') {
			if (r->pos < r->len && r->data[r->pos] == '"') {
				r->pos++;
				buf_append(&r->scratch, "\"", 1);
				continue;
			}
			return CSV_RECORD;
		}
		if (c == '\n')
			r->line++;
		buf_append(&r->scratch, &c, 1);
	}
}

static bool at_line_end(const struct csv_reader *r)
{
	return r->pos >= r->len || r->data[r->pos] == '\n' ||
	       (r->data[r->pos] == '\r' && r->pos + 1 < r->len && r->data[r->pos + 1] == '\n') ||
	       (r->data[r->pos] == '\r' && r->pos + 1 == r->len);
}

static void skip_line_end(struct csv_reader *r)
{
	if (r->pos < r->len && r->data[r->pos] == '\r')
		r->pos++;
	if (r->pos < r->len && r->data[r->pos] == '\n') {
		r->pos++;
		r->line++;
	}
}

/* Reads one field; its bytes go to the scratch buffer followed by a NUL. */
static enum csv_status read_field(struct csv_reader *r, size_t *start)
{
	*start = r->scratch.len;
	if (r->pos < r->len && r->data[r->pos] == '"') {
		r->pos++;
		if (read_quoted(r) != CSV_RECORD)
			return CSV_ERROR;
		if (!at_line_end(r) && r->data[r->pos] != r->dialect.separator)
			return fail(r, N_("Unexpected text after a closing quote."));
	} else {
		while (!at_line_end(r) && r->data[r->pos] != r->dialect.separator) {
			if (r->data[r->pos] == '"')
				return fail(r, N_("A quote appears inside a field that is not quoted."));
			buf_append(&r->scratch, &r->data[r->pos++], 1);
		}
	}
	if (r->scratch.len - *start > CSV_FIELD_MAX_BYTES)
		return fail(r, N_("A field is longer than 64 KiB."));
	buf_append(&r->scratch, "", 1);
	return r->scratch.failed ? fail(r, N_("The record is too large.")) : CSV_RECORD;
}

enum csv_status csv_read(struct csv_reader *r)
{
	size_t starts[CSV_FIELDS_MAX];

	/* Blank lines between records are skipped. */
	while (r->pos < r->len && (r->data[r->pos] == '\n' || r->data[r->pos] == '\r')) {
		if (r->data[r->pos] == '\n')
			r->line++;
		r->pos++;
	}
	if (r->pos >= r->len)
		return CSV_END;
	r->record_line = r->line;
	r->field_count = 0;
	buf_reset(&r->scratch);
	for (;;) {
		if (r->field_count == CSV_FIELDS_MAX)
			return fail(r, N_("A record has more than 64 fields."));
		if (read_field(r, &starts[r->field_count]) != CSV_RECORD)
			return CSV_ERROR;
		r->field_count++;
		if (at_line_end(r))
			break;
		r->pos++; /* the separator */
	}
	skip_line_end(r);
	for (size_t i = 0; i < r->field_count; i++) {
		r->fields[i] = r->scratch.data + starts[i];
		r->field_lens[i] = (i + 1 < r->field_count ? starts[i + 1] : r->scratch.len) - starts[i] - 1;
	}
	return CSV_RECORD;
}

void csv_write_field(struct buf *out, const struct csv_dialect *d, const char *field, size_t len, bool first)
{
	bool quote = false;

	if (!first)
		buf_append(out, &d->separator, 1);
	for (size_t i = 0; i < len && !quote; i++)
		quote = field[i] == d->separator || field[i] == '"' || field[i] == '\r' || field[i] == '\n';
	if (!quote) {
		buf_append(out, field, len);
		return;
	}
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (field[i] == '"')
			buf_append(out, "\"", 1);
		buf_append(out, &field[i], 1);
	}
	buf_append(out, "\"", 1);
}

void csv_write_end(struct buf *out, const struct csv_dialect *d)
{
	buf_append_str(out, d->crlf ? "\r\n" : "\n");
}
