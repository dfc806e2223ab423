/*
 * Serves the embedded storefront files.
 *
 * Caching: asset URLs carry no content hash, so a deploy must reach
 * browsers soon. Static files may be reused for five minutes without
 * asking, then are revalidated with their ETag (304 when unchanged). The
 * HTML shell is "no-cache": browsers revalidate it on every page load, so
 * a new shell is picked up at once. Every response gets the security
 * headers (Content-Security-Policy and others) from store/http/respond.c.
 */
#include "store/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/api.h"

#define WEB_STATIC_CACHE_CONTROL "public, max-age=300"
#define WEB_SHELL_PATH "index.html"
#define WEB_HEADERS_MAX 192

/* bsearch comparator: key is the path, element an asset. */
static int asset_compare(const void *key, const void *element)
{
	const struct web_asset *asset = element;

	return strcmp(key, asset->path);
}

const struct web_asset *web_asset_find(const char *path)
{
	return bsearch(path, web_assets, web_asset_count, sizeof(web_assets[0]), asset_compare);
}

/* Sends asset with its ETag and cache_control, or 304 when If-None-Match lists the ETag. */
static void respond_asset(struct http_request *req, const struct web_asset *asset, const char *cache_control)
{
	char headers[WEB_HEADERS_MAX];
	struct http_response res = {.status = 200, .headers = headers};

	snprintf(headers, sizeof(headers), "ETag: %s\r\nCache-Control: %s\r\n", asset->etag, cache_control);
	if (api_etag_matches(req, asset->etag, strlen(asset->etag))) {
		res.status = 304;
	} else {
		res.content_type = asset->content_type;
		res.body = asset->bytes;
		res.body_len = asset->size;
	}
	http_respond(req, &res);
}

static void handle_static(struct http_request *req)
{
	const struct http_param *path = http_param_get(req, "path");
	const struct web_asset *asset = NULL;

	/* A decoded NUL inside the path would make strcmp see a shorter name. */
	if (path != NULL && strlen(path->value) == path->value_len)
		asset = web_asset_find(path->value);
	if (asset == NULL) {
		http_respond_problem(req, 404, "not_found", "path", N_("No static file has this path."));
		return;
	}
	respond_asset(req, asset, WEB_STATIC_CACHE_CONTROL);
}

/* cmake/embed_web.cmake fails the build without either shell, so path is always there. */
static void respond_shell(struct http_request *req, const char *path)
{
	respond_asset(req, web_asset_find(path), "no-cache");
}

static void handle_page(struct http_request *req)
{
	respond_shell(req, WEB_SHELL_PATH);
}

/* ---- Admin panel ----
 * The admin panel has its own shell, web/admin/index.html, served at /admin
 * and at every path below it; web/admin/js/admin.js renders the page that
 * matches the path. The shell is public like the storefront's: the data
 * comes from the admin API, which checks the session and the admin role.
 */
#define WEB_ADMIN_SHELL_PATH "admin/index.html"

static void handle_admin_page(struct http_request *req)
{
	respond_shell(req, WEB_ADMIN_SHELL_PATH);
}

static int admin_routes_register(struct http_router *router)
{
	static const char *const pages[] = {"/admin", "/admin/{rest...}"};
	struct http_route_def def = {HTTP_METHOD_GET, NULL, handle_admin_page, NULL, 0};

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		def.pattern = pages[i];
		if (http_router_add(router, &def) != 0)
			return -1;
	}
	return 0;
}
/* ---- End of the admin panel ---- */

int web_routes_register(struct http_router *router)
{
	static const char *const pages[] = {"/",       "/catalogo", "/producto/{slug}", "/carrito",    "/registro",
					    "/entrar", "/pedido",   "/pedido/{number}", "/mis-pedidos"};
	struct http_route_def def = {HTTP_METHOD_GET, "/static/{path...}", handle_static, NULL, 0};

	if (http_router_add(router, &def) != 0)
		return -1;
	def.handler = handle_page;
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		def.pattern = pages[i];
		if (http_router_add(router, &def) != 0)
			return -1;
	}
	return admin_routes_register(router);
}
