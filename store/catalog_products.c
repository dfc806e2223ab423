/*
 * Apply functions of the product and variant commands; see catalog.h.
 *
 * A product update carries only the fields the admin changed, and apply
 * merges them into the stored record, so two admins editing different
 * fields never undo each other's work once the version check let them in.
 * No product or variant command writes stock. A variant keeps the stock of
 * its stored record whatever the command contains (see the stock rule in
 * catalog.h).
 */
#include "store/catalog_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/i18n.h"

/* Editable fields of a product, as named in commands and in the record. */
static const char *const product_fields[] = {
	"slug", "name", "description", "brand", "gender", "type", "material", "care", "tags", "active", "category",
};

#define PRODUCT_FIELD_COUNT (sizeof(product_fields) / sizeof(product_fields[0]))
#define PRODUCTS_TOTAL_COUNTER "catalog_products_total"

/* Adds delta to counter name, which counts something rather than handing out ids. */
static enum kv_err counter_add(struct store *store, struct kv_txn *txn, const char *name, int64_t delta)
{
	unsigned char bytes[8];
	uint64_t value;
	enum kv_err err = store_counter_get(store, txn, name, &value);

	if (err != KV_OK)
		return err;
	value = delta < 0 && value < (uint64_t)-delta ? 0 : value + (uint64_t)delta;
	key_put_u64(bytes, value);
	return kv_put(txn, store->counters, name, strlen(name), bytes, sizeof(bytes));
}

enum kv_err catalog_products_total(struct store *store, struct kv_txn *txn, uint64_t *total)
{
	return store_counter_get(store, txn, PRODUCTS_TOTAL_COUNTER, total);
}

bool catalog_product_fields_equal(const struct rec *fields, const struct rec *old)
{
	for (size_t i = 0; i < PRODUCT_FIELD_COUNT; i++) {
		const msgpack_object *a = rec_get(fields, product_fields[i]), *b = rec_get(old, product_fields[i]);

		if (a != NULL && (b == NULL || !msgpack_object_equal(*a, *b)))
			return false;
	}
	return true;
}

/*
 * Writes product id: every editable field from changes where present, else
 * from old (NULL when creating), then the stamps and version given.
 */
static enum kv_err product_write(struct store *store, struct kv_txn *txn, uint64_t id, const struct rec *changes,
				 const struct rec *old, uint64_t created_at, uint64_t updated_at, uint64_t version)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, 256 * 1024);
	rec_begin(&w, &value, STORE_RECORD_PRODUCT, CATALOG_SCHEMA_VERSION, PRODUCT_FIELD_COUNT + 3);
	for (size_t i = 0; i < PRODUCT_FIELD_COUNT; i++) {
		const msgpack_object *field = rec_get(changes, product_fields[i]);

		if (field == NULL && old != NULL)
			field = rec_get(old, product_fields[i]);
		rec_put_name(&w, product_fields[i]);
		if (field != NULL)
			msgpack_pack_object(&w.pk, *field);
		else
			msgpack_pack_nil(&w.pk);
	}
	rec_put_u64(&w, "created_at", created_at);
	rec_put_u64(&w, "updated_at", updated_at);
	rec_put_u64(&w, "version", version);
	if (rec_end(&w) == 0) {
		key_put_u64(key, id);
		err = kv_put(txn, store->products, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

enum kv_err catalog_product_touch(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	struct catalog_product product;
	struct rec no_changes = {.body = NULL};
	enum kv_err err = catalog_product_get(store, txn, product_id, &product);

	if (err != KV_OK)
		return err;
	err = product_write(store, txn, product_id, &no_changes, &product.rec, product.created_at_ms,
			    product.updated_at_ms, product.version + 1);
	catalog_product_release(&product);
	if (err != KV_OK)
		return err;
	return catalog_product_refresh(store, txn, product_id);
}

static enum kv_err product_not_found(struct repl_result *result)
{
	return store_result_error(result, STORE_NOT_FOUND, "product_not_found", "id",
				  N_("This product does not exist. It may have been deleted."));
}

/* A version mismatch names the current version, so the client can reload and retry. */
static enum kv_err version_mismatch(struct repl_result *result, uint64_t current)
{
	return store_result_error_json(result, STORE_VERSION_MISMATCH, "version_mismatch", "If-Match",
				       N_("Someone changed this meanwhile. Reload it, apply your change again and save."),
				       json_pack("{s:I}", "current_version", (json_int_t)current));
}

/* Checks the slug and category a product command sets; sets result and *ok = false if one fails. */
static enum kv_err product_refs_check(struct store *store, struct kv_txn *txn, uint64_t product_id,
				      const struct rec *fields, struct repl_result *result, bool *ok)
{
	struct catalog_category category;
	const char *slug;
	size_t slug_len;
	uint64_t owner, category_id;
	enum kv_err err = KV_OK;

	*ok = false;
	if (rec_get_str(fields, "slug", &slug, &slug_len)) {
		err = catalog_product_by_slug(store, txn, slug, slug_len, &owner);
		if (err == KV_OK && owner != product_id)
			return store_result_error(result, STORE_CONFLICT, "slug_taken", "slug",
						  N_("Another product already has this slug. Choose another slug."));
		if (err != KV_OK && err != KV_NOT_FOUND)
			return err;
	}
	if (rec_get_u64(fields, "category", &category_id) && category_id != 0) {
		err = catalog_category_get(store, txn, category_id, &category);
		if (err == KV_NOT_FOUND)
			return store_result_error(result, STORE_INVALID, "category_not_found", "category_id",
						  N_("The category does not exist. Choose an existing category."));
		if (err != KV_OK)
			return err;
	}
	*ok = true;
	return KV_OK;
}

/* Moves the slug index and category link of product_id from the old values to those in fields. */
static enum kv_err product_index_update(struct store *store, struct kv_txn *txn, uint64_t product_id,
					const char *old_slug, uint64_t old_category, const struct rec *fields)
{
	unsigned char id_bytes[8];
	const char *slug;
	size_t slug_len;
	uint64_t category_id;
	enum kv_err err = KV_OK;

	key_put_u64(id_bytes, product_id);
	if (rec_get_str(fields, "slug", &slug, &slug_len)) {
		if (old_slug != NULL)
			err = kv_del(txn, store->products_by_slug, old_slug, strlen(old_slug));
		if (err == KV_OK || err == KV_NOT_FOUND)
			err = kv_put(txn, store->products_by_slug, slug, slug_len, id_bytes, sizeof(id_bytes));
	}
	if (err == KV_OK && rec_get_u64(fields, "category", &category_id) && category_id != old_category) {
		err = catalog_link_del(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, old_category, product_id);
		if (err == KV_OK)
			err = catalog_link_put(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, category_id, product_id);
	}
	return err;
}

/* Refreshes the views, appends the audit entry and sets the result to the admin JSON of product_id. */
static enum kv_err product_finish(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  const struct audit_actor *actor, uint32_t type, const char *action,
				  const char *summary, struct repl_result *result)
{
	enum kv_err err = catalog_product_refresh(store, txn, product_id);
	json_t *json;

	if (err == KV_OK)
		err = audit_append(store, txn, actor, type, action, product_id, summary);
	if (err != KV_OK)
		return err;
	json = catalog_product_admin_json(store, txn, product_id, &err);
	if (json == NULL)
		return err;
	return store_result_json(result, STORE_OK, json);
}

enum kv_err catalog_product_insert(struct store *store, struct kv_txn *txn, const struct rec *fields, uint64_t at_ms,
				   uint64_t *id)
{
	uint64_t category_id = 0;
	enum kv_err err = store_next_id(store, txn, "product", id);

	rec_get_u64(fields, "category", &category_id);
	if (err == KV_OK)
		err = product_write(store, txn, *id, fields, NULL, at_ms, at_ms, 1);
	if (err == KV_OK)
		err = product_index_update(store, txn, *id, NULL, 0, fields);
	if (err == KV_OK && category_id == 0)
		err = catalog_link_put(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, 0, *id);
	if (err == KV_OK)
		err = counter_add(store, txn, PRODUCTS_TOTAL_COUNTER, 1);
	return err;
}

enum kv_err catalog_product_rewrite(struct store *store, struct kv_txn *txn, const struct catalog_product *old,
				    const struct rec *fields, uint64_t at_ms)
{
	char old_slug[CATALOG_SLUG_MAX_CHARS + 1];
	enum kv_err err;

	/* old points into the map, which the write below changes, so its slug is copied first. */
	snprintf(old_slug, sizeof(old_slug), "%.*s", (int)old->slug.len, old->slug.ptr);
	/* A clock behind the last update must not make updated_at go backwards. */
	err = product_write(store, txn, old->id, fields, &old->rec, old->created_at_ms,
			    at_ms > old->updated_at_ms ? at_ms : old->updated_at_ms, old->version + 1);
	if (err == KV_OK)
		err = product_index_update(store, txn, old->id, old_slug, old->category_id, fields);
	return err;
}

enum kv_err catalog_apply_product_create(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct audit_actor actor;
	struct rec fields;
	const char *slug;
	size_t slug_len;
	uint64_t id, category_id;
	bool active, ok;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!catalog_command_map(command, "fields", &fields) || !audit_actor_read(command, &actor) ||
	    !rec_get_str(&fields, "slug", &slug, &slug_len) || !rec_get_u64(&fields, "category", &category_id) ||
	    !rec_get_bool(&fields, "active", &active))
		return catalog_bad_command(result);
	err = product_refs_check(store, txn, 0, &fields, result, &ok);
	if (err != KV_OK || !ok)
		return err;

	err = catalog_product_insert(store, txn, &fields, actor.at_ms, &id);
	if (err != KV_OK)
		return err;
	snprintf(summary, sizeof(summary), "slug=%.*s active=%s", (int)slug_len, slug, active ? "true" : "false");
	return product_finish(store, txn, id, &actor, CATALOG_PRODUCT_CREATE, "product.create", summary, result);
}

/* Writes "fields=a,b" naming the editable fields present in fields. */
static void changed_fields_summary(const struct rec *fields, const char *const *names, size_t count, char *out,
				   size_t out_size, size_t used)
{
	const char *separator = "fields=";

	for (size_t i = 0; i < count && used < out_size; i++) {
		if (rec_get(fields, names[i]) == NULL)
			continue;
		used += (size_t)snprintf(out + used, out_size - used, "%s%s", separator, names[i]);
		separator = ",";
	}
}

enum kv_err catalog_apply_product_update(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct catalog_product old;
	struct audit_actor actor;
	struct rec fields;
	uint64_t id, expected;
	char old_slug[CATALOG_SLUG_MAX_CHARS + 1], summary[AUDIT_SUMMARY_MAX_BYTES];
	bool ok;
	enum kv_err err;

	if (!rec_get_u64(command, "id", &id) || !rec_get_u64(command, "version", &expected) ||
	    !catalog_command_map(command, "fields", &fields) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_product_get(store, txn, id, &old);
	if (err == KV_NOT_FOUND)
		return product_not_found(result);
	if (err != KV_OK)
		return err;
	if (old.version != expected) {
		catalog_product_release(&old);
		return version_mismatch(result, old.version);
	}
	err = product_refs_check(store, txn, id, &fields, result, &ok);
	if (err != KV_OK || !ok) {
		catalog_product_release(&old);
		return err;
	}

	snprintf(old_slug, sizeof(old_slug), "%.*s", (int)old.slug.len, old.slug.ptr);
	err = catalog_product_rewrite(store, txn, &old, &fields, actor.at_ms);
	catalog_product_release(&old);
	if (err != KV_OK)
		return err;
	changed_fields_summary(&fields, product_fields, PRODUCT_FIELD_COUNT, summary, sizeof(summary),
			       (size_t)snprintf(summary, sizeof(summary), "slug=%s ", old_slug));
	return product_finish(store, txn, id, &actor, CATALOG_PRODUCT_UPDATE, "product.update", summary, result);
}

/* Deletes every variant of product_id with its SKU index entry and link. */
static enum kv_err product_variants_delete(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	uint64_t ids[CATALOG_VARIANTS_MAX];
	struct catalog_variant variant;
	unsigned char key[8];
	size_t count;
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_VARIANT, product_id, 0, ids,
					       CATALOG_VARIANTS_MAX, &count);

	for (size_t i = 0; i < count && err == KV_OK; i++) {
		err = catalog_variant_get(store, txn, ids[i], &variant);
		if (err == KV_OK)
			err = kv_del(txn, store->variants_by_sku, variant.sku, strlen(variant.sku));
		key_put_u64(key, ids[i]);
		if (err == KV_OK || err == KV_NOT_FOUND)
			err = kv_del(txn, store->variants, key, sizeof(key));
		if (err == KV_OK || err == KV_NOT_FOUND)
			err = catalog_link_del(store, txn, CATALOG_LINK_PRODUCT_VARIANT, product_id, ids[i]);
	}
	return err;
}

/* Deletes every image of product_id with its link. */
static enum kv_err product_images_delete(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	uint64_t ids[CATALOG_IMAGES_MAX];
	unsigned char key[8];
	size_t count;
	enum kv_err err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_IMAGE, product_id, 0, ids,
					       CATALOG_IMAGES_MAX, &count);

	for (size_t i = 0; i < count && err == KV_OK; i++) {
		key_put_u64(key, ids[i]);
		err = kv_del(txn, store->images, key, sizeof(key));
		if (err == KV_OK || err == KV_NOT_FOUND)
			err = catalog_link_del(store, txn, CATALOG_LINK_PRODUCT_IMAGE, product_id, ids[i]);
	}
	return err;
}

enum kv_err catalog_apply_product_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct catalog_product product;
	struct audit_actor actor;
	unsigned char key[8];
	uint64_t id, expected, category_id;
	char slug[CATALOG_SLUG_MAX_CHARS + 1], summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!rec_get_u64(command, "id", &id) || !rec_get_u64(command, "version", &expected) ||
	    !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_product_get(store, txn, id, &product);
	if (err == KV_NOT_FOUND)
		return product_not_found(result);
	if (err != KV_OK)
		return err;
	snprintf(slug, sizeof(slug), "%.*s", (int)product.slug.len, product.slug.ptr);
	category_id = product.category_id;
	catalog_product_release(&product);
	/* Version 0 deletes whatever the version, for a request without If-Match. */
	if (expected != 0 && expected != product.version)
		return version_mismatch(result, product.version);

	err = product_variants_delete(store, txn, id);
	if (err == KV_OK)
		err = product_images_delete(store, txn, id);
	if (err == KV_OK)
		err = kv_del(txn, store->products_by_slug, slug, strlen(slug));
	key_put_u64(key, id);
	if (err == KV_OK || err == KV_NOT_FOUND)
		err = kv_del(txn, store->products, key, sizeof(key));
	if (err == KV_OK)
		err = catalog_link_del(store, txn, CATALOG_LINK_CATEGORY_PRODUCT, category_id, id);
	if (err == KV_OK)
		err = counter_add(store, txn, PRODUCTS_TOTAL_COUNTER, -1);
	/* With the product gone, the refresh deletes its views and search entries. */
	if (err == KV_OK)
		err = catalog_product_refresh(store, txn, id);
	snprintf(summary, sizeof(summary), "slug=%s", slug);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_PRODUCT_DELETE, "product.delete", id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, NULL);
}

/* Variants */

static enum kv_err variant_not_found(struct repl_result *result)
{
	return store_result_error(result, STORE_NOT_FOUND, "variant_not_found", "id",
				  N_("This variant does not exist. It may have been deleted."));
}

/*
 * Checks a variant's SKU and (talla, color) against the other variants;
 * sets result and *ok = false on a clash. variant->id is 0 when creating.
 */
static enum kv_err variant_clash_check(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant,
				       struct repl_result *result, bool *ok)
{
	uint64_t ids[CATALOG_VARIANTS_MAX], owner;
	struct catalog_variant other;
	struct kv_val val;
	size_t count;
	enum kv_err err = kv_get(txn, store->variants_by_sku, variant->sku, strlen(variant->sku), &val);

	*ok = false;
	if (err == KV_OK && (val.len != 8 || (owner = key_get_u64(val.data)) != variant->id))
		return store_result_error(result, STORE_CONFLICT, "sku_taken", "sku",
					  N_("Another variant already has this SKU. Choose another SKU."));
	if (err != KV_OK && err != KV_NOT_FOUND)
		return err;
	err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_VARIANT, variant->product_id, 0, ids,
				   CATALOG_VARIANTS_MAX, &count);
	if (err == KV_OK && variant->id == 0 && count >= CATALOG_VARIANTS_MAX)
		return store_result_error(result, STORE_CONFLICT, "too_many_variants", "product_id",
					  N_("This product already has the maximum of 100 variants. Delete unused ones first."));
	for (size_t i = 0; i < count && err == KV_OK; i++) {
		err = ids[i] == variant->id ? KV_OK : catalog_variant_get(store, txn, ids[i], &other);
		if (err == KV_OK && ids[i] != variant->id && strcasecmp(other.size, variant->size) == 0 &&
		    strcasecmp(other.color, variant->color) == 0)
			return store_result_error_json(result, STORE_CONFLICT, "variant_exists", "talla",
						       N_("This product already has a variant with this talla and color. Edit that variant instead."),
						       json_pack("{s:I}", "variant_id", (json_int_t)ids[i]));
	}
	*ok = err == KV_OK;
	return err;
}

enum kv_err catalog_variant_store(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant,
				  const char *old_sku)
{
	unsigned char id_bytes[8];
	enum kv_err err = catalog_variant_put(store, txn, variant);

	key_put_u64(id_bytes, variant->id);
	if (err == KV_OK && strcmp(old_sku, variant->sku) != 0) {
		err = old_sku[0] != '\0' ? kv_del(txn, store->variants_by_sku, old_sku, strlen(old_sku)) : KV_OK;
		if (err == KV_OK || err == KV_NOT_FOUND)
			err = kv_put(txn, store->variants_by_sku, variant->sku, strlen(variant->sku), id_bytes,
				     sizeof(id_bytes));
	}
	return err;
}

/* Stores variant with its SKU index entry, refreshes its product and sets the result; old_sku is "" when new. */
static enum kv_err variant_finish(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant,
				  const char *old_sku, const struct audit_actor *actor, uint32_t type,
				  const char *action, struct repl_result *result)
{
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err = catalog_variant_store(store, txn, variant, old_sku);

	if (err == KV_OK)
		err = catalog_product_refresh(store, txn, variant->product_id);
	snprintf(summary, sizeof(summary), "sku=%s product=%llu talla=%s color=%s price=%lld", variant->sku,
		 (unsigned long long)variant->product_id, variant->size, variant->color, (long long)variant->price_minor);
	if (err == KV_OK)
		err = audit_append(store, txn, actor, type, action, variant->id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, catalog_variant_json(variant, true));
}

/* Copies the editable fields present in fields over variant; false if one is malformed. */
static bool variant_fields_read(const struct rec *fields, struct catalog_variant *variant)
{
	const char *s;
	size_t len;
	const struct {
		const char *name;
		char *out;
		size_t size;
	} texts[] = {
		{"sku", variant->sku, sizeof(variant->sku)},
		{"talla", variant->size, sizeof(variant->size)},
		{"color", variant->color, sizeof(variant->color)},
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (rec_get(fields, texts[i].name) == NULL)
			continue;
		if (!rec_get_str(fields, texts[i].name, &s, &len) || len == 0 || len >= texts[i].size)
			return false;
		memcpy(texts[i].out, s, len);
		texts[i].out[len] = '\0';
	}
	if (rec_get(fields, "price") != NULL && !rec_get_i64(fields, "price", &variant->price_minor))
		return false;
	return rec_get(fields, "compare_at") == NULL || rec_get_i64(fields, "compare_at", &variant->compare_at_minor);
}

static enum kv_err compare_at_invalid(struct repl_result *result)
{
	return store_result_error(result, STORE_INVALID, "compare_at_not_above_price", "compare_at_price",
				  N_("The compare-at price must be higher than the price. Raise it or remove it."));
}

enum kv_err catalog_apply_variant_create(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct catalog_variant variant = {.version = 1};
	struct catalog_product product;
	struct audit_actor actor;
	struct rec fields;
	bool ok;
	enum kv_err err;

	if (!rec_get_u64(command, "product", &variant.product_id) || !catalog_command_map(command, "fields", &fields) ||
	    !variant_fields_read(&fields, &variant) || !rec_get_i64(&fields, "stock", &variant.stock) ||
	    variant.sku[0] == '\0' || variant.size[0] == '\0' || variant.color[0] == '\0' || variant.stock < 0 ||
	    !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	if (variant.compare_at_minor != 0 && variant.compare_at_minor <= variant.price_minor)
		return compare_at_invalid(result);
	err = catalog_product_get(store, txn, variant.product_id, &product);
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_NOT_FOUND, "product_not_found", "product_id",
					  N_("This product does not exist. It may have been deleted."));
	if (err != KV_OK)
		return err;
	catalog_product_release(&product);
	err = variant_clash_check(store, txn, &variant, result, &ok);
	if (err != KV_OK || !ok)
		return err;

	err = store_next_id(store, txn, "variant", &variant.id);
	if (err == KV_OK)
		err = catalog_link_put(store, txn, CATALOG_LINK_PRODUCT_VARIANT, variant.product_id, variant.id);
	if (err != KV_OK)
		return err;
	return variant_finish(store, txn, &variant, "", &actor, CATALOG_VARIANT_CREATE, "variant.create", result);
}

enum kv_err catalog_apply_variant_update(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct catalog_variant variant;
	struct audit_actor actor;
	struct rec fields;
	uint64_t id, expected;
	char old_sku[sizeof(variant.sku)];
	bool ok;
	enum kv_err err;

	if (!rec_get_u64(command, "id", &id) || !rec_get_u64(command, "version", &expected) ||
	    !catalog_command_map(command, "fields", &fields) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_variant_get(store, txn, id, &variant);
	if (err == KV_NOT_FOUND)
		return variant_not_found(result);
	if (err != KV_OK)
		return err;
	if (variant.version != expected)
		return version_mismatch(result, variant.version);
	memcpy(old_sku, variant.sku, sizeof(old_sku));
	/* variant.stock stays as read: a variant edit never writes stock. */
	if (!variant_fields_read(&fields, &variant))
		return catalog_bad_command(result);
	if (variant.compare_at_minor != 0 && variant.compare_at_minor <= variant.price_minor)
		return compare_at_invalid(result);
	err = variant_clash_check(store, txn, &variant, result, &ok);
	if (err != KV_OK || !ok)
		return err;
	variant.version++;
	return variant_finish(store, txn, &variant, old_sku, &actor, CATALOG_VARIANT_UPDATE, "variant.update", result);
}

enum kv_err catalog_apply_variant_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result)
{
	struct catalog_variant variant;
	struct audit_actor actor;
	unsigned char key[8];
	uint64_t id;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!rec_get_u64(command, "id", &id) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_variant_get(store, txn, id, &variant);
	if (err == KV_NOT_FOUND)
		return variant_not_found(result);
	if (err != KV_OK)
		return err;

	key_put_u64(key, id);
	err = kv_del(txn, store->variants, key, sizeof(key));
	if (err == KV_OK)
		err = kv_del(txn, store->variants_by_sku, variant.sku, strlen(variant.sku));
	if (err == KV_OK || err == KV_NOT_FOUND)
		err = catalog_link_del(store, txn, CATALOG_LINK_PRODUCT_VARIANT, variant.product_id, id);
	if (err == KV_OK)
		err = catalog_product_refresh(store, txn, variant.product_id);
	snprintf(summary, sizeof(summary), "sku=%s product=%llu", variant.sku, (unsigned long long)variant.product_id);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_VARIANT_DELETE, "variant.delete", id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, NULL);
}
