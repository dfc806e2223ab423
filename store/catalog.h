/*
 * Catalog: categories (a tree), products, variants (talla × color, with
 * price and stock), images and the pre-rendered public JSON of each product.
 *
 * Every change is a command applied here. After any change to a product or
 * one of its variants or images, apply re-renders the product's public JSON
 * and list card (table product_views) and calls search_reindex_product(), so
 * reads copy stored bytes and listings come from indexes.
 *
 * Prices are integers in minor units of CATALOG_CURRENCY (ISO 4217). Stock
 * is never negative: every decrement is checked in apply.
 *
 * Other domains (cart, orders, search) use only the functions below.
 */
#ifndef JKD_STORE_CATALOG_H
#define JKD_STORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/codec.h"
#include "store/http/http.h"

#define CATALOG_CURRENCY "EUR"

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
	CATALOG_IMPORT,         /* products with variants from CSV rows, all or nothing */
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

/* The store_domain_apply_fn of the catalog commands. */
enum kv_err catalog_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			  const struct rec *command, struct repl_result *result);

/* Registers the public catalog routes and the admin catalog routes on router. */
int catalog_routes_register(struct http_router *router, void *node);

#endif
