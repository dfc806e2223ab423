/* Shop API calls for the search tests; see search_client.h. */
#include "tests/integration/search_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *reply_json(const struct http_reply *reply, const char *method, const char *path)
{
	json_error_t error;
	json_t *json;

	if (reply->body_len == 0)
		return NULL;
	json = json_loadb(reply->body, reply->body_len, 0, &error);
	if (json == NULL)
		fail_msg("%s %s: the body is not JSON (%s): %s", method, path, error.text, reply->body);
	return json;
}

static json_t *request_json(int port, const char *method, const char *path, const char *headers, json_t *body,
			    int expected_status)
{
	struct http_reply reply;
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	char all_headers[1024];
	json_t *json;

	snprintf(all_headers, sizeof(all_headers), "%s%s", body != NULL ? "Content-Type: application/json\r\n" : "",
		 headers != NULL ? headers : "");
	http_request(port, method, path, all_headers, text, text != NULL ? strlen(text) : 0, &reply);
	free(text);
	if (reply.status != expected_status)
		fail_msg("%s %s: status %d, expected %d: %s", method, path, reply.status, expected_status,
			 reply.body != NULL ? reply.body : "");
	json = reply_json(&reply, method, path);
	http_reply_free(&reply);
	return json;
}

void shop_start(struct shop *shop)
{
	static const char *const flags[] = {"--auth-hash-memory-mb", "8", NULL};
	json_t *admin = json_pack("{s:s, s:s, s:s}", "email", "admin@jkd.test", "password", "clave-segura-123",
				  "name", "Admin");
	json_t *login = json_pack("{s:s, s:s}", "email", "admin@jkd.test", "password", "clave-segura-123");
	char operator_header[256];
	json_t *session;

	memset(shop, 0, sizeof(*shop));
	jkd_start(&shop->node, false, flags);
	snprintf(operator_header, sizeof(operator_header), "Authorization: Bearer %s\r\n", shop->node.token);
	json_decref(request_json(shop->node.operator_port, "POST", "/ops/v1/admins", operator_header, admin, 201));
	session = request_json(shop->node.port, "POST", "/api/v1/auth/login", NULL, login, 200);
	snprintf(shop->auth_header, sizeof(shop->auth_header), "Authorization: Bearer %s\r\n",
		 json_string_value(json_object_get(session, "token")));
	json_decref(session);
	json_decref(login);
	json_decref(admin);
}

void shop_stop(struct shop *shop)
{
	assert_int_equal(jkd_stop(&shop->node), 0);
	jkd_cleanup(&shop->node);
}

json_t *shop_admin(struct shop *shop, const char *method, const char *path, const char *extra_headers,
		   json_t *body, int expected_status)
{
	char headers[512];

	snprintf(headers, sizeof(headers), "%s%s", shop->auth_header, extra_headers != NULL ? extra_headers : "");
	return request_json(shop->node.port, method, path, headers, body, expected_status);
}

static uint64_t id_of(json_t *json)
{
	uint64_t id = (uint64_t)json_integer_value(json_object_get(json, "id"));

	assert_true(id > 0);
	json_decref(json);
	return id;
}

uint64_t shop_category(struct shop *shop, const char *name, const char *slug, uint64_t parent_id)
{
	json_t *body = json_pack("{s:s, s:s, s:I}", "name", name, "slug", slug, "parent_id", (json_int_t)parent_id);
	uint64_t id = id_of(shop_admin(shop, "POST", "/api/v1/admin/categories", NULL, body, 201));

	json_decref(body);
	return id;
}

void shop_category_update(struct shop *shop, uint64_t category_id, const char *name, const char *slug,
			  uint64_t parent_id)
{
	json_t *body = json_pack("{s:s, s:s, s:I}", "name", name, "slug", slug, "parent_id", (json_int_t)parent_id);
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)category_id);
	json_decref(shop_admin(shop, "PUT", path, NULL, body, 200));
	json_decref(body);
}

uint64_t shop_product(struct shop *shop, json_t *fields)
{
	uint64_t id = id_of(shop_admin(shop, "POST", "/api/v1/admin/products", NULL, fields, 201));

	json_decref(fields);
	return id;
}

uint64_t shop_variant(struct shop *shop, uint64_t product_id, const char *sku, const char *talla, const char *color,
		      long long price_minor, long long stock)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sku", sku, "talla", talla, "color", color, "price",
				 (json_int_t)price_minor, "stock", (json_int_t)stock);
	char path[128];

	uint64_t id;

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)product_id);
	id = id_of(shop_admin(shop, "POST", path, NULL, body, 201));
	json_decref(body);
	return id;
}

void shop_stock_add(struct shop *shop, uint64_t variant_id, long long delta)
{
	json_t *body = json_pack("{s:I}", "delta", (json_int_t)delta);
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu/stock", (unsigned long long)variant_id);
	json_decref(shop_admin(shop, "POST", path, NULL, body, 200));
	json_decref(body);
}

void shop_product_update(struct shop *shop, uint64_t product_id, json_t *fields)
{
	char path[128], if_match[64];
	json_t *current;

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu", (unsigned long long)product_id);
	current = shop_admin(shop, "GET", path, NULL, NULL, 200);
	snprintf(if_match, sizeof(if_match), "If-Match: \"%lld\"\r\n",
		 (long long)json_integer_value(json_object_get(current, "version")));
	json_decref(current);
	json_decref(shop_admin(shop, "PATCH", path, if_match, fields, 200));
	json_decref(fields);
}

void shop_product_delete(struct shop *shop, uint64_t product_id)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu", (unsigned long long)product_id);
	json_decref(shop_admin(shop, "DELETE", path, NULL, NULL, 204));
}

json_t *shop_get(struct shop *shop, const char *path, int *status)
{
	struct http_reply reply;
	json_t *json;

	http_request(shop->node.port, "GET", path, NULL, NULL, 0, &reply);
	*status = reply.status;
	json = reply_json(&reply, "GET", path);
	http_reply_free(&reply);
	return json;
}

json_t *shop_list(struct shop *shop, const char *query)
{
	char path[1024];

	snprintf(path, sizeof(path), "/api/v1/products%s%s", query[0] != '\0' ? "?" : "", query);
	return request_json(shop->node.port, "GET", path, NULL, NULL, 200);
}

const char *shop_slugs(json_t *listing, char *out, size_t out_size)
{
	json_t *items = json_object_get(listing, "items"), *item;
	size_t i, len = 0;

	out[0] = '\0';
	json_array_foreach(items, i, item) {
		len += (size_t)snprintf(out + len, out_size - len, "%s%s", i > 0 ? "," : "",
					json_string_value(json_object_get(item, "slug")));
		assert_true(len < out_size);
	}
	return out;
}

char *shop_csv_field(const char **p, bool *row_end)
{
	const char *s = *p;
	size_t cap = 64, len = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	if (*s == '"') {
		for (s++; *s != '\0'; s++) {
			if (*s == '"' && s[1] == '"')
				s++;
			else if (*s == '"')
				break;
			if (len + 2 > cap)
				assert_non_null(out = realloc(out, cap *= 2));
			out[len++] = *s;
		}
		s += *s == '"';
	} else {
		for (; *s != '\0' && *s != ',' && *s != '\n'; s++) {
			if (len + 2 > cap)
				assert_non_null(out = realloc(out, cap *= 2));
			out[len++] = *s;
		}
	}
	out[len] = '\0';
	*row_end = *s != ',';
	*p = *s == '\0' ? s : s + 1;
	return out;
}
