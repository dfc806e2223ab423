/*
 * POST /api/v1/admin/import: a CSV file of products with their variants
 * (the format is in catalog_csv.h), imported all or nothing.
 *
 * The worker that takes the request reads the whole file and checks every
 * line on its own and against the other lines. If anything is wrong it
 * responds 422 with an "errors" list of {row, column, code, message}, where
 * row is the line in the file (the header is line 1). The list contains the
 * first CATALOG_CSV_ERRORS_MAX errors found, in line order, and
 * "error_count" counts them all. A clean file becomes one CATALOG_IMPORT
 * command. Its apply checks what depends on the shop (SKUs of other
 * products, variants per product, the category limit) and rejects the same
 * way, changing nothing.
 *
 * One import runs at a time per node: a second one gets 503. That bounds
 * the memory an import takes to one body, its parsed copy and one command.
 * NOTE: the file is parsed on the worker's event loop, so a large file
 * holds up that worker's other connections while it is parsed.
 */
#include "store/api_catalog_internal.h"
#include "store/catalog_csv.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/csv.h"
#include "common/log.h"
#include "store/search.h"

#define MESSAGE_MAX_BYTES 512
#define FOLDED_NAME_MAX_BYTES 64 /* header names and enum values, folded */

/* One data line of the file, with the values checked so far. */
struct import_row {
	uint32_t line;
	bool bad; /* a value failed its check, so cross-line checks skip the line */
	uint8_t gender;
	uint8_t type;
	bool active;
	int64_t price;
	int64_t compare_at; /* 0: none */
	int64_t stock;      /* -1: the column is empty */
	uint32_t start[CATALOG_CSV_COLUMNS]; /* offsets of the values in import_file.text */
	uint32_t len[CATALOG_CSV_COLUMNS];
};

struct import_file {
	enum i18n_lang lang;
	struct buf text; /* every value followed by a NUL; offset 0 is the empty value of absent columns */
	struct import_row *rows;
	size_t row_count;
	size_t row_capacity;
	int header[CSV_FIELDS_MAX]; /* the column of each field of a line */
	size_t header_count;
	bool present[CATALOG_CSV_COLUMNS]; /* the header has the column */
	json_t *errors;
	size_t error_count;
};

/* A line's value of one column, for sorting lines by it. */
struct row_key {
	const char *text;
	size_t row;
};

static atomic_flag import_running = ATOMIC_FLAG_INIT;

/*
 * Lets the next import start. Every path calls it once, before it
 * responds, so a client that sends its next file as soon as it has the
 * response never finds this import still running.
 */
static void import_slot_release(void)
{
	atomic_flag_clear(&import_running);
}

static const char rejected_message[] =
	N_("Nothing was imported, because some lines have errors. \"errors\" lists each one with its line and column: correct them and send the whole file again.");

/* Errors */

static void error_add_va(struct import_file *f, size_t line, const char *column, size_t column_len,
			 const char *code, const char *msgid, va_list args)
{
	char message[MESSAGE_MAX_BYTES];

	if (f->error_count++ >= CATALOG_CSV_ERRORS_MAX)
		return;
	/* The format is our own message id, never text from the file. */
	vsnprintf(message, sizeof(message), i18n_text(f->lang, msgid), args);
	json_array_append_new(f->errors, catalog_csv_error_json(line, column, column_len, code, message));
}

/* Records an error at line; column names the header field (NULL: the whole line). */
static void __attribute__((format(printf, 6, 7)))
file_error(struct import_file *f, size_t line, const char *column, size_t column_len, const char *code,
	   const char *msgid, ...)
{
	va_list args;

	va_start(args, msgid);
	error_add_va(f, line, column, column_len, code, msgid, args);
	va_end(args);
}

/* Records an error in column of row and marks the row bad. */
static void __attribute__((format(printf, 5, 6)))
row_error(struct import_file *f, struct import_row *row, enum catalog_csv_column column, const char *code,
	  const char *msgid, ...)
{
	const char *name = catalog_csv_columns[column].name;
	va_list args;

	row->bad = true;
	va_start(args, msgid);
	error_add_va(f, row->line, name, strlen(name), code, msgid, args);
	va_end(args);
}

/* An entry of an "errors" list and where it was in the list, so sorting by line keeps each line's order. */
struct error_entry {
	json_t *error;
	json_int_t row;
	size_t order;
};

static int error_order(const void *a, const void *b)
{
	const struct error_entry *x = a, *y = b;

	if (x->row != y->row)
		return x->row < y->row ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts an "errors" list by line (left as it is if memory runs out). */
static void errors_sort(json_t *errors)
{
	size_t count = json_array_size(errors);
	struct error_entry *entries = calloc(count + 1, sizeof(*entries));

	if (entries == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		entries[i].error = json_incref(json_array_get(errors, i));
		entries[i].row = json_integer_value(json_object_get(entries[i].error, "row"));
		entries[i].order = i;
	}
	qsort(entries, count, sizeof(*entries), error_order);
	for (size_t i = 0; i < count; i++)
		json_array_set_new(errors, i, entries[i].error);
	free(entries);
}

/* Responds 422 with errors (stolen), sorted by line, and error_count. */
static void respond_rejected(struct http_request *req, json_t *errors, size_t error_count)
{
	errors_sort(errors);
	http_respond_problem_with(req, 422, NULL, "import_rejected", "body", i18n_text(req->lang, rejected_message),
				  json_pack("{s:s, s:o, s:I}", "code", "import_rejected", "errors", errors, "error_count",
					    (json_int_t)error_count));
}

/* The header line */

/* The column a header name stands for, or -1. Case, accents and separators do not matter ("Precio anterior"). */
static int column_of(const char *name, size_t len)
{
	char folded[FOLDED_NAME_MAX_BYTES], known[FOLDED_NAME_MAX_BYTES];
	size_t folded_len;

	if (len >= FOLDED_NAME_MAX_BYTES)
		return -1;
	folded_len = search_fold(name, len, folded, sizeof(folded));
	for (int c = 0; c < CATALOG_CSV_COLUMNS; c++) {
		const char *canonical = catalog_csv_columns[c].name;

		if (search_fold(canonical, strlen(canonical), known, sizeof(known)) == folded_len &&
		    memcmp(folded, known, folded_len) == 0)
			return c;
	}
	return -1;
}

/* Maps the header's fields to columns; returns false (after recording errors) if the header is unusable. */
static bool header_read(struct import_file *f, const struct csv_reader *r)
{
	bool seen[CATALOG_CSV_COLUMNS] = {false};
	size_t errors_before = f->error_count;

	f->header_count = r->field_count;
	for (size_t i = 0; i < r->field_count; i++) {
		int column = column_of(r->fields[i], r->field_lens[i]);

		f->header[i] = column;
		if (column < 0)
			file_error(f, r->record_line, r->fields[i], r->field_lens[i], "unknown_column",
				   N_("This column is not known. Correct its name (the columns are listed in the import guide) or remove it."));
		else if (seen[column])
			file_error(f, r->record_line, r->fields[i], r->field_lens[i], "duplicate_column",
				   N_("This column appears twice in the header. Keep one of them."));
		else
			seen[column] = true;
	}
	memcpy(f->present, seen, sizeof(seen));
	for (int c = 0; c < CATALOG_CSV_COLUMNS; c++) {
		const char *name = catalog_csv_columns[c].name;

		if (!seen[c] && (catalog_csv_columns[c].required || c == CATALOG_CSV_SKU))
			file_error(f, r->record_line, name, strlen(name), "missing_column",
				   N_("The header has no column %s, which is required. Add it to the first line."), name);
	}
	return f->error_count == errors_before;
}

/* Data lines */

static const char *row_value(const struct import_file *f, const struct import_row *row, enum catalog_csv_column c,
			     size_t *len)
{
	*len = row->len[c];
	return f->text.data + row->start[c];
}

/* Copies a record of the reader into a new row; returns false if memory ran out. */
static bool row_read(struct import_file *f, const struct csv_reader *r)
{
	struct import_row *row;

	if (r->field_count != f->header_count) {
		file_error(f, r->record_line, NULL, 0, "column_count",
			   N_("This line has %zu fields, but the header has %zu. Check the separators and the quotes."),
			   r->field_count, f->header_count);
		return true;
	}
	if (f->row_count == f->row_capacity) {
		size_t capacity = f->row_capacity == 0 ? 256 : 2 * f->row_capacity;
		struct import_row *rows = realloc(f->rows, capacity * sizeof(*rows));

		if (rows == NULL)
			return false;
		f->rows = rows;
		f->row_capacity = capacity;
	}
	row = &f->rows[f->row_count++];
	memset(row, 0, sizeof(*row));
	row->line = (uint32_t)r->record_line;
	row->stock = -1;
	for (size_t i = 0; i < r->field_count; i++) {
		int column = f->header[i];

		row->start[column] = (uint32_t)f->text.len;
		row->len[column] = (uint32_t)r->field_lens[i];
		buf_append(&f->text, r->fields[i], r->field_lens[i]);
		buf_append(&f->text, "", 1);
	}
	return !f->text.failed;
}

/*
 * Reads the header and every data line into f, recording errors on the
 * way. Returns false only if memory ran out.
 */
static bool file_read(struct import_file *f, const char *data, size_t len)
{
	struct csv_reader r;
	enum csv_status status;
	bool ok = true;

	csv_reader_init(&r, data, len);
	status = csv_read(&r);
	if (status == CSV_END)
		file_error(f, 1, NULL, 0, "empty_file",
			   N_("The file is empty. Send the header line and one line per variant."));
	if (status != CSV_RECORD || !header_read(f, &r))
		goto out;
	while (ok && (status = csv_read(&r)) == CSV_RECORD) {
		if (f->row_count == CATALOG_IMPORT_ROWS_MAX) {
			file_error(f, r.record_line, NULL, 0, "too_many_lines",
				   N_("The file has more than %d lines of data. Split it into smaller files."),
				   CATALOG_IMPORT_ROWS_MAX);
			status = CSV_END;
			break;
		}
		ok = row_read(f, &r);
	}
	if (ok && f->row_count == 0 && f->error_count == 0 && status == CSV_END)
		file_error(f, 2, NULL, 0, "no_lines", N_("The file has a header but no lines of data. Add one line per variant."));
out:
	if (status == CSV_ERROR)
		file_error(f, r.record_line, NULL, 0, "invalid_csv", "%s", i18n_text(f->lang, r.error));
	csv_reader_free(&r);
	return ok;
}

/* Checks of one line */

/*
 * Checks the text of column c in row: valid UTF-8 without control
 * characters (line breaks allowed where multiline), its length, and
 * presence where required. Returns true if the value may be read further.
 */
static bool text_check(struct import_file *f, struct import_row *row, enum catalog_csv_column c, bool required)
{
	const struct catalog_csv_column_spec *spec = &catalog_csv_columns[c];
	size_t len;
	const char *value = row_value(f, row, c, &len);
	long chars = api_utf8_chars(value, len, spec->multiline);

	if (chars < 0) {
		row_error(f, row, c, "invalid_text",
			  N_("The value contains control characters or is not valid UTF-8. Save the file as UTF-8 text."));
		return false;
	}
	if (chars == 0 && required) {
		row_error(f, row, c, "missing_value", N_("The column %s must not be empty."), spec->name);
		return false;
	}
	if ((size_t)chars > spec->max_chars) {
		row_error(f, row, c, "too_long", N_("The column %s may have at most %zu characters."), spec->name,
			  spec->max_chars);
		return false;
	}
	return true;
}

/* Folds an enum value ("Niños" to "ninos", "Sí" to "si") into out, which has FOLDED_NAME_MAX_BYTES. */
static const char *folded_value(const struct import_file *f, const struct import_row *row, enum catalog_csv_column c,
				char *out)
{
	size_t len;
	const char *value = row_value(f, row, c, &len);

	search_fold(value, len, out, FOLDED_NAME_MAX_BYTES);
	return out;
}

static void enums_check(struct import_file *f, struct import_row *row, const bool *readable)
{
	char folded[FOLDED_NAME_MAX_BYTES];
	size_t len;

	if (readable[CATALOG_CSV_GENDER] &&
	    (row->gender = (uint8_t)catalog_gender_parse(folded_value(f, row, CATALOG_CSV_GENDER, folded))) == 0)
		row_error(f, row, CATALOG_CSV_GENDER, "invalid_gender", N_("The column %s must be one of: %s."), "genero",
			  "mujer, hombre, ninos, unisex");
	if (readable[CATALOG_CSV_TYPE] &&
	    (row->type = (uint8_t)catalog_type_parse(folded_value(f, row, CATALOG_CSV_TYPE, folded))) == 0)
		row_error(f, row, CATALOG_CSV_TYPE, "invalid_type", N_("The column %s must be one of: %s."), "tipo",
			  "ropa, calzado, accesorios");
	/* An empty activo means active, as in the admin API. */
	row->active = true;
	row_value(f, row, CATALOG_CSV_ACTIVE, &len);
	if (!readable[CATALOG_CSV_ACTIVE] || len == 0)
		return;
	folded_value(f, row, CATALOG_CSV_ACTIVE, folded);
	row->active = strcmp(folded, "si") == 0;
	if (!row->active && strcmp(folded, "no") != 0)
		row_error(f, row, CATALOG_CSV_ACTIVE, "invalid_active", N_("The column %s must be one of: %s."), "activo",
			  "si, no");
}

/* Splits value at separator and checks each piece has 1 to max_chars characters; returns the count, or -1. */
static long pieces_count(const char *value, size_t len, char separator, size_t max_chars)
{
	long count = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		long chars;

		if (i < len && value[i] != separator)
			continue;
		chars = api_utf8_chars(value + start, i - start, false);
		if (chars < 1 || (size_t)chars > max_chars)
			return -1;
		count++;
		start = i + 1;
	}
	return count;
}

static void lists_check(struct import_file *f, struct import_row *row, const bool *readable)
{
	size_t category_len, tags_len;
	const char *category = row_value(f, row, CATALOG_CSV_CATEGORY, &category_len);
	const char *tags = row_value(f, row, CATALOG_CSV_TAGS, &tags_len);
	long count;

	count = category_len > 0 ? pieces_count(category, category_len, '/', CATALOG_CATEGORY_NAME_MAX_CHARS) : 0;
	if (readable[CATALOG_CSV_CATEGORY] && (count < 0 || count > CATALOG_CSV_CATEGORY_LEVELS_MAX))
		row_error(f, row, CATALOG_CSV_CATEGORY, "invalid_category",
			  N_("Write the category as names from the top separated by '/', such as Mujer/Calzado: at most %d levels, each of 1 to %d characters."),
			  CATALOG_CSV_CATEGORY_LEVELS_MAX, CATALOG_CATEGORY_NAME_MAX_CHARS);
	count = tags_len > 0 ? pieces_count(tags, tags_len, '|', CATALOG_TAG_MAX_CHARS) : 0;
	if (readable[CATALOG_CSV_TAGS] && (count < 0 || count > CATALOG_TAGS_MAX))
		row_error(f, row, CATALOG_CSV_TAGS, "invalid_tags",
			  N_("Separate tags with '|': at most %d tags, each of 1 to %d characters."), CATALOG_TAGS_MAX,
			  CATALOG_TAG_MAX_CHARS);
}

/* Reads a whole number from 0 to CATALOG_STOCK_MAX; returns -1 if value is not one. */
static int64_t stock_parse(const char *value, size_t len)
{
	int64_t stock = 0;

	if (len == 0 || len > 10 || strspn(value, "0123456789") != len)
		return -1;
	for (size_t i = 0; i < len; i++)
		stock = stock * 10 + (value[i] - '0');
	return stock <= CATALOG_STOCK_MAX ? stock : -1;
}

static void prices_check(struct import_file *f, struct import_row *row, const bool *readable)
{
	size_t len;
	const char *value = row_value(f, row, CATALOG_CSV_PRICE, &len);
	bool price_ok = readable[CATALOG_CSV_PRICE] && catalog_csv_price_parse(value, len, &row->price);

	if (readable[CATALOG_CSV_PRICE] && !price_ok)
		row_error(f, row, CATALOG_CSV_PRICE, "invalid_price",
			  N_("Write the price in euros with at most two decimals, such as 19,99 or 19.99, from 0,01 to 10000000."));
	value = row_value(f, row, CATALOG_CSV_COMPARE_AT, &len);
	if (readable[CATALOG_CSV_COMPARE_AT] && len > 0 && !catalog_csv_price_parse(value, len, &row->compare_at))
		row_error(f, row, CATALOG_CSV_COMPARE_AT, "invalid_price",
			  N_("Write the price in euros with at most two decimals, such as 19,99 or 19.99, from 0,01 to 10000000."));
	else if (price_ok && row->compare_at != 0 && row->compare_at <= row->price)
		row_error(f, row, CATALOG_CSV_COMPARE_AT, "compare_at_not_above_price",
			  N_("The previous price must be higher than the price. Raise it or leave it empty."));
	value = row_value(f, row, CATALOG_CSV_STOCK, &len);
	if (readable[CATALOG_CSV_STOCK] && len > 0 && (row->stock = stock_parse(value, len)) < 0)
		row_error(f, row, CATALOG_CSV_STOCK, "invalid_stock",
			  N_("The stock must be a whole number from 0 to 1000000000."));
}

/* A line without SKU stands for a product without variants, so it must leave every variant column empty. */
static void variant_columns_check(struct import_file *f, struct import_row *row)
{
	size_t len;

	for (int c = CATALOG_CSV_TALLA; c < CATALOG_CSV_COLUMNS; c++) {
		row_value(f, row, c, &len);
		if (len > 0) {
			row_error(f, row, CATALOG_CSV_SKU, "missing_value",
				  N_("This line has no SKU, so it stands for a product without variants: give the SKU, or leave talla, color, precio, precio_anterior and stock empty."));
			return;
		}
	}
}

/* Checks every value of row. */
static void row_check(struct import_file *f, struct import_row *row)
{
	bool readable[CATALOG_CSV_COLUMNS];
	size_t sku_len, slug_len;
	const char *sku = row_value(f, row, CATALOG_CSV_SKU, &sku_len);
	const char *slug = row_value(f, row, CATALOG_CSV_SLUG, &slug_len);

	/* Talla, color and precio are required only on lines with a SKU. */
	for (int c = 0; c < CATALOG_CSV_COLUMNS; c++)
		readable[c] = text_check(f, row, c, catalog_csv_columns[c].required && (c <= CATALOG_CSV_SKU || sku_len > 0));
	if (readable[CATALOG_CSV_SLUG] && slug_len > 0 && !catalog_slug_valid(slug))
		row_error(f, row, CATALOG_CSV_SLUG, "invalid_slug",
			  N_("The slug may contain only a-z, 0-9 and hyphens, and must not start or end with a hyphen."));
	enums_check(f, row, readable);
	lists_check(f, row, readable);
	if (sku_len == 0) {
		variant_columns_check(f, row);
		return;
	}
	if (readable[CATALOG_CSV_SKU] && !catalog_sku_valid(sku))
		row_error(f, row, CATALOG_CSV_SKU, "invalid_sku",
			  N_("The SKU may contain only letters A-Z, digits, '.', '_' and '-'."));
	prices_check(f, row, readable);
}

/* Checks across lines */

/* Orders two keys by the comparison of their texts, then by line. */
static int key_order_then_row(const struct row_key *x, const struct row_key *y, int by_text)
{
	if (by_text != 0)
		return by_text;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int key_order(const void *a, const void *b)
{
	const struct row_key *x = a, *y = b;

	return key_order_then_row(x, y, strcmp(x->text, y->text));
}

static int key_order_text(const void *a, const void *b)
{
	return strcmp(((const struct row_key *)a)->text, ((const struct row_key *)b)->text);
}

/* SKUs are unique without regard to case, as the catalog stores them in upper case. */
static int key_order_nocase(const void *a, const void *b)
{
	const struct row_key *x = a, *y = b;

	return key_order_then_row(x, y, strcasecmp(x->text, y->text));
}

/*
 * Returns the lines that passed their own checks and have a value in
 * column c, sorted by order, or NULL if memory ran out.
 */
static struct row_key *keys_make(const struct import_file *f, enum catalog_csv_column c,
				 int (*order)(const void *, const void *), size_t *count)
{
	struct row_key *keys = calloc(f->row_count + 1, sizeof(*keys));
	size_t len;

	*count = 0;
	if (keys == NULL)
		return NULL;
	for (size_t i = 0; i < f->row_count; i++) {
		const char *value = row_value(f, &f->rows[i], c, &len);

		if (!f->rows[i].bad && len > 0)
			keys[(*count)++] = (struct row_key){value, i};
	}
	qsort(keys, *count, sizeof(*keys), order);
	return keys;
}

/* Records an error on every later line of the same product whose product fields differ from the first line's. */
static void product_fields_compare(struct import_file *f, const struct import_row *first, struct import_row *row)
{
	for (int c = 0; c < CATALOG_CSV_SKU; c++) {
		size_t a_len, b_len;
		const char *a = row_value(f, first, c, &a_len), *b = row_value(f, row, c, &b_len);
		bool same = a_len == b_len && memcmp(a, b, a_len) == 0;

		/* Enums compare by meaning, so "si" and "Sí" agree. */
		if (c == CATALOG_CSV_GENDER)
			same = first->gender == row->gender;
		else if (c == CATALOG_CSV_TYPE)
			same = first->type == row->type;
		else if (c == CATALOG_CSV_ACTIVE)
			same = first->active == row->active;
		if (!same)
			row_error(f, row, c, "conflicting_value",
				  N_("This value differs from line %u, which has the same slug. Repeat the same product fields on every line of a product."),
				  (unsigned)first->line);
	}
}

/* Checks the variant lines of one product: at most CATALOG_VARIANTS_MAX, and each talla and colour once. */
static void product_variants_check(struct import_file *f, const struct row_key *keys, size_t count)
{
	const struct import_row *seen[CATALOG_VARIANTS_MAX];
	size_t variants = 0;

	for (size_t k = 0; k < count; k++) {
		struct import_row *row = &f->rows[keys[k].row];
		const char *talla = f->text.data + row->start[CATALOG_CSV_TALLA];
		const char *color = f->text.data + row->start[CATALOG_CSV_COLOR];
		size_t i = 0;

		if (row->len[CATALOG_CSV_SKU] == 0)
			continue;
		if (variants == CATALOG_VARIANTS_MAX) {
			row_error(f, row, CATALOG_CSV_SKU, "too_many_variants",
				  N_("The product has more than %d variants in the file, and a product may have at most %d."),
				  CATALOG_VARIANTS_MAX, CATALOG_VARIANTS_MAX);
			return;
		}
		while (i < variants && (strcasecmp(f->text.data + seen[i]->start[CATALOG_CSV_TALLA], talla) != 0 ||
					strcasecmp(f->text.data + seen[i]->start[CATALOG_CSV_COLOR], color) != 0))
			i++;
		if (i < variants)
			row_error(f, row, CATALOG_CSV_TALLA, "duplicate_variant",
				  N_("Line %u has the same talla and color for this product. Change one of them."),
				  (unsigned)seen[i]->line);
		seen[variants++] = row;
	}
}

/* Calls check on each run of keys with equal text (the lines of one product); returns how many runs. */
static size_t groups_each(struct import_file *f, const struct row_key *keys, size_t count,
			  void (*check)(struct import_file *f, const struct row_key *keys, size_t count))
{
	size_t groups = 0;

	for (size_t start = 0, end; start < count; start = end) {
		end = start + 1;
		while (end < count && strcmp(keys[end].text, keys[start].text) == 0)
			end++;
		if (check != NULL)
			check(f, keys + start, end - start);
		groups++;
	}
	return groups;
}

static void product_check(struct import_file *f, const struct row_key *keys, size_t count)
{
	for (size_t k = 1; k < count; k++)
		product_fields_compare(f, &f->rows[keys[0].row], &f->rows[keys[k].row]);
	product_variants_check(f, keys, count);
}

/* Records an error on each line whose SKU an earlier line already has. Returns false if out of memory. */
static bool skus_check(struct import_file *f)
{
	size_t count;
	struct row_key *keys = keys_make(f, CATALOG_CSV_SKU, key_order_nocase, &count);

	if (keys == NULL)
		return false;
	for (size_t k = 1, first = 0; k < count; k++) {
		if (strcasecmp(keys[k].text, keys[first].text) != 0) {
			first = k;
			continue;
		}
		row_error(f, &f->rows[keys[k].row], CATALOG_CSV_SKU, "duplicate_sku",
			  N_("This SKU already appears on line %u. Each SKU may appear only once."),
			  (unsigned)f->rows[keys[first].row].line);
	}
	free(keys);
	return true;
}

/* The input of the command: the checked lines by product, and the distinct category paths. */
struct import_plan {
	struct row_key *lines; /* by slug, then line */
	size_t line_count;
	size_t product_count;
	struct row_key *paths; /* distinct categories of the products' first lines, sorted */
	size_t path_count;
};

static void plan_free(struct import_plan *plan)
{
	free(plan->lines);
	free(plan->paths);
}

/* Fills plan->paths with the distinct categories of the products' first lines. */
static bool paths_collect(const struct import_file *f, struct import_plan *plan)
{
	size_t kept = 0;

	plan->paths = calloc(plan->product_count + 1, sizeof(*plan->paths));
	if (plan->paths == NULL)
		return false;
	for (size_t start = 0, end; start < plan->line_count; start = end) {
		const struct import_row *first = &f->rows[plan->lines[start].row];

		end = start + 1;
		while (end < plan->line_count && strcmp(plan->lines[end].text, plan->lines[start].text) == 0)
			end++;
		if (first->len[CATALOG_CSV_CATEGORY] > 0)
			plan->paths[plan->path_count++] =
				(struct row_key){f->text.data + first->start[CATALOG_CSV_CATEGORY], plan->lines[start].row};
	}
	qsort(plan->paths, plan->path_count, sizeof(*plan->paths), key_order);
	for (size_t i = 0; i < plan->path_count; i++) {
		if (kept == 0 || strcmp(plan->paths[i].text, plan->paths[kept - 1].text) != 0)
			plan->paths[kept++] = plan->paths[i];
	}
	plan->path_count = kept;
	return true;
}

/*
 * Checks every line, then the lines against each other, recording every
 * error, and fills plan. Returns false if memory ran out.
 */
static bool plan_make(struct import_file *f, struct import_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < f->row_count; i++)
		row_check(f, &f->rows[i]);
	plan->lines = keys_make(f, CATALOG_CSV_SLUG, key_order, &plan->line_count);
	if (plan->lines == NULL || !skus_check(f))
		return false;
	plan->product_count = groups_each(f, plan->lines, plan->line_count, product_check);
	return paths_collect(f, plan);
}

/* The command */

static void pack_text(msgpack_packer *pk, const char *text, size_t len)
{
	msgpack_pack_str_with_body(pk, text, len);
}

static void pack_name(msgpack_packer *pk, const char *name)
{
	pack_text(pk, name, strlen(name));
}

static void pack_column(msgpack_packer *pk, const struct import_file *f, const struct import_row *row,
			const char *name, enum catalog_csv_column c)
{
	size_t len;
	const char *value = row_value(f, row, c, &len);

	pack_name(pk, name);
	pack_text(pk, value, len);
}

/* Packs the pieces of value split at separator as an array of strings; with_slug packs {name, slug} maps. */
static void pack_pieces(msgpack_packer *pk, const char *value, size_t len, char separator, bool with_slug)
{
	char slug[CATALOG_SLUG_MAX_CHARS + 1];
	uint32_t count = len > 0 ? 1 : 0;
	size_t start = 0;

	for (size_t i = 0; i < len; i++)
		count += value[i] == separator;
	msgpack_pack_array(pk, count);
	for (size_t i = 0; i <= len && count > 0; i++) {
		if (i < len && value[i] != separator)
			continue;
		if (with_slug) {
			catalog_csv_slug(value + start, i - start, slug, sizeof(slug));
			msgpack_pack_map(pk, 2);
			pack_name(pk, "name");
			pack_text(pk, value + start, i - start);
			pack_name(pk, "slug");
			pack_name(pk, slug);
		} else {
			pack_text(pk, value + start, i - start);
		}
		start = i + 1;
	}
}

/* The product record's text fields and the columns they come from. */
static const struct {
	const char *name;
	enum catalog_csv_column column;
} text_fields[] = {
	{"slug", CATALOG_CSV_SLUG},
	{"name", CATALOG_CSV_NAME},
	{"description", CATALOG_CSV_DESCRIPTION},
	{"brand", CATALOG_CSV_BRAND},
	{"material", CATALOG_CSV_MATERIAL},
	{"care", CATALOG_CSV_CARE},
};

/*
 * Packs the product fields of row as the record's fields map. A column
 * missing from the header is left out, so apply keeps what the product has.
 */
static void fields_pack(msgpack_packer *pk, const struct import_file *f, const struct import_row *row)
{
	size_t len, count = 2; /* gender and type are required columns */
	const char *tags = row_value(f, row, CATALOG_CSV_TAGS, &len);

	for (size_t i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++)
		count += f->present[text_fields[i].column];
	msgpack_pack_map(pk, (uint32_t)(count + f->present[CATALOG_CSV_TAGS] + f->present[CATALOG_CSV_ACTIVE]));
	for (size_t i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++) {
		if (f->present[text_fields[i].column])
			pack_column(pk, f, row, text_fields[i].name, text_fields[i].column);
	}
	pack_name(pk, "gender");
	msgpack_pack_uint64(pk, row->gender);
	pack_name(pk, "type");
	msgpack_pack_uint64(pk, row->type);
	if (f->present[CATALOG_CSV_TAGS]) {
		pack_name(pk, "tags");
		pack_pieces(pk, tags, len, '|', false);
	}
	if (!f->present[CATALOG_CSV_ACTIVE])
		return;
	pack_name(pk, "active");
	if (row->active)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void variant_pack(msgpack_packer *pk, const struct import_file *f, const struct import_row *row)
{
	char sku[CATALOG_SKU_MAX_CHARS + 1];
	size_t len;
	const char *value = row_value(f, row, CATALOG_CSV_SKU, &len);

	/* SKUs are unique without regard to case, so they are stored in upper case. */
	for (size_t i = 0; i < len && i < CATALOG_SKU_MAX_CHARS; i++)
		sku[i] = (char)(value[i] >= 'a' && value[i] <= 'z' ? value[i] - 'a' + 'A' : value[i]);
	/* Without a precio_anterior column, stored variants keep their compare-at price. */
	msgpack_pack_map(pk, 5 + (row->stock >= 0) + f->present[CATALOG_CSV_COMPARE_AT]);
	pack_name(pk, "row");
	msgpack_pack_uint64(pk, row->line);
	pack_name(pk, "sku");
	pack_text(pk, sku, len);
	pack_column(pk, f, row, "talla", CATALOG_CSV_TALLA);
	pack_column(pk, f, row, "color", CATALOG_CSV_COLOR);
	pack_name(pk, "price");
	msgpack_pack_int64(pk, row->price);
	if (f->present[CATALOG_CSV_COMPARE_AT]) {
		pack_name(pk, "compare_at");
		msgpack_pack_int64(pk, row->compare_at);
	}
	if (row->stock >= 0) {
		pack_name(pk, "stock");
		msgpack_pack_int64(pk, row->stock);
	}
}

/* Packs one product from its lines keys[0..count), the first of which gives the product fields. */
static void product_pack(msgpack_packer *pk, const struct import_file *f, const struct import_plan *plan,
			 const struct row_key *keys, size_t count)
{
	const struct import_row *first = &f->rows[keys[0].row];
	struct row_key path = {f->text.data + first->start[CATALOG_CSV_CATEGORY], 0};
	const struct row_key *found = first->len[CATALOG_CSV_CATEGORY] == 0 ? NULL
					: bsearch(&path, plan->paths, plan->path_count, sizeof(path), key_order_text);
	uint32_t variants = 0;

	for (size_t k = 0; k < count; k++)
		variants += f->rows[keys[k].row].len[CATALOG_CSV_SKU] > 0;
	msgpack_pack_map(pk, 3 + f->present[CATALOG_CSV_CATEGORY]);
	pack_name(pk, "row");
	msgpack_pack_uint64(pk, first->line);
	if (f->present[CATALOG_CSV_CATEGORY]) {
		pack_name(pk, "category");
		msgpack_pack_uint64(pk, found != NULL ? (uint64_t)(found - plan->paths) + 1 : 0);
	}
	pack_name(pk, "fields");
	fields_pack(pk, f, first);
	pack_name(pk, "variants");
	msgpack_pack_array(pk, variants);
	for (size_t k = 0; k < count; k++) {
		if (f->rows[keys[k].row].len[CATALOG_CSV_SKU] > 0)
			variant_pack(pk, f, &f->rows[keys[k].row]);
	}
}

/* Writes the CATALOG_IMPORT command of a checked file into command, setting command->failed if it did not fit. */
static void command_build(const struct import_file *f, const struct import_plan *plan,
			  const struct api_principal *who, struct buf *command)
{
	struct rec_writer w;

	rec_begin(&w, command, CATALOG_IMPORT, 1, 2 + AUDIT_ACTOR_FIELDS);
	audit_actor_pack(&w, who->user_id, who->email, api_now_ms());
	rec_put_name(&w, "categories");
	msgpack_pack_array(&w.pk, (uint32_t)plan->path_count);
	for (size_t i = 0; i < plan->path_count; i++)
		pack_pieces(&w.pk, plan->paths[i].text, strlen(plan->paths[i].text), '/', true);
	rec_put_name(&w, "products");
	msgpack_pack_array(&w.pk, (uint32_t)plan->product_count);
	for (size_t start = 0, end; start < plan->line_count; start = end) {
		end = start + 1;
		while (end < plan->line_count && strcmp(plan->lines[end].text, plan->lines[start].text) == 0)
			end++;
		product_pack(&w.pk, f, plan, plan->lines + start, end - start);
	}
	if (rec_end(&w) != 0)
		command->failed = true;
}

/* The route */

/* Sends the outcome of the import command, with the messages of its "errors" in the client's language. */
static void import_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	json_t *data = NULL, *errors, *error;
	size_t i;

	import_slot_release();
	if (err == REPL_OK && result->status == STORE_INVALID && result->data != NULL)
		data = json_loadb(result->data, result->len, 0, NULL);
	errors = json_object_get(data, "errors");
	if (!json_is_array(errors)) {
		json_decref(data);
		api_done_default(req, err, index, result);
		return;
	}
	json_array_foreach(errors, i, error) {
		const char *message = json_string_value(json_object_get(error, "message"));

		if (message != NULL)
			json_object_set_new(error, "message", json_string(i18n_text(req->lang, message)));
	}
	respond_rejected(req, json_incref(errors),
			 (size_t)json_integer_value(json_object_get(data, "error_count")));
	json_decref(data);
}

/* Accepts Content-Type text/csv, with no charset or UTF-8; responds 415 otherwise. */
static bool csv_content_type_check(struct http_request *req)
{
	size_t len;
	const char *value = http_header_get(req, "Content-Type", &len);
	char type[128];
	const char *charset = NULL;

	/* Header values are not NUL-terminated, so the search runs on a copy. */
	if (value != NULL && len < sizeof(type)) {
		memcpy(type, value, len);
		type[len] = '\0';
		charset = strcasestr(type, "charset=");
	}
	if (charset != NULL) {
		charset += strlen("charset=");
		charset += *charset == '"';
	}
	if (api_content_type_is(req, "text/csv") &&
	    (charset == NULL || strncasecmp(charset, "utf-8", 5) == 0 || strncasecmp(charset, "utf8", 4) == 0))
		return true;
	http_respond_problem(req, 415, "unsupported_media_type", "Content-Type",
			     "Send the catalog as CSV text in UTF-8, with Content-Type: text/csv.");
	return false;
}

/* Proposes the command of a checked file; import_done() responds once it is applied. */
static void import_propose(struct http_request *req, const struct import_file *f, const struct import_plan *plan,
			   const struct api_principal *who)
{
	struct buf command;
	bool proposed = false;

	buf_init(&command, CATALOG_IMPORT_COMMAND_MAX_BYTES);
	command_build(f, plan, who, &command);
	/* Logged first, because req is not valid once a response has been sent. */
	log_info("catalog_import", "rid=%s lines=%zu products=%zu command_bytes=%zu too_large=%d", req->request_id,
		 f->row_count, plan->product_count, command.len, command.failed);
	if (command.failed) {
		import_slot_release();
		http_respond_problem(req, 413, "import_too_large", "body",
				     "The file makes an import larger than %u MiB. Split it into smaller files.",
				     CATALOG_IMPORT_COMMAND_MAX_BYTES >> 20);
	} else {
		proposed = api_propose(req, &command, 200, import_done);
	}
	/* api_propose() has already responded (503 or 500) to a proposal that failed, so the slot is released after that. */
	if (!command.failed && !proposed)
		import_slot_release();
	buf_free(&command);
}

/* Reads and checks the body, then rejects it or proposes it. Releases the import slot unless a command is in flight. */
static void import_run(struct http_request *req, const struct api_principal *who)
{
	struct import_file f = {.lang = req->lang, .errors = json_array()};
	struct import_plan plan = {0};

	buf_init(&f.text, req->body_len + (size_t)(CATALOG_IMPORT_ROWS_MAX + 1) * CATALOG_CSV_COLUMNS + 1);
	buf_append(&f.text, "", 1);
	/* The lines read before a syntax error or a bad line are checked too, so one response lists everything found. */
	if (f.errors == NULL || f.text.failed || !file_read(&f, req->body, req->body_len) || !plan_make(&f, &plan)) {
		log_error("catalog_import_no_memory", "rid=%s bytes=%zu", req->request_id, req->body_len);
		import_slot_release();
		http_respond_problem(req, 503, "unavailable", NULL,
				     "The node ran out of memory while reading the file. Retry later or split the file.");
	} else if (f.error_count > 0) {
		log_info("catalog_import_rejected", "rid=%s lines=%zu errors=%zu", req->request_id, f.row_count,
			 f.error_count);
		import_slot_release();
		respond_rejected(req, json_incref(f.errors), f.error_count);
	} else {
		import_propose(req, &f, &plan, who);
	}
	plan_free(&plan);
	json_decref(f.errors);
	buf_free(&f.text);
	free(f.rows);
}

static void handle_import(struct http_request *req)
{
	struct api_principal who;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !csv_content_type_check(req))
		return;
	if (atomic_flag_test_and_set(&import_running)) {
		http_respond_problem_headers(req, 503, "Retry-After: 5\r\n", "import_running", NULL,
					     "Another import is running on this node. Send the file again when it has finished.");
		return;
	}
	import_run(req, &who);
}

int catalog_csv_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_POST, "/api/v1/admin/import", handle_import, node, CATALOG_IMPORT_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/admin/export", catalog_handle_export, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
