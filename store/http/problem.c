/*
 * RFC 9457 problem details (application/problem+json) and the reason
 * phrases of RFC 9110, which serve both as status-line text and, translated,
 * as the problem title.
 *
 * Every string placed in the JSON is valid UTF-8: a detail, field or path
 * with invalid bytes gets them replaced by '?', because jansson refuses
 * invalid UTF-8 and a client-supplied path may contain any byte.
 */
#include "store/http/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define DETAIL_MAX 512

struct status_reason {
	int status;
	const char *reason;
};

/* Reason phrases of RFC 9110 (HTTP Semantics), section 15. They are also msgids for po/es.po. */
static const struct status_reason reasons[] = {
	{100, N_("Continue")},
	{101, N_("Switching Protocols")},
	{200, N_("OK")},
	{201, N_("Created")},
	{202, N_("Accepted")},
	{203, N_("Non-Authoritative Information")},
	{204, N_("No Content")},
	{205, N_("Reset Content")},
	{206, N_("Partial Content")},
	{300, N_("Multiple Choices")},
	{301, N_("Moved Permanently")},
	{302, N_("Found")},
	{303, N_("See Other")},
	{304, N_("Not Modified")},
	{307, N_("Temporary Redirect")},
	{308, N_("Permanent Redirect")},
	{400, N_("Bad Request")},
	{401, N_("Unauthorized")},
	{402, N_("Payment Required")},
	{403, N_("Forbidden")},
	{404, N_("Not Found")},
	{405, N_("Method Not Allowed")},
	{406, N_("Not Acceptable")},
	{407, N_("Proxy Authentication Required")},
	{408, N_("Request Timeout")},
	{409, N_("Conflict")},
	{410, N_("Gone")},
	{411, N_("Length Required")},
	{412, N_("Precondition Failed")},
	{413, N_("Content Too Large")},
	{414, N_("URI Too Long")},
	{415, N_("Unsupported Media Type")},
	{416, N_("Range Not Satisfiable")},
	{417, N_("Expectation Failed")},
	{421, N_("Misdirected Request")},
	{422, N_("Unprocessable Content")},
	{425, N_("Too Early")},
	{426, N_("Upgrade Required")},
	{428, N_("Precondition Required")},
	{429, N_("Too Many Requests")},
	{431, N_("Request Header Fields Too Large")},
	{451, N_("Unavailable For Legal Reasons")},
	{500, N_("Internal Server Error")},
	{501, N_("Not Implemented")},
	{502, N_("Bad Gateway")},
	{503, N_("Service Unavailable")},
	{504, N_("Gateway Timeout")},
	{505, N_("HTTP Version Not Supported")},
	{507, N_("Insufficient Storage")},
};

/*
 * Returns a json string of text[0..len). If that is not valid UTF-8, every
 * byte >= 0x80 is replaced by '?'.
 */
static json_t *json_string_lossy(const char *text, size_t len)
{
	json_t *s = json_stringn(text, len);
	char *copy;

	if (s != NULL)
		return s;
	copy = malloc(len + 1);
	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)text[i] >= 0x80 ? '?' : text[i];
	copy[len] = '\0';
	s = json_stringn(copy, len);
	free(copy);
	return s;
}

static json_t *problem_body(const struct http_request *req, int status, const char *code,
			    const char *field, const char *detail)
{
	json_t *body = json_object();
	char type[128];

	if (body == NULL)
		return NULL;
	snprintf(type, sizeof(type), "/problems/%s", code);
	json_object_set_new(body, "type", json_string_lossy(type, strlen(type)));
	json_object_set_new(body, "title",
			    json_string(i18n_text(req->lang, http_status_reason(status))));
	json_object_set_new(body, "status", json_integer(status));
	json_object_set_new(body, "detail", json_string_lossy(detail, strlen(detail)));
	if (field != NULL)
		json_object_set_new(body, "field", json_string_lossy(field, strlen(field)));
	/* Before the request line is parsed there is no path to name. */
	if (req->path != NULL && req->path_len > 0)
		json_object_set_new(body, "instance", json_string_lossy(req->path, req->path_len));
	json_object_set_new(body, "request_id", json_string(req->request_id));
	return body;
}

const char *http_status_reason(int status)
{
	size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reasons[mid].status == status)
			return reasons[mid].reason;
		if (reasons[mid].status < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (status >= 500)
		return N_("Server Error");
	if (status >= 400)
		return N_("Client Error");
	return N_("Unknown Status");
}

void http_respond_problem_va(struct http_request *req, int status, const char *headers,
			     const char *code, const char *field, const char *detail_msgid,
			     va_list args)
{
	char detail[DETAIL_MAX];

	/* The format comes from our own catalog, never from the client. */
	vsnprintf(detail, sizeof(detail), i18n_text(req->lang, detail_msgid), args);
	http_respond_problem_with(req, status, headers, code, field, detail, NULL);
}

void http_respond_problem(struct http_request *req, int status, const char *code,
			  const char *field, const char *detail_msgid, ...)
{
	va_list args;

	va_start(args, detail_msgid);
	http_respond_problem_va(req, status, NULL, code, field, detail_msgid, args);
	va_end(args);
}

void http_respond_problem_headers(struct http_request *req, int status, const char *headers,
				  const char *code, const char *field, const char *detail_msgid, ...)
{
	va_list args;

	va_start(args, detail_msgid);
	http_respond_problem_va(req, status, headers, code, field, detail_msgid, args);
	va_end(args);
}

void http_respond_problem_with(struct http_request *req, int status, const char *headers, const char *code,
			       const char *field, const char *detail, json_t *extra)
{
	struct http_response res = {
		.status = status,
		.content_type = "application/problem+json",
		.headers = headers,
	};
	json_t *body = problem_body(req, status, code, field, detail);
	const char *key;
	json_t *value;
	char *text = NULL;

	if (body != NULL && extra != NULL) {
		/* Standard members set above win over extension members of the same name. */
		json_object_foreach(extra, key, value) {
			if (json_object_get(body, key) == NULL && strcmp(key, "message") != 0)
				json_object_set(body, key, value);
		}
	}
	json_decref(extra);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	if (text == NULL)
		log_error("http_problem_encode_failed", "rid=%s status=%d", req->request_id, status);
	res.body = text != NULL ? text : "";
	res.body_len = text != NULL ? strlen(text) : 0;
	http_respond(req, &res);
	free(text);
}
