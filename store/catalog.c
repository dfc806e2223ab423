/*
 * Catalog records and categories: the readers other domains use (see
 * catalog.h), the catalog_links helpers, the category commands and the
 * dispatch of every catalog command. Products and variants are applied in
 * catalog_products.c, stock and bulk changes in catalog_stock.c, images in
 * images.c, and the pre-rendered views are made in catalog_render.c.
 *
 * Apply rules (see apply.h): only the transaction and the command are read,
 * so every replica computes the same state and result. A pointer into a
 * record read with kv_get() is invalid after the next put or delete in the
 * same transaction, so each apply function reads, copies what it needs, and
 * writes afterwards.
 */
#include "store/catalog_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/i18n.h"

#define LINK_KEY_BYTES 17

static const char *const gender_names[] = {
	[CATALOG_GENDER_MUJER] = "mujer",
	[CATALOG_GENDER_HOMBRE] = "hombre",
	[CATALOG_GENDER_NINOS] = "ninos",
	[CATALOG_GENDER_UNISEX] = "unisex",
};

static const char *const type_names[] = {
	[CATALOG_TYPE_ROPA] = "ropa",
	[CATALOG_TYPE_CALZADO] = "calzado",
	[CATALOG_TYPE_ACCESORIOS] = "accesorios",
};

#define NAMES_COUNT(names) (sizeof(names) / sizeof(names[0]))

const char *catalog_gender_name(enum catalog_gender gender)
{
	return (size_t)gender < NAMES_COUNT(gender_names) && gender > 0 ? gender_names[gender] : "unisex";
}

const char *catalog_type_name(enum catalog_type type)
{
	return (size_t)type < NAMES_COUNT(type_names) && type > 0 ? type_names[type] : "accesorios";
}

static int name_index(const char *const *names, size_t count, const char *name)
{
	for (size_t i = 1; i < count; i++) {
		if (name != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	}
	return 0;
}

enum catalog_gender catalog_gender_parse(const char *name)
{
	return (enum catalog_gender)name_index(gender_names, NAMES_COUNT(gender_names), name);
}

enum catalog_type catalog_type_parse(const char *name)
{
	return (enum catalog_type)name_index(type_names, NAMES_COUNT(type_names), name);
}

enum kv_err catalog_bad_command(struct repl_result *result)
{
	result->status = STORE_BAD_COMMAND;
	return KV_OK;
}

bool catalog_command_map(const struct rec *command, const char *name, struct rec *out)
{
	const msgpack_object *map = rec_get(command, name);

	memset(out, 0, sizeof(*out));
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return false;
	out->body = map;
	return true;
}

static struct catalog_text text_field(const struct rec *r, const char *name)
{
	struct catalog_text text = {"", 0};

	if (!rec_get_str(r, name, &text.ptr, &text.len)) {
		text.ptr = "";
		text.len = 0;
	}
	return text;
}

/* Reads the record of id in table into r (rec_free() it whatever this returns). */
static enum kv_err record_read(struct kv_txn *txn, kv_table table, uint64_t id, uint32_t type, struct rec *r)
{
	unsigned char key[8];
	struct kv_val val;
	enum kv_err err;

	memset(r, 0, sizeof(*r));
	msgpack_unpacked_init(&r->unpacked);
	key_put_u64(key, id);
	err = kv_get(txn, table, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	rec_free(r);
	return rec_decode(r, val.data, val.len, type);
}

enum kv_err catalog_product_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				struct catalog_product *out)
{
	struct rec *r = &out->rec;
	uint64_t gender = 0, type = 0;
	enum kv_err err;

	memset(out, 0, sizeof(*out));
	err = record_read(txn, store->products, product_id, STORE_RECORD_PRODUCT, r);
	if (err == KV_OK && (!rec_get_u64(r, "category", &out->category_id) || !rec_get_u64(r, "version", &out->version) ||
			     !rec_get_u64(r, "created_at", &out->created_at_ms) ||
			     !rec_get_u64(r, "updated_at", &out->updated_at_ms) || !rec_get_u64(r, "gender", &gender) ||
			     !rec_get_u64(r, "type", &type) || !rec_get_bool(r, "active", &out->active)))
		err = KV_BAD_RECORD;
	if (err != KV_OK) {
		rec_free(r);
		return err;
	}
	out->id = product_id;
	out->gender = (enum catalog_gender)gender;
	out->type = (enum catalog_type)type;
	out->slug = text_field(r, "slug");
	out->name = text_field(r, "name");
	out->description = text_field(r, "description");
	out->brand = text_field(r, "brand");
	out->material = text_field(r, "material");
	out->care = text_field(r, "care");
	out->tags = rec_get(r, "tags");
	if (out->tags != NULL && out->tags->type != MSGPACK_OBJECT_ARRAY)
		out->tags = NULL;
	return KV_OK;
}

void catalog_product_release(struct catalog_product *product)
{
	rec_free(&product->rec);
}

enum kv_err catalog_product_by_slug(struct store *store, struct kv_txn *txn, const char *slug, size_t len,
				    uint64_t *product_id)
{
	struct kv_val val;
	enum kv_err err;

	if (len == 0 || len > KV_KEY_MAX_BYTES)
		return KV_NOT_FOUND;
	err = kv_get(txn, store->products_by_slug, slug, len, &val);
	if (err == KV_OK && val.len != 8)
		return KV_BAD_RECORD;
	if (err == KV_OK)
		*product_id = key_get_u64(val.data);
	return err;
}

enum kv_err catalog_variant_get(struct store *store, struct kv_txn *txn, uint64_t variant_id,
				struct catalog_variant *out)
{
	struct rec r;
	enum kv_err err = record_read(txn, store->variants, variant_id, STORE_RECORD_VARIANT, &r);

	memset(out, 0, sizeof(*out));
	out->id = variant_id;
	if (err == KV_OK &&
	    (!rec_get_u64(&r, "product", &out->product_id) || !rec_get_u64(&r, "version", &out->version) ||
	     !rec_get_str_copy(&r, "sku", out->sku, sizeof(out->sku)) || !rec_get_str_copy(&r, "talla", out->size, sizeof(out->size)) ||
	     !rec_get_str_copy(&r, "color", out->color, sizeof(out->color)) || !rec_get_i64(&r, "price", &out->price_minor) ||
	     !rec_get_i64(&r, "compare_at", &out->compare_at_minor) || !rec_get_i64(&r, "stock", &out->stock)))
		err = KV_BAD_RECORD;
	rec_free(&r);
	return err;
}

enum kv_err catalog_variant_put(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, 4096);
	rec_begin(&w, &value, STORE_RECORD_VARIANT, CATALOG_SCHEMA_VERSION, 8);
	rec_put_u64(&w, "product", variant->product_id);
	rec_put_cstr(&w, "sku", variant->sku);
	rec_put_cstr(&w, "talla", variant->size);
	rec_put_cstr(&w, "color", variant->color);
	rec_put_i64(&w, "price", variant->price_minor);
	rec_put_i64(&w, "compare_at", variant->compare_at_minor);
	rec_put_i64(&w, "stock", variant->stock);
	rec_put_u64(&w, "version", variant->version);
	if (rec_end(&w) == 0) {
		key_put_u64(key, variant->id);
		err = kv_put(txn, store->variants, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

enum kv_err catalog_variants_each(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  enum kv_err (*visit)(const struct catalog_variant *variant, void *ctx), void *ctx)
{
	uint64_t ids[CATALOG_VARIANTS_MAX];
	struct catalog_variant variant;
	size_t count;
	/* Ids are copied first, so visit may write to txn without breaking the walk. */
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_VARIANT, product_id, 0, ids,
					       CATALOG_VARIANTS_MAX, &count);

	for (size_t i = 0; i < count && err == KV_OK; i++) {
		err = catalog_variant_get(store, txn, ids[i], &variant);
		if (err == KV_OK)
			err = visit(&variant, ctx);
	}
	return err;
}

enum kv_err catalog_image_get(struct store *store, struct kv_txn *txn, uint64_t image_id, struct catalog_image *out)
{
	struct rec r;
	enum kv_err err = record_read(txn, store->images, image_id, STORE_RECORD_IMAGE, &r);

	memset(out, 0, sizeof(*out));
	out->id = image_id;
	if (err == KV_OK &&
	    (!rec_get_u64(&r, "product", &out->product_id) || !rec_get_u64(&r, "width", &out->width) ||
	     !rec_get_u64(&r, "height", &out->height) || !rec_get_str_copy(&r, "color", out->color, sizeof(out->color)) ||
	     !rec_get_str_copy(&r, "content_type", out->content_type, sizeof(out->content_type)) ||
	     !rec_get_str_copy(&r, "hash", out->hash, sizeof(out->hash)) || !rec_get_bin(&r, "bytes", &out->bytes, &out->len)))
		err = KV_BAD_RECORD;
	/* The bytes point into the map, not into the decoding, so they outlive rec_free(). */
	rec_free(&r);
	return err;
}

enum kv_err catalog_category_get(struct store *store, struct kv_txn *txn, uint64_t category_id,
				 struct catalog_category *out)
{
	struct rec r;
	enum kv_err err = record_read(txn, store->categories, category_id, STORE_RECORD_CATEGORY, &r);

	memset(out, 0, sizeof(*out));
	out->id = category_id;
	if (err == KV_OK && (!rec_get_u64(&r, "parent", &out->parent_id) || !rec_get_u64(&r, "position", &out->position) ||
			     !rec_get_str_copy(&r, "slug", out->slug, sizeof(out->slug)) ||
			     !rec_get_str_copy(&r, "name", out->name, sizeof(out->name))))
		err = KV_BAD_RECORD;
	rec_free(&r);
	return err;
}

enum kv_err catalog_category_path(struct store *store, struct kv_txn *txn, uint64_t category_id, uint64_t *ids,
				  size_t max, size_t *count)
{
	struct catalog_category category;
	enum kv_err err = KV_OK;

	*count = 0;
	/* The depth bound also ends the walk if a damaged record made a cycle. */
	while (category_id != 0 && *count < max && *count < CATALOG_CATEGORY_DEPTH_MAX) {
		err = catalog_category_get(store, txn, category_id, &category);
		if (err != KV_OK)
			break;
		ids[(*count)++] = category_id;
		category_id = category.parent_id;
	}
	return err;
}

/* Links */

static void link_key(unsigned char key[LINK_KEY_BYTES], enum catalog_link kind, uint64_t owner, uint64_t member)
{
	key[0] = (unsigned char)kind;
	key_put_u64(key + 1, owner);
	key_put_u64(key + 9, member);
}

enum kv_err catalog_link_put(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
			     uint64_t member)
{
	unsigned char key[LINK_KEY_BYTES];

	link_key(key, kind, owner, member);
	return kv_put(txn, store->catalog_links, key, sizeof(key), "", 0);
}

enum kv_err catalog_link_del(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
			     uint64_t member)
{
	unsigned char key[LINK_KEY_BYTES];
	enum kv_err err;

	link_key(key, kind, owner, member);
	err = kv_del(txn, store->catalog_links, key, sizeof(key));
	return err == KV_NOT_FOUND ? KV_OK : err;
}

enum kv_err catalog_link_members(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
				 uint64_t after, uint64_t *ids, size_t max, size_t *count)
{
	unsigned char after_key[LINK_KEY_BYTES];
	struct kv_cursor *cursor;
	struct kv_val key, val;
	enum kv_err err;

	*count = 0;
	link_key(after_key, kind, owner, after);
	err = kv_scan_begin(txn, store->catalog_links, after_key, 9, after_key, after > 0 ? sizeof(after_key) : 0,
			    &cursor);
	if (err != KV_OK)
		return err;
	while (*count < max && (err = kv_scan_next(cursor, &key, &val)) == KV_OK) {
		if (key.len == LINK_KEY_BYTES)
			ids[(*count)++] = key_get_u64((const unsigned char *)key.data + 9);
	}
	kv_scan_end(cursor);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

/* Categories */

json_t *catalog_category_json(const struct catalog_category *category)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)category->id, "slug", category->slug, "name",
			 category->name, "parent_id", (json_int_t)category->parent_id, "position",
			 (json_int_t)category->position);
}

enum kv_err catalog_category_put(struct store *store, struct kv_txn *txn, const struct catalog_category *category)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, 4096);
	rec_begin(&w, &value, STORE_RECORD_CATEGORY, CATALOG_SCHEMA_VERSION, 4);
	rec_put_cstr(&w, "slug", category->slug);
	rec_put_cstr(&w, "name", category->name);
	rec_put_u64(&w, "parent", category->parent_id);
	rec_put_u64(&w, "position", category->position);
	if (rec_end(&w) == 0) {
		key_put_u64(key, category->id);
		err = kv_put(txn, store->categories, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

/* Sets *taken if another child of parent_id than category_id has slug. */
static enum kv_err sibling_slug_taken(struct store *store, struct kv_txn *txn, uint64_t parent_id,
				      uint64_t category_id, const char *slug, bool *taken)
{
	uint64_t ids[CATALOG_CATEGORIES_MAX];
	struct catalog_category sibling;
	size_t count;
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_CHILD, parent_id, 0, ids,
					       CATALOG_CATEGORIES_MAX, &count);

	*taken = false;
	for (size_t i = 0; i < count && err == KV_OK && !*taken; i++) {
		err = catalog_category_get(store, txn, ids[i], &sibling);
		*taken = err == KV_OK && ids[i] != category_id && strcmp(sibling.slug, slug) == 0;
	}
	return err;
}

enum kv_err catalog_categories_count(struct store *store, struct kv_txn *txn, size_t *count)
{
	struct kv_cursor *cursor;
	struct kv_val key, val;
	enum kv_err err = kv_scan_begin(txn, store->categories, NULL, 0, NULL, 0, &cursor);

	*count = 0;
	if (err != KV_OK)
		return err;
	while (*count <= CATALOG_CATEGORIES_MAX && (err = kv_scan_next(cursor, &key, &val)) == KV_OK)
		(*count)++;
	kv_scan_end(cursor);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

/*
 * Checks the new parent of category_id (0 when creating): it exists, it is
 * neither the category nor one of its descendants, and the tree stays
 * within CATALOG_CATEGORY_DEPTH_MAX. Sets result and *ok = false if not.
 */
static enum kv_err parent_check(struct store *store, struct kv_txn *txn, uint64_t category_id, uint64_t parent_id,
				struct repl_result *result, bool *ok)
{
	uint64_t path[CATALOG_CATEGORY_DEPTH_MAX];
	size_t depth;
	enum kv_err err;

	*ok = true;
	if (parent_id == 0)
		return KV_OK;
	err = catalog_category_path(store, txn, parent_id, path, CATALOG_CATEGORY_DEPTH_MAX, &depth);
	*ok = false;
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_INVALID, "parent_not_found", "parent_id",
					  N_("The parent category does not exist. Choose an existing category or 0 for the top level."));
	if (err != KV_OK)
		return err;
	for (size_t i = 0; i < depth; i++) {
		if (path[i] == category_id)
			return store_result_error(result, STORE_INVALID, "category_cycle", "parent_id",
						  N_("A category cannot be moved under itself or one of its subcategories."));
	}
	if (depth + 1 > CATALOG_CATEGORY_DEPTH_MAX - 1)
		return store_result_error(result, STORE_INVALID, "category_too_deep", "parent_id",
					  N_("Categories may be nested at most 7 levels deep. Choose a parent higher up."));
	*ok = true;
	return KV_OK;
}

/* Re-renders every product of category_id and of its subcategories, whose views show the category path. */
static enum kv_err category_products_refresh(struct store *store, struct kv_txn *txn, uint64_t category_id,
					     unsigned depth)
{
	uint64_t *ids = malloc(CATALOG_CATEGORIES_MAX * sizeof(*ids));
	uint64_t after = 0;
	size_t count = 0;
	enum kv_err err = ids == NULL ? KV_NO_MEMORY : KV_OK;

	/* Products in pages, since a category may hold more of them than one buffer. */
	while (err == KV_OK) {
		err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, category_id, after, ids,
					   CATALOG_CATEGORIES_MAX, &count);
		for (size_t i = 0; i < count && err == KV_OK; i++)
			err = catalog_product_refresh(store, txn, ids[i]);
		if (count < CATALOG_CATEGORIES_MAX)
			break;
		after = ids[count - 1];
	}
	if (err == KV_OK && depth < CATALOG_CATEGORY_DEPTH_MAX)
		err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_CHILD, category_id, 0, ids,
					   CATALOG_CATEGORIES_MAX, &count);
	for (size_t i = 0; i < count && err == KV_OK && depth < CATALOG_CATEGORY_DEPTH_MAX; i++)
		err = category_products_refresh(store, txn, ids[i], depth + 1);
	free(ids);
	return err;
}

/* Reads the category of a CATALOG_CATEGORY_PUT command; false if a field is missing. */
static bool category_command_read(const struct rec *command, struct catalog_category *out)
{
	memset(out, 0, sizeof(*out));
	return rec_get_u64(command, "id", &out->id) && rec_get_u64(command, "parent", &out->parent_id) &&
	       rec_get_u64(command, "position", &out->position) &&
	       rec_get_str_copy(command, "slug", out->slug, sizeof(out->slug)) &&
	       rec_get_str_copy(command, "name", out->name, sizeof(out->name));
}

/* Checks what a new or moved category needs from the state; sets result and *ok = false if it fails. */
static enum kv_err category_check(struct store *store, struct kv_txn *txn, const struct catalog_category *category,
				  struct repl_result *result, bool *ok)
{
	size_t count;
	bool taken;
	enum kv_err err = parent_check(store, txn, category->id, category->parent_id, result, ok);

	if (err != KV_OK || !*ok)
		return err;
	*ok = false;
	err = category->id == 0 ? catalog_categories_count(store, txn, &count) : KV_OK;
	if (err == KV_OK && category->id == 0 && count >= CATALOG_CATEGORIES_MAX)
		return store_result_error(result, STORE_CONFLICT, "too_many_categories", NULL,
					  N_("The shop already has the maximum of 1000 categories. Delete unused ones first."));
	if (err == KV_OK)
		err = sibling_slug_taken(store, txn, category->parent_id, category->id, category->slug, &taken);
	if (err == KV_OK && taken)
		return store_result_error(result, STORE_CONFLICT, "slug_taken", "slug",
					  N_("Another category under the same parent has this slug. Choose another slug."));
	*ok = err == KV_OK;
	return err;
}

enum kv_err catalog_apply_category_put(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result)
{
	struct catalog_category category, old;
	struct audit_actor actor;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	bool creating, ok;
	enum kv_err err;

	if (!category_command_read(command, &category) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	creating = category.id == 0;
	if (!creating) {
		err = catalog_category_get(store, txn, category.id, &old);
		if (err == KV_NOT_FOUND)
			return store_result_error(result, STORE_NOT_FOUND, "category_not_found", "id",
						  N_("This category does not exist. It may have been deleted."));
		if (err != KV_OK)
			return err;
	}
	err = category_check(store, txn, &category, result, &ok);
	if (err != KV_OK || !ok)
		return err;

	if (creating)
		err = store_next_id(store, txn, "category", &category.id);
	else if (old.parent_id != category.parent_id)
		err = catalog_link_del(store, txn, CATALOG_LINK_CATEGORY_CHILD, old.parent_id, category.id);
	if (err == KV_OK)
		err = catalog_link_put(store, txn, CATALOG_LINK_CATEGORY_CHILD, category.parent_id, category.id);
	if (err == KV_OK)
		err = catalog_category_put(store, txn, &category);
	/* Product views show the category path, so a rename or a move re-renders them. */
	if (err == KV_OK && !creating &&
	    (strcmp(old.slug, category.slug) != 0 || strcmp(old.name, category.name) != 0 ||
	     old.parent_id != category.parent_id))
		err = category_products_refresh(store, txn, category.id, 0);
	snprintf(summary, sizeof(summary), "slug=%s parent=%llu", category.slug, (unsigned long long)category.parent_id);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_CATEGORY_PUT, creating ? "category.create" : "category.update",
				   category.id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, catalog_category_json(&category));
}

enum kv_err catalog_apply_category_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					  struct repl_result *result)
{
	struct catalog_category category;
	struct audit_actor actor;
	unsigned char key[8];
	uint64_t member;
	size_t children = 0, products = 0;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!rec_get_u64(command, "id", &category.id) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_category_get(store, txn, category.id, &category);
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_NOT_FOUND, "category_not_found", "id",
					  N_("This category does not exist. It may have been deleted."));
	if (err == KV_OK)
		err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_CHILD, category.id, 0, &member, 1, &children);
	if (err == KV_OK)
		err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, category.id, 0, &member, 1, &products);
	if (err != KV_OK)
		return err;
	if (children > 0)
		return store_result_error(result, STORE_CONFLICT, "category_has_children", "id",
					  N_("This category has subcategories. Move or delete them first."));
	if (products > 0)
		return store_result_error(result, STORE_CONFLICT, "category_has_products", "id",
					  N_("This category still has products. Move them to another category or delete them first."));

	key_put_u64(key, category.id);
	err = kv_del(txn, store->categories, key, sizeof(key));
	if (err == KV_OK)
		err = catalog_link_del(store, txn, CATALOG_LINK_CATEGORY_CHILD, category.parent_id, category.id);
	snprintf(summary, sizeof(summary), "slug=%s", category.slug);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_CATEGORY_DELETE, "category.delete", category.id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, NULL);
}

/* Sorts siblings by position, then name, then id, so the tree order is the admin's. */
static int category_order(const void *a, const void *b)
{
	const struct catalog_category *x = a, *y = b;
	int by_name = strcmp(x->name, y->name);

	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	if (by_name != 0)
		return by_name;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Appends the children of parent_id, each with its own children, to array. */
static enum kv_err tree_children(struct store *store, struct kv_txn *txn, uint64_t parent_id, unsigned depth,
				 json_t *array)
{
	uint64_t ids[CATALOG_CATEGORIES_MAX];
	struct catalog_category *children;
	size_t count;
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_CATEGORY_CHILD, parent_id, 0, ids,
					       CATALOG_CATEGORIES_MAX, &count);

	if (err != KV_OK || count == 0 || depth >= CATALOG_CATEGORY_DEPTH_MAX)
		return err;
	children = calloc(count, sizeof(*children));
	if (children == NULL)
		return KV_NO_MEMORY;
	for (size_t i = 0; i < count && err == KV_OK; i++)
		err = catalog_category_get(store, txn, ids[i], &children[i]);
	if (err == KV_OK)
		qsort(children, count, sizeof(*children), category_order);
	for (size_t i = 0; i < count && err == KV_OK; i++) {
		json_t *node = json_pack("{s:I, s:s, s:s, s:I, s:[]}", "id", (json_int_t)children[i].id, "slug",
					 children[i].slug, "name", children[i].name, "position",
					 (json_int_t)children[i].position, "children");

		if (node == NULL || json_array_append_new(array, node) != 0)
			err = KV_NO_MEMORY;
		else
			err = tree_children(store, txn, children[i].id, depth + 1, json_object_get(node, "children"));
	}
	free(children);
	return err;
}

json_t *catalog_category_tree_json(struct store *store, struct kv_txn *txn, enum kv_err *err)
{
	json_t *roots = json_array();

	*err = roots != NULL ? tree_children(store, txn, 0, 0, roots) : KV_NO_MEMORY;
	if (*err != KV_OK) {
		json_decref(roots);
		return NULL;
	}
	return json_pack("{s:o, s:s}", "categories", roots, "currency", CATALOG_CURRENCY);
}

enum kv_err catalog_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			  const struct rec *command, struct repl_result *result)
{
	static enum kv_err (*const handlers[])(struct store *, struct kv_txn *, const struct rec *,
					       struct repl_result *) = {
		[CATALOG_CATEGORY_PUT - STORE_COMMANDS_CATALOG] = catalog_apply_category_put,
		[CATALOG_CATEGORY_DELETE - STORE_COMMANDS_CATALOG] = catalog_apply_category_delete,
		[CATALOG_PRODUCT_CREATE - STORE_COMMANDS_CATALOG] = catalog_apply_product_create,
		[CATALOG_PRODUCT_UPDATE - STORE_COMMANDS_CATALOG] = catalog_apply_product_update,
		[CATALOG_PRODUCT_DELETE - STORE_COMMANDS_CATALOG] = catalog_apply_product_delete,
		[CATALOG_VARIANT_CREATE - STORE_COMMANDS_CATALOG] = catalog_apply_variant_create,
		[CATALOG_VARIANT_UPDATE - STORE_COMMANDS_CATALOG] = catalog_apply_variant_update,
		[CATALOG_VARIANT_DELETE - STORE_COMMANDS_CATALOG] = catalog_apply_variant_delete,
		[CATALOG_STOCK_ADJUST - STORE_COMMANDS_CATALOG] = catalog_apply_stock_adjust,
		[CATALOG_BULK_PRICE - STORE_COMMANDS_CATALOG] = catalog_apply_bulk_price,
		[CATALOG_BULK_STOCK - STORE_COMMANDS_CATALOG] = catalog_apply_bulk_stock,
		[CATALOG_IMAGE_ADD - STORE_COMMANDS_CATALOG] = catalog_apply_image_add,
		[CATALOG_IMAGE_DELETE - STORE_COMMANDS_CATALOG] = catalog_apply_image_delete,
		[CATALOG_IMPORT - STORE_COMMANDS_CATALOG] = catalog_apply_import,
	};
	size_t slot = type - STORE_COMMANDS_CATALOG;

	(void)index;
	if (type < STORE_COMMANDS_CATALOG || slot >= sizeof(handlers) / sizeof(handlers[0]) || handlers[slot] == NULL)
		return catalog_bad_command(result);
	return handlers[slot](store, txn, command, result);
}
