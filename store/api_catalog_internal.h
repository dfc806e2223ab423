/*
 * Private to the HTTP side of the catalog (api_catalog*.c): helpers the
 * public and the admin handlers share, and the admin route table.
 */
#ifndef JKD_STORE_API_CATALOG_INTERNAL_H
#define JKD_STORE_API_CATALOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/api.h"
#include "store/catalog_internal.h"

#define CATALOG_BODY_MAX_BYTES (64 * 1024)
#define CATALOG_BULK_BODY_MAX_BYTES (512 * 1024)
#define CATALOG_COMMAND_MAX_BYTES (CATALOG_IMAGE_MAX_BYTES + 64 * 1024)

struct node *catalog_node(struct http_request *req);

/* Opens a read transaction; on failure responds 503 and returns false. */
bool catalog_read_begin(struct http_request *req, struct kv_txn **txn);

/* Responds to a storage error met while reading: 404 for KV_NOT_FOUND (naming field), else 503. */
void catalog_respond_read_error(struct http_request *req, enum kv_err err, const char *field);

/* Reads path parameter name as an id (1 or more); responds 404 and returns false if it is not one. */
bool catalog_path_id(struct http_request *req, const char *name, uint64_t *out);

/* True if slug has only a-z, 0-9 and hyphens, with no hyphen at either end. */
bool catalog_slug_valid(const char *slug);

/* True if sku has only ASCII letters, digits, '.', '_' and '-' (and at least one of them). */
bool catalog_sku_valid(const char *sku);

/* Registers the admin routes (api_catalog_admin.c). */
int catalog_admin_routes_register(struct http_router *router, void *node);

/* Registers POST /api/v1/admin/import and GET /api/v1/admin/export (api_catalog_import.c). */
int catalog_csv_routes_register(struct http_router *router, void *node);

/* GET /api/v1/admin/export (api_catalog_export.c). */
void catalog_handle_export(struct http_request *req);

#endif
