/*
 * Orders against the real jkd binary: the state machine, stock given back
 * once on cancellation, and the admin listings. Customers reach only their
 * own orders, and guests only the orders of their cart token. A table gives
 * the status of every cart and order route for an anonymous client, the
 * owner, another customer and an administrator. After every test the stock
 * ledger must hold.
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

/* Places an order of quantity units of variant_id for actor (customer or guest); returns its number. */
static json_int_t order_place(struct shop_actor *actor, uint64_t variant_id, int64_t quantity)
{
	static unsigned sequence;
	struct http_reply reply;
	json_t *body = shop_checkout_body(actor->token[0] == '\0' ? "invitado@example.es" : NULL), *json;
	char key[32];
	json_int_t number;

	json_decref(shop_cart_add(&shop.node, actor, variant_id, quantity));
	snprintf(key, sizeof(key), "pedido-%u", sequence++);
	shop_checkout(&shop.node, actor, key, body, &reply);
	if (reply.status != 201)
		fail_msg("checkout: expected 201, got %d: %s", reply.status, reply.body);
	json = shop_reply_json(&reply);
	number = json_integer_value(json_object_get(json_object_get(json, "order"), "number"));
	json_decref(json);
	http_reply_free(&reply);
	json_decref(body);
	return number;
}

/* Asks the admin route to move order number to state; returns the HTTP status. */
static int state_set(json_int_t number, const char *state)
{
	struct http_reply reply;
	char path[96];
	json_t *body = json_pack("{s:s}", "state", state);
	int status;

	snprintf(path, sizeof(path), "/api/v1/admin/orders/%lld/state", (long long)number);
	shop_request(&shop.node, &shop.admin, "POST", path, NULL, body, &reply);
	status = reply.status;
	http_reply_free(&reply);
	json_decref(body);
	return status;
}

static int cancel(const struct shop_actor *actor, json_int_t number)
{
	struct http_reply reply;
	char path[96];
	int status;

	snprintf(path, sizeof(path), "/api/v1/orders/%lld/cancel", (long long)number);
	shop_request(&shop.node, actor, "POST", path, NULL, NULL, &reply);
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

static const char *order_state(json_int_t number)
{
	static char state[32];
	char path[96];
	json_t *reply;

	snprintf(path, sizeof(path), "/api/v1/admin/orders/%lld", (long long)number);
	reply = shop_call(&shop.node, &shop.admin, "GET", path, NULL, 200);
	snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(json_object_get(reply, "order"), "state")));
	json_decref(reply);
	return state;
}

static void customer_new(struct shop_actor *customer, const char *prefix)
{
	char email[128];

	memset(customer, 0, sizeof(*customer));
	shop_register(&shop.node, shop_email(email, sizeof(email), prefix), customer);
}

static void order_goes_through_every_state(void **state)
{
	struct shop_actor guest = {0};
	json_int_t number = order_place(&guest, shop_fixture_variant("Camiseta Estados", 1500, 5), 1);

	(void)state;
	assert_string_equal(order_state(number), "pendiente");
	assert_int_equal(state_set(number, "pagada"), 200);
	assert_string_equal(order_state(number), "pagada");
	assert_int_equal(state_set(number, "enviada"), 200);
	assert_string_equal(order_state(number), "enviada");
	assert_int_equal(state_set(number, "entregada"), 200);
	assert_string_equal(order_state(number), "entregada");
}

static void admin_state_change_audited(void **state)
{
	struct shop_actor guest = {0};
	json_int_t number = order_place(&guest, shop_fixture_variant("Camiseta Auditada", 1500, 5), 1);
	json_t *audit, *entry;

	(void)state;
	assert_int_equal(state_set(number, "pagada"), 200);
	audit = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/audit", NULL, 200);
	entry = json_array_get(json_object_get(audit, "entries"), 0);
	assert_string_equal(json_string_value(json_object_get(entry, "action")), "order.state");
	assert_int_equal(json_integer_value(json_object_get(entry, "target")), number);
	assert_string_equal(json_string_value(json_object_get(entry, "summary")), "pendiente -> pagada");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(entry, "who"), "user_id")),
			 shop.admin.user_id);
	json_decref(audit);
}

static void invalid_transitions_get_409(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Camiseta Saltos", 1500, 10);
	json_int_t pending = order_place(&guest, variant_id, 1);
	json_int_t delivered = order_place(&guest, variant_id, 1);
	json_int_t cancelled = order_place(&guest, variant_id, 1);

	(void)state;
	assert_int_equal(state_set(pending, "enviada"), 409);
	assert_int_equal(state_set(pending, "entregada"), 409);
	assert_int_equal(state_set(pending, "pendiente"), 409);
	assert_string_equal(order_state(pending), "pendiente");

	assert_int_equal(state_set(delivered, "pagada"), 200);
	assert_int_equal(state_set(delivered, "enviada"), 200);
	assert_int_equal(state_set(delivered, "cancelada"), 409);
	assert_int_equal(state_set(delivered, "entregada"), 200);
	assert_int_equal(state_set(delivered, "cancelada"), 409);
	assert_int_equal(state_set(delivered, "pagada"), 409);

	assert_int_equal(state_set(cancelled, "cancelada"), 200);
	assert_int_equal(state_set(cancelled, "pagada"), 409);
	assert_int_equal(state_set(cancelled, "pendiente"), 409);
}

static void unknown_state_gets_400(void **state)
{
	struct shop_actor guest = {0};
	json_int_t number = order_place(&guest, shop_fixture_variant("Camiseta Estado Raro", 1500, 5), 1);

	(void)state;
	assert_int_equal(state_set(number, "perdida"), 400);
}

static void cancel_restores_stock_once(void **state)
{
	struct shop_actor customer;
	uint64_t variant_id = shop_fixture_variant("Botas Cancelar", 9000, 6);
	json_int_t number;

	(void)state;
	customer_new(&customer, "cancela");
	number = order_place(&customer, variant_id, 4);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 2);
	assert_int_equal(cancel(&customer, number), 200);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 6);
	assert_int_equal(cancel(&customer, number), 409);
	assert_int_equal(state_set(number, "cancelada"), 409);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 6);
}

static void paid_order_cancel_restores_stock(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Botas Pagadas", 9000, 3);
	json_int_t number = order_place(&guest, variant_id, 3);

	(void)state;
	assert_int_equal(state_set(number, "pagada"), 200);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 0);
	assert_int_equal(state_set(number, "cancelada"), 200);
	assert_int_equal(shop_variant_stock(&shop.node, &shop.admin, variant_id), 3);
}

static void customers_see_only_own_orders(void **state)
{
	struct shop_actor owner, other;
	uint64_t variant_id = shop_fixture_variant("Vestido Propio", 4000, 6);
	json_int_t number;
	json_t *list;
	char path[96];

	(void)state;
	customer_new(&owner, "propio");
	customer_new(&other, "ajeno");
	number = order_place(&owner, variant_id, 1);

	list = shop_call(&shop.node, &owner, "GET", "/api/v1/orders", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(list, "total")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(list, "orders"), 0), "number")),
			 number);
	json_decref(list);
	list = shop_call(&shop.node, &other, "GET", "/api/v1/orders", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(list, "total")), 0);
	assert_int_equal(json_array_size(json_object_get(list, "orders")), 0);
	json_decref(list);

	snprintf(path, sizeof(path), "/api/v1/orders/%lld", (long long)number);
	json_decref(shop_call(&shop.node, &owner, "GET", path, NULL, 200));
	json_decref(shop_call(&shop.node, &other, "GET", path, NULL, 404));
	assert_int_equal(cancel(&other, number), 404);
	assert_string_equal(order_state(number), "pendiente");
}

static void guest_sees_order_by_cart_token(void **state)
{
	struct shop_actor guest = {0}, stranger = {0};
	uint64_t variant_id = shop_fixture_variant("Bolso Invitado", 3000, 5);
	json_int_t number = order_place(&guest, variant_id, 1);
	char path[96];

	(void)state;
	json_decref(shop_cart_add(&shop.node, &stranger, variant_id, 1));
	snprintf(path, sizeof(path), "/api/v1/orders/%lld", (long long)number);
	json_decref(shop_call(&shop.node, &guest, "GET", path, NULL, 200));
	json_decref(shop_call(&shop.node, &stranger, "GET", path, NULL, 404));
	assert_int_equal(cancel(&stranger, number), 404);
	assert_int_equal(cancel(&guest, number), 200);
}

static void admin_lists_by_state_with_pages(void **state)
{
	struct shop_actor guest = {0};
	uint64_t variant_id = shop_fixture_variant("Chaleco Listado", 2000, 20);
	json_int_t numbers[5];
	json_t *page1, *page2;
	json_int_t paid_before;

	(void)state;
	page1 = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?state=pagada", NULL, 200);
	paid_before = json_integer_value(json_object_get(page1, "total"));
	json_decref(page1);
	for (int i = 0; i < 5; i++) {
		numbers[i] = order_place(&guest, variant_id, 1);
		assert_int_equal(state_set(numbers[i], "pagada"), 200);
	}
	page1 = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?state=pagada&page=1&page_size=3", NULL, 200);
	page2 = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?state=pagada&page=2&page_size=3", NULL, 200);
	assert_int_equal(json_integer_value(json_object_get(page1, "total")), paid_before + 5);
	assert_int_equal(json_array_size(json_object_get(page1, "orders")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(page1, "orders"), 0), "number")),
			 numbers[4]);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(page2, "orders"), 0), "number")),
			 numbers[1]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(page2, "orders"), 0), "state")),
			    "pagada");
	json_decref(page1);
	json_decref(page2);
	json_decref(shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?state=perdida", NULL, 400));
	json_decref(shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?page=0", NULL, 400));
	json_decref(shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/orders?page_size=101", NULL, 400));
}

static void admin_lists_customers_with_pages(void **state)
{
	struct shop_actor customers[3];
	uint64_t variant_id = shop_fixture_variant("Cartera Clientes", 2500, 10);
	json_t *all, *page;
	json_int_t total;

	(void)state;
	for (int i = 0; i < 3; i++)
		customer_new(&customers[i], "listado");
	order_place(&customers[2], variant_id, 2);
	all = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/customers?page_size=100", NULL, 200);
	total = json_integer_value(json_object_get(all, "total"));
	assert_true(total >= 3);
	assert_int_equal(json_array_size(json_object_get(all, "customers")), total);
	for (size_t i = 0; i < json_array_size(json_object_get(all, "customers")); i++) {
		json_t *customer = json_array_get(json_object_get(all, "customers"), i);

		assert_string_equal(json_string_value(json_object_get(customer, "role")), "customer");
		if ((uint64_t)json_integer_value(json_object_get(customer, "id")) == customers[2].user_id) {
			assert_int_equal(json_integer_value(json_object_get(customer, "order_count")), 1);
			assert_int_equal(json_integer_value(json_object_get(customer, "total_spent")), 5000);
		}
	}
	page = shop_call(&shop.node, &shop.admin, "GET", "/api/v1/admin/customers?page=2&page_size=1", NULL, 200);
	assert_int_equal(json_array_size(json_object_get(page, "customers")), 1);
	assert_int_equal(json_integer_value(json_object_get(page, "total")), total);
	json_decref(page);
	json_decref(all);
}

/* One row of the authorisation table: a route and the status each kind of client gets. */
struct route_case {
	const char *method;
	const char *path; /* "%lld" is replaced by the order number, "%llu" by the variant id */
	bool body;
	int anonymous, owner, other, admin;
};

static int route_status(const struct route_case *c, const struct shop_actor *actor, json_int_t number,
			uint64_t variant_id)
{
	char path[128], headers[64];
	struct http_reply reply;
	json_t *body = NULL;
	int status;

	if (strstr(c->path, "%lld") != NULL)
		snprintf(path, sizeof(path), c->path, (long long)number);
	else if (strstr(c->path, "%llu") != NULL)
		snprintf(path, sizeof(path), c->path, (unsigned long long)variant_id);
	else
		snprintf(path, sizeof(path), "%s", c->path);
	if (c->body && strstr(path, "/state") != NULL)
		body = json_pack("{s:s}", "state", "pagada");
	else if (c->body && strcmp(path, "/api/v1/orders") == 0)
		body = shop_checkout_body("matriz@example.es");
	else if (c->body)
		body = json_pack("{s:I, s:i}", "variant_id", (json_int_t)variant_id, "quantity", 1);
	snprintf(headers, sizeof(headers), "Idempotency-Key: matriz-%lld\r\n", (long long)number);
	shop_request(&shop.node, actor, c->method, path, headers, body, &reply);
	status = reply.status;
	http_reply_free(&reply);
	json_decref(body);
	return status;
}

static void every_route_checks_who_asks(void **state)
{
	/*
	 * Statuses in order: anonymous (no token, no cart), the order's owner,
	 * another customer, an administrator. The cart routes serve everyone;
	 * an empty cart has no line to change (404) and nothing to check out
	 * (422). The state change runs last, after the owner's reads.
	 */
	static const struct route_case cases[] = {
		{"GET", "/api/v1/cart", false, 200, 200, 200, 200},
		{"POST", "/api/v1/cart/lines", true, 200, 200, 200, 200},
		{"PATCH", "/api/v1/cart/lines/%llu", true, 404, 200, 200, 200},
		{"DELETE", "/api/v1/cart/lines/%llu", false, 404, 200, 200, 200},
		{"POST", "/api/v1/orders", true, 422, 422, 422, 422},
		{"GET", "/api/v1/orders", false, 401, 200, 200, 200},
		{"GET", "/api/v1/orders/%lld", false, 401, 200, 404, 404},
		{"POST", "/api/v1/orders/%lld/cancel", false, 401, 200, 404, 404},
		{"GET", "/api/v1/admin/orders", false, 401, 403, 403, 200},
		{"GET", "/api/v1/admin/orders/%lld", false, 401, 403, 403, 200},
		{"GET", "/api/v1/admin/customers", false, 401, 403, 403, 200},
		{"POST", "/api/v1/admin/orders/%lld/state", true, 401, 403, 403, 409},
	};
	struct shop_actor anonymous = {0}, owner, other;
	uint64_t variant_id = shop_fixture_variant("Gorro Matriz", 1000, 50);
	json_int_t number;

	(void)state;
	customer_new(&owner, "matriz-dueno");
	customer_new(&other, "matriz-otro");
	number = order_place(&owner, variant_id, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		const struct {
			const struct shop_actor *actor;
			int expected;
			const char *name;
		} clients[] = {
			{&anonymous, c->anonymous, "anonymous"},
			{&owner, c->owner, "owner"},
			{&other, c->other, "other customer"},
			{&shop.admin, c->admin, "admin"},
		};

		for (size_t k = 0; k < sizeof(clients) / sizeof(clients[0]); k++) {
			int status = route_status(c, clients[k].actor, number, variant_id);

			if (status != clients[k].expected)
				fail_msg("%s %s as %s: expected %d, got %d", c->method, c->path, clients[k].name,
					 clients[k].expected, status);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(order_goes_through_every_state, shop_ledger_holds),
		cmocka_unit_test_teardown(admin_state_change_audited, shop_ledger_holds),
		cmocka_unit_test_teardown(invalid_transitions_get_409, shop_ledger_holds),
		cmocka_unit_test_teardown(unknown_state_gets_400, shop_ledger_holds),
		cmocka_unit_test_teardown(cancel_restores_stock_once, shop_ledger_holds),
		cmocka_unit_test_teardown(paid_order_cancel_restores_stock, shop_ledger_holds),
		cmocka_unit_test_teardown(customers_see_only_own_orders, shop_ledger_holds),
		cmocka_unit_test_teardown(guest_sees_order_by_cart_token, shop_ledger_holds),
		cmocka_unit_test_teardown(admin_lists_by_state_with_pages, shop_ledger_holds),
		cmocka_unit_test_teardown(admin_lists_customers_with_pages, shop_ledger_holds),
		cmocka_unit_test_teardown(every_route_checks_who_asks, shop_ledger_holds),
	};

	return cmocka_run_group_tests(tests, shop_group_setup, shop_group_teardown);
}
