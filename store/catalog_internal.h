/*
 * Private to the catalog files (catalog*.c, images.c, api_catalog*.c):
 * record readers and writers, the catalog_links helpers, the pre-render
 * step and the apply function of each command.
 */
#ifndef JKD_STORE_CATALOG_INTERNAL_H
#define JKD_STORE_CATALOG_INTERNAL_H

#include "store/audit.h"
#include "store/catalog.h"

#define CATALOG_SCHEMA_VERSION 1
#define CATALOG_CATEGORY_NAME_MAX_CHARS 100

/* Bulk price: what happens to a variant's compare-at price. */
enum catalog_compare_at_rule {
	CATALOG_COMPARE_AT_KEEP = 1,     /* unchanged; the new price must stay below it */
	CATALOG_COMPARE_AT_CLEAR = 2,    /* removed */
	CATALOG_COMPARE_AT_PREVIOUS = 3, /* set to the price before the change, which must be higher */
};

/* In a list entry of CATALOG_BULK_PRICE: keep the compare-at price as it is. */
#define CATALOG_COMPARE_AT_UNCHANGED (-1)

struct catalog_category {
	uint64_t id;
	uint64_t parent_id; /* 0: a root category */
	uint64_t position;
	char slug[CATALOG_SLUG_MAX_CHARS + 1];
	char name[4 * CATALOG_CATEGORY_NAME_MAX_CHARS + 1];
};

/* An image record; bytes point into the map until the transaction ends or writes. */
struct catalog_image {
	uint64_t id;
	uint64_t product_id;
	uint64_t width;
	uint64_t height;
	char color[4 * CATALOG_COLOR_MAX_CHARS + 1]; /* "" when not tied to a colour */
	char content_type[16];
	char hash[33]; /* BLAKE2b-128 of the bytes, in hex: the ETag */
	const void *bytes;
	size_t len;
};

enum kv_err catalog_category_get(struct store *store, struct kv_txn *txn, uint64_t category_id,
				 struct catalog_category *out);
enum kv_err catalog_image_get(struct store *store, struct kv_txn *txn, uint64_t image_id, struct catalog_image *out);
enum kv_err catalog_variant_put(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant);
enum kv_err catalog_category_put(struct store *store, struct kv_txn *txn, const struct catalog_category *category);

/* Counts the categories, stopping once the count passes CATALOG_CATEGORIES_MAX. */
enum kv_err catalog_categories_count(struct store *store, struct kv_txn *txn, size_t *count);

/*
 * Creates a product from fields, which has every editable field (as in
 * the record), stamped at_ms with version 1: its record, slug index,
 * category link and the products total. Sets *id. The caller has checked
 * that the slug is free and the category exists.
 */
enum kv_err catalog_product_insert(struct store *store, struct kv_txn *txn, const struct rec *fields, uint64_t at_ms,
				   uint64_t *id);

/*
 * Writes old with the editable fields present in fields merged over it,
 * the next version and updated_at at_ms (never earlier than before), and
 * moves its slug index and category link. Stock is in the variants, so it
 * is not touched.
 */
enum kv_err catalog_product_rewrite(struct store *store, struct kv_txn *txn, const struct catalog_product *old,
				    const struct rec *fields, uint64_t at_ms);

/* True if every editable field present in fields has the same value in old. */
bool catalog_product_fields_equal(const struct rec *fields, const struct rec *old);

/*
 * Writes variant and points its SKU index entry at it, deleting the entry
 * of old_sku when the SKU changed ("" for a new variant). The caller
 * links a new variant to its product and refreshes the product.
 */
enum kv_err catalog_variant_store(struct store *store, struct kv_txn *txn, const struct catalog_variant *variant,
				  const char *old_sku);

/* catalog_links: see enum catalog_link. */
enum kv_err catalog_link_put(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
			     uint64_t member);
enum kv_err catalog_link_del(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
			     uint64_t member);
/* Copies up to max member ids of owner above after (0: from the first), in id order, into ids. */
enum kv_err catalog_link_members(struct store *store, struct kv_txn *txn, enum catalog_link kind, uint64_t owner,
				 uint64_t after, uint64_t *ids, size_t max, size_t *count);

/*
 * Re-renders the product's public JSON and list card, or deletes them if
 * the product is gone, then calls store->product_changed if set.
 */
enum kv_err catalog_product_refresh(struct store *store, struct kv_txn *txn, uint64_t product_id);

/*
 * Bumps the version of product_id, then refreshes it like
 * catalog_product_refresh(). Called after stock or price changes, so a
 * product page opened before a sale or a bulk change gets 412 on save and
 * the admin can reload to see what changed.
 */
enum kv_err catalog_product_touch(struct store *store, struct kv_txn *txn, uint64_t product_id);

/* Writes the product_views entries of product_id from its current records. */
enum kv_err catalog_render(struct store *store, struct kv_txn *txn, uint64_t product_id);

/* Reads how many products exist (a counter kept by the product commands). */
enum kv_err catalog_products_total(struct store *store, struct kv_txn *txn, uint64_t *total);

/* Sets result to STORE_BAD_COMMAND: the proposer encoded a command apply cannot read. */
enum kv_err catalog_bad_command(struct repl_result *result);

/* The nested map field name of command as a record, so rec_get_* work on it. */
bool catalog_command_map(const struct rec *command, const char *name, struct rec *out);

/* Apply functions, by file: catalog.c, catalog_products.c, catalog_stock.c, images.c, catalog_import.c. */
enum kv_err catalog_apply_category_put(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result);
enum kv_err catalog_apply_category_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					  struct repl_result *result);
enum kv_err catalog_apply_product_create(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_product_update(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_product_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_variant_create(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_variant_update(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_variant_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
					 struct repl_result *result);
enum kv_err catalog_apply_stock_adjust(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result);
enum kv_err catalog_apply_bulk_stock(struct store *store, struct kv_txn *txn, const struct rec *command,
				     struct repl_result *result);
enum kv_err catalog_apply_bulk_price(struct store *store, struct kv_txn *txn, const struct rec *command,
				     struct repl_result *result);
enum kv_err catalog_apply_image_add(struct store *store, struct kv_txn *txn, const struct rec *command,
				    struct repl_result *result);
enum kv_err catalog_apply_image_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result);
enum kv_err catalog_apply_import(struct store *store, struct kv_txn *txn, const struct rec *command,
				 struct repl_result *result);

/*
 * Returns price_minor changed by percent_bp basis points (-1500 is -15 %),
 * rounded to the nearest minor unit with halves up, and at least 1.
 */
int64_t catalog_price_scaled(int64_t price_minor, int64_t percent_bp);

/* JSON of one variant: the public form has "available", the admin form adds stock and version. */
json_t *catalog_variant_json(const struct catalog_variant *variant, bool admin);
/* JSON of one category: {id, slug, name, parent_id, position}. */
json_t *catalog_category_json(const struct catalog_category *category);
/* JSON of one image's metadata, with its public URL. */
json_t *catalog_image_json(const struct catalog_image *image);

#endif
