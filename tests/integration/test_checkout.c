/*
 * Checkout against the real jkd binary: stock taken all at once or not at
 * all under concurrent checkouts, idempotency keys, the order snapshot and
 * the checks on the request. After every test the stock ledger must hold:
 * stock plus units in orders not cancelled equals the first stock plus the
 * admin adjustments.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/shop_client.h"

#define RACE_CLIENTS SHOP_RACE_CLIENTS_MAX

/* Makes actor a guest whose cart contains quantity units of variant_id. */
static void guest_with_cart(struct shop_actor *guest, uint64_t variant_id, int64_t quantity)
{
	memset(guest, 0, sizeof(*guest));
	json_decref(shop_cart_add(&shop.node, guest, variant_id, quantity));
	assert_int_equal(strlen(guest->cart_token), 43);
}

static void fifty_guests_race_for_three_units(void **state)
{
	static struct shop_race_client clients[RACE_CLIENTS];
	char keys[RACE_CLIENTS][32];
	uint64_t variant_id = shop_fixture_variant("Camiseta Carrera", 1999, 3);
	int created = 0, out_of_stock = 0;

	(void)state;
	memset(clients, 0, sizeof(clients));
	for (size_t i = 0; i < RACE_CLIENTS; i++) {
		guest_with_cart(&clients[i].guest, variant_id, 1);
		snprintf(keys[i], sizeof(keys[i]), "carrera-%zu", i);
		clients[i].idempotency_key = keys[i];
	}
	shop_race_run(clients, RACE_CLIENTS);
	for (size_t i = 0; i < RACE_CLIENTS; i++) {
		if (clients[i].status == 201)
			created++;
		else if (clients[i].status == 409 && strcmp(clients[i].type, "/problems/out_of_stock") == 0)
			out_of_stock++;
		else
			fail_msg("client %zu: unexpected status %d (%s)", i, clients[i].status, clients[i].type);
	}
	assert_int_equal(created, 3);
	assert_int_equal(out_of_stock, RACE_CLIENTS - 3);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 0);
}

static void two_carts_of_three_against_five(void **state)
{
	struct shop_race_client clients[2];
	uint64_t variant_id = shop_fixture_variant("Sudadera Carrera", 3999, 5);

	(void)state;
	memset(clients, 0, sizeof(clients));
	guest_with_cart(&clients[0].guest, variant_id, 3);
	guest_with_cart(&clients[1].guest, variant_id, 3);
	clients[0].idempotency_key = "dos-carritos-a";
	clients[1].idempotency_key = "dos-carritos-b";
	shop_race_run(clients, 2);
	assert_int_equal((clients[0].status == 201) + (clients[1].status == 201), 1);
	assert_int_equal((clients[0].status == 409) + (clients[1].status == 409), 1);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 2);
}

static void same_key_twice_returns_first_order(void **state)
{
	struct shop_actor guest;
	struct http_reply first, second;
	json_t *body = shop_checkout_body("repetido@example.es");
	uint64_t variant_id = shop_fixture_variant("Pantalón Repetido", 4500, 10);
	char replayed[16];

	(void)state;
	guest_with_cart(&guest, variant_id, 2);
	shop_checkout(&shop.node, &guest, "clave-repetida-1", body, &first);
	assert_int_equal(first.status, 201);
	shop_checkout(&shop.node, &guest, "clave-repetida-1", body, &second);
	assert_int_equal(second.status, 200);
	assert_string_equal(second.body, first.body);
	assert_true(http_reply_header(&second, "Idempotent-Replayed", replayed, sizeof(replayed)));
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 8);
	http_reply_free(&first);
	http_reply_free(&second);
	json_decref(body);
}

static void same_key_concurrently_makes_one_order(void **state)
{
	struct shop_race_client clients[2];
	uint64_t variant_id = shop_fixture_variant("Chaqueta Simultánea", 8900, 10);

	(void)state;
	memset(clients, 0, sizeof(clients));
	guest_with_cart(&clients[0].guest, variant_id, 1);
	clients[1].guest = clients[0].guest;
	clients[0].idempotency_key = "clave-simultanea";
	clients[1].idempotency_key = "clave-simultanea";
	shop_race_run(clients, 2);
	assert_int_equal((clients[0].status == 201) + (clients[1].status == 201), 1);
	assert_int_equal((clients[0].status == 200) + (clients[1].status == 200), 1);
	assert_true(clients[0].order_number > 0);
	assert_int_equal(clients[0].order_number, clients[1].order_number);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 9);
}

static void missing_key_gets_428(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("sinclave@example.es");
	uint64_t variant_id = shop_fixture_variant("Gorra Sin Clave", 1200, 4);

	(void)state;
	guest_with_cart(&guest, variant_id, 1);
	shop_request(&shop.node, &guest, "POST", "/api/v1/orders", NULL, body, &reply);
	assert_int_equal(reply.status, 428);
	assert_non_null(strstr(reply.body, "\"field\":\"Idempotency-Key\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void malformed_key_gets_400(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("clavemala@example.es");
	uint64_t variant_id = shop_fixture_variant("Gorra Clave Mala", 1200, 4);

	(void)state;
	guest_with_cart(&guest, variant_id, 1);
	shop_checkout(&shop.node, &guest, "clave con espacios", body, &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"Idempotency-Key\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void short_lines_listed_and_nothing_taken(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("corto@example.es"), *problem, *details;
	uint64_t plenty = shop_fixture_variant("Calcetines Muchos", 500, 20);
	uint64_t scarce = shop_fixture_variant("Botas Pocas", 12000, 2);

	(void)state;
	guest_with_cart(&guest, plenty, 5);
	json_decref(shop_cart_add(&shop.node, &guest, scarce, 2));
	shop_stock_adjust(&shop.node, &shop.admin, scarce, -1);
	shop_ledger_add(&shop.ledger, scarce, -1);

	shop_checkout(&shop.node, &guest, "corto-1", body, &reply);
	assert_int_equal(reply.status, 409);
	problem = shop_reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(problem, "type")), "/problems/out_of_stock");
	details = json_object_get(problem, "details");
	assert_int_equal(json_array_size(details), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(details, 0), "variant_id")), scarce);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(details, 0), "available")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(details, 0), "requested")), 2);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, plenty), 20);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, scarce), 1);
	json_decref(problem);
	http_reply_free(&reply);
	json_decref(body);
}

static void withdrawn_line_blocks_checkout(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("retirado@example.es"), *problem, *details;
	uint64_t kept = shop_fixture_variant("Chal Sigue", 2200, 5);
	uint64_t withdrawn = shop_fixture_variant("Chal Retirado", 2300, 5);

	(void)state;
	guest_with_cart(&guest, kept, 1);
	json_decref(shop_cart_add(&shop.node, &guest, withdrawn, 1));
	shop_product_active_set(&shop.node, &shop.admin, withdrawn, false);
	shop_checkout(&shop.node, &guest, "retirado-1", body, &reply);
	assert_int_equal(reply.status, 422);
	problem = shop_reply_json(&reply);
	assert_string_equal(json_string_value(json_object_get(problem, "type")), "/problems/variant_unavailable");
	details = json_object_get(problem, "details");
	assert_int_equal(json_array_size(details), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(details, 0), "variant_id")), withdrawn);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, kept), 5);
	json_decref(problem);
	http_reply_free(&reply);
	json_decref(body);
}

static void order_keeps_line_snapshot(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("foto@example.es"), *reply_json, *order, *line, *cart;
	uint64_t variant_id = shop_fixture_variant("Vestido Foto", 2550, 6);

	(void)state;
	guest_with_cart(&guest, variant_id, 3);
	shop_checkout(&shop.node, &guest, "foto-1", body, &reply);
	assert_int_equal(reply.status, 201);
	reply_json = shop_reply_json(&reply);
	order = json_object_get(reply_json, "order");
	line = json_array_get(json_object_get(order, "lines"), 0);
	assert_string_equal(json_string_value(json_object_get(line, "name")), "Vestido Foto");
	assert_non_null(json_string_value(json_object_get(line, "sku")));
	assert_non_null(json_string_value(json_object_get(line, "talla")));
	assert_non_null(json_string_value(json_object_get(line, "color")));
	assert_int_equal(json_integer_value(json_object_get(line, "unit_price")), 2550);
	assert_int_equal(json_integer_value(json_object_get(line, "quantity")), 3);
	assert_int_equal(json_integer_value(json_object_get(line, "line_total")), 7650);
	assert_int_equal(json_integer_value(json_object_get(order, "total")), 7650);
	assert_string_equal(json_string_value(json_object_get(order, "state")), "pendiente");
	assert_string_equal(json_string_value(json_object_get(json_object_get(order, "customer"), "email")),
			    "foto@example.es");
	assert_string_equal(json_string_value(json_object_get(order, "payment_method")), "contra_entrega");
	assert_string_equal(json_string_value(json_object_get(json_object_get(order, "shipping_address"), "postal_code")),
			    "47001");
	assert_null(json_object_get(order, "_guest_cart"));
	json_decref(reply_json);

	cart = shop_call(&shop.node, &guest, "GET", "/api/v1/cart", NULL, 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(cart, "cart"), "lines")), 0);
	json_decref(cart);
	http_reply_free(&reply);
	json_decref(body);
}

static void empty_cart_gets_422(void **state)
{
	struct shop_actor guest = {0};
	struct http_reply reply;
	json_t *body = shop_checkout_body("vacio@example.es");

	(void)state;
	shop_checkout(&shop.node, &guest, "vacio-1", body, &reply);
	assert_int_equal(reply.status, 422);
	assert_non_null(strstr(reply.body, "/problems/cart_empty"));
	http_reply_free(&reply);
	json_decref(body);
}

/* Sends a checkout whose body has field (a dotted path under shipping_address or top level) set to value. */
static void checkout_field_rejected(const char *member, const char *value, const char *field)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("campos@example.es");
	uint64_t variant_id = shop_fixture_variant("Bufanda Campos", 1500, 3);
	char expected[128];

	guest_with_cart(&guest, variant_id, 1);
	if (strchr(field, '.') != NULL)
		json_object_set_new(json_object_get(body, "shipping_address"), member, json_string(value));
	else
		json_object_set_new(body, member, json_string(value));
	shop_checkout(&shop.node, &guest, "campos-1", body, &reply);
	assert_int_equal(reply.status, 400);
	snprintf(expected, sizeof(expected), "\"field\":\"%s\"", field);
	assert_non_null(strstr(reply.body, expected));
	http_reply_free(&reply);
	json_decref(body);
}

static void invalid_postal_code_gets_400(void **state)
{
	(void)state;
	checkout_field_rejected("postal_code", "99001", "shipping_address.postal_code");
}

static void foreign_country_gets_400(void **state)
{
	(void)state;
	checkout_field_rejected("country", "FR", "shipping_address.country");
}

static void unknown_payment_method_gets_400(void **state)
{
	(void)state;
	checkout_field_rejected("payment_method", "tarjeta", "payment_method");
}

static void guest_without_email_gets_400(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body(NULL);
	uint64_t variant_id = shop_fixture_variant("Cinturón Sin Correo", 1800, 3);

	(void)state;
	guest_with_cart(&guest, variant_id, 1);
	shop_checkout(&shop.node, &guest, "sin-correo-1", body, &reply);
	assert_int_equal(reply.status, 400);
	assert_non_null(strstr(reply.body, "\"field\":\"email\""));
	http_reply_free(&reply);
	json_decref(body);
}

static void stale_expected_total_gets_409(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("total@example.es");
	uint64_t variant_id = shop_fixture_variant("Camisa Total", 3000, 5);

	(void)state;
	guest_with_cart(&guest, variant_id, 2);
	json_object_set_new(body, "expected_total", json_integer(5000));
	shop_checkout(&shop.node, &guest, "total-1", body, &reply);
	assert_int_equal(reply.status, 409);
	assert_non_null(strstr(reply.body, "/problems/total_changed"));
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 5);
	http_reply_free(&reply);
	json_decref(body);
}

static void customer_checkout_uses_account_cart(void **state)
{
	struct shop_actor customer = {0};
	char email[128];
	json_t *body = shop_checkout_body(NULL), *order;
	struct http_reply reply;
	uint64_t variant_id = shop_fixture_variant("Abrigo Cliente", 12000, 4);

	(void)state;
	shop_register(&shop.node, shop_email(email, sizeof(email), "cliente"), &customer);
	json_decref(shop_cart_add(&shop.node, &customer, variant_id, 2));
	shop_checkout(&shop.node, &customer, "cliente-1", body, &reply);
	assert_int_equal(reply.status, 201);
	order = shop_reply_json(&reply);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(order, "order"), "customer"),
							    "user_id")),
			 customer.user_id);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(order, "order"), "customer"), "email")),
			    email);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 2);
	json_decref(order);
	http_reply_free(&reply);
	json_decref(body);
}

/*
 * An admin opens a product (version 1), a shopper buys one unit through a
 * real checkout, then the admin saves a description change with If-Match
 * 1: 412, and the stock still shows the sale.
 */
static void admin_save_after_purchase_gets_412(void **state)
{
	struct shop_actor guest;
	struct http_reply reply;
	json_t *body = shop_checkout_body("venta@example.es");
	json_t *variant, *product, *change = json_pack("{s:s}", "description", "Nueva descripción del admin.");
	uint64_t variant_id = shop_fixture_variant("Camiseta Venta", 1999, 5);
	char path[96];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
	variant = shop_call(&shop.node, &shop.admin, "GET", path, NULL, 200);
	snprintf(path, sizeof(path), "/api/v1/admin/products/%lld",
		 (long long)json_integer_value(json_object_get(variant, "product_id")));
	product = shop_call(&shop.node, &shop.admin, "GET", path, NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(product, "version")), 1);

	guest_with_cart(&guest, variant_id, 1);
	shop_checkout(&shop.node, &guest, "compra-antes-de-guardar", body, &reply);
	assert_int_equal(reply.status, 201);
	http_reply_free(&reply);

	shop_request(&shop.node, &shop.admin, "PATCH", path, "If-Match: \"1\"\r\n", change, &reply);
	assert_int_equal(reply.status, 412);
	assert_non_null(strstr(reply.body, "\"field\":\"If-Match\""));
	http_reply_free(&reply);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 4);

	json_decref(variant);
	json_decref(product);
	json_decref(change);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(admin_save_after_purchase_gets_412, shop_ledger_holds),
		cmocka_unit_test_teardown(fifty_guests_race_for_three_units, shop_ledger_holds),
		cmocka_unit_test_teardown(two_carts_of_three_against_five, shop_ledger_holds),
		cmocka_unit_test_teardown(same_key_twice_returns_first_order, shop_ledger_holds),
		cmocka_unit_test_teardown(same_key_concurrently_makes_one_order, shop_ledger_holds),
		cmocka_unit_test_teardown(missing_key_gets_428, shop_ledger_holds),
		cmocka_unit_test_teardown(malformed_key_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(short_lines_listed_and_nothing_taken, shop_ledger_holds),
		cmocka_unit_test_teardown(withdrawn_line_blocks_checkout, shop_ledger_holds),
		cmocka_unit_test_teardown(order_keeps_line_snapshot, shop_ledger_holds),
		cmocka_unit_test_teardown(empty_cart_gets_422, shop_ledger_holds),
		cmocka_unit_test_teardown(invalid_postal_code_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(foreign_country_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(unknown_payment_method_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(guest_without_email_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(stale_expected_total_gets_409, shop_ledger_holds),
		cmocka_unit_test_teardown(customer_checkout_uses_account_cart, shop_ledger_holds),
	};

	return cmocka_run_group_tests(tests, shop_group_setup, shop_group_teardown);
}
