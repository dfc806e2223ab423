/*
 * Apply of CATALOG_IMPORT: the products and variants of a CSV file, all or
 * nothing (the command's layout is in catalog_csv.h).
 *
 * A product is matched by slug: a new slug creates the product, a known
 * one gets every product field whose column the file has. A variant is
 * matched by SKU within its product. A new SKU creates the variant with
 * the file's stock (0 when empty). A known one gets talla, color, price
 * and compare-at price but keeps its stock, as the stock rule in
 * catalog.h requires. Fields whose column the file lacks keep their
 * stored values, and new records get the defaults of the admin API.
 * Products and variants that are not in the file are left alone.
 * Category paths are resolved from the top. Each name is matched among
 * the children of the level above, by name and then by slug, and a
 * missing level is created.
 *
 * Apply writes as it goes and collects every error it finds, each with
 * the CSV line and column. If there is one, the result is an error status,
 * which makes the writer discard the command's nested transaction, so
 * nothing of the file stays. Versions move only for what changed, so
 * importing an unchanged export changes nothing.
 */
#include "store/catalog_csv.h"
#include "store/catalog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/i18n.h"

struct import_totals {
	size_t products_created;
	size_t products_updated;
	size_t products_unchanged;
	size_t variants_created;
	size_t variants_updated;
	size_t variants_unchanged;
	size_t stock_ignored; /* known variants whose stock column differed from their stock */
	size_t categories_created;
};

/* The state of one import while it is applied. */
struct import_run {
	struct store *store;
	struct kv_txn *txn;
	uint64_t at_ms;
	const msgpack_object *paths; /* the command's category paths */
	uint64_t *path_ids;          /* their category ids once resolved, else 0 */
	size_t categories;           /* categories in the shop, once counted */
	bool categories_counted;
	uint64_t *touched;           /* products to refresh at the end */
	size_t touched_count;
	json_t *errors;
	size_t error_count;
	struct import_totals totals;
};

/* A variant of the product being imported: one already stored, one from the file, or both. */
struct variant_slot {
	struct catalog_variant variant;
	uint64_t row;  /* its CSV line, 0 when the file does not name it */
	bool is_new;
	bool changed;
};

struct variant_slots {
	struct variant_slot items[2 * CATALOG_VARIANTS_MAX];
	size_t count;
};

static void import_error(struct import_run *run, uint64_t row, enum catalog_csv_column column, const char *code,
			 const char *message)
{
	const char *name = catalog_csv_columns[column].name;

	if (run->error_count++ < CATALOG_CSV_ERRORS_MAX)
		json_array_append_new(run->errors, catalog_csv_error_json(row, name, strlen(name), code, message));
}

/* Categories */

/* Finds the child of parent_id named name, or else the one with slug; *id is 0 if neither exists. */
static enum kv_err child_find(struct import_run *run, uint64_t parent_id, const char *name, const char *slug,
			      uint64_t *id)
{
	uint64_t ids[CATALOG_CATEGORIES_MAX], by_slug = 0;
	struct catalog_category child;
	size_t count;
	enum kv_err err = catalog_link_members(run->store, run->txn, CATALOG_LINK_CATEGORY_CHILD, parent_id, 0, ids,
					       CATALOG_CATEGORIES_MAX, &count);

	*id = 0;
	for (size_t i = 0; i < count && err == KV_OK && *id == 0; i++) {
		err = catalog_category_get(run->store, run->txn, ids[i], &child);
		if (err == KV_OK && strcmp(child.name, name) == 0)
			*id = ids[i];
		else if (err == KV_OK && by_slug == 0 && strcmp(child.slug, slug) == 0)
			by_slug = ids[i];
	}
	if (*id == 0)
		*id = by_slug;
	return err;
}

/* Creates category name under parent_id; *id is 0 if the shop already has the maximum of categories. */
static enum kv_err child_add(struct import_run *run, uint64_t parent_id, const char *name, const char *slug,
			     uint64_t *id)
{
	struct catalog_category category = {.parent_id = parent_id};
	enum kv_err err = KV_OK;

	*id = 0;
	if (!run->categories_counted)
		err = catalog_categories_count(run->store, run->txn, &run->categories);
	run->categories_counted = err == KV_OK;
	if (err != KV_OK || run->categories >= CATALOG_CATEGORIES_MAX)
		return err;
	snprintf(category.slug, sizeof(category.slug), "%s", slug);
	snprintf(category.name, sizeof(category.name), "%s", name);
	err = store_next_id(run->store, run->txn, "category", &category.id);
	if (err == KV_OK)
		err = catalog_link_put(run->store, run->txn, CATALOG_LINK_CATEGORY_CHILD, parent_id, category.id);
	if (err == KV_OK)
		err = catalog_category_put(run->store, run->txn, &category);
	if (err == KV_OK) {
		*id = category.id;
		run->categories++;
		run->totals.categories_created++;
	}
	return err;
}

/*
 * Resolves category path index (1-based) to the id of its last level,
 * creating missing levels. Sets *id to 0 and records an error at row if
 * the category limit stops it. Returns KV_BAD_RECORD for a malformed path.
 */
static enum kv_err path_resolve(struct import_run *run, uint64_t index, uint64_t row, uint64_t *id)
{
	const msgpack_object *path;
	enum kv_err err = KV_OK;
	uint64_t parent = 0;

	*id = 0;
	if (index == 0)
		return KV_OK;
	if (index > run->paths->via.array.size)
		return KV_BAD_RECORD;
	if (run->path_ids[index - 1] != 0) {
		*id = run->path_ids[index - 1];
		return KV_OK;
	}
	path = &run->paths->via.array.ptr[index - 1];
	if (path->type != MSGPACK_OBJECT_ARRAY || path->via.array.size == 0 ||
	    path->via.array.size > CATALOG_CSV_CATEGORY_LEVELS_MAX)
		return KV_BAD_RECORD;
	for (uint32_t i = 0; i < path->via.array.size && err == KV_OK; i++) {
		struct rec level = {.body = &path->via.array.ptr[i]};
		char name[4 * CATALOG_CATEGORY_NAME_MAX_CHARS + 1], slug[CATALOG_SLUG_MAX_CHARS + 1];

		if (level.body->type != MSGPACK_OBJECT_MAP || !rec_get_str_copy(&level, "name", name, sizeof(name)) ||
		    !rec_get_str_copy(&level, "slug", slug, sizeof(slug)))
			return KV_BAD_RECORD;
		err = child_find(run, parent, name, slug, id);
		if (err == KV_OK && *id == 0)
			err = child_add(run, parent, name, slug, id);
		if (err == KV_OK && *id == 0) {
			import_error(run, row, CATALOG_CSV_CATEGORY, "too_many_categories",
				     N_("The shop already has the maximum of 1000 categories. Delete unused ones first."));
			return KV_OK;
		}
		parent = *id;
	}
	if (err == KV_OK)
		run->path_ids[index - 1] = *id;
	return err;
}

/* Products */

/* The product fields a file may leave out; a new product gets these defaults. */
static const char *const optional_texts[] = {"description", "brand", "material", "care"};

/* A product of the command: its fields map and where its category comes from. */
struct product_line {
	const msgpack_object *fields;
	bool has_category; /* the file has a categoria column */
	uint64_t category_id;
};

/* Counts the fields a new product takes from the defaults because the command leaves them out. */
static uint32_t defaults_needed(const struct rec *given)
{
	uint32_t count = rec_get(given, "tags") == NULL;

	count += rec_get(given, "active") == NULL;
	for (size_t i = 0; i < sizeof(optional_texts) / sizeof(optional_texts[0]); i++)
		count += rec_get(given, optional_texts[i]) == NULL;
	return count;
}

static void defaults_pack(struct rec_writer *w, const struct rec *given)
{
	for (size_t i = 0; i < sizeof(optional_texts) / sizeof(optional_texts[0]); i++) {
		if (rec_get(given, optional_texts[i]) == NULL)
			rec_put_str(w, optional_texts[i], "", 0);
	}
	if (rec_get(given, "tags") == NULL) {
		rec_put_name(w, "tags");
		msgpack_pack_array(&w->pk, 0);
	}
	/* An empty activo means active, so a missing column does too. */
	if (rec_get(given, "active") == NULL)
		rec_put_bool(w, "active", true);
}

/*
 * Writes a product record containing the command's fields into out and
 * decodes it into *decoded, so the product writers can read it like any
 * record. The category is added when the file has the column, and a new
 * product gets defaults for what the file leaves out. Returns
 * KV_BAD_RECORD if the fields are not a map of named fields.
 */
static enum kv_err fields_record(const struct product_line *product, bool is_new, struct buf *out,
				 struct rec *decoded)
{
	const msgpack_object *fields = product->fields;
	struct rec given = {.body = fields};
	bool set_category = product->has_category || is_new;
	struct rec_writer w;

	memset(decoded, 0, sizeof(*decoded));
	msgpack_unpacked_init(&decoded->unpacked);
	if (fields == NULL || fields->type != MSGPACK_OBJECT_MAP || rec_get(&given, "category") != NULL)
		return KV_BAD_RECORD;
	rec_begin(&w, out, STORE_RECORD_PRODUCT, CATALOG_SCHEMA_VERSION,
		  fields->via.map.size + set_category + (is_new ? defaults_needed(&given) : 0));
	for (uint32_t i = 0; i < fields->via.map.size; i++) {
		if (fields->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
			return KV_BAD_RECORD;
		msgpack_pack_object(&w.pk, fields->via.map.ptr[i].key);
		msgpack_pack_object(&w.pk, fields->via.map.ptr[i].val);
		w.fields_written++;
	}
	if (set_category)
		rec_put_u64(&w, "category", product->category_id);
	if (is_new)
		defaults_pack(&w, &given);
	if (rec_end(&w) != 0)
		return KV_NO_MEMORY;
	rec_free(decoded);
	return rec_decode(decoded, out->data, out->len, STORE_RECORD_PRODUCT);
}

/* Writes the fields record over the stored product id, unless nothing in it differs; sets *changed if it wrote. */
static enum kv_err product_update(struct import_run *run, uint64_t id, const struct rec *fields, bool *changed)
{
	struct catalog_product old;
	enum kv_err err = catalog_product_get(run->store, run->txn, id, &old);

	if (err != KV_OK)
		return err;
	*changed = !catalog_product_fields_equal(fields, &old.rec);
	if (*changed) {
		run->totals.products_updated++;
		err = catalog_product_rewrite(run->store, run->txn, &old, fields, run->at_ms);
	} else {
		run->totals.products_unchanged++;
	}
	catalog_product_release(&old);
	return err;
}

/* Creates or updates the product; sets *id, *is_new, and *changed if its record was written. */
static enum kv_err product_upsert(struct import_run *run, const struct product_line *product, bool *is_new,
				  uint64_t *id, bool *changed)
{
	struct rec given = {.body = product->fields}, fields;
	const char *slug;
	size_t slug_len;
	struct buf record;
	enum kv_err err;

	*changed = false;
	if (product->fields == NULL || product->fields->type != MSGPACK_OBJECT_MAP ||
	    !rec_get_str(&given, "slug", &slug, &slug_len))
		return KV_BAD_RECORD;
	err = catalog_product_by_slug(run->store, run->txn, slug, slug_len, id);
	*is_new = err == KV_NOT_FOUND;
	if (err != KV_OK && !*is_new)
		return err;
	buf_init(&record, 256 * 1024);
	err = fields_record(product, *is_new, &record, &fields);
	if (err == KV_OK && *is_new) {
		run->totals.products_created++;
		*changed = true;
		err = catalog_product_insert(run->store, run->txn, &fields, run->at_ms, id);
	} else if (err == KV_OK) {
		err = product_update(run, *id, &fields, changed);
	}
	rec_free(&fields);
	buf_free(&record);
	return err;
}

/* Variants */

static enum kv_err slot_add_stored(const struct catalog_variant *variant, void *ctx)
{
	struct variant_slots *slots = ctx;

	slots->items[slots->count++].variant = *variant;
	return KV_OK;
}

static struct variant_slot *slot_by_sku(struct variant_slots *slots, const char *sku)
{
	for (size_t i = 0; i < slots->count; i++) {
		if (strcmp(slots->items[i].variant.sku, sku) == 0)
			return &slots->items[i];
	}
	return NULL;
}

/* A variant line of the command, decoded into the fields a slot takes. */
struct variant_line {
	uint64_t row;
	struct catalog_variant fields;
	bool has_stock;      /* the stock column has a value */
	bool has_compare_at; /* the file has a precio_anterior column */
};

static bool variant_line_read(const msgpack_object *object, struct variant_line *line)
{
	struct rec map = {.body = object};
	struct catalog_variant *v = &line->fields;

	memset(line, 0, sizeof(*line));
	line->has_stock = rec_get_i64(&map, "stock", &v->stock);
	line->has_compare_at = rec_get_i64(&map, "compare_at", &v->compare_at_minor);
	return object->type == MSGPACK_OBJECT_MAP && rec_get_u64(&map, "row", &line->row) &&
	       rec_get_str_copy(&map, "sku", v->sku, sizeof(v->sku)) &&
	       rec_get_str_copy(&map, "talla", v->size, sizeof(v->size)) &&
	       rec_get_str_copy(&map, "color", v->color, sizeof(v->color)) && rec_get_i64(&map, "price", &v->price_minor) &&
	       v->sku[0] != '\0' && v->stock >= 0;
}

/*
 * Merges one file line into the slots: an update of the product's variant
 * with that SKU, or a new slot. A SKU of another product is an error.
 */
static enum kv_err slot_merge(struct import_run *run, uint64_t product_id, struct variant_slots *slots,
			      const struct variant_line *line)
{
	struct variant_slot *slot = slot_by_sku(slots, line->fields.sku);
	struct catalog_variant *v;
	struct kv_val val;
	enum kv_err err;

	if (slot == NULL) {
		err = kv_get(run->txn, run->store->variants_by_sku, line->fields.sku, strlen(line->fields.sku), &val);
		if (err == KV_OK) {
			import_error(run, line->row, CATALOG_CSV_SKU, "sku_taken",
				     N_("Another product already has this SKU. Change the SKU, or import the line under that product's slug."));
			return KV_OK;
		}
		if (err != KV_NOT_FOUND)
			return err;
		slot = &slots->items[slots->count++];
		slot->variant = line->fields;
		slot->variant.product_id = product_id;
		slot->variant.version = 1;
		slot->is_new = true;
		slot->row = line->row;
		return KV_OK;
	}
	v = &slot->variant;
	slot->row = line->row;
	slot->changed = strcmp(v->size, line->fields.size) != 0 || strcmp(v->color, line->fields.color) != 0 ||
			v->price_minor != line->fields.price_minor ||
			(line->has_compare_at && v->compare_at_minor != line->fields.compare_at_minor);
	/* The stock rule: a stored variant keeps its stock, whatever the file contains. */
	if (line->has_stock && line->fields.stock != v->stock)
		run->totals.stock_ignored++;
	memcpy(v->size, line->fields.size, sizeof(v->size));
	memcpy(v->color, line->fields.color, sizeof(v->color));
	v->price_minor = line->fields.price_minor;
	if (line->has_compare_at)
		v->compare_at_minor = line->fields.compare_at_minor;
	/* Without the column, the stored compare-at price stays, so it must still be above the new price. */
	if (v->compare_at_minor != 0 && v->compare_at_minor <= v->price_minor)
		import_error(run, line->row, CATALOG_CSV_COMPARE_AT, "compare_at_not_above_price",
			     N_("The previous price must be higher than the price. Raise it or leave it empty."));
	return KV_OK;
}

/* Records an error for each file line that would give the product a second variant of one talla and colour. */
static void slots_clash_check(struct import_run *run, const struct variant_slots *slots)
{
	for (size_t i = 0; i < slots->count; i++) {
		for (size_t j = i + 1; j < slots->count; j++) {
			const struct variant_slot *a = &slots->items[i], *b = &slots->items[j];

			if ((a->row == 0 && b->row == 0) || strcasecmp(a->variant.size, b->variant.size) != 0 ||
			    strcasecmp(a->variant.color, b->variant.color) != 0)
				continue;
			import_error(run, a->row > b->row ? a->row : b->row, CATALOG_CSV_TALLA, "variant_exists",
				     N_("The product already has another variant with this talla and color. Change one of them."));
		}
	}
}

/* Writes the new and changed slots and counts what happened to each file line. */
static enum kv_err slots_write(struct import_run *run, uint64_t product_id, struct variant_slots *slots,
			       bool *changed)
{
	enum kv_err err = KV_OK;

	for (size_t i = 0; i < slots->count && err == KV_OK; i++) {
		struct variant_slot *slot = &slots->items[i];

		if (slot->is_new) {
			run->totals.variants_created++;
			err = store_next_id(run->store, run->txn, "variant", &slot->variant.id);
			if (err == KV_OK)
				err = catalog_link_put(run->store, run->txn, CATALOG_LINK_PRODUCT_VARIANT, product_id,
						       slot->variant.id);
			if (err == KV_OK)
				err = catalog_variant_store(run->store, run->txn, &slot->variant, "");
		} else if (slot->changed) {
			run->totals.variants_updated++;
			slot->variant.version++;
			err = catalog_variant_store(run->store, run->txn, &slot->variant, slot->variant.sku);
		} else if (slot->row != 0) {
			run->totals.variants_unchanged++;
		}
		*changed = *changed || slot->is_new || slot->changed;
	}
	return err;
}

/* Imports the variant lines of product_id; sets *changed if one was created or changed. */
static enum kv_err variants_import(struct import_run *run, uint64_t product_id, bool is_new,
				   const msgpack_object *lines, bool *changed)
{
	struct variant_slots *slots = calloc(1, sizeof(*slots));
	size_t errors_before = run->error_count;
	struct variant_line line;
	enum kv_err err = slots == NULL ? KV_NO_MEMORY : KV_OK;

	if (err == KV_OK && (lines->type != MSGPACK_OBJECT_ARRAY || lines->via.array.size > CATALOG_VARIANTS_MAX))
		err = KV_BAD_RECORD;
	if (err == KV_OK && !is_new)
		err = catalog_variants_each(run->store, run->txn, product_id, slot_add_stored, slots);
	for (uint32_t i = 0; err == KV_OK && i < lines->via.array.size; i++) {
		err = variant_line_read(&lines->via.array.ptr[i], &line) ? KV_OK : KV_BAD_RECORD;
		if (err == KV_OK)
			err = slot_merge(run, product_id, slots, &line);
	}
	for (size_t i = CATALOG_VARIANTS_MAX; err == KV_OK && i < slots->count; i++) {
		import_error(run, slots->items[i].row, CATALOG_CSV_SKU, "too_many_variants",
			     N_("With the variants it already has, the product would have more than 100. Delete unused ones first."));
	}
	if (err == KV_OK)
		slots_clash_check(run, slots);
	if (err == KV_OK && run->error_count == errors_before)
		err = slots_write(run, product_id, slots, changed);
	free(slots);
	return err;
}

/* Imports one product of the command with its variants. */
static enum kv_err product_import(struct import_run *run, const msgpack_object *object)
{
	struct rec map = {.body = object};
	const msgpack_object *lines = rec_get(&map, "variants");
	struct product_line product = {.fields = rec_get(&map, "fields"), .has_category = rec_get(&map, "category") != NULL};
	uint64_t row, path = 0, id;
	bool is_new, changed, variants_changed = false;
	enum kv_err err;

	if (object->type != MSGPACK_OBJECT_MAP || lines == NULL || !rec_get_u64(&map, "row", &row) ||
	    (product.has_category && !rec_get_u64(&map, "category", &path)))
		return KV_BAD_RECORD;
	err = path_resolve(run, path, row, &product.category_id);
	if (err != KV_OK || (path != 0 && product.category_id == 0))
		return err;
	err = product_upsert(run, &product, &is_new, &id, &changed);
	if (err == KV_OK)
		err = variants_import(run, id, is_new, lines, &variants_changed);
	if (err == KV_OK && (changed || variants_changed))
		run->touched[run->touched_count++] = id;
	return err;
}

/* Finishes a clean import: refreshes what changed, appends the audit entry and sets the totals as the result. */
static enum kv_err import_finish(struct import_run *run, const struct audit_actor *actor, struct repl_result *result)
{
	const struct import_totals *t = &run->totals;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err = KV_OK;

	for (size_t i = 0; i < run->touched_count && err == KV_OK; i++)
		err = catalog_product_refresh(run->store, run->txn, run->touched[i]);
	snprintf(summary, sizeof(summary), "products created=%zu updated=%zu variants created=%zu updated=%zu categories=%zu",
		 t->products_created, t->products_updated, t->variants_created, t->variants_updated,
		 t->categories_created);
	if (err == KV_OK)
		err = audit_append(run->store, run->txn, actor, CATALOG_IMPORT, "catalog.import", 0, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(
		result, STORE_OK,
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "products_created", (json_int_t)t->products_created,
			  "products_updated", (json_int_t)t->products_updated, "products_unchanged",
			  (json_int_t)t->products_unchanged, "variants_created", (json_int_t)t->variants_created,
			  "variants_updated", (json_int_t)t->variants_updated, "variants_unchanged",
			  (json_int_t)t->variants_unchanged, "stock_ignored", (json_int_t)t->stock_ignored,
			  "categories_created", (json_int_t)t->categories_created));
}

static enum kv_err import_rejected(struct import_run *run, struct repl_result *result)
{
	json_t *details = json_pack("{s:O, s:I}", "errors", run->errors, "error_count", (json_int_t)run->error_count);

	return store_result_error_json(result, STORE_INVALID, "import_rejected", "body",
				       N_("Nothing was imported, because some lines have errors. \"errors\" lists each one with its line and column: correct them and send the whole file again."),
				       details);
}

enum kv_err catalog_apply_import(struct store *store, struct kv_txn *txn, const struct rec *command,
				 struct repl_result *result)
{
	struct import_run run = {.store = store, .txn = txn, .paths = rec_get(command, "categories")};
	const msgpack_object *products = rec_get(command, "products");
	struct audit_actor actor;
	enum kv_err err = KV_OK;

	if (run.paths == NULL || run.paths->type != MSGPACK_OBJECT_ARRAY || products == NULL ||
	    products->type != MSGPACK_OBJECT_ARRAY || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	run.at_ms = actor.at_ms;
	run.path_ids = calloc(run.paths->via.array.size + 1, sizeof(*run.path_ids));
	run.touched = calloc(products->via.array.size + 1, sizeof(*run.touched));
	run.errors = json_array();
	if (run.path_ids == NULL || run.touched == NULL || run.errors == NULL)
		err = KV_NO_MEMORY;
	for (uint32_t i = 0; i < products->via.array.size && err == KV_OK; i++)
		err = product_import(&run, &products->via.array.ptr[i]);
	if (err == KV_OK && run.error_count > 0)
		err = import_rejected(&run, result);
	else if (err == KV_OK)
		err = import_finish(&run, &actor, result);
	free(run.path_ids);
	free(run.touched);
	json_decref(run.errors);
	return err == KV_BAD_RECORD ? catalog_bad_command(result) : err;
}
