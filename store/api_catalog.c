/*
 * HTTP side of the catalog, public part: the category tree, product pages
 * from their pre-rendered JSON, and images. The admin routes are in
 * api_catalog_admin.c.
 *
 * Public routes:
 *   GET /api/v1/categories           the tree, built from the records
 *   GET /api/v1/products/{slug}      a product by its slug
 *   GET /api/v1/products/id/{id}     the same by id ("id" is never a valid
 *                                    slug path here, because slugs are one
 *                                    segment and ids sit under their own)
 *   GET /api/v1/images/{id}          image bytes, cached for a year
 *
 * A product page copies the stored bytes into the response and sends the
 * stored ETag; If-None-Match with it gives 304. Inactive products are 404
 * here and visible under /api/v1/admin.
 */
#include "store/api_catalog_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Product pages change with stock, so clients revalidate every time with the ETag. */
#define PRODUCT_CACHE_CONTROL "Cache-Control: public, no-cache\r\n"
/* An image id always names the same bytes, so an image never needs revalidating. */
#define IMAGE_CACHE_CONTROL "Cache-Control: public, max-age=31536000, immutable\r\n"

struct node *catalog_node(struct http_request *req)
{
	return ((struct node_worker *)req->worker_data)->node;
}

bool catalog_read_begin(struct http_request *req, struct kv_txn **txn)
{
	enum kv_err err = kv_read_begin(catalog_node(req)->env, txn);

	if (err == KV_OK)
		return true;
	log_error("catalog_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
	http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
	return false;
}

void catalog_respond_read_error(struct http_request *req, enum kv_err err, const char *field)
{
	if (err == KV_NOT_FOUND) {
		http_respond_problem(req, 404, "not_found", field, "Not found. Check the address or the id.");
		return;
	}
	log_error("catalog_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
	http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
}

bool catalog_path_id(struct http_request *req, const char *name, uint64_t *out)
{
	const struct http_param *param = http_param_get(req, name);
	char *end;

	*out = 0;
	if (param != NULL && param->value_len > 0 && param->value_len <= 19 &&
	    strspn(param->value, "0123456789") == param->value_len) {
		*out = strtoull(param->value, &end, 10);
		if (*out > 0)
			return true;
	}
	http_respond_problem(req, 404, "not_found", name, "Not found. Check the address or the id.");
	return false;
}

static void handle_categories(struct http_request *req)
{
	struct kv_txn *txn;
	enum kv_err err;
	json_t *tree;

	if (!catalog_read_begin(req, &txn))
		return;
	tree = catalog_category_tree_json(&catalog_node(req)->store, txn, &err);
	kv_read_end(txn);
	if (tree == NULL) {
		catalog_respond_read_error(req, err, NULL);
		return;
	}
	api_respond_json_cacheable(req, tree, "public, no-cache");
}

/* Sends the stored view of product_id; the caller ends txn after this returns. */
static void product_view_send(struct http_request *req, struct kv_txn *txn, uint64_t product_id)
{
	struct catalog_view view;
	char headers[128];
	struct http_response res = {.status = 200, .content_type = "application/json", .headers = headers};
	enum kv_err err = catalog_view_get(&catalog_node(req)->store, txn, product_id, &view);

	if (err == KV_OK && !view.active)
		err = KV_NOT_FOUND;
	if (err != KV_OK) {
		catalog_respond_read_error(req, err, "product");
		return;
	}
	snprintf(headers, sizeof(headers), "ETag: %.*s\r\n" PRODUCT_CACHE_CONTROL, (int)view.etag_len, view.etag);
	if (api_etag_matches(req, view.etag, view.etag_len)) {
		res.status = 304;
		res.content_type = NULL;
	} else {
		res.body = view.json;
		res.body_len = view.json_len;
	}
	http_respond(req, &res);
}

static void handle_product_by_slug(struct http_request *req)
{
	const struct http_param *slug = http_param_get(req, "slug");
	struct kv_txn *txn;
	uint64_t product_id;
	enum kv_err err;

	if (!catalog_read_begin(req, &txn))
		return;
	err = catalog_product_by_slug(&catalog_node(req)->store, txn, slug->value, slug->value_len, &product_id);
	if (err == KV_OK)
		product_view_send(req, txn, product_id);
	else
		catalog_respond_read_error(req, err, "slug");
	kv_read_end(txn);
}

static void handle_product_by_id(struct http_request *req)
{
	struct kv_txn *txn;
	uint64_t product_id;

	if (!catalog_path_id(req, "id", &product_id) || !catalog_read_begin(req, &txn))
		return;
	product_view_send(req, txn, product_id);
	kv_read_end(txn);
}

static void handle_image(struct http_request *req)
{
	struct catalog_image image;
	struct kv_txn *txn;
	uint64_t image_id;
	char headers[256];
	struct http_response res = {.status = 200, .headers = headers};
	enum kv_err err;

	if (!catalog_path_id(req, "id", &image_id) || !catalog_read_begin(req, &txn))
		return;
	err = catalog_image_get(&catalog_node(req)->store, txn, image_id, &image);
	if (err != KV_OK) {
		kv_read_end(txn);
		catalog_respond_read_error(req, err, "id");
		return;
	}
	snprintf(headers, sizeof(headers), "ETag: \"%s\"\r\n" IMAGE_CACHE_CONTROL, image.hash);
	if (api_etag_matches(req, headers + 6, strlen(image.hash) + 2)) {
		res.status = 304;
	} else {
		res.content_type = image.content_type;
		res.body = image.bytes;
		res.body_len = image.len;
	}
	/* The bytes point into the map, so the response is sent before the transaction ends. */
	http_respond(req, &res);
	kv_read_end(txn);
}

int catalog_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_GET, "/api/v1/categories", handle_categories, node, 0},
		{HTTP_METHOD_GET, "/api/v1/products/{slug}", handle_product_by_slug, node, 0},
		{HTTP_METHOD_GET, "/api/v1/products/id/{id}", handle_product_by_id, node, 0},
		{HTTP_METHOD_GET, "/api/v1/images/{id}", handle_image, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	if (catalog_admin_routes_register(router, node) != 0)
		return -1;
	return catalog_csv_routes_register(router, node);
}
