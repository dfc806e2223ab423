/*
 * The storefront's files, embedded at build time by cmake/embed_web.cmake
 * from web/ into a generated source of the build tree (web_assets.c).
 */
#ifndef JKD_STORE_WEB_ASSETS_H
#define JKD_STORE_WEB_ASSETS_H

#include <stddef.h>

/* One file of web/; every pointer is static and never freed. */
struct web_asset {
	const char *path;         /* relative to web/, "js/app.js" */
	const char *content_type;
	const char *etag;         /* strong, quotes included: a SHA-256 prefix of the bytes */
	const unsigned char *bytes; /* followed by a NUL byte not counted in size */
	size_t size;
};

/* Every asset, sorted by path in byte order. */
extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

#endif
