/*
 * Catalog: categories (a tree), products, variants (talla × color, with
 * price and stock), images and the pre-rendered public JSON of each product.
 *
 * Every change is a command applied here. After any change to a product or
 * one of its variants or images, apply re-renders the product's public JSON
 * and list card (table product_views) and calls store->product_changed (the
 * search domain's reindexing) when it is set, so reads copy stored bytes and
 * listings come from indexes.
 *
 * Prices are integers in minor units of CATALOG_CURRENCY (ISO 4217). Stock
 * is never negative: every decrement is checked in apply.
 *
 * The stock rule: stock changes only through CATALOG_STOCK_ADJUST,
 * CATALOG_BULK_STOCK and catalog_stock_add(). Editing a product or a variant
 * never writes stock, so a save can never overwrite units sold meanwhile.
 * Every stock change bumps the product's version, so an admin saving a page
 * opened before a sale gets 412 with the current version and can reload.
 *
 * Tables (keys with numbers are big-endian u64, "a|b" is a followed by b):
 *   categories       category id -> {slug, name, parent, position}
 *   products         product id -> {slug, name, description, brand, gender, type,
 *                    material, care, tags, active, category, created_at, updated_at, version}
 *   products_by_slug slug -> product id
 *   variants         variant id -> {product, sku, talla, color, price, compare_at, stock, version}
 *   variants_by_sku  SKU -> variant id
 *   images           image id -> {product, color, content_type, hash, width, height, bytes}
 *   product_views    product id|'v' -> public JSON, product id|'c' -> list card JSON,
 *                    each stored behind a small header (see catalog_view_get())
 *   catalog_links    kind|owner id|member id -> empty, where kind is one of
 *                    enum catalog_link: the variants and images of a product, the
 *                    products and child categories of a category
 *
 * Other domains (cart, orders, search) use only the functions below.
 */
#ifndef JKD_STORE_CATALOG_H
#define JKD_STORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/apply.h"
#include "store/codec.h"
#include "store/http/http.h"

#define CATALOG_CURRENCY "EUR"

/* Limits checked by the HTTP side (lengths in characters) and, where state is involved, by apply. */
#define CATALOG_SLUG_MAX_CHARS 96
#define CATALOG_NAME_MAX_CHARS 200
#define CATALOG_DESCRIPTION_MAX_CHARS 10000
#define CATALOG_BRAND_MAX_CHARS 100
#define CATALOG_MATERIAL_MAX_CHARS 200
#define CATALOG_CARE_MAX_CHARS 500
#define CATALOG_TAGS_MAX 20
#define CATALOG_TAG_MAX_CHARS 40
#define CATALOG_SKU_MAX_CHARS 64      /* ASCII letters, digits, '.', '_', '-'; stored in upper case */
#define CATALOG_TALLA_MAX_CHARS 8     /* fits struct catalog_variant.size in UTF-8 */
#define CATALOG_COLOR_MAX_CHARS 16    /* fits struct catalog_variant.color in UTF-8 */
#define CATALOG_PRICE_MAX_MINOR 1000000000
#define CATALOG_STOCK_MAX 1000000000
#define CATALOG_VARIANTS_MAX 100      /* per product */
#define CATALOG_IMAGES_MAX 20         /* per product */
#define CATALOG_IMAGE_MAX_BYTES (5u << 20)
#define CATALOG_CATEGORIES_MAX 1000
#define CATALOG_CATEGORY_DEPTH_MAX 8
#define CATALOG_BULK_MAX 1000         /* variants changed by one bulk command */
#define CATALOG_IMPORT_BODY_MAX_BYTES (16u << 20)    /* a CSV file sent to POST /api/v1/admin/import */
#define CATALOG_IMPORT_ROWS_MAX 50000                /* data lines of one import */
#define CATALOG_IMPORT_COMMAND_MAX_BYTES (32u << 20) /* the CATALOG_IMPORT command made from one file */

enum catalog_command {
	CATALOG_CATEGORY_PUT = STORE_COMMANDS_CATALOG,
	CATALOG_CATEGORY_DELETE,
	CATALOG_PRODUCT_CREATE,
	CATALOG_PRODUCT_UPDATE, /* guarded by the product's version */
	CATALOG_PRODUCT_DELETE, /* deletes its variants and images too */
	CATALOG_VARIANT_CREATE,
	CATALOG_VARIANT_UPDATE, /* price, compare-at price, size, color; never stock */
	CATALOG_VARIANT_DELETE,
	CATALOG_STOCK_ADJUST,   /* a delta, or a set guarded by the expected current value */
	CATALOG_BULK_PRICE,     /* a percentage or a list of (variant, price) */
	CATALOG_BULK_STOCK,     /* a list of adjustments, all or nothing */
	CATALOG_IMAGE_ADD,
	CATALOG_IMAGE_DELETE,
	CATALOG_IMPORT,         /* products with variants from CSV rows, all or nothing; see catalog_csv.h */
};

enum catalog_gender {
	CATALOG_GENDER_MUJER = 1,
	CATALOG_GENDER_HOMBRE = 2,
	CATALOG_GENDER_NINOS = 3,
	CATALOG_GENDER_UNISEX = 4,
};

enum catalog_type {
	CATALOG_TYPE_ROPA = 1,     /* size guide XS–XXL */
	CATALOG_TYPE_CALZADO = 2,  /* size guide EU 35–47 */
	CATALOG_TYPE_ACCESORIOS = 3,
};

/* Kinds of catalog_links keys: kind byte | owner id | member id. */
enum catalog_link {
	CATALOG_LINK_CATEGORY_CHILD = 'k',   /* parent category (0: root) | child category */
	CATALOG_LINK_CATEGORY_PRODUCT = 'p', /* category | product */
	CATALOG_LINK_PRODUCT_VARIANT = 'v',  /* product | variant */
	CATALOG_LINK_PRODUCT_IMAGE = 'i',    /* product | image */
};

/* A string inside a decoded record; valid while the record and its transaction are. */
struct catalog_text {
	const char *ptr;
	size_t len;
};

struct catalog_product {
	struct rec rec; /* owns the decoding; release with catalog_product_release() */
	uint64_t id;
	uint64_t category_id;
	uint64_t version;
	uint64_t created_at_ms;
	uint64_t updated_at_ms;
	enum catalog_gender gender;
	enum catalog_type type;
	bool active;
	struct catalog_text slug, name, description, brand, material, care;
	const msgpack_object *tags; /* array of strings, or NULL */
};

struct catalog_variant {
	uint64_t id;
	uint64_t product_id;
	uint64_t version;
	char sku[65];
	char size[33];   /* talla, e.g. "M" or "42" */
	char color[65];
	int64_t price_minor;
	int64_t compare_at_minor; /* 0: none */
	int64_t stock;
};

/* Reads product id. Returns KV_OK, KV_NOT_FOUND or a kv error; on KV_OK release it. */
enum kv_err catalog_product_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				struct catalog_product *out);
void catalog_product_release(struct catalog_product *product);

/* Reads variant id. Returns KV_OK, KV_NOT_FOUND or a kv error. */
enum kv_err catalog_variant_get(struct store *store, struct kv_txn *txn, uint64_t variant_id,
				struct catalog_variant *out);

/*
 * Calls visit for each variant of product_id in variant id order; a
 * non-KV_OK return from visit stops the walk and is returned.
 */
enum kv_err catalog_variants_each(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  enum kv_err (*visit)(const struct catalog_variant *variant, void *ctx),
				  void *ctx);

/*
 * Adds delta to the stock of variant_id inside an apply transaction and
 * re-renders and re-indexes its product. Returns KV_INVALID (changing
 * nothing) if the stock would go below zero.
 */
enum kv_err catalog_stock_add(struct store *store, struct kv_txn *txn, uint64_t variant_id, int64_t delta,
			      int64_t *new_stock);

/*
 * Writes the ids of category_id and its ancestors, nearest first, into ids
 * (at most max); returns how many in *count.
 */
enum kv_err catalog_category_path(struct store *store, struct kv_txn *txn, uint64_t category_id,
				  uint64_t *ids, size_t max, size_t *count);

/* The stored list-card JSON of product_id (pointer valid until txn ends). */
enum kv_err catalog_card_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
			     struct kv_val *out);

/* Finds the product id of slug. Returns KV_OK, KV_NOT_FOUND or a kv error. */
enum kv_err catalog_product_by_slug(struct store *store, struct kv_txn *txn, const char *slug, size_t len,
				    uint64_t *product_id);

/* A stored pre-rendered JSON document, pointing into the map until txn ends. */
struct catalog_view {
	bool active;      /* the product is active; inactive ones are for admins only */
	const char *etag; /* quoted content hash, e.g. "\"3f2a...\"" */
	size_t etag_len;
	const char *json;
	size_t json_len;
};

/* Reads the stored public product JSON of product_id. Returns KV_OK, KV_NOT_FOUND or a kv error. */
enum kv_err catalog_view_get(struct store *store, struct kv_txn *txn, uint64_t product_id, struct catalog_view *out);

/* Same for the list card JSON (catalog_card_get() without the header fields). */
enum kv_err catalog_card_view_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  struct catalog_view *out);

/*
 * Returns the admin JSON of product_id (every field, version, variants with
 * stock and version, images), or NULL with *err set (KV_NOT_FOUND if absent).
 */
json_t *catalog_product_admin_json(struct store *store, struct kv_txn *txn, uint64_t product_id, enum kv_err *err);

/* Returns the whole category tree as {"categories": [{..., "children": [...]}]}, or NULL with *err set. */
json_t *catalog_category_tree_json(struct store *store, struct kv_txn *txn, enum kv_err *err);

/* API names of the enums ("mujer", "ropa", ...); parse returns 0 for an unknown name. */
const char *catalog_gender_name(enum catalog_gender gender);
const char *catalog_type_name(enum catalog_type type);
enum catalog_gender catalog_gender_parse(const char *name);
enum catalog_type catalog_type_parse(const char *name);

/* The store_domain_apply_fn of the catalog commands. */
enum kv_err catalog_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			  const struct rec *command, struct repl_result *result);

/* Registers the public catalog routes and the admin catalog routes on router. */
int catalog_routes_register(struct http_router *router, void *node);

#endif
