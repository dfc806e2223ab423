/*
 * The storefront on the public listener: the files of web/ under /static/,
 * and the HTML shell (web/index.html) at every page route, where the
 * browser renders the page from the path (client-side routing).
 */
#ifndef JKD_STORE_WEB_H
#define JKD_STORE_WEB_H

#include "store/http/http.h"
#include "store/web_assets.h"

/* Finds the embedded asset at path (relative to web/); returns NULL if there is none. */
const struct web_asset *web_asset_find(const char *path);

/* Adds GET /static/{path...} and the page routes to router. Returns 0, or -1 if the router is full. */
int web_routes_register(struct http_router *router);

#endif
