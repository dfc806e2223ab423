/*
 * Helpers for the catalog integration tests: one node per test file with
 * an administrator and a customer logged in, JSON requests as either, and
 * shortcuts that create categories, products and variants and fail the
 * test unless the node accepts them.
 */
#ifndef JKD_TESTS_CATALOG_HELPERS_H
#define JKD_TESTS_CATALOG_HELPERS_H

#include <jansson.h>
#include <stdint.h>

#include "tests/integration/harness.h"

struct catalog_node {
	struct jkd_node node;
	char admin[160];    /* "Authorization: Bearer ...\r\n" of the administrator */
	char customer[160]; /* the same for a customer */
};

/* The node of the test file, started by catalog_group_setup(). */
extern struct catalog_node catalog;

/* cmocka group setup and teardown: catalog_node_start() and catalog_node_stop() on catalog. */
int catalog_group_setup(void **state);
int catalog_group_teardown(void **state);

/* Starts a node with cheap password hashing and logs in an administrator and a customer. */
void catalog_node_start(struct catalog_node *c);

/* Stops the node, fails the test unless it exits cleanly, and removes its data. */
void catalog_node_stop(struct catalog_node *c);

/*
 * Sends method path on the public port with auth (a header line or NULL),
 * extra headers (or NULL) and a JSON body (or NULL).
 */
void catalog_request(struct catalog_node *c, const char *auth, const char *method, const char *path,
		     const char *headers, const char *json, struct http_reply *reply);

/* Parses the reply body as JSON; fails the test if it does not parse. The caller owns the result. */
json_t *reply_json(const struct http_reply *reply);

/* Returns integer member name of the reply's JSON body; fails the test if absent. */
int64_t reply_integer(const struct http_reply *reply, const char *name);

/* Returns the version in the reply's ETag header ("<version>"). */
uint64_t reply_etag_version(const struct http_reply *reply);

/* Creates a category; returns its id. */
uint64_t create_category(struct catalog_node *c, const char *slug, const char *name, uint64_t parent_id);

/*
 * Creates a ropa product with slug and the extra JSON members in extra,
 * such as "\"brand\":\"JKD\"" or "" for none. The product is active
 * unless extra sets "active". Returns its id.
 */
uint64_t create_product(struct catalog_node *c, const char *slug, const char *extra);

/* Creates a variant of product_id; returns its id. */
uint64_t create_variant(struct catalog_node *c, uint64_t product_id, const char *sku, const char *talla,
			const char *color, int64_t price, int64_t stock);

/* Returns the stock of variant_id as the admin API reports it. */
int64_t variant_stock(struct catalog_node *c, uint64_t variant_id);

/* Fails the test unless reply is a problem+json with status and (if not NULL) field. */
void assert_problem_field(const struct http_reply *reply, int status, const char *field);

#endif
