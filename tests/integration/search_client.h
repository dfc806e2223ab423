/*
 * Shop API calls shared by the listing and search integration tests: an
 * admin session on a running node, catalog writes through the admin API and
 * listing reads parsed with jansson. Every helper fails the test on an
 * unexpected status, naming the request.
 */
#ifndef JKD_TESTS_SEARCH_CLIENT_H
#define JKD_TESTS_SEARCH_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/integration/harness.h"

/* A node with an admin's bearer token. */
struct shop {
	struct jkd_node node;
	char auth_header[256]; /* "Authorization: Bearer ...\r\n" */
};

/* Starts jkd with cheap password hashing and logs in a new admin. */
void shop_start(struct shop *shop);

/* Stops the node (failing the test if it exits non-zero) and removes its data. */
void shop_stop(struct shop *shop);

/* Sends an admin request with a JSON body (may be NULL); returns the parsed reply body (NULL if empty). */
json_t *shop_admin(struct shop *shop, const char *method, const char *path, const char *extra_headers,
		   json_t *body, int expected_status);

/* Creates a category; parent_id 0 makes a root. Returns its id. */
uint64_t shop_category(struct shop *shop, const char *name, const char *slug, uint64_t parent_id);

/* Renames category_id and moves it under parent_id (0: the top level). */
void shop_category_update(struct shop *shop, uint64_t category_id, const char *name, const char *slug,
			  uint64_t parent_id);

/* Creates a product from fields (stolen); returns its id. */
uint64_t shop_product(struct shop *shop, json_t *fields);

/* Adds a variant to product_id; returns its id. */
uint64_t shop_variant(struct shop *shop, uint64_t product_id, const char *sku, const char *talla, const char *color,
		  long long price_minor, long long stock);

/* Changes fields (stolen) of product_id under its current version. */
void shop_product_update(struct shop *shop, uint64_t product_id, json_t *fields);

void shop_product_delete(struct shop *shop, uint64_t product_id);

/* Adds delta units to the stock of variant_id. */
void shop_stock_add(struct shop *shop, uint64_t variant_id, long long delta);

/* GETs path on the public port; returns the parsed body and sets *status. */
json_t *shop_get(struct shop *shop, const char *path, int *status);

/* GETs a listing that must succeed and returns its body. */
json_t *shop_list(struct shop *shop, const char *query);

/* Copies the slugs of a listing's items, comma-separated, into out ("" for none). */
const char *shop_slugs(json_t *listing, char *out, size_t out_size);

/*
 * Reads one CSV field (RFC 4180 quoting, so it may span lines) at *p into
 * a malloc'ed string and advances *p. Sets *row_end after a row's last field.
 */
char *shop_csv_field(const char **p, bool *row_end);

#endif
