/* Blocking HTTP/1.1 client for the command-line tools; see http_client.h. */
#include "cli/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void http_client_percent_encode(const char *in, const char *keep, char *out, size_t out_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && n + 4 < out_size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr(keep, *p) != NULL) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
}

static int connect_to(const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *list, *ai;
	struct timeval timeout = {.tv_sec = HTTP_CLIENT_TIMEOUT_S};
	char service[16];
	int fd = -1;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &list) != 0)
		return -1;
	for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			int saved = errno;

			close(fd);
			fd = -1;
			errno = saved;
		}
	}
	freeaddrinfo(list);
	return fd;
}

static bool send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Splits a complete response (the server closes after it) into status and body. */
static bool response_parse(const struct buf *raw, struct http_client_response *res)
{
	const char *end = raw->data != NULL ? strstr(raw->data, "\r\n\r\n") : NULL;

	if (end == NULL || sscanf(raw->data, "HTTP/1.%*d %d", &res->status) != 1)
		return false;
	end += 4;
	buf_append(&res->body, end, raw->len - (size_t)(end - raw->data));
	return !res->body.failed;
}

enum http_client_err http_client_request(const char *host, int port, const char *method, const char *path,
					 const char *headers, const void *body, size_t body_len,
					 struct http_client_response *res)
{
	struct buf raw;
	char chunk[16384];
	ssize_t n;
	int fd = connect_to(host, port);
	bool ok;

	res->status = 0;
	buf_init(&res->body, HTTP_CLIENT_RESPONSE_MAX_BYTES);
	if (fd < 0)
		return HTTP_CLIENT_UNREACHABLE;
	buf_init(&raw, HTTP_CLIENT_RESPONSE_MAX_BYTES);
	buf_printf(&raw, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", method,
		   path, host, body_len, headers != NULL ? headers : "");
	ok = !raw.failed && send_all(fd, raw.data, raw.len) && (body_len == 0 || send_all(fd, body, body_len));
	buf_reset(&raw);
	while (ok && (n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		ok = buf_append(&raw, chunk, (size_t)n);
	close(fd);
	ok = ok && response_parse(&raw, res);
	buf_free(&raw);
	return ok ? HTTP_CLIENT_OK : HTTP_CLIENT_BAD_RESPONSE;
}
