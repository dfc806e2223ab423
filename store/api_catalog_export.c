/*
 * GET /api/v1/admin/export?dialect=es|en: every product with its variants
 * as CSV in the import format (catalog_csv.h), so the file imports back.
 *
 * dialect es (the default) is what a Spanish spreadsheet writes: a UTF-8
 * byte order mark, ';' between fields, CR LF line ends and a decimal comma.
 * dialect en has no mark, ',' and LF, and a decimal point.
 *
 * The output is canonical, so an export imported into an empty shop
 * exports to the same bytes. Lines are in order of slug and then SKU. A
 * field is quoted only when it contains the separator, a quote or a line
 * break. Prices have two decimals, activo is "si" or "no", genero and tipo
 * are the API names, and SKUs are in upper case. A product without
 * variants is one line whose variant columns are empty.
 *
 * NOTE: tags containing '|' and category names containing '/' are written
 * as they are, so importing the file splits them. The admin API allows
 * such names, and the CSV format has no escape for them.
 */
#include "store/api_catalog_internal.h"
#include "store/catalog_csv.h"

#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/log.h"

/* The largest export; a bigger catalog gets 500 and needs an export in parts (not built). */
#define EXPORT_MAX_BYTES (256u << 20)
#define CATEGORY_PATH_MAX_BYTES (CATALOG_CATEGORY_DEPTH_MAX * (4 * CATALOG_CATEGORY_NAME_MAX_CHARS + 1))

struct export_dialect {
	struct csv_dialect csv;
	char decimal_separator;
};

static const struct export_dialect dialect_es = {{';', true, true}, ','};
static const struct export_dialect dialect_en = {{',', false, false}, '.'};

/* The writer of one export: the dialect, the output and the first field of the current line. */
struct export_writer {
	const struct export_dialect *dialect;
	struct buf *out;
	bool line_start;
};

static void field_write(struct export_writer *w, const char *text, size_t len)
{
	csv_write_field(w->out, &w->dialect->csv, text, len, w->line_start);
	w->line_start = false;
}

static void cstr_write(struct export_writer *w, const char *text)
{
	field_write(w, text, strlen(text));
}

static void line_end(struct export_writer *w)
{
	csv_write_end(w->out, &w->dialect->csv);
	w->line_start = true;
}

static int variant_order(const void *a, const void *b)
{
	return strcmp(((const struct catalog_variant *)a)->sku, ((const struct catalog_variant *)b)->sku);
}

/* Writes the names of category_id and its ancestors from the top, joined by '/', into out ("" for none). */
static enum kv_err category_text(struct store *store, struct kv_txn *txn, uint64_t category_id, struct buf *out)
{
	uint64_t ids[CATALOG_CATEGORY_DEPTH_MAX];
	struct catalog_category category;
	size_t count;
	enum kv_err err = catalog_category_path(store, txn, category_id, ids, CATALOG_CATEGORY_DEPTH_MAX, &count);

	buf_reset(out);
	for (size_t i = count; i > 0 && err == KV_OK; i--) {
		err = catalog_category_get(store, txn, ids[i - 1], &category);
		if (err == KV_OK && i < count)
			buf_append(out, "/", 1);
		if (err == KV_OK)
			buf_append_str(out, category.name);
	}
	return err;
}

/* Writes the product columns of one line: slug to activo. */
static void product_fields_write(struct export_writer *w, const struct catalog_product *product,
				 const struct buf *category, struct buf *tags)
{
	buf_reset(tags);
	for (uint32_t i = 0; product->tags != NULL && i < product->tags->via.array.size; i++) {
		const msgpack_object *tag = &product->tags->via.array.ptr[i];

		if (tag->type != MSGPACK_OBJECT_STR)
			continue;
		if (tags->len > 0)
			buf_append(tags, "|", 1);
		buf_append(tags, tag->via.str.ptr, tag->via.str.size);
	}
	field_write(w, product->slug.ptr, product->slug.len);
	field_write(w, product->name.ptr, product->name.len);
	field_write(w, product->description.ptr, product->description.len);
	field_write(w, product->brand.ptr, product->brand.len);
	cstr_write(w, catalog_gender_name(product->gender));
	cstr_write(w, catalog_type_name(product->type));
	field_write(w, category->data != NULL ? category->data : "", category->len);
	field_write(w, product->material.ptr, product->material.len);
	field_write(w, product->care.ptr, product->care.len);
	field_write(w, tags->data != NULL ? tags->data : "", tags->len);
	cstr_write(w, product->active ? "si" : "no");
}

/* Writes the variant columns of one line: sku to stock, all empty when variant is NULL. */
static void variant_fields_write(struct export_writer *w, const struct catalog_variant *variant)
{
	char price[CATALOG_CSV_PRICE_MAX_BYTES], compare_at[CATALOG_CSV_PRICE_MAX_BYTES], stock[24];

	if (variant == NULL) {
		for (int c = CATALOG_CSV_SKU; c < CATALOG_CSV_COLUMNS; c++)
			cstr_write(w, "");
		return;
	}
	catalog_csv_price_format(variant->price_minor, w->dialect->decimal_separator, price);
	compare_at[0] = '\0';
	if (variant->compare_at_minor != 0)
		catalog_csv_price_format(variant->compare_at_minor, w->dialect->decimal_separator, compare_at);
	snprintf(stock, sizeof(stock), "%lld", (long long)variant->stock);
	cstr_write(w, variant->sku);
	cstr_write(w, variant->size);
	cstr_write(w, variant->color);
	cstr_write(w, price);
	cstr_write(w, compare_at);
	cstr_write(w, stock);
}

/* Reads the variants of product_id into variants (CATALOG_VARIANTS_MAX of room), sorted by SKU. */
static enum kv_err variants_read(struct store *store, struct kv_txn *txn, uint64_t product_id,
				 struct catalog_variant *variants, size_t *count)
{
	uint64_t ids[CATALOG_VARIANTS_MAX];
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_VARIANT, product_id, 0, ids,
					       CATALOG_VARIANTS_MAX, count);

	for (size_t i = 0; i < *count && err == KV_OK; i++)
		err = catalog_variant_get(store, txn, ids[i], &variants[i]);
	if (err == KV_OK)
		qsort(variants, *count, sizeof(*variants), variant_order);
	return err;
}

/* Scratch space reused for every product of one export. */
struct export_scratch {
	struct catalog_variant variants[CATALOG_VARIANTS_MAX];
	struct buf category;
	struct buf tags;
};

/* Writes the lines of product_id: one per variant, or one without variant columns. */
static enum kv_err product_lines_write(struct store *store, struct kv_txn *txn, uint64_t product_id,
				       struct export_writer *w, struct export_scratch *scratch)
{
	struct catalog_product product;
	size_t count = 0;
	enum kv_err err = catalog_product_get(store, txn, product_id, &product);

	if (err != KV_OK)
		return err;
	err = category_text(store, txn, product.category_id, &scratch->category);
	if (err == KV_OK)
		err = variants_read(store, txn, product_id, scratch->variants, &count);
	for (size_t i = 0; err == KV_OK && i < (count > 0 ? count : 1); i++) {
		product_fields_write(w, &product, &scratch->category, &scratch->tags);
		variant_fields_write(w, count > 0 ? &scratch->variants[i] : NULL);
		line_end(w);
	}
	catalog_product_release(&product);
	return err;
}

/* Writes the whole export into out. */
static enum kv_err export_write(struct store *store, struct kv_txn *txn, const struct export_dialect *dialect,
				struct buf *out)
{
	struct export_writer w = {.dialect = dialect, .out = out, .line_start = true};
	struct export_scratch *scratch = calloc(1, sizeof(*scratch));
	struct kv_cursor *cursor = NULL;
	struct kv_val key, val;
	enum kv_err err = scratch != NULL ? kv_scan_begin(txn, store->products_by_slug, NULL, 0, NULL, 0, &cursor)
					  : KV_NO_MEMORY;

	if (scratch != NULL) {
		buf_init(&scratch->category, CATEGORY_PATH_MAX_BYTES);
		buf_init(&scratch->tags, 64 * 1024);
	}
	if (err == KV_OK && dialect->csv.bom)
		buf_append(out, "\xEF\xBB\xBF", 3);
	for (int c = 0; err == KV_OK && c < CATALOG_CSV_COLUMNS; c++)
		cstr_write(&w, catalog_csv_columns[c].name);
	if (err == KV_OK)
		line_end(&w);
	/* products_by_slug is ordered by slug, which is the order of the lines. */
	while (err == KV_OK && !out->failed && (err = kv_scan_next(cursor, &key, &val)) == KV_OK) {
		err = val.len == 8 ? product_lines_write(store, txn, key_get_u64(val.data), &w, scratch) : KV_BAD_RECORD;
		/* Only the scan's end may be KV_NOT_FOUND; a slug naming a missing record is damage. */
		if (err == KV_NOT_FOUND)
			err = KV_BAD_RECORD;
	}
	if (cursor != NULL)
		kv_scan_end(cursor);
	if (scratch != NULL) {
		buf_free(&scratch->category);
		buf_free(&scratch->tags);
	}
	free(scratch);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

/* Reads the dialect parameter; responds 400 naming it if it is neither es nor en. */
static const struct export_dialect *dialect_query(struct http_request *req)
{
	char name[8];
	int len = http_query_get(req, "dialect", name, sizeof(name));

	if (len == -1 || (len >= 0 && strcmp(name, "es") == 0))
		return &dialect_es;
	if (len >= 0 && strcmp(name, "en") == 0)
		return &dialect_en;
	http_respond_problem(req, 400, "invalid_parameter", "dialect", "The parameter %s must be one of: %s.", "dialect",
			     "es, en");
	return NULL;
}

void catalog_handle_export(struct http_request *req)
{
	struct http_response res = {
		.status = 200,
		.content_type = "text/csv; charset=utf-8",
		.headers = "Content-Disposition: attachment; filename=\"catalogo.csv\"\r\nCache-Control: no-store\r\n",
	};
	const struct export_dialect *dialect;
	struct api_principal who;
	struct kv_txn *txn;
	struct buf out;
	enum kv_err err;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || (dialect = dialect_query(req)) == NULL ||
	    !catalog_read_begin(req, &txn))
		return;
	buf_init(&out, EXPORT_MAX_BYTES);
	err = export_write(&catalog_node(req)->store, txn, dialect, &out);
	kv_read_end(txn);
	if (err != KV_OK) {
		catalog_respond_read_error(req, err, NULL);
	} else if (out.failed) {
		log_error("catalog_export_too_large", "rid=%s max_bytes=%u", req->request_id, EXPORT_MAX_BYTES);
		http_respond_problem(req, 500, "export_too_large", NULL,
				     "The catalog is larger than the export limit of %u MiB.", EXPORT_MAX_BYTES >> 20);
	} else {
		res.body = out.data;
		res.body_len = out.len;
		http_respond(req, &res);
	}
	buf_free(&out);
}
