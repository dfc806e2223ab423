/*
 * Catalog against the real jkd binary: products with variants and their
 * pre-rendered public JSON, ETags, inactive products, text that looks like
 * markup, uniqueness, optimistic concurrency, the stock rule, bulk changes
 * and categories. Every test uses its own slugs and SKUs on one node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/catalog_helpers.h"

static void get_public(const char *path, const char *headers, struct http_reply *reply)
{
	catalog_request(&catalog, NULL, "GET", path, headers, NULL, reply);
}

/* Sends json as the admin with If-Match "<version>" (0: none). */
static void admin_send(const char *method, const char *path, uint64_t if_match, const char *json,
		       struct http_reply *reply)
{
	char headers[64] = "";

	if (if_match != 0)
		snprintf(headers, sizeof(headers), "If-Match: \"%llu\"\r\n", (unsigned long long)if_match);
	catalog_request(&catalog, catalog.admin, method, path, headers, json, reply);
}

static void stock_adjust(uint64_t variant_id, const char *json, struct http_reply *reply)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu/stock", (unsigned long long)variant_id);
	admin_send("POST", path, 0, json, reply);
}

static void product_path(char *out, size_t out_size, uint64_t product_id)
{
	snprintf(out, out_size, "/api/v1/admin/products/%llu", (unsigned long long)product_id);
}

static json_t *variant_of(json_t *view, size_t index)
{
	return json_array_get(json_object_get(view, "variants"), index);
}

static void variant_path(char *out, size_t out_size, uint64_t variant_id)
{
	snprintf(out, out_size, "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
}

static void product_public_get_shows_variants(void **state)
{
	uint64_t mujer = create_category(&catalog, "mujer-vista", "Mujer", 0);
	uint64_t ropa = create_category(&catalog, "ropa-vista", "Ropa", mujer);
	uint64_t product_id;
	char extra[128];
	struct http_reply reply;
	json_t *view, *path;

	(void)state;
	snprintf(extra, sizeof(extra), "\"brand\":\"JKD\",\"category_id\":%llu", (unsigned long long)ropa);
	product_id = create_product(&catalog, "camiseta-vista", extra);
	create_variant(&catalog, product_id, "VISTA-M-AZUL", "M", "Azul", 1999, 3);

	get_public("/api/v1/products/camiseta-vista", NULL, &reply);
	assert_int_equal(reply.status, 200);
	view = reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(view, "slug")), "camiseta-vista");
	assert_string_equal(json_string_value(json_object_get(view, "brand")), "JKD");
	assert_string_equal(json_string_value(json_object_get(view, "currency")), "EUR");
	assert_int_equal(json_array_size(json_object_get(view, "variants")), 1);
	assert_int_equal(json_integer_value(json_object_get(variant_of(view, 0), "price")), 1999);
	assert_true(json_is_true(json_object_get(variant_of(view, 0), "available")));
	assert_null(json_object_get(variant_of(view, 0), "stock"));
	path = json_object_get(json_object_get(view, "category"), "path");
	assert_int_equal(json_array_size(path), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(path, 0), "name")), "Mujer");
	assert_string_equal(json_string_value(json_object_get(json_array_get(path, 1), "name")), "Ropa");
	assert_string_equal(json_string_value(json_object_get(json_object_get(view, "size_guide"), "system")),
			    "letras");
	json_decref(view);
	http_reply_free(&reply);
}

static void product_by_id_matches_by_slug(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-por-id", "");
	struct http_reply by_slug, by_id;
	char path[64];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/products/id/%llu", (unsigned long long)id);
	get_public("/api/v1/products/camiseta-por-id", NULL, &by_slug);
	get_public(path, NULL, &by_id);
	assert_int_equal(by_slug.status, 200);
	assert_int_equal(by_id.status, 200);
	assert_string_equal(by_slug.body, by_id.body);
	http_reply_free(&by_slug);
	http_reply_free(&by_id);
}

static void product_etag_gives_304(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-etag", "");
	uint64_t variant_id = create_variant(&catalog, id, "ETAG-S-NEGRO", "S", "Negro", 1500, 2);
	struct http_reply reply;
	char etag[64], headers[128];

	(void)state;
	get_public("/api/v1/products/camiseta-etag", NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-None-Match: %s\r\n", etag);
	get_public("/api/v1/products/camiseta-etag", headers, &reply);
	assert_int_equal(reply.status, 304);
	assert_int_equal(reply.body_len, 0);
	http_reply_free(&reply);

	/* Selling out changes availability, so the page and its ETag change. */
	stock_adjust(variant_id, "{\"delta\":-2}", &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	get_public("/api/v1/products/camiseta-etag", headers, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
}

static void inactive_product_hidden_from_public(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-oculta", "\"active\":false");
	struct http_reply reply;
	char path[64];

	(void)state;
	get_public("/api/v1/products/camiseta-oculta", NULL, &reply);
	assert_problem_field(&reply, 404, "product");
	http_reply_free(&reply);

	snprintf(path, sizeof(path), "/api/v1/products/id/%llu", (unsigned long long)id);
	get_public(path, NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);

	product_path(path, sizeof(path), id);
	admin_send("GET", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_integer(&reply, "id"), (int64_t)id);
	http_reply_free(&reply);
}

static void description_markup_round_trips(void **state)
{
	static const char markup[] = "<img src=x onerror=alert(1)>";
	uint64_t id = create_product(&catalog, "camiseta-marcado", "\"description\":\"<img src=x onerror=alert(1)>\"");
	struct http_reply reply;
	char path[64];
	json_t *view;

	(void)state;
	get_public("/api/v1/products/camiseta-marcado", NULL, &reply);
	assert_int_equal(reply.status, 200);
	/* The bytes on the wire are the JSON string itself: nothing escaped away, nothing interpreted. */
	assert_non_null(strstr(reply.body, "\"description\":\"<img src=x onerror=alert(1)>\""));
	view = reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(view, "description")), markup);
	json_decref(view);
	http_reply_free(&reply);

	product_path(path, sizeof(path), id);
	admin_send("GET", path, 0, NULL, &reply);
	view = reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(view, "description")), markup);
	json_decref(view);
	http_reply_free(&reply);
}

static void duplicate_slug_gets_409(void **state)
{
	struct http_reply reply;

	(void)state;
	create_product(&catalog, "camiseta-repetida", "");
	admin_send("POST", "/api/v1/admin/products", 0,
		   "{\"slug\":\"camiseta-repetida\",\"name\":\"Otra\",\"gender\":\"hombre\",\"type\":\"ropa\"}", &reply);
	assert_problem_field(&reply, 409, "slug");
	http_reply_free(&reply);
}

static void duplicate_sku_gets_409(void **state)
{
	uint64_t first = create_product(&catalog, "camiseta-sku-a", "");
	uint64_t second = create_product(&catalog, "camiseta-sku-b", "");
	struct http_reply reply;
	char path[96];

	(void)state;
	create_variant(&catalog, first, "SKU-UNICO-1", "M", "Rojo", 1000, 1);
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)second);
	/* SKUs are unique without regard to case. */
	admin_send("POST", path, 0, "{\"sku\":\"sku-unico-1\",\"talla\":\"L\",\"color\":\"Rojo\",\"price\":1000}", &reply);
	assert_problem_field(&reply, 409, "sku");
	http_reply_free(&reply);
}

static void duplicate_talla_color_gets_409(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-combinacion", "");
	struct http_reply reply;
	char path[96];

	(void)state;
	create_variant(&catalog, id, "COMBO-M-VERDE", "M", "Verde", 1000, 1);
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)id);
	admin_send("POST", path, 0, "{\"sku\":\"COMBO-OTRO\",\"talla\":\"M\",\"color\":\"Verde\",\"price\":1200}", &reply);
	assert_problem_field(&reply, 409, "talla");
	http_reply_free(&reply);
}

static void stale_version_gets_412(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-version", "");
	struct http_reply reply;
	char path[64];
	json_t *problem;

	(void)state;
	product_path(path, sizeof(path), id);
	admin_send("PATCH", path, 1, "{\"name\":\"Primera edición\"}", &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_etag_version(&reply), 2);
	http_reply_free(&reply);

	admin_send("PATCH", path, 1, "{\"name\":\"Edición con versión vieja\"}", &reply);
	assert_problem_field(&reply, 412, "If-Match");
	problem = reply_json(&reply);
	assert_int_equal(json_integer_value(json_object_get(problem, "current_version")), 2);
	json_decref(problem);
	http_reply_free(&reply);

	admin_send("GET", path, 0, NULL, &reply);
	assert_int_equal(reply_etag_version(&reply), 2);
	assert_non_null(strstr(reply.body, "Primera edición"));
	http_reply_free(&reply);
}

static void missing_if_match_gets_428(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-sin-if-match", "");
	struct http_reply reply;
	char path[64];

	(void)state;
	product_path(path, sizeof(path), id);
	admin_send("PATCH", path, 0, "{\"name\":\"Sin versión\"}", &reply);
	assert_problem_field(&reply, 428, "If-Match");
	http_reply_free(&reply);
}

/*
 * An admin opens a product (version 1), a sale takes one unit (a stock
 * adjustment by another request), then the admin saves a description
 * change with If-Match 1. The stock change bumped the product version, so
 * the save gets 412 naming the current version, and the stock still shows
 * the sale. Saving again with the current version succeeds and still does
 * not touch the stock.
 */
static void product_save_after_sale_gets_412(void **state)
{
	static const char page[] = "{\"slug\":\"camiseta-venta\",\"name\":\"Camiseta venta\",\"gender\":\"mujer\","
				   "\"type\":\"ropa\",\"active\":true,\"description\":\"Algodón orgánico.\"}";
	uint64_t id = create_product(&catalog, "camiseta-venta", "");
	uint64_t variant_id = create_variant(&catalog, id, "VENTA-M-GRIS", "M", "Gris", 2500, 10);
	struct http_reply reply;
	char path[64];
	uint64_t opened_version;

	(void)state;
	product_path(path, sizeof(path), id);
	admin_send("GET", path, 0, NULL, &reply);
	opened_version = reply_etag_version(&reply);
	assert_int_equal(opened_version, 1);
	http_reply_free(&reply);

	stock_adjust(variant_id, "{\"delta\":-1}", &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_integer(&reply, "stock"), 9);
	http_reply_free(&reply);

	admin_send("PUT", path, opened_version, page, &reply);
	assert_problem_field(&reply, 412, "If-Match");
	assert_int_equal(reply_integer(&reply, "current_version"), 2);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, variant_id), 9);

	admin_send("PUT", path, 2, page, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, variant_id), 9);
}

static void variant_edit_rejects_stock_field(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-editar-variante", "");
	uint64_t variant_id = create_variant(&catalog, id, "EDIT-L-ROJO", "L", "Rojo", 1800, 4);
	struct http_reply reply;
	char path[64];

	(void)state;
	variant_path(path, sizeof(path), variant_id);
	admin_send("PATCH", path, 1, "{\"price\":1700,\"stock\":100}", &reply);
	assert_problem_field(&reply, 400, "stock");
	http_reply_free(&reply);

	admin_send("PATCH", path, 1, "{\"price\":1700}", &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_integer(&reply, "price"), 1700);
	assert_int_equal(reply_integer(&reply, "stock"), 4);
	http_reply_free(&reply);
}

static void stock_set_wrong_expected_conflicts(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-stock-set", "");
	uint64_t variant_id = create_variant(&catalog, id, "SET-M-AZUL", "M", "Azul", 1200, 7);
	struct http_reply reply;
	json_t *problem;

	(void)state;
	stock_adjust(variant_id, "{\"set\":10,\"expected\":6}", &reply);
	assert_problem_field(&reply, 409, "expected");
	problem = reply_json(&reply);
	assert_int_equal(json_integer_value(json_object_get(problem, "stock")), 7);
	json_decref(problem);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, variant_id), 7);

	stock_adjust(variant_id, "{\"set\":10,\"expected\":7}", &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, variant_id), 10);
}

static void stock_never_below_zero(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-stock-cero", "");
	uint64_t variant_id = create_variant(&catalog, id, "CERO-S-BLANCO", "S", "Blanco", 900, 2);
	struct http_reply reply;

	(void)state;
	stock_adjust(variant_id, "{\"delta\":-3}", &reply);
	assert_problem_field(&reply, 409, "delta");
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, variant_id), 2);

	stock_adjust(variant_id, "{\"set\":-1,\"expected\":2}", &reply);
	assert_problem_field(&reply, 400, "set");
	http_reply_free(&reply);

	stock_adjust(variant_id, "{\"delta\":-2}", &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_integer(&reply, "stock"), 0);
	http_reply_free(&reply);
}

static void out_of_stock_variant_listed_unavailable(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-agotada", "");
	struct http_reply reply;
	json_t *view;

	(void)state;
	create_variant(&catalog, id, "AGOTADA-S", "S", "Negro", 1000, 0);
	create_variant(&catalog, id, "AGOTADA-M", "M", "Negro", 1100, 3);
	get_public("/api/v1/products/camiseta-agotada", NULL, &reply);
	view = reply_json(&reply);
	assert_int_equal(json_array_size(json_object_get(view, "variants")), 2);
	assert_true(json_is_false(json_object_get(variant_of(view, 0), "available")));
	assert_true(json_is_true(json_object_get(variant_of(view, 1), "available")));
	assert_int_equal(json_integer_value(json_object_get(view, "price_from")), 1100);
	json_decref(view);
	http_reply_free(&reply);
}

/* Returns the price of variant_id as the admin API reports it. */
static int64_t variant_price(uint64_t variant_id)
{
	struct http_reply reply;
	char path[64];
	int64_t price;

	variant_path(path, sizeof(path), variant_id);
	admin_send("GET", path, 0, NULL, &reply);
	price = reply_integer(&reply, "price");
	http_reply_free(&reply);
	return price;
}

static void bulk_price_percentage_rounds(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-rebajas", "");
	uint64_t a = create_variant(&catalog, id, "REBAJA-S", "S", "Azul", 1999, 1);
	uint64_t b = create_variant(&catalog, id, "REBAJA-M", "M", "Azul", 1, 1);
	uint64_t d = create_variant(&catalog, id, "REBAJA-L", "L", "Azul", 1005, 1);
	struct http_reply reply;
	char json[256];

	(void)state;
	snprintf(json, sizeof(json), "{\"percent\":-15,\"variant_ids\":[%llu,%llu],\"compare_at\":\"previous\"}",
		 (unsigned long long)a, (unsigned long long)d);
	admin_send("POST", "/api/v1/admin/bulk/prices", 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	/* 1999 x 0.85 = 1699.15 -> 1699 and 1005 x 0.85 = 854.25 -> 854. */
	assert_int_equal(variant_price(a), 1699);
	assert_int_equal(variant_price(d), 854);

	/* 854 x 1.105 = 943.67 -> 944, still below the compare-at price 1005 kept from above. */
	snprintf(json, sizeof(json), "{\"percent\":10.5,\"variant_ids\":[%llu]}", (unsigned long long)d);
	admin_send("POST", "/api/v1/admin/bulk/prices", 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_price(d), 944);

	/* 1 x 0.1 = 0.1 rounds to 0, and a price never goes below 1. */
	snprintf(json, sizeof(json), "{\"percent\":-90,\"product_ids\":[%llu]}", (unsigned long long)id);
	admin_send("POST", "/api/v1/admin/bulk/prices", 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_price(b), 1);
}

static void bulk_price_list_sets_prices(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-lista-precios", "");
	uint64_t a = create_variant(&catalog, id, "LISTA-S", "S", "Rosa", 2000, 1);
	uint64_t b = create_variant(&catalog, id, "LISTA-M", "M", "Rosa", 2000, 1);
	struct http_reply reply;
	char json[256];

	(void)state;
	snprintf(json, sizeof(json),
		 "{\"prices\":[{\"variant_id\":%llu,\"price\":1500,\"compare_at_price\":2000},"
		 "{\"variant_id\":%llu,\"price\":1750}]}",
		 (unsigned long long)a, (unsigned long long)b);
	admin_send("POST", "/api/v1/admin/bulk/prices", 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_price(a), 1500);
	assert_int_equal(variant_price(b), 1750);
}

static void bulk_price_rejects_all_on_error(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-lista-mala", "");
	uint64_t a = create_variant(&catalog, id, "MALA-S", "S", "Rosa", 2000, 1);
	struct http_reply reply;
	char json[256];

	(void)state;
	snprintf(json, sizeof(json),
		 "{\"prices\":[{\"variant_id\":%llu,\"price\":1500},{\"variant_id\":999999,\"price\":1750}]}",
		 (unsigned long long)a);
	admin_send("POST", "/api/v1/admin/bulk/prices", 0, json, &reply);
	assert_problem_field(&reply, 409, "variants");
	assert_non_null(strstr(reply.body, "\"variant_id\":999999"));
	http_reply_free(&reply);
	assert_int_equal(variant_price(a), 2000);
}

static void bulk_stock_all_or_nothing(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-stock-masivo", "");
	uint64_t a = create_variant(&catalog, id, "MASIVO-S", "S", "Verde", 1000, 5);
	uint64_t b = create_variant(&catalog, id, "MASIVO-M", "M", "Verde", 1000, 1);
	struct http_reply reply;
	char json[512];
	json_t *problem, *errors;

	(void)state;
	snprintf(json, sizeof(json),
		 "{\"adjustments\":[{\"variant_id\":%llu,\"delta\":-2},{\"variant_id\":%llu,\"delta\":-5},"
		 "{\"variant_id\":%llu,\"set\":3,\"expected\":4}]}",
		 (unsigned long long)a, (unsigned long long)b, (unsigned long long)a);
	admin_send("POST", "/api/v1/admin/bulk/stock", 0, json, &reply);
	assert_problem_field(&reply, 409, "adjustments");
	problem = reply_json(&reply);
	errors = json_object_get(problem, "errors");
	/* Both failures are named: b cannot go below zero, and a was 3 (after -2), not 4. */
	assert_int_equal(json_array_size(errors), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "variant_id")), (json_int_t)b);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "code")), "insufficient_stock");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 1), "variant_id")), (json_int_t)a);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 1), "code")), "stock_changed");
	json_decref(problem);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, a), 5);
	assert_int_equal(variant_stock(&catalog, b), 1);

	snprintf(json, sizeof(json), "{\"adjustments\":[{\"variant_id\":%llu,\"delta\":-2},{\"variant_id\":%llu,\"delta\":4}]}",
		 (unsigned long long)a, (unsigned long long)b);
	admin_send("POST", "/api/v1/admin/bulk/stock", 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	assert_int_equal(variant_stock(&catalog, a), 3);
	assert_int_equal(variant_stock(&catalog, b), 5);
}

static void invalid_fields_named_in_problem(void **state)
{
	static const struct {
		const char *json;
		const char *field;
	} cases[] = {
		{"{\"slug\":\"Mal Slug\",\"name\":\"x\",\"gender\":\"mujer\",\"type\":\"ropa\"}", "slug"},
		{"{\"slug\":\"ok-slug\",\"name\":\"\",\"gender\":\"mujer\",\"type\":\"ropa\"}", "name"},
		{"{\"slug\":\"ok-slug\",\"name\":\"x\",\"gender\":\"señora\",\"type\":\"ropa\"}", "gender"},
		{"{\"slug\":\"ok-slug\",\"name\":\"x\",\"gender\":\"mujer\",\"type\":\"bolsos\"}", "type"},
		{"{\"slug\":\"ok-slug\",\"name\":\"x\",\"gender\":\"mujer\",\"type\":\"ropa\",\"tags\":[\"\"]}", "tags"},
		{"{\"slug\":\"ok-slug\",\"name\":\"x\",\"gender\":\"mujer\",\"type\":\"ropa\",\"price\":5}", "price"},
		{"{\"name\":\"x\",\"gender\":\"mujer\",\"type\":\"ropa\"}", "slug"},
	};
	struct http_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		admin_send("POST", "/api/v1/admin/products", 0, cases[i].json, &reply);
		assert_problem_field(&reply, 400, cases[i].field);
		http_reply_free(&reply);
	}
}

static void invalid_variant_prices_rejected(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-precios-malos", "");
	struct http_reply reply;
	char path[96];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)id);
	admin_send("POST", path, 0, "{\"sku\":\"P0\",\"talla\":\"M\",\"color\":\"Azul\",\"price\":0}", &reply);
	assert_problem_field(&reply, 400, "price");
	http_reply_free(&reply);
	admin_send("POST", path, 0, "{\"sku\":\"P1\",\"talla\":\"M\",\"color\":\"Azul\",\"price\":1000000001}", &reply);
	assert_problem_field(&reply, 400, "price");
	http_reply_free(&reply);
	admin_send("POST", path, 0,
		   "{\"sku\":\"P2\",\"talla\":\"M\",\"color\":\"Azul\",\"price\":1000,\"compare_at_price\":900}", &reply);
	assert_problem_field(&reply, 422, "compare_at_price");
	http_reply_free(&reply);
}

static void category_delete_rejected_while_used(void **state)
{
	uint64_t parent = create_category(&catalog, "hombre-borrar", "Hombre", 0);
	uint64_t child = create_category(&catalog, "calzado-borrar", "Calzado", parent);
	uint64_t product_id;
	struct http_reply reply;
	char path[64], extra[64];

	(void)state;
	snprintf(extra, sizeof(extra), "\"category_id\":%llu", (unsigned long long)child);
	product_id = create_product(&catalog, "zapatilla-borrar", extra);

	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)parent);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_problem_field(&reply, 409, "id");
	http_reply_free(&reply);

	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)child);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_problem_field(&reply, 409, "id");
	http_reply_free(&reply);

	product_path(path, sizeof(path), product_id);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)child);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
}

static void category_tree_lists_children(void **state)
{
	uint64_t root = create_category(&catalog, "ninos-arbol", "Niños", 0);
	struct http_reply reply;
	json_t *tree, *node = NULL;
	size_t i;
	json_t *item;

	(void)state;
	create_category(&catalog, "calzado", "Calzado", root);
	create_category(&catalog, "accesorios", "Accesorios", root);
	get_public("/api/v1/categories", NULL, &reply);
	assert_int_equal(reply.status, 200);
	tree = reply_json(&reply);
	json_array_foreach(json_object_get(tree, "categories"), i, item) {
		if (json_integer_value(json_object_get(item, "id")) == (json_int_t)root)
			node = item;
	}
	assert_non_null(node);
	assert_string_equal(json_string_value(json_object_get(node, "name")), "Niños");
	assert_int_equal(json_array_size(json_object_get(node, "children")), 2);
	/* Same position, so siblings sort by name. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(node, "children"), 0), "name")),
			    "Accesorios");
	json_decref(tree);
	http_reply_free(&reply);
}

static void category_rename_updates_product_view(void **state)
{
	uint64_t category = create_category(&catalog, "bolsos-renombrar", "Bolsos", 0);
	struct http_reply reply;
	char extra[64], path[64], json[128];

	(void)state;
	snprintf(extra, sizeof(extra), "\"category_id\":%llu", (unsigned long long)category);
	create_product(&catalog, "bolso-renombrado", extra);
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)category);
	snprintf(json, sizeof(json), "{\"slug\":\"bolsos-renombrar\",\"name\":\"Bolsos y mochilas\"}");
	admin_send("PUT", path, 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);

	get_public("/api/v1/products/bolso-renombrado", NULL, &reply);
	assert_non_null(strstr(reply.body, "\"name\":\"Bolsos y mochilas\""));
	http_reply_free(&reply);
}

static void category_move_rejects_cycle(void **state)
{
	uint64_t top = create_category(&catalog, "mover-arriba", "Arriba", 0);
	uint64_t middle = create_category(&catalog, "mover-medio", "Medio", top);
	uint64_t other = create_category(&catalog, "mover-otra", "Otra", 0);
	struct http_reply reply;
	char path[64], json[128];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)top);
	snprintf(json, sizeof(json), "{\"slug\":\"mover-arriba\",\"name\":\"Arriba\",\"parent_id\":%llu}",
		 (unsigned long long)middle);
	admin_send("PUT", path, 0, json, &reply);
	assert_problem_field(&reply, 422, "parent_id");
	http_reply_free(&reply);

	/* Moving the middle category under another one takes it out of its old parent. */
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)middle);
	snprintf(json, sizeof(json), "{\"slug\":\"mover-medio\",\"name\":\"Medio\",\"parent_id\":%llu}",
		 (unsigned long long)other);
	admin_send("PUT", path, 0, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)top);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
}

static void product_category_change_frees_old(void **state)
{
	uint64_t before = create_category(&catalog, "cambio-antes", "Antes", 0);
	uint64_t after = create_category(&catalog, "cambio-despues", "Después", 0);
	uint64_t id;
	struct http_reply reply;
	char path[64], json[64];

	(void)state;
	snprintf(json, sizeof(json), "\"category_id\":%llu", (unsigned long long)before);
	id = create_product(&catalog, "camiseta-cambio", json);
	product_path(path, sizeof(path), id);
	snprintf(json, sizeof(json), "{\"category_id\":%llu}", (unsigned long long)after);
	admin_send("PATCH", path, 1, json, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);

	get_public("/api/v1/products/camiseta-cambio", NULL, &reply);
	assert_non_null(strstr(reply.body, "\"name\":\"Después\""));
	http_reply_free(&reply);
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)before);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	snprintf(path, sizeof(path), "/api/v1/admin/categories/%llu", (unsigned long long)after);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_problem_field(&reply, 409, "id");
	http_reply_free(&reply);
}

static void variant_sku_change_frees_old_sku(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-sku-cambio", "");
	uint64_t variant_id = create_variant(&catalog, id, "SKU-VIEJO", "M", "Azul", 1000, 1);
	struct http_reply reply;
	char path[64];

	(void)state;
	variant_path(path, sizeof(path), variant_id);
	admin_send("PATCH", path, 1, "{\"sku\":\"sku-nuevo\"}", &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_etag_version(&reply), 2);
	http_reply_free(&reply);
	create_variant(&catalog, id, "SKU-VIEJO", "L", "Azul", 1000, 1);
}

static void product_delete_frees_slug_and_sku(void **state)
{
	uint64_t id = create_product(&catalog, "camiseta-borrada", "");
	struct http_reply reply;
	char path[64];

	(void)state;
	create_variant(&catalog, id, "BORRADA-M", "M", "Azul", 1000, 1);
	product_path(path, sizeof(path), id);
	admin_send("DELETE", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);

	get_public("/api/v1/products/camiseta-borrada", NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	admin_send("GET", path, 0, NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);

	id = create_product(&catalog, "camiseta-borrada", "");
	create_variant(&catalog, id, "BORRADA-M", "M", "Azul", 1000, 1);
}

static void calzado_has_eu_size_guide(void **state)
{
	struct http_reply reply;
	json_t *view, *sizes;

	(void)state;
	admin_send("POST", "/api/v1/admin/products", 0,
		   "{\"slug\":\"zapatilla-guia\",\"name\":\"Zapatilla\",\"gender\":\"unisex\",\"type\":\"calzado\",\"active\":true}",
		   &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);
	get_public("/api/v1/products/zapatilla-guia", NULL, &reply);
	view = reply_json(&reply);
	sizes = json_object_get(json_object_get(view, "size_guide"), "sizes");
	assert_int_equal(json_array_size(sizes), 13);
	assert_string_equal(json_string_value(json_object_get(json_array_get(sizes, 0), "talla")), "35");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sizes, 12), "talla")), "47");
	assert_non_null(strstr(reply.body, "\"foot_length_cm\":26.5"));
	json_decref(view);
	http_reply_free(&reply);
}

/*
 * Reads one RFC 4180 field of f into out (quotes removed, "" unescaped);
 * returns the character after it: ',' or '\n', or EOF.
 */
static int csv_field(FILE *f, char *out, size_t out_size)
{
	size_t len = 0;
	bool quoted = false;
	int ch = fgetc(f);

	if (ch == '"') {
		quoted = true;
		ch = fgetc(f);
	}
	for (; ch != EOF; ch = fgetc(f)) {
		if (quoted && ch == '"') {
			ch = fgetc(f);
			if (ch != '"') {
				quoted = false;
				if (ch == ',' || ch == '\n' || ch == EOF)
					break;
			}
		} else if (!quoted && (ch == ',' || ch == '\n')) {
			break;
		}
		assert_true(len + 1 < out_size);
		out[len++] = (char)ch;
	}
	out[len] = '\0';
	return ch;
}

#define PRESTASHOP_CSV "/work/shared/data/spanish/prestashop_fashion_es_products.csv"
#define PRESTASHOP_COLUMNS 6

/*
 * The Spanish products of the PrestaShop fashion demo: accented names and
 * HTML descriptions come back byte for byte, and the file's two repeated
 * slugs (link_rewrite) are rejected the second time.
 */
static void prestashop_products_round_trip(void **state)
{
	static char fields[PRESTASHOP_COLUMNS][4096];
	FILE *f = fopen(PRESTASHOP_CSV, "r");
	struct http_reply reply;
	size_t created = 0, rejected = 0;

	(void)state;
	if (f == NULL)
		fail_msg("cannot open %s", PRESTASHOP_CSV);
	for (size_t i = 0; i < PRESTASHOP_COLUMNS; i++)
		csv_field(f, fields[i], sizeof(fields[i]));
	while (csv_field(f, fields[0], sizeof(fields[0])) != EOF) {
		char path[160], *body;
		json_t *product, *view;

		for (size_t i = 1; i < PRESTASHOP_COLUMNS; i++)
			csv_field(f, fields[i], sizeof(fields[i]));
		/* Columns: id, name, description_short_html, description_html, link_rewrite, available_now. */
		product = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "slug", fields[4], "name", fields[1], "description",
				    fields[3], "gender", "mujer", "type", "ropa", "active", 1);
		body = json_dumps(product, JSON_COMPACT);
		admin_send("POST", "/api/v1/admin/products", 0, body, &reply);
		free(body);
		json_decref(product);
		if (reply.status == 409) {
			rejected++;
			http_reply_free(&reply);
			continue;
		}
		assert_int_equal(reply.status, 201);
		http_reply_free(&reply);
		created++;

		snprintf(path, sizeof(path), "/api/v1/products/%.100s", fields[4]);
		get_public(path, NULL, &reply);
		assert_int_equal(reply.status, 200);
		view = reply_json(&reply);
		assert_string_equal(json_string_value(json_object_get(view, "name")), fields[1]);
		assert_string_equal(json_string_value(json_object_get(view, "description")), fields[3]);
		json_decref(view);
		http_reply_free(&reply);
	}
	fclose(f);
	assert_int_equal(created, 5);
	assert_int_equal(rejected, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(product_public_get_shows_variants),
		cmocka_unit_test(product_by_id_matches_by_slug),
		cmocka_unit_test(product_etag_gives_304),
		cmocka_unit_test(inactive_product_hidden_from_public),
		cmocka_unit_test(description_markup_round_trips),
		cmocka_unit_test(duplicate_slug_gets_409),
		cmocka_unit_test(duplicate_sku_gets_409),
		cmocka_unit_test(duplicate_talla_color_gets_409),
		cmocka_unit_test(stale_version_gets_412),
		cmocka_unit_test(missing_if_match_gets_428),
		cmocka_unit_test(product_save_after_sale_gets_412),
		cmocka_unit_test(variant_edit_rejects_stock_field),
		cmocka_unit_test(stock_set_wrong_expected_conflicts),
		cmocka_unit_test(stock_never_below_zero),
		cmocka_unit_test(out_of_stock_variant_listed_unavailable),
		cmocka_unit_test(bulk_price_percentage_rounds),
		cmocka_unit_test(bulk_price_list_sets_prices),
		cmocka_unit_test(bulk_price_rejects_all_on_error),
		cmocka_unit_test(bulk_stock_all_or_nothing),
		cmocka_unit_test(invalid_fields_named_in_problem),
		cmocka_unit_test(invalid_variant_prices_rejected),
		cmocka_unit_test(category_delete_rejected_while_used),
		cmocka_unit_test(category_tree_lists_children),
		cmocka_unit_test(category_rename_updates_product_view),
		cmocka_unit_test(category_move_rejects_cycle),
		cmocka_unit_test(product_category_change_frees_old),
		cmocka_unit_test(variant_sku_change_frees_old_sku),
		cmocka_unit_test(product_delete_frees_slug_and_sku),
		cmocka_unit_test(calzado_has_eu_size_guide),
		cmocka_unit_test(prestashop_products_round_trip),
	};

	return cmocka_run_group_tests(tests, catalog_group_setup, catalog_group_teardown);
}
