/*
 * Catalog admin routes against the real jkd binary: who may call them
 * (anonymous 401, customer 403, admin 2xx, and nothing changes on a
 * rejection), the audit log of admin changes, and the language of errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/catalog_helpers.h"
#include "tests/sample_images.h"

/* One admin request of the matrix. */
struct admin_call {
	const char *method;
	char path[128];
	const char *body;         /* JSON, or NULL */
	const char *if_match;     /* "If-Match: ...\r\n", or NULL */
	bool image;               /* the body is png_1x1 */
	int admin_status;
};

/* Ids the calls act on, made before the matrix runs. */
struct fixture {
	uint64_t category, spare_category, product, spare_product, variant, spare_variant, image;
};

static size_t calls_build(const struct fixture *f, struct admin_call *calls)
{
	size_t n = 0;

#define CALL(m, b, im, ifm, st, ...)                                                   \
	do {                                                                           \
		calls[n] = (struct admin_call){.method = m, .body = b, .image = im,    \
					       .if_match = ifm, .admin_status = st}; \
		snprintf(calls[n].path, sizeof(calls[n].path), __VA_ARGS__);           \
		n++;                                                                   \
	} while (0)

	CALL("GET", NULL, false, NULL, 200, "/api/v1/admin/products");
	CALL("POST", "{\"slug\":\"matriz-nueva\",\"name\":\"Nueva\"}", false, NULL, 201, "/api/v1/admin/categories");
	CALL("PUT", "{\"slug\":\"matriz-cat\",\"name\":\"Renombrada\"}", false, NULL, 200, "/api/v1/admin/categories/%llu",
	     (unsigned long long)f->category);
	CALL("POST", "{\"slug\":\"matriz-creado\",\"name\":\"Creado\",\"gender\":\"hombre\",\"type\":\"calzado\"}", false,
	     NULL, 201, "/api/v1/admin/products");
	CALL("GET", NULL, false, NULL, 200, "/api/v1/admin/products/%llu", (unsigned long long)f->product);
	CALL("PATCH", "{\"brand\":\"JKD\"}", false, "If-Match: \"1\"\r\n", 200, "/api/v1/admin/products/%llu",
	     (unsigned long long)f->product);
	CALL("PUT", "{\"slug\":\"matriz-producto\",\"name\":\"Producto\",\"gender\":\"mujer\",\"type\":\"ropa\"}", false,
	     "If-Match: \"2\"\r\n", 200, "/api/v1/admin/products/%llu", (unsigned long long)f->product);
	CALL("POST", "{\"sku\":\"MATRIZ-L\",\"talla\":\"L\",\"color\":\"Azul\",\"price\":1000}", false, NULL, 201,
	     "/api/v1/admin/products/%llu/variants", (unsigned long long)f->product);
	CALL("GET", NULL, false, NULL, 200, "/api/v1/admin/variants/%llu", (unsigned long long)f->variant);
	CALL("PATCH", "{\"price\":1100}", false, "If-Match: \"1\"\r\n", 200, "/api/v1/admin/variants/%llu",
	     (unsigned long long)f->variant);
	CALL("PUT", "{\"sku\":\"MATRIZ-M\",\"talla\":\"M\",\"color\":\"Azul\",\"price\":1200}", false,
	     "If-Match: \"2\"\r\n", 200, "/api/v1/admin/variants/%llu", (unsigned long long)f->variant);
	CALL("POST", "{\"delta\":5}", false, NULL, 200, "/api/v1/admin/variants/%llu/stock", (unsigned long long)f->variant);
	CALL("POST", "{\"percent\":5,\"product_ids\":[1]}", false, NULL, 200, "/api/v1/admin/bulk/prices");
	CALL("POST", "{\"adjustments\":[{\"variant_id\":1,\"delta\":1}]}", false, NULL, 200, "/api/v1/admin/bulk/stock");
	CALL("POST", NULL, true, NULL, 201, "/api/v1/admin/products/%llu/images", (unsigned long long)f->product);
	CALL("DELETE", NULL, false, NULL, 204, "/api/v1/admin/images/%llu", (unsigned long long)f->image);
	CALL("GET", NULL, false, NULL, 200, "/api/v1/admin/audit");
	CALL("DELETE", NULL, false, NULL, 204, "/api/v1/admin/variants/%llu", (unsigned long long)f->spare_variant);
	CALL("DELETE", NULL, false, NULL, 204, "/api/v1/admin/products/%llu", (unsigned long long)f->spare_product);
	CALL("DELETE", NULL, false, NULL, 204, "/api/v1/admin/categories/%llu", (unsigned long long)f->spare_category);
#undef CALL
	return n;
}

static void call_send(const struct admin_call *call, const char *auth, struct http_reply *reply)
{
	const char *content_type = "";
	const void *body = call->body;
	size_t body_len = call->body != NULL ? strlen(call->body) : 0;
	char headers[512];

	if (call->image) {
		content_type = "Content-Type: image/png\r\n";
		body = png_1x1;
		body_len = sizeof(png_1x1);
	} else if (call->body != NULL) {
		content_type = "Content-Type: application/json\r\n";
	}
	snprintf(headers, sizeof(headers), "%s%s%s", auth != NULL ? auth : "",
		 call->if_match != NULL ? call->if_match : "", content_type);
	http_request(catalog.node.port, call->method, call->path, headers, body, body_len, reply);
}

static void fixture_make(struct fixture *f)
{
	struct http_reply reply;
	char path[128], headers[512];

	f->category = create_category(&catalog, "matriz-cat", "Matriz", 0);
	f->spare_category = create_category(&catalog, "matriz-sobra", "Sobra", 0);
	f->product = create_product(&catalog, "matriz-producto", "");
	f->spare_product = create_product(&catalog, "matriz-sobra", "");
	f->variant = create_variant(&catalog, f->product, "MATRIZ-M", "M", "Azul", 1000, 1);
	f->spare_variant = create_variant(&catalog, f->product, "MATRIZ-S", "S", "Azul", 1000, 1);
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/images", (unsigned long long)f->product);
	snprintf(headers, sizeof(headers), "%sContent-Type: image/png\r\n", catalog.admin);
	http_request(catalog.node.port, "POST", path, headers, png_1x1, sizeof(png_1x1), &reply);
	assert_int_equal(reply.status, 201);
	f->image = (uint64_t)reply_integer(&reply, "id");
	http_reply_free(&reply);
}

static void admin_routes_need_admin_role(void **state)
{
	struct admin_call calls[32];
	struct fixture f;
	struct http_reply reply;
	size_t count;

	(void)state;
	fixture_make(&f);
	count = calls_build(&f, calls);
	/* Rejections first: if any of them changed something, the If-Match versions below would not match. */
	for (size_t i = 0; i < count; i++) {
		call_send(&calls[i], NULL, &reply);
		if (reply.status != 401)
			fail_msg("anonymous %s %s returned %d", calls[i].method, calls[i].path, reply.status);
		http_reply_free(&reply);
		call_send(&calls[i], catalog.customer, &reply);
		if (reply.status != 403)
			fail_msg("customer %s %s returned %d", calls[i].method, calls[i].path, reply.status);
		http_reply_free(&reply);
	}
	for (size_t i = 0; i < count; i++) {
		call_send(&calls[i], catalog.admin, &reply);
		if (reply.status != calls[i].admin_status)
			fail_msg("admin %s %s returned %d, expected %d: %s", calls[i].method, calls[i].path, reply.status,
				 calls[i].admin_status, reply.body);
		http_reply_free(&reply);
	}
}

static void audit_lists_changes_newest_first(void **state)
{
	uint64_t id = create_product(&catalog, "auditada", "");
	struct http_reply reply;
	char path[96];
	json_t *page, *entries, *first;
	json_int_t next_before;

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu", (unsigned long long)id);
	catalog_request(&catalog, catalog.admin, "PATCH", path, "If-Match: \"1\"\r\n", "{\"name\":\"Auditada\"}", &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);

	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/audit?limit=2", NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	page = reply_json(&reply);
	entries = json_object_get(page, "entries");
	assert_int_equal(json_array_size(entries), 2);
	first = json_array_get(entries, 0);
	assert_string_equal(json_string_value(json_object_get(first, "action")), "product.update");
	assert_int_equal(json_integer_value(json_object_get(first, "target")), (json_int_t)id);
	assert_string_equal(json_string_value(json_object_get(json_object_get(first, "who"), "email")), "admin@jkd.es");
	assert_non_null(strstr(json_string_value(json_object_get(first, "summary")), "name"));
	assert_true(json_integer_value(json_object_get(first, "at")) > 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 1), "action")), "product.create");
	assert_true(json_integer_value(json_object_get(first, "seq")) >
		    json_integer_value(json_object_get(json_array_get(entries, 1), "seq")));
	assert_true(json_integer_value(json_object_get(page, "total")) >= 2);
	next_before = json_integer_value(json_object_get(page, "next_before"));
	json_decref(page);
	http_reply_free(&reply);

	snprintf(path, sizeof(path), "/api/v1/admin/audit?limit=1&before=%lld", (long long)next_before);
	catalog_request(&catalog, catalog.admin, "GET", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	page = reply_json(&reply);
	assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(page, "entries"), 0), "seq")) <
		    next_before);
	json_decref(page);
	http_reply_free(&reply);
}

static void audit_page_size_is_bounded(void **state)
{
	struct http_reply reply;

	(void)state;
	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/audit?limit=201", NULL, NULL, &reply);
	assert_problem_field(&reply, 400, "limit");
	http_reply_free(&reply);
}

static void rejected_change_leaves_no_audit_entry(void **state)
{
	struct http_reply reply;
	json_int_t total;

	(void)state;
	create_product(&catalog, "auditada-repetida", "");
	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/audit?limit=1", NULL, NULL, &reply);
	total = reply_integer(&reply, "total");
	http_reply_free(&reply);

	catalog_request(&catalog, catalog.admin, "POST", "/api/v1/admin/products", NULL,
			"{\"slug\":\"auditada-repetida\",\"name\":\"Otra\",\"gender\":\"mujer\",\"type\":\"ropa\"}", &reply);
	assert_int_equal(reply.status, 409);
	http_reply_free(&reply);
	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/audit?limit=1", NULL, NULL, &reply);
	assert_int_equal(reply_integer(&reply, "total"), total);
	http_reply_free(&reply);
}

static void errors_spanish_unless_english_requested(void **state)
{
	struct http_reply reply;
	json_t *problem;

	(void)state;
	create_product(&catalog, "idioma", "");
	catalog_request(&catalog, catalog.admin, "POST", "/api/v1/admin/products", NULL,
			"{\"slug\":\"idioma\",\"name\":\"Otra\",\"gender\":\"mujer\",\"type\":\"ropa\"}", &reply);
	problem = reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(problem, "detail")),
			    "Otro producto ya tiene este slug. Elija otro slug.");
	json_decref(problem);
	http_reply_free(&reply);

	catalog_request(&catalog, catalog.admin, "POST", "/api/v1/admin/products", "Accept-Language: en\r\n",
			"{\"slug\":\"idioma\",\"name\":\"Otra\",\"gender\":\"mujer\",\"type\":\"ropa\"}", &reply);
	problem = reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(problem, "detail")),
			    "Another product already has this slug. Choose another slug.");
	json_decref(problem);
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_routes_need_admin_role),
		cmocka_unit_test(audit_lists_changes_newest_first),
		cmocka_unit_test(audit_page_size_is_bounded),
		cmocka_unit_test(rejected_change_leaves_no_audit_entry),
		cmocka_unit_test(errors_spanish_unless_english_requested),
	};

	return cmocka_run_group_tests(tests, catalog_group_setup, catalog_group_teardown);
}
