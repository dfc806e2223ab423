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

static void handle_page(struct http_request *req)
{
	const struct web_asset *shell = web_asset_find(WEB_SHELL_PATH);

	/* The build fails without web/index.html, so the shell is always there. */
	respond_asset(req, shell, "no-cache");
}

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
	return 0;
}
