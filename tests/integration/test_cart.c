/*
 * Cart against the real jkd binary: guest tokens, one line per variant,
 * clamping to stock and to the line maximum, and the line limit. The cart
 * shows current prices and flags changed ones. A guest cart merges into the
 * account at login and at registration. After every test the stock ledger
 * must hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/shop_client.h"

static json_t *cart_lines(json_t *reply)
{
	return json_object_get(json_object_get(reply, "cart"), "lines");
}

/* Returns the cart line of variant_id in reply, or NULL. */
static json_t *cart_line(json_t *reply, uint64_t variant_id)
{
	json_t *line;
	size_t i;

	json_array_foreach(cart_lines(reply), i, line) {
		if ((uint64_t)json_integer_value(json_object_get(line, "variant_id")) == variant_id)
			return line;
	}
	return NULL;
}

static json_int_t line_quantity(json_t *reply, uint64_t variant_id)
{
	json_t *line = cart_line(reply, variant_id);

	assert_non_null(line);
	return json_integer_value(json_object_get(line, "quantity"));
}

static void first_add_returns_cart_token(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	json_t *body, *json;
	char header[64], cookie[256];
	uint64_t variant_id = shop_fixture_variant("Camiseta Token", 1500, 5);

	(void)state;
	body = json_pack("{s:I}", "variant_id", (json_int_t)variant_id);
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 200);
	json = shop_reply_json(&reply);
	assert_int_equal(strlen(json_string_value(json_object_get(json, "cart_token"))), 43);
	assert_true(http_reply_header(&reply, "X-Cart-Token", header, sizeof(header)));
	assert_string_equal(header, json_string_value(json_object_get(json, "cart_token")));
	assert_true(http_reply_header(&reply, "Set-Cookie", cookie, sizeof(cookie)));
	assert_non_null(strstr(cookie, "jkd_cart="));
	assert_non_null(strstr(cookie, "HttpOnly"));
	assert_int_equal(line_quantity(json, variant_id), 1);
	json_decref(json);
	http_reply_free(&reply);
	json_decref(body);
}

static void token_returned_only_once(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Camiseta Una Vez", 1500, 5);
	json_t *reply;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 1));
	reply = shop_cart_add(&shop.node, &guest, variant_id, 1);
	assert_null(json_object_get(reply, "cart_token"));
	json_decref(reply);
}

static void cookie_finds_guest_cart(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	char cookie[128];
	json_t *json;
	uint64_t variant_id = shop_fixture_variant("Camiseta Cookie", 1500, 5);

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 2));
	snprintf(cookie, sizeof(cookie), "Cookie: jkd_cart=%s\r\n", guest.cart_token);
	shop_request(&shop.node, NULL, "GET", "/api/v1/cart", cookie, NULL, &reply);
	assert_int_equal(reply.status, 200);
	json = shop_reply_json(&reply);
	assert_int_equal(line_quantity(json, variant_id), 2);
	json_decref(json);
	http_reply_free(&reply);
}

static void same_variant_sums_into_one_line(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Pantalón Suma", 3000, 10);
	json_t *reply;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 2));
	reply = shop_cart_add(&shop.node, &guest, variant_id, 3);
	assert_int_equal(json_array_size(cart_lines(reply)), 1);
	assert_int_equal(line_quantity(reply, variant_id), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(reply, "cart"), "total")), 15000);
	json_decref(reply);
}

static void add_beyond_stock_is_clamped(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Zapatillas Pocas", 6000, 3);
	json_t *reply, *notice;

	(void)state;
	reply = shop_cart_add(&shop.node, &guest, variant_id, 5);
	assert_int_equal(line_quantity(reply, variant_id), 3);
	notice = json_object_get(cart_line(reply, variant_id), "notice");
	assert_string_equal(json_string_value(json_object_get(notice, "code")), "quantity_clamped");
	assert_int_equal(json_integer_value(json_object_get(notice, "available")), 3);
	assert_non_null(strstr(json_string_value(json_object_get(notice, "message")), "3"));
	json_decref(reply);
}

static void sum_beyond_line_maximum_is_clamped(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Calcetines Muchos", 300, 500);
	json_t *reply, *notice;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 60));
	reply = shop_cart_add(&shop.node, &guest, variant_id, 60);
	assert_int_equal(line_quantity(reply, variant_id), 99);
	notice = json_object_get(cart_line(reply, variant_id), "notice");
	assert_string_equal(json_string_value(json_object_get(notice, "code")), "quantity_max");
	json_decref(reply);
}

static void patch_sets_quantity_and_clamps(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Falda Cambio", 2500, 4);
	char path[64];
	json_t *body, *reply;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 1));
	snprintf(path, sizeof(path), "/api/v1/cart/lines/%llu", (unsigned long long)variant_id);
	body = json_pack("{s:i}", "quantity", 2);
	reply = shop_call(&shop.node, &guest, "PATCH", path, body, 200);
	assert_int_equal(line_quantity(reply, variant_id), 2);
	json_decref(reply);
	json_decref(body);

	body = json_pack("{s:i}", "quantity", 9);
	reply = shop_call(&shop.node, &guest, "PATCH", path, body, 200);
	assert_int_equal(line_quantity(reply, variant_id), 4);
	assert_non_null(json_object_get(cart_line(reply, variant_id), "notice"));
	json_decref(reply);
	json_decref(body);
}

static void delete_removes_line(void **state)
{
	struct shop_actor guest = {0};
	uint64_t kept = shop_fixture_variant("Blusa Queda", 2000, 4), removed = shop_fixture_variant("Blusa Sale", 2100, 4);
	char path[64];
	json_t *reply;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, kept, 1));
	json_decref(shop_cart_add(&shop.node, &guest, removed, 1));
	snprintf(path, sizeof(path), "/api/v1/cart/lines/%llu", (unsigned long long)removed);
	reply = shop_call(&shop.node, &guest, "DELETE", path, NULL, 200);
	assert_int_equal(json_array_size(cart_lines(reply)), 1);
	assert_non_null(cart_line(reply, kept));
	json_decref(reply);
	json_decref(shop_call(&shop.node, &guest, "DELETE", path, NULL, 404));
}

static void quantity_out_of_range_gets_400(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Polo Rango", 2000, 200);
	const int quantities[] = {0, 100, -1};
	struct http_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(quantities) / sizeof(quantities[0]); i++) {
		json_t *body = json_pack("{s:I, s:i}", "variant_id", (json_int_t)variant_id, "quantity", quantities[i]);

		shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
		assert_int_equal(reply.status, 400);
		assert_non_null(strstr(reply.body, "\"field\":\"quantity\""));
		http_reply_free(&reply);
		json_decref(body);
	}
}

static void unknown_variant_gets_404(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	json_t *body = json_pack("{s:I}", "variant_id", (json_int_t)987654321);

	(void)state;
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 404);
	assert_non_null(strstr(reply.body, "\"field\":\"variant_id\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void sold_out_variant_gets_409(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	uint64_t variant_id = shop_fixture_variant("Gafas Agotadas", 5000, 0);
	json_t *body = json_pack("{s:I}", "variant_id", (json_int_t)variant_id);

	(void)state;
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 409);
	assert_non_null(strstr(reply.body, "/problems/out_of_stock"));
	assert_non_null(strstr(reply.body, "\"field\":\"variant_id\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void inactive_product_gets_422(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	uint64_t variant_id = shop_fixture_variant("Parka Retirada", 15000, 5);
	json_t *body = json_pack("{s:I}", "variant_id", (json_int_t)variant_id);

	(void)state;
	shop_product_active_set(&shop.node, &shop.admin, variant_id, false);
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 422);
	assert_non_null(strstr(reply.body, "/problems/product_unavailable"));
	assert_non_null(strstr(reply.body, "\"field\":\"variant_id\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void deleted_variant_gets_404(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	uint64_t variant_id = shop_fixture_variant("Parka Borrada", 15000, 5);
	json_t *body = json_pack("{s:I}", "variant_id", (json_int_t)variant_id);

	(void)state;
	shop_variant_delete(&shop.node, &shop.admin, variant_id);
	shop_ledger_remove(&shop.ledger, variant_id);
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 404);
	assert_non_null(strstr(reply.body, "/problems/variant_not_found"));
	assert_non_null(strstr(reply.body, "\"field\":\"variant_id\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void withdrawn_line_shown_unavailable(void **state)
{
	struct shop_actor guest = {0};
	uint64_t kept = shop_fixture_variant("Falda Sigue", 2000, 5);
	uint64_t withdrawn = shop_fixture_variant("Falda Retirada", 3000, 5);
	json_t *cart, *line;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, kept, 1));
	json_decref(shop_cart_add(&shop.node, &guest, withdrawn, 1));
	shop_product_active_set(&shop.node, &shop.admin, withdrawn, false);
	cart = shop_call(&shop.node, &guest, "GET", "/api/v1/cart", NULL, 200);
	line = cart_line(cart, withdrawn);
	assert_true(json_is_false(json_object_get(line, "available")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(line, "notice"), "code")), "unavailable");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cart, "cart"), "total")), 2000);
	json_decref(cart);
}

static void fifty_first_line_gets_409(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	uint64_t variant_ids[51];
	char name[64];
	json_t *body;

	(void)state;
	for (int i = 0; i < 51; i++) {
		snprintf(name, sizeof(name), "Pulsera Límite %d", i);
		variant_ids[i] = shop_fixture_variant(name, 100 + i, 2);
	}
	for (int i = 0; i < 50; i++)
		json_decref(shop_cart_add(&shop.node, &guest, variant_ids[i], 1));
	body = json_pack("{s:I}", "variant_id", (json_int_t)variant_ids[50]);
	shop_request(&shop.node, &guest, "POST", "/api/v1/cart/lines", NULL, body, &reply);
	assert_int_equal(reply.status, 409);
	assert_non_null(strstr(reply.body, "/problems/cart_full"));
	http_reply_free(&reply);
	json_decref(body);
}

static void raised_price_shown_and_charged(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	uint64_t variant_id = shop_fixture_variant("Cazadora Precio", 5000, 5);
	json_t *cart, *line, *body, *order;
	json_int_t shown_total;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 2));
	shop_price_set(&shop.node, &shop.admin, variant_id, 6500);
	cart = shop_call(&shop.node, &guest, "GET", "/api/v1/cart", NULL, 200);
	line = cart_line(cart, variant_id);
	assert_int_equal(json_integer_value(json_object_get(line, "unit_price")), 6500);
	assert_true(json_is_true(json_object_get(line, "price_changed")));
	assert_int_equal(json_integer_value(json_object_get(line, "previous_price")), 5000);
	shown_total = json_integer_value(json_object_get(json_object_get(cart, "cart"), "total"));
	assert_int_equal(shown_total, 13000);

	body = shop_checkout_body("precio@example.es");
	json_object_set_new(body, "expected_total", json_integer(shown_total));
	shop_checkout(&shop.node, &guest, "precio-1", body, &reply);
	assert_int_equal(reply.status, 201);
	order = shop_reply_json(&reply);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(order, "order"), "total")), shown_total);
	json_decref(order);
	http_reply_free(&reply);
	json_decref(body);
	json_decref(cart);
}

static void unchanged_price_not_flagged(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Cazadora Fija", 5000, 5);
	json_t *cart, *line;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 1));
	cart = shop_call(&shop.node, &guest, "GET", "/api/v1/cart", NULL, 200);
	line = cart_line(cart, variant_id);
	assert_true(json_is_false(json_object_get(line, "price_changed")));
	assert_null(json_object_get(line, "previous_price"));
	json_decref(cart);
}

static void stock_fall_shown_on_cart(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Mochila Baja", 4000, 4);
	json_t *cart, *notice;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &guest, variant_id, 3));
	shop_stock_adjust(&shop.node, &shop.admin, variant_id, -3);
	shop_ledger_add(&shop.ledger, variant_id, -3);
	cart = shop_call(&shop.node, &guest, "GET", "/api/v1/cart", NULL, 200);
	notice = json_object_get(cart_line(cart, variant_id), "notice");
	assert_string_equal(json_string_value(json_object_get(notice, "code")), "insufficient_stock");
	assert_int_equal(json_integer_value(json_object_get(notice, "available")), 1);
	json_decref(cart);
}

static void login_merges_guest_cart(void **state)
{
	struct shop_actor shopper = {0};
	uint64_t a = shop_fixture_variant("Abrigo A", 9000, 5), b = shop_fixture_variant("Bolso B", 3000, 5);
	char email[128];
	json_t *cart;

	(void)state;
	shop_register(&shop.node, shop_email(email, sizeof(email), "fusion"), &shopper);
	json_decref(shop_cart_add(&shop.node, &shopper, a, 1));
	shop_logout(&shop.node, &shopper);
	json_decref(shop_cart_add(&shop.node, &shopper, b, 2));
	assert_int_equal(strlen(shopper.cart_token), 43);
	shop_login(&shop.node, email, &shopper);

	cart = shop_call(&shop.node, &shopper, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(json_array_size(cart_lines(cart)), 2);
	assert_int_equal(line_quantity(cart, a), 1);
	assert_int_equal(line_quantity(cart, b), 2);
	json_decref(cart);

	shopper.token[0] = '\0';
	cart = shop_call(&shop.node, &shopper, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(json_array_size(cart_lines(cart)), 0);
	json_decref(cart);
}

static void merge_sums_and_clamps_to_stock(void **state)
{
	struct shop_actor shopper = {0};
	uint64_t variant_id = shop_fixture_variant("Vaqueros Fusión", 5000, 4);
	char email[128];
	json_t *cart;

	(void)state;
	shop_register(&shop.node, shop_email(email, sizeof(email), "suma"), &shopper);
	json_decref(shop_cart_add(&shop.node, &shopper, variant_id, 3));
	shop_logout(&shop.node, &shopper);
	json_decref(shop_cart_add(&shop.node, &shopper, variant_id, 3));
	shop_login(&shop.node, email, &shopper);
	cart = shop_call(&shop.node, &shopper, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(json_array_size(cart_lines(cart)), 1);
	assert_int_equal(line_quantity(cart, variant_id), 4);
	json_decref(cart);
}

static void register_merges_guest_cart(void **state)
{
	struct shop_actor shopper = {0};
	uint64_t variant_id = shop_fixture_variant("Sombrero Registro", 2500, 5);
	char email[128];
	json_t *cart;

	(void)state;
	json_decref(shop_cart_add(&shop.node, &shopper, variant_id, 2));
	shop_register(&shop.node, shop_email(email, sizeof(email), "registro"), &shopper);
	shopper.cart_token[0] = '\0';
	cart = shop_call(&shop.node, &shopper, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(line_quantity(cart, variant_id), 2);
	json_decref(cart);
}

static void customer_cart_follows_account(void **state)
{
	struct shop_actor first = {0}, again = {0};
	uint64_t variant_id = shop_fixture_variant("Jersey Cuenta", 4200, 5);
	char email[128];
	json_t *cart;

	(void)state;
	shop_register(&shop.node, shop_email(email, sizeof(email), "cuenta"), &first);
	json_decref(shop_cart_add(&shop.node, &first, variant_id, 2));
	shop_login(&shop.node, email, &again);
	cart = shop_call(&shop.node, &again, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(line_quantity(cart, variant_id), 2);
	json_decref(cart);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(first_add_returns_cart_token, shop_ledger_holds),
		cmocka_unit_test_teardown(token_returned_only_once, shop_ledger_holds),
		cmocka_unit_test_teardown(cookie_finds_guest_cart, shop_ledger_holds),
		cmocka_unit_test_teardown(same_variant_sums_into_one_line, shop_ledger_holds),
		cmocka_unit_test_teardown(add_beyond_stock_is_clamped, shop_ledger_holds),
		cmocka_unit_test_teardown(sum_beyond_line_maximum_is_clamped, shop_ledger_holds),
		cmocka_unit_test_teardown(patch_sets_quantity_and_clamps, shop_ledger_holds),
		cmocka_unit_test_teardown(delete_removes_line, shop_ledger_holds),
		cmocka_unit_test_teardown(quantity_out_of_range_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(unknown_variant_gets_404, shop_ledger_holds),
		cmocka_unit_test_teardown(sold_out_variant_gets_409, shop_ledger_holds),
		cmocka_unit_test_teardown(inactive_product_gets_422, shop_ledger_holds),
		cmocka_unit_test_teardown(deleted_variant_gets_404, shop_ledger_holds),
		cmocka_unit_test_teardown(withdrawn_line_shown_unavailable, shop_ledger_holds),
		cmocka_unit_test_teardown(fifty_first_line_gets_409, shop_ledger_holds),
		cmocka_unit_test_teardown(raised_price_shown_and_charged, shop_ledger_holds),
		cmocka_unit_test_teardown(unchanged_price_not_flagged, shop_ledger_holds),
		cmocka_unit_test_teardown(stock_fall_shown_on_cart, shop_ledger_holds),
		cmocka_unit_test_teardown(login_merges_guest_cart, shop_ledger_holds),
		cmocka_unit_test_teardown(merge_sums_and_clamps_to_stock, shop_ledger_holds),
		cmocka_unit_test_teardown(register_merges_guest_cart, shop_ledger_holds),
		cmocka_unit_test_teardown(customer_cart_follows_account, shop_ledger_holds),
	};

	return cmocka_run_group_tests(tests, shop_group_setup, shop_group_teardown);
}
