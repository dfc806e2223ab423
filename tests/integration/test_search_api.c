/*
 * Listing and search against the real jkd binary. Products are made
 * through the catalog admin API. The tests cover GET /api/v1/products with
 * each filter, the sort orders, pagination and parameter errors; search
 * with accents, ñ and prefixes; index updates on edit and delete; and the
 * suggestions route.
 *
 * Products of the fixture (name order; prices in cents; stock in brackets):
 *   camiseta-basica    Camiseta Básica Algodón  mujer/camisetas  S Blanco 999 [0], M Negro 1099 [0]
 *   camiseta-camion    Camiseta Camión          ninos            4 Rojo 1299 [5], 6 Azul 1199 [0]
 *   vestido-nina       Vestido Niña Flores      ninos            6 Rosa 2499 [4]
 *   zapatillas-running Zapatillas Running       mujer/calzado    38 Blanco 5999 [10], 39 Blanco 5999 [2]
 *   zapatos-oxford     Zapatos Oxford Piel      hombre/calzado   42 Negro 8999 [3], 43 Marrón 8999 [0]
 * and camiseta-oculta (inactive). A product's price is the lowest among
 * variants with stock (1299 for camiseta-camion), or among all variants
 * when none has stock. They are created in the order
 * camiseta-camion, zapatos-oxford, zapatillas-running, vestido-nina,
 * camiseta-basica, camiseta-oculta.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/search_client.h"

#define ALL_BY_NAME "camiseta-basica,camiseta-camion,vestido-nina,zapatillas-running,zapatos-oxford"

static struct shop shop;
static uint64_t mujer_calzado_id;
static uint64_t hombre_id;

static json_t *product_fields(const char *slug, const char *name, const char *gender, uint64_t category_id,
			      const char *description, bool active)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:[s]}", "slug", slug, "name", name, "gender", gender,
			 "type", "ropa", "brand", "JKD", "category_id", (json_int_t)category_id, "description",
			 description, "active", active, "tags", "novedad");
}

static void fixture_create(void)
{
	uint64_t mujer = shop_category(&shop, "Mujer", "mujer", 0);
	uint64_t camisetas = shop_category(&shop, "Camisetas", "mujer-camisetas", mujer);
	uint64_t hombre = shop_category(&shop, "Hombre", "hombre", 0);
	uint64_t hombre_calzado = shop_category(&shop, "Calzado", "hombre-calzado", hombre);
	uint64_t ninos = shop_category(&shop, "Niños", "ninos", 0);
	uint64_t id;

	mujer_calzado_id = shop_category(&shop, "Calzado", "mujer-calzado", mujer);
	hombre_id = hombre;
	id = shop_product(&shop, product_fields("camiseta-camion", "Camiseta Camión", "ninos", ninos,
						"Camiseta de manga corta con un camión.", true));
	shop_variant(&shop, id, "CC-4-ROJO", "4", "Rojo", 1299, 5);
	shop_variant(&shop, id, "CC-6-AZUL", "6", "Azul", 1199, 0);
	id = shop_product(&shop, product_fields("zapatos-oxford", "Zapatos Oxford Piel", "hombre", hombre_calzado,
						"Zapatos clásicos de vestir.", true));
	shop_variant(&shop, id, "ZO-42-NEGRO", "42", "Negro", 8999, 3);
	shop_variant(&shop, id, "ZO-43-MARRON", "43", "Marrón", 8999, 0);
	id = shop_product(&shop, product_fields("zapatillas-running", "Zapatillas Running", "mujer", mujer_calzado_id,
						"Zapatillas ligeras con refuerzo de piel.", true));
	shop_variant(&shop, id, "ZR-38-BLANCO", "38", "Blanco", 5999, 10);
	shop_variant(&shop, id, "ZR-39-BLANCO", "39", "Blanco", 5999, 2);
	id = shop_product(&shop, product_fields("vestido-nina", "Vestido Niña Flores", "ninos", ninos,
						"Vestido estampado.", true));
	shop_variant(&shop, id, "VN-6-ROSA", "6", "Rosa", 2499, 4);
	id = shop_product(&shop, product_fields("camiseta-basica", "Camiseta Básica Algodón", "mujer", camisetas,
						"Camiseta lisa.", true));
	shop_variant(&shop, id, "CB-S-BLANCO", "S", "Blanco", 999, 0);
	shop_variant(&shop, id, "CB-M-NEGRO", "M", "Negro", 1099, 0);
	id = shop_product(&shop, product_fields("camiseta-oculta", "Camiseta Oculta Camión", "ninos", ninos,
						"Retirada.", false));
	shop_variant(&shop, id, "CO-4-ROJO", "4", "Rojo", 1000, 5);
}

static int group_setup(void **state)
{
	(void)state;
	shop_start(&shop);
	fixture_create();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	shop_stop(&shop);
	return 0;
}

/* Lists with query and checks the slugs of the items, in order. */
static void assert_listing(const char *query, const char *expected_slugs)
{
	char slugs[2048];
	json_t *listing = shop_list(&shop, query);

	if (strcmp(shop_slugs(listing, slugs, sizeof(slugs)), expected_slugs) != 0)
		fail_msg("GET /api/v1/products?%s: items %s, expected %s", query, slugs, expected_slugs);
	json_decref(listing);
}

/* Checks that the listing of query fails with 400 naming field. */
static void assert_rejected(const char *query, const char *field)
{
	char path[1024];
	int status;
	json_t *problem;

	snprintf(path, sizeof(path), "/api/v1/products?%s", query);
	problem = shop_get(&shop, path, &status);
	if (status != 400)
		fail_msg("GET %s: status %d, expected 400", path, status);
	assert_string_equal(json_string_value(json_object_get(problem, "field")), field);
	json_decref(problem);
}

static void camion_spellings_find_same_products(void **state)
{
	(void)state;
	assert_listing("q=camion", "camiseta-camion");
	assert_listing("q=cami%C3%B3n", "camiseta-camion");
	assert_listing("q=CAMI%C3%93N", "camiseta-camion");
}

static void last_word_matches_prefix(void **state)
{
	(void)state;
	assert_listing("q=zapat&sort=name", "zapatillas-running,zapatos-oxford");
	assert_listing("q=zapato", "zapatos-oxford");
	assert_listing("q=Zapatos", "zapatos-oxford");
}

static void query_words_all_required(void **state)
{
	(void)state;
	assert_listing("q=zapatos+negro", "zapatos-oxford");
	assert_listing("q=zapatos+rojo", "");
	assert_listing("q=camiseta+de+algod%C3%B3n", "camiseta-basica");
}

static void enye_optional_in_query(void **state)
{
	(void)state;
	assert_listing("q=nina", "vestido-nina");
	assert_listing("q=ni%C3%B1a", "vestido-nina");
	assert_listing("q=NI%C3%91A", "vestido-nina");
}

static void relevance_prefers_name_words(void **state)
{
	(void)state;
	assert_listing("q=piel", "zapatos-oxford,zapatillas-running");
}

static void category_includes_subcategories(void **state)
{
	char query[64];

	(void)state;
	assert_listing("category=mujer&sort=name", "camiseta-basica,zapatillas-running");
	snprintf(query, sizeof(query), "category=%llu", (unsigned long long)mujer_calzado_id);
	assert_listing(query, "zapatillas-running");
	assert_listing("category=hombre-calzado", "zapatos-oxford");
	assert_listing("category=no-existe", "");
}

static void gender_filter_matches_exactly(void **state)
{
	(void)state;
	assert_listing("gender=hombre", "zapatos-oxford");
	assert_listing("gender=ni%C3%B1os&sort=name", "camiseta-camion,vestido-nina");
	assert_listing("gender=ninos&sort=name", "camiseta-camion,vestido-nina");
}

static void talla_filter_accepts_lists(void **state)
{
	(void)state;
	assert_listing("talla=42", "zapatos-oxford");
	assert_listing("talla=38,4&sort=name", "camiseta-camion,zapatillas-running");
	assert_listing("talla=38&talla=4&sort=name", "camiseta-camion,zapatillas-running");
	assert_listing("talla=m", "camiseta-basica");
}

static void color_filter_ignores_case_and_accents(void **state)
{
	(void)state;
	assert_listing("color=blanco&sort=name", "camiseta-basica,zapatillas-running");
	assert_listing("color=MARR%C3%93N", "zapatos-oxford");
	assert_listing("color=marron", "zapatos-oxford");
}

static void price_range_uses_lowest_price(void **state)
{
	(void)state;
	assert_listing("price_min=1000&price_max=6000&sort=name", "camiseta-camion,vestido-nina,zapatillas-running");
	assert_listing("price_max=999", "camiseta-basica");
	assert_listing("price_min=1250&price_max=1300", "camiseta-camion");
	assert_listing("price_max=1200&sort=name", "camiseta-basica");
	assert_listing("price_min=8999&sort=price_asc", "zapatos-oxford");
	assert_listing("price_min=5999&sort=price_desc", "zapatos-oxford,zapatillas-running");
}

static void in_stock_excludes_sold_out(void **state)
{
	(void)state;
	assert_listing("in_stock=true&sort=name", "camiseta-camion,vestido-nina,zapatillas-running,zapatos-oxford");
	assert_listing("in_stock=false&sort=name", ALL_BY_NAME);
}

static void talla_in_stock_needs_that_talla(void **state)
{
	(void)state;
	assert_listing("talla=43&in_stock=true", "");
	assert_listing("talla=42&in_stock=true", "zapatos-oxford");
	assert_listing("talla=43", "zapatos-oxford");
}

static void filters_combine(void **state)
{
	(void)state;
	assert_listing("gender=mujer&color=blanco&in_stock=true", "zapatillas-running");
	assert_listing("category=ninos&talla=6&price_max=2000", "camiseta-camion");
	assert_listing("q=camiseta&category=mujer", "camiseta-basica");
	assert_listing("q=zapat&gender=mujer&price_min=1000", "zapatillas-running");
}

static void sort_orders(void **state)
{
	(void)state;
	assert_listing("sort=name", ALL_BY_NAME);
	assert_listing("sort=price_asc", "camiseta-basica,camiseta-camion,vestido-nina,zapatillas-running,zapatos-oxford");
	assert_listing("sort=price_desc", "zapatos-oxford,zapatillas-running,vestido-nina,camiseta-camion,camiseta-basica");
	assert_listing("sort=newest", "camiseta-basica,vestido-nina,zapatillas-running,zapatos-oxford,camiseta-camion");
	assert_listing("", "camiseta-basica,vestido-nina,zapatillas-running,zapatos-oxford,camiseta-camion");
}

static void pagination_reports_total_and_pages(void **state)
{
	json_t *listing;

	(void)state;
	listing = shop_list(&shop, "sort=name&page_size=2");
	assert_int_equal(json_integer_value(json_object_get(listing, "total")), 5);
	assert_int_equal(json_integer_value(json_object_get(listing, "pages")), 3);
	assert_int_equal(json_integer_value(json_object_get(listing, "page")), 1);
	assert_int_equal(json_integer_value(json_object_get(listing, "page_size")), 2);
	assert_true(json_is_true(json_object_get(listing, "total_exact")));
	json_decref(listing);
	assert_listing("sort=name&page_size=2", "camiseta-basica,camiseta-camion");
	assert_listing("sort=name&page_size=2&page=2", "vestido-nina,zapatillas-running");
	assert_listing("sort=name&page_size=2&page=3", "zapatos-oxford");
	assert_listing("sort=name&page_size=2&page=4", "");
}

static void page_size_default_is_24(void **state)
{
	json_t *listing;

	(void)state;
	listing = shop_list(&shop, "");
	assert_int_equal(json_integer_value(json_object_get(listing, "page_size")), 24);
	assert_int_equal(json_integer_value(json_object_get(listing, "total")), 5);
	json_decref(listing);
}

static void oversized_page_rejected(void **state)
{
	(void)state;
	assert_rejected("page_size=1000", "page_size");
	assert_rejected("page_size=0", "page_size");
	assert_rejected("page=0", "page");
	assert_rejected("page=abc", "page");
}

static void invalid_parameters_name_field(void **state)
{
	(void)state;
	assert_rejected("sort=bogus", "sort");
	assert_rejected("price_min=abc", "price_min");
	assert_rejected("price_max=-5", "price_max");
	assert_rejected("price_min=10&price_max=5", "price_max");
	assert_rejected("gender=perros", "gender");
	assert_rejected("in_stock=maybe", "in_stock");
	assert_rejected("talla=", "talla");
	assert_rejected("color=rojo,,azul", "color");
	assert_rejected("category=", "category");
	assert_rejected("q=uno+dos+tres+cuatro+cinco+seis+siete+ocho+nueve", "q");
	assert_rejected("q=%FF%FE", "q");
}

static void sold_out_listed_as_unavailable(void **state)
{
	json_t *listing, *card;

	(void)state;
	listing = shop_list(&shop, "q=basica");
	card = json_array_get(json_object_get(listing, "items"), 0);
	assert_non_null(card);
	assert_true(json_is_false(json_object_get(card, "in_stock")));
	json_decref(listing);
	listing = shop_list(&shop, "q=running");
	card = json_array_get(json_object_get(listing, "items"), 0);
	assert_true(json_is_true(json_object_get(card, "in_stock")));
	json_decref(listing);
}

static void inactive_product_not_listed(void **state)
{
	(void)state;
	assert_listing("q=oculta", "");
	assert_listing("q=camion", "camiseta-camion");
	assert_listing("talla=4", "camiseta-camion");
}

static void product_edit_updates_index(void **state)
{
	uint64_t id;

	(void)state;
	id = shop_product(&shop, product_fields("gorra-dragon", "Gorra Dragón", "unisex", 0, "Gorra.", true));
	shop_variant(&shop, id, "GD-U-VERDE", "U", "Verde", 1500, 1);
	assert_listing("q=dragon", "gorra-dragon");

	shop_product_update(&shop, id, json_pack("{s:s}", "name", "Gorra Tigre"));
	assert_listing("q=dragon", "");
	assert_listing("q=tigre", "gorra-dragon");
	assert_listing("sort=name&q=gorra", "gorra-dragon");

	shop_product_update(&shop, id, json_pack("{s:b}", "active", false));
	assert_listing("q=tigre", "");
	assert_listing("gender=unisex", "");
	shop_product_delete(&shop, id);
}

static void product_delete_removes_it(void **state)
{
	uint64_t id;
	json_t *listing;

	(void)state;
	id = shop_product(&shop, product_fields("bufanda-lana", "Bufanda Lana", "unisex", 0, "Bufanda.", true));
	shop_variant(&shop, id, "BL-U-GRIS", "U", "Gris", 2000, 7);
	assert_listing("q=bufanda", "bufanda-lana");
	assert_listing("color=gris", "bufanda-lana");

	shop_product_delete(&shop, id);
	assert_listing("q=bufanda", "");
	assert_listing("color=gris", "");
	listing = shop_list(&shop, "");
	assert_int_equal(json_integer_value(json_object_get(listing, "total")), 5);
	json_decref(listing);
}

static void stock_change_updates_in_stock(void **state)
{
	uint64_t product, variant;

	(void)state;
	product = shop_product(&shop, product_fields("calcetines-rayas", "Calcetines Rayas", "unisex", 0, "Calcetines.", true));
	variant = shop_variant(&shop, product, "CR-U-ROJO", "U", "Rojo", 500, 0);
	assert_listing("q=calcetines", "calcetines-rayas");
	assert_listing("q=calcetines&in_stock=true", "");

	shop_stock_add(&shop, variant, 2);
	assert_listing("q=calcetines&in_stock=true", "calcetines-rayas");
	assert_listing("talla=u&in_stock=true", "calcetines-rayas");

	shop_stock_add(&shop, variant, -2);
	assert_listing("q=calcetines&in_stock=true", "");
	shop_product_delete(&shop, product);
}

static void category_change_reindexes_products(void **state)
{
	uint64_t category, product;

	(void)state;
	category = shop_category(&shop, "Accesorios", "accesorios", 0);
	product = shop_product(&shop, product_fields("cinturon-cuero", "Cinturón Cuero", "hombre", category, "Cinturón.", true));
	shop_variant(&shop, product, "CI-U-NEGRO", "U", "Negro", 2500, 1);
	assert_listing("q=accesorios", "cinturon-cuero");
	assert_listing("category=hombre", "zapatos-oxford");

	shop_category_update(&shop, category, "Complementos", "complementos", hombre_id);
	assert_listing("q=accesorios", "");
	assert_listing("q=complementos", "cinturon-cuero");
	assert_listing("category=complementos", "cinturon-cuero");
	assert_listing("category=hombre&sort=name", "cinturon-cuero,zapatos-oxford");
	shop_product_delete(&shop, product);
}

static void suggest_returns_prefix_matches(void **state)
{
	json_t *reply, *suggestions, *item;
	bool zapatos = false, zapatillas = false;
	int status;
	size_t i;

	(void)state;
	reply = shop_get(&shop, "/api/v1/search/suggest?q=zap", &status);
	assert_int_equal(status, 200);
	suggestions = json_object_get(reply, "suggestions");
	assert_int_equal(json_array_size(suggestions), 2);
	json_array_foreach(suggestions, i, item) {
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *slug = json_string_value(json_object_get(item, "slug"));

		zapatos |= strcmp(name, "Zapatos Oxford Piel") == 0 && strcmp(slug, "zapatos-oxford") == 0;
		zapatillas |= strcmp(name, "Zapatillas Running") == 0 && strcmp(slug, "zapatillas-running") == 0;
	}
	assert_true(zapatos);
	assert_true(zapatillas);
	json_decref(reply);
}

static void suggest_needs_q(void **state)
{
	json_t *reply;
	int status;

	(void)state;
	reply = shop_get(&shop, "/api/v1/search/suggest", &status);
	assert_int_equal(status, 400);
	assert_string_equal(json_string_value(json_object_get(reply, "field")), "q");
	json_decref(reply);
	reply = shop_get(&shop, "/api/v1/search/suggest?q=xyz", &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(reply, "suggestions")), 0);
	json_decref(reply);
}

/* Each path gets an ETag, and sending it back gives 304 with no body. */
static void reads_answer_if_none_match(void **state)
{
	static const char *const paths[] = {"/api/v1/products?q=camion", "/api/v1/categories",
					    "/api/v1/search/suggest?q=cam"};
	struct http_reply reply;
	char etag[80], header[128];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_request(shop.node.port, "GET", paths[i], NULL, NULL, 0, &reply);
		assert_int_equal(reply.status, 200);
		if (!http_reply_header(&reply, "ETag", etag, sizeof(etag)))
			fail_msg("GET %s has no ETag", paths[i]);
		http_reply_free(&reply);
		snprintf(header, sizeof(header), "If-None-Match: %s\r\n", etag);
		http_request(shop.node.port, "GET", paths[i], header, NULL, 0, &reply);
		assert_int_equal(reply.status, 304);
		assert_int_equal(reply.body_len, 0);
		http_reply_free(&reply);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(camion_spellings_find_same_products),
		cmocka_unit_test(reads_answer_if_none_match),
		cmocka_unit_test(last_word_matches_prefix),
		cmocka_unit_test(query_words_all_required),
		cmocka_unit_test(enye_optional_in_query),
		cmocka_unit_test(relevance_prefers_name_words),
		cmocka_unit_test(category_includes_subcategories),
		cmocka_unit_test(gender_filter_matches_exactly),
		cmocka_unit_test(talla_filter_accepts_lists),
		cmocka_unit_test(color_filter_ignores_case_and_accents),
		cmocka_unit_test(price_range_uses_lowest_price),
		cmocka_unit_test(in_stock_excludes_sold_out),
		cmocka_unit_test(talla_in_stock_needs_that_talla),
		cmocka_unit_test(filters_combine),
		cmocka_unit_test(sort_orders),
		cmocka_unit_test(pagination_reports_total_and_pages),
		cmocka_unit_test(page_size_default_is_24),
		cmocka_unit_test(oversized_page_rejected),
		cmocka_unit_test(invalid_parameters_name_field),
		cmocka_unit_test(sold_out_listed_as_unavailable),
		cmocka_unit_test(inactive_product_not_listed),
		cmocka_unit_test(product_edit_updates_index),
		cmocka_unit_test(product_delete_removes_it),
		cmocka_unit_test(stock_change_updates_in_stock),
		cmocka_unit_test(category_change_reindexes_products),
		cmocka_unit_test(suggest_returns_prefix_matches),
		cmocka_unit_test(suggest_needs_q),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
