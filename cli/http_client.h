/*
 * A small blocking HTTP/1.1 client for the command-line tools: one request
 * per connection ("Connection: close"), the whole response read into
 * memory up to a size limit, with send and receive timeouts.
 */
#ifndef JKD_CLI_HTTP_CLIENT_H
#define JKD_CLI_HTTP_CLIENT_H

#include <stddef.h>

#include "common/buf.h"

#define HTTP_CLIENT_RESPONSE_MAX_BYTES (64u << 20)
#define HTTP_CLIENT_TIMEOUT_S 30

struct http_client_response {
	int status;
	struct buf body; /* free with buf_free() */
};

enum http_client_err {
	HTTP_CLIENT_OK = 0,
	HTTP_CLIENT_UNREACHABLE,   /* connect failed; errno gives the reason */
	HTTP_CLIENT_BAD_RESPONSE,  /* the connection broke or the response did not parse */
};

/*
 * Sends method path to host:port with the extra header lines in headers
 * (each ending in "\r\n", may be NULL) and body, and reads the response.
 * On HTTP_CLIENT_OK, res->body contains the response body.
 */
enum http_client_err http_client_request(const char *host, int port, const char *method, const char *path,
					 const char *headers, const void *body, size_t body_len,
					 struct http_client_response *res);

/*
 * Percent-encodes in into out (NUL-terminated, cut at out_size), keeping
 * ASCII letters, digits and the characters in keep.
 */
void http_client_percent_encode(const char *in, const char *keep, char *out, size_t out_size);

#endif
