/* Helpers for the CSV import and export integration tests; see csv_helpers.h. */
#include "tests/integration/csv_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void csv_import(struct catalog_node *c, const char *auth, const char *headers, const char *csv, size_t len,
		struct http_reply *reply)
{
	char all[1024];

	snprintf(all, sizeof(all), "%s%sContent-Type: text/csv\r\n", auth != NULL ? auth : "",
		 headers != NULL ? headers : "");
	http_request(c->node.port, "POST", "/api/v1/admin/import", all, csv, len, reply);
}

json_t *csv_import_ok(struct catalog_node *c, const char *csv, size_t len)
{
	struct http_reply reply;
	json_t *json;

	csv_import(c, c->admin, NULL, csv, len, &reply);
	if (reply.status != 200)
		fail_msg("import returned %d: %s", reply.status, reply.body);
	json = reply_json(&reply);
	http_reply_free(&reply);
	return json;
}

void csv_export(struct catalog_node *c, const char *dialect, struct http_reply *reply)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/export%s%s", dialect != NULL ? "?dialect=" : "",
		 dialect != NULL ? dialect : "");
	catalog_request(c, c->admin, "GET", path, NULL, NULL, reply);
	if (reply->status != 200)
		fail_msg("export returned %d: %s", reply->status, reply->body);
}

static bool error_matches(json_t *error, int64_t row, const char *column, const char *code)
{
	json_t *actual_column = json_object_get(error, "column");

	if (json_integer_value(json_object_get(error, "row")) != row ||
	    strcmp(json_string_value(json_object_get(error, "code")), code) != 0)
		return false;
	if (column == NULL)
		return json_is_null(actual_column);
	return json_is_string(actual_column) && strcmp(json_string_value(actual_column), column) == 0;
}

void assert_import_error(const struct http_reply *reply, int64_t row, const char *column, const char *code)
{
	json_t *json, *errors, *error;
	size_t i;
	bool found = false;

	assert_problem_field(reply, 422, "body");
	json = reply_json(reply);
	errors = json_object_get(json, "errors");
	assert_true(json_is_array(errors));
	json_array_foreach(errors, i, error) {
		found = found || error_matches(error, row, column, code);
		assert_non_null(json_string_value(json_object_get(error, "message")));
	}
	json_decref(json);
	if (!found)
		fail_msg("no error {row %lld, column %s, code %s} in: %s", (long long)row, column != NULL ? column : "null",
			 code, reply->body);
}

int64_t import_error_count(const struct http_reply *reply)
{
	return reply_integer(reply, "error_count");
}

int64_t admin_product_total(struct catalog_node *c)
{
	struct http_reply reply;
	int64_t total;

	catalog_request(c, c->admin, "GET", "/api/v1/admin/products?limit=1", NULL, NULL, &reply);
	if (reply.status != 200)
		fail_msg("product list returned %d: %s", reply.status, reply.body);
	total = reply_integer(&reply, "total");
	http_reply_free(&reply);
	return total;
}

void file_read_all(const char *path, struct buf *out)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	buf_init(out, 64u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	assert_false(out->failed);
}

void csv_out_begin(struct csv_out *out, bool bom, char separator, bool crlf)
{
	char header[] = CSV_HEADER_ES;
	char *rest = NULL;

	buf_init(&out->text, 64u << 20);
	out->dialect = (struct csv_dialect){separator, bom, crlf};
	out->line_start = true;
	if (bom)
		buf_append(&out->text, "\xEF\xBB\xBF", 3);
	for (char *name = strtok_r(header, ";", &rest); name != NULL; name = strtok_r(NULL, ";", &rest))
		csv_out_field(out, name);
	csv_out_line_end(out);
}

void csv_out_field(struct csv_out *out, const char *text)
{
	csv_write_field(&out->text, &out->dialect, text, strlen(text), out->line_start);
	out->line_start = false;
}

void csv_out_line_end(struct csv_out *out)
{
	csv_write_end(&out->text, &out->dialect);
	out->line_start = true;
	assert_false(out->text.failed);
}

void url_encode(const char *text, char *out, size_t out_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t used = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && used + 4 < out_size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_') {
			out[used++] = (char)*p;
			continue;
		}
		out[used++] = '%';
		out[used++] = hex[*p >> 4];
		out[used++] = hex[*p & 15];
	}
	out[used] = '\0';
}

json_t *csv_node_start_with(struct catalog_node *c, struct csv_out *out)
{
	json_t *result;

	catalog_node_start(c);
	result = csv_import_ok(c, out->text.data, out->text.len);
	buf_free(&out->text);
	return result;
}
