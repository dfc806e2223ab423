/*
 * Listing and search: filters (category with its subcategories, gender,
 * talla, color, price range, in stock), sorting (price, newest, name,
 * relevance) and accent- and case-insensitive Spanish prefix search, all
 * served from the catalog_index table that apply keeps up to date.
 */
#ifndef JKD_STORE_SEARCH_H
#define JKD_STORE_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/http/http.h"

/*
 * Rewrites every index entry of product_id from its current records, or
 * removes them if the product no longer exists. Called by catalog apply
 * after each change; deterministic.
 */
enum kv_err search_reindex_product(struct store *store, struct kv_txn *txn, uint64_t product_id);

/*
 * Folds UTF-8 text for matching: lower case, accents removed (á→a, ü→u,
 * ñ→n), and every run of other characters becomes one space, with none at
 * either end. Invalid UTF-8 separates words. Writes at most out_size - 1
 * bytes and a NUL (nothing when out_size is 0), never cutting a UTF-8
 * sequence; returns the folded length.
 */
size_t search_fold(const char *text, size_t len, char *out, size_t out_size);

/* Registers GET /api/v1/products (listing and search) and /api/v1/search/suggest. */
int search_routes_register(struct http_router *router, void *node);

#endif
