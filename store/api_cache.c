/*
 * Conditional responses for reads computed per request (listings,
 * suggestions, the category tree): the ETag is a hash of the body, so a
 * client that sends it back in If-None-Match gets 304 while the content is
 * unchanged. Product pages and images keep the ETag stored with them.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/api.h"

#define ETAG_HASH_BYTES 16

void api_respond_cacheable(struct http_request *req, const char *body, size_t len, const char *cache_control)
{
	unsigned char hash[ETAG_HASH_BYTES];
	char hex[2 * ETAG_HASH_BYTES + 1], etag[2 * ETAG_HASH_BYTES + 3], headers[256];
	struct http_response res = {.status = 200, .content_type = "application/json", .headers = headers};

	crypto_generichash(hash, sizeof(hash), (const unsigned char *)body, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	snprintf(headers, sizeof(headers), "ETag: %s\r\nCache-Control: %s\r\n", etag, cache_control);
	if (api_etag_matches(req, etag, strlen(etag))) {
		res.status = 304;
		res.content_type = NULL;
	} else {
		res.body = body;
		res.body_len = len;
	}
	http_respond(req, &res);
}

void api_respond_json_cacheable(struct http_request *req, json_t *json, const char *cache_control)
{
	char *text = json != NULL ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;

	json_decref(json);
	if (text == NULL) {
		http_respond_problem(req, 500, "internal", NULL, "The response could not be encoded.");
		return;
	}
	api_respond_cacheable(req, text, strlen(text), cache_control);
	free(text);
}
