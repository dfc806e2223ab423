/* Helpers for the catalog integration tests; see catalog_helpers.h. */
#include "tests/integration/catalog_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PASSWORD "prueba-segura-2024"

static const char *const node_flags[] = {"--auth-hash-memory-mb", "8", "--auth-hash-ops", "1", NULL};

void catalog_request(struct catalog_node *c, const char *auth, const char *method, const char *path,
		     const char *headers, const char *json, struct http_reply *reply)
{
	char all[4096];

	snprintf(all, sizeof(all), "%s%s%s", auth != NULL ? auth : "", headers != NULL ? headers : "",
		 json != NULL ? "Content-Type: application/json\r\n" : "");
	http_request(c->node.port, method, path, all, json, json != NULL ? strlen(json) : 0, reply);
}

json_t *reply_json(const struct http_reply *reply)
{
	json_error_t error;
	json_t *json = json_loadb(reply->body, reply->body_len, 0, &error);

	if (json == NULL)
		fail_msg("reply %d is not JSON (%s): %s", reply->status, error.text, reply->body);
	return json;
}

int64_t reply_integer(const struct http_reply *reply, const char *name)
{
	json_t *json = reply_json(reply);
	json_t *value = json_object_get(json, name);
	int64_t result;

	if (!json_is_integer(value))
		fail_msg("reply has no integer \"%s\": %s", name, reply->body);
	result = json_integer_value(value);
	json_decref(json);
	return result;
}

uint64_t reply_etag_version(const struct http_reply *reply)
{
	char etag[64];

	if (!http_reply_header(reply, "ETag", etag, sizeof(etag)))
		fail_msg("reply %d has no ETag", reply->status);
	return strtoull(etag + 1, NULL, 10);
}

void assert_problem_field(const struct http_reply *reply, int status, const char *field)
{
	char type[64];
	json_t *json;

	if (reply->status != status)
		fail_msg("expected status %d, got %d: %s", status, reply->status, reply->body);
	assert_true(http_reply_header(reply, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "application/problem+json");
	if (field == NULL)
		return;
	json = reply_json(reply);
	if (json_string_value(json_object_get(json, "field")) == NULL)
		fail_msg("problem names no field: %s", reply->body);
	assert_string_equal(json_string_value(json_object_get(json, "field")), field);
	json_decref(json);
}

/* Logs in and writes "Authorization: Bearer <token>\r\n" into out. */
static void login(struct catalog_node *c, const char *email, char *out, size_t out_size)
{
	char body[256];
	struct http_reply reply;
	json_t *json;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, PASSWORD);
	catalog_request(c, NULL, "POST", "/api/v1/auth/login", NULL, body, &reply);
	if (reply.status != 200)
		fail_msg("login of %s returned %d: %s", email, reply.status, reply.body);
	json = reply_json(&reply);
	snprintf(out, out_size, "Authorization: Bearer %s\r\n", json_string_value(json_object_get(json, "token")));
	json_decref(json);
	http_reply_free(&reply);
}

void catalog_node_start(struct catalog_node *c)
{
	static const char admin[] = "{\"email\":\"admin@jkd.es\",\"password\":\"" PASSWORD "\",\"name\":\"Lucía\"}";
	static const char customer[] = "{\"email\":\"cliente@jkd.es\",\"password\":\"" PASSWORD "\",\"name\":\"Íñigo\"}";
	struct http_reply reply;

	memset(c, 0, sizeof(*c));
	jkd_start(&c->node, false, node_flags);
	http_operator(&c->node, "POST", "/ops/v1/admins", "Content-Type: application/json\r\n", admin,
		      strlen(admin), &reply);
	if (reply.status != 201)
		fail_msg("admin create returned %d: %s", reply.status, reply.body);
	http_reply_free(&reply);
	catalog_request(c, NULL, "POST", "/api/v1/auth/register", NULL, customer, &reply);
	if (reply.status != 201)
		fail_msg("register returned %d: %s", reply.status, reply.body);
	http_reply_free(&reply);
	login(c, "admin@jkd.es", c->admin, sizeof(c->admin));
	login(c, "cliente@jkd.es", c->customer, sizeof(c->customer));
}

void catalog_node_stop(struct catalog_node *c)
{
	assert_int_equal(jkd_stop(&c->node), 0);
	jkd_cleanup(&c->node);
}

struct catalog_node catalog;

int catalog_group_setup(void **state)
{
	(void)state;
	catalog_node_start(&catalog);
	return 0;
}

int catalog_group_teardown(void **state)
{
	(void)state;
	catalog_node_stop(&catalog);
	return 0;
}

/* Posts json as the admin to path and returns the "id" of the 201 reply. */
static uint64_t admin_create(struct catalog_node *c, const char *path, const char *json)
{
	struct http_reply reply;
	uint64_t id;

	catalog_request(c, c->admin, "POST", path, NULL, json, &reply);
	if (reply.status != 201)
		fail_msg("POST %s returned %d: %s", path, reply.status, reply.body);
	id = (uint64_t)reply_integer(&reply, "id");
	http_reply_free(&reply);
	return id;
}

uint64_t create_category(struct catalog_node *c, const char *slug, const char *name, uint64_t parent_id)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"slug\":\"%s\",\"name\":\"%s\",\"parent_id\":%llu}", slug, name,
		 (unsigned long long)parent_id);
	return admin_create(c, "/api/v1/admin/categories", json);
}

uint64_t create_product(struct catalog_node *c, const char *slug, const char *extra)
{
	char json[4096];

	/* Active unless extra sets "active". */
	snprintf(json, sizeof(json), "{\"slug\":\"%s\",\"name\":\"Camiseta %s\",\"gender\":\"mujer\",\"type\":\"ropa\"%s%s%s}",
		 slug, slug, strstr(extra, "\"active\"") == NULL ? ",\"active\":true" : "", extra[0] != '\0' ? "," : "",
		 extra);
	return admin_create(c, "/api/v1/admin/products", json);
}

uint64_t create_variant(struct catalog_node *c, uint64_t product_id, const char *sku, const char *talla,
			const char *color, int64_t price, int64_t stock)
{
	char json[512], path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)product_id);
	snprintf(json, sizeof(json), "{\"sku\":\"%s\",\"talla\":\"%s\",\"color\":\"%s\",\"price\":%lld,\"stock\":%lld}",
		 sku, talla, color, (long long)price, (long long)stock);
	return admin_create(c, path, json);
}

int64_t variant_stock(struct catalog_node *c, uint64_t variant_id)
{
	struct http_reply reply;
	char path[128];
	int64_t stock;

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
	catalog_request(c, c->admin, "GET", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	stock = reply_integer(&reply, "stock");
	http_reply_free(&reply);
	return stock;
}
