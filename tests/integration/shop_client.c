/* Shop client for integration tests; see shop_client.h. */
#include "tests/integration/shop_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PASSWORD "contraseña-segura-1"
#define HEADERS_MAX 2048
#define LEDGER_PAGE_SIZE 100

void shop_start(struct jkd_node *node)
{
	static const char *const flags[] = {"--auth-hash-memory-mb", "8", "--auth-login-address-attempts", "100000",
					    NULL};

	jkd_start(node, false, flags);
}

static void headers_build(char *out, size_t out_size, const struct shop_actor *actor, const char *extra,
			  bool with_body)
{
	int len = snprintf(out, out_size, "%s%s", with_body ? "Content-Type: application/json\r\n" : "",
			   extra != NULL ? extra : "");

	if (actor != NULL && actor->token[0] != '\0')
		len += snprintf(out + len, out_size - (size_t)len, "Authorization: Bearer %s\r\n", actor->token);
	if (actor != NULL && actor->cart_token[0] != '\0')
		len += snprintf(out + len, out_size - (size_t)len, "X-Cart-Token: %s\r\n", actor->cart_token);
	assert_true((size_t)len < out_size);
}

void shop_request(struct jkd_node *node, const struct shop_actor *actor, const char *method, const char *path,
		  const char *extra_headers, const json_t *body, struct http_reply *reply)
{
	char headers[HEADERS_MAX];
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	headers_build(headers, sizeof(headers), actor, extra_headers, body != NULL);
	http_request(node->port, method, path, headers, text, text != NULL ? strlen(text) : 0, reply);
	free(text);
}

json_t *shop_reply_json(const struct http_reply *reply)
{
	json_error_t error;
	json_t *json = json_loadb(reply->body, reply->body_len, 0, &error);

	if (json == NULL)
		fail_msg("status %d, body is not JSON (%s): %s", reply->status, error.text, reply->body);
	return json;
}

json_t *shop_call(struct jkd_node *node, const struct shop_actor *actor, const char *method, const char *path,
		  const json_t *body, int expected_status)
{
	struct http_reply reply;
	json_t *json;

	shop_request(node, actor, method, path, NULL, body, &reply);
	if (reply.status != expected_status)
		fail_msg("%s %s: expected %d, got %d: %s", method, path, expected_status, reply.status, reply.body);
	json = reply.body_len > 0 ? shop_reply_json(&reply) : json_object();
	http_reply_free(&reply);
	return json;
}

const char *shop_email(char *out, size_t out_size, const char *prefix)
{
	static atomic_uint counter;

	snprintf(out, out_size, "%s-%u@example.es", prefix, atomic_fetch_add(&counter, 1));
	return out;
}

/* Keeps the session token and user id of a login or registration reply. */
static void session_keep(json_t *reply, struct shop_actor *out)
{
	const char *token = json_string_value(json_object_get(reply, "token"));

	assert_non_null(token);
	snprintf(out->token, sizeof(out->token), "%s", token);
	out->user_id = (uint64_t)json_integer_value(json_object_get(json_object_get(reply, "user"), "id"));
	assert_true(out->user_id > 0);
}

void shop_admin(struct jkd_node *node, const char *email, struct shop_actor *out)
{
	struct http_reply reply;
	char *text;
	json_t *body = json_pack("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "name", "Admin Pruebas");

	text = json_dumps(body, JSON_COMPACT);
	http_operator(node, "POST", "/ops/v1/admins", "Content-Type: application/json\r\n", text, strlen(text), &reply);
	if (reply.status != 201)
		fail_msg("creating admin %s: expected 201, got %d: %s", email, reply.status, reply.body);
	http_reply_free(&reply);
	free(text);
	json_decref(body);
	memset(out, 0, sizeof(*out));
	shop_login(node, email, out);
}

void shop_register(struct jkd_node *node, const char *email, struct shop_actor *out)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "name", "Cliente Pruebas");
	json_t *reply = shop_call(node, out, "POST", "/api/v1/auth/register", body, 201);

	session_keep(reply, out);
	json_decref(reply);
	json_decref(body);
}

void shop_login(struct jkd_node *node, const char *email, struct shop_actor *out)
{
	json_t *body = json_pack("{s:s, s:s}", "email", email, "password", PASSWORD);
	json_t *reply = shop_call(node, out, "POST", "/api/v1/auth/login", body, 200);

	session_keep(reply, out);
	json_decref(reply);
	json_decref(body);
}

void shop_logout(struct jkd_node *node, struct shop_actor *actor)
{
	struct http_reply reply;

	shop_request(node, actor, "POST", "/api/v1/auth/logout", NULL, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	actor->token[0] = '\0';
}

json_t *shop_cart_add(struct jkd_node *node, struct shop_actor *actor, uint64_t variant_id, int64_t quantity)
{
	json_t *body = json_pack("{s:I, s:I}", "variant_id", (json_int_t)variant_id, "quantity", (json_int_t)quantity);
	json_t *reply = shop_call(node, actor, "POST", "/api/v1/cart/lines", body, 200);
	const char *token = json_string_value(json_object_get(reply, "cart_token"));

	if (token != NULL)
		snprintf(actor->cart_token, sizeof(actor->cart_token), "%s", token);
	json_decref(body);
	return reply;
}

json_t *shop_checkout_body(const char *guest_email)
{
	json_t *body = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:s}", "shipping_address", "name",
				 "Lucía Martín", "street", "Calle Mayor 12, 3º B", "city", "Valladolid", "postal_code",
				 "47001", "province", "Valladolid", "country", "ES", "phone", "+34 612 345 678",
				 "payment_method", "contra_entrega");

	if (guest_email != NULL)
		json_object_set_new(body, "email", json_string(guest_email));
	return body;
}

void shop_checkout(struct jkd_node *node, const struct shop_actor *actor, const char *idempotency_key,
		   const json_t *body, struct http_reply *reply)
{
	char headers[128];

	snprintf(headers, sizeof(headers), "Idempotency-Key: %s\r\n", idempotency_key);
	shop_request(node, actor, "POST", "/api/v1/orders", headers, body, reply);
}

void shop_ledger_add(struct shop_ledger *ledger, uint64_t variant_id, int64_t units)
{
	for (size_t i = 0; i < ledger->count; i++) {
		if (ledger->variant_ids[i] == variant_id) {
			ledger->expected[i] += units;
			return;
		}
	}
	assert_true(ledger->count < SHOP_LEDGER_MAX);
	ledger->variant_ids[ledger->count] = variant_id;
	ledger->expected[ledger->count++] = units;
}

void shop_ledger_remove(struct shop_ledger *ledger, uint64_t variant_id)
{
	for (size_t i = 0; i < ledger->count; i++) {
		if (ledger->variant_ids[i] != variant_id)
			continue;
		ledger->count--;
		ledger->variant_ids[i] = ledger->variant_ids[ledger->count];
		ledger->expected[i] = ledger->expected[ledger->count];
		return;
	}
}

/* Adds the units of order number's lines to ordered[], by ledger entry. */
static void order_units_add(struct jkd_node *node, const struct shop_actor *admin, json_int_t number,
			    const struct shop_ledger *ledger, int64_t *ordered)
{
	char path[128];
	json_t *reply, *line;
	size_t i;

	snprintf(path, sizeof(path), "/api/v1/admin/orders/%lld", (long long)number);
	reply = shop_call(node, admin, "GET", path, NULL, 200);
	json_array_foreach(json_object_get(json_object_get(reply, "order"), "lines"), i, line) {
		uint64_t variant_id = (uint64_t)json_integer_value(json_object_get(line, "variant_id"));

		for (size_t k = 0; k < ledger->count; k++) {
			if (ledger->variant_ids[k] == variant_id)
				ordered[k] += json_integer_value(json_object_get(line, "quantity"));
		}
	}
	json_decref(reply);
}

/* Sums, per ledger entry, the units in orders that are not cancelled. */
static void ordered_units(struct jkd_node *node, const struct shop_actor *admin, const struct shop_ledger *ledger,
			  int64_t *ordered)
{
	char path[128];
	json_int_t total;
	unsigned page = 1;

	do {
		json_t *reply, *order;
		size_t i;

		snprintf(path, sizeof(path), "/api/v1/admin/orders?page=%u&page_size=%d", page, LEDGER_PAGE_SIZE);
		reply = shop_call(node, admin, "GET", path, NULL, 200);
		total = json_integer_value(json_object_get(reply, "total"));
		json_array_foreach(json_object_get(reply, "orders"), i, order) {
			if (strcmp(json_string_value(json_object_get(order, "state")), "cancelada") != 0)
				order_units_add(node, admin, json_integer_value(json_object_get(order, "number")), ledger,
						ordered);
		}
		json_decref(reply);
	} while ((json_int_t)page++ * LEDGER_PAGE_SIZE < total && page <= 100);
}

void shop_ledger_check(struct jkd_node *node, const struct shop_actor *admin, const struct shop_ledger *ledger)
{
	int64_t ordered[SHOP_LEDGER_MAX] = {0};

	ordered_units(node, admin, ledger, ordered);
	for (size_t i = 0; i < ledger->count; i++) {
		int64_t stock = shop_variant_stock(node, admin, ledger->variant_ids[i]);

		if (stock < 0)
			fail_msg("variant %llu: negative stock %lld", (unsigned long long)ledger->variant_ids[i],
				 (long long)stock);
		if (stock + ordered[i] != ledger->expected[i])
			fail_msg("variant %llu: stock %lld + ordered %lld != first stock and adjustments %lld",
				 (unsigned long long)ledger->variant_ids[i], (long long)stock, (long long)ordered[i],
				 (long long)ledger->expected[i]);
	}
}

uint64_t shop_variant_create(struct jkd_node *node, const struct shop_actor *admin, const char *name,
			     int64_t price_minor, int64_t stock)
{
	static atomic_uint sequence;
	unsigned n = atomic_fetch_add(&sequence, 1);
	char slug[64], sku[64], path[96];
	json_t *body, *reply;
	json_int_t product_id, variant_id;

	snprintf(slug, sizeof(slug), "producto-prueba-%u", n);
	snprintf(sku, sizeof(sku), "PRUEBA-%u", n);
	body = json_pack("{s:s, s:s, s:s, s:s, s:b}", "slug", slug, "name", name, "gender", "unisex", "type", "ropa",
			 "active", 1);
	reply = shop_call(node, admin, "POST", "/api/v1/admin/products", body, 201);
	product_id = json_integer_value(json_object_get(reply, "id"));
	assert_true(product_id > 0);
	json_decref(reply);
	json_decref(body);

	snprintf(path, sizeof(path), "/api/v1/admin/products/%lld/variants", (long long)product_id);
	body = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sku", sku, "talla", "M", "color", "Azul", "price",
			 (json_int_t)price_minor, "stock", (json_int_t)stock);
	reply = shop_call(node, admin, "POST", path, body, 201);
	variant_id = json_integer_value(json_object_get(reply, "id"));
	assert_true(variant_id > 0);
	json_decref(reply);
	json_decref(body);
	return (uint64_t)variant_id;
}

/* Reads the admin JSON of a variant (caller frees). */
static json_t *variant_read(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
	return shop_call(node, admin, "GET", path, NULL, 200);
}

int64_t shop_variant_stock(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id)
{
	json_t *variant = variant_read(node, admin, variant_id);
	int64_t stock = json_integer_value(json_object_get(variant, "stock"));

	json_decref(variant);
	return stock;
}

void shop_stock_adjust(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id, int64_t delta)
{
	char path[96];
	json_t *body = json_pack("{s:I}", "delta", (json_int_t)delta);

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu/stock", (unsigned long long)variant_id);
	json_decref(shop_call(node, admin, "POST", path, body, 200));
	json_decref(body);
}

/* Reads the resource at path for its version, then sends body as a PATCH guarded by that version. */
static void patch_at_current_version(struct jkd_node *node, const struct shop_actor *admin, const char *path,
				     const json_t *body)
{
	struct http_reply reply;
	char if_match[64];
	json_t *current = shop_call(node, admin, "GET", path, NULL, 200);

	snprintf(if_match, sizeof(if_match), "If-Match: \"%lld\"\r\n",
		 (long long)json_integer_value(json_object_get(current, "version")));
	shop_request(node, admin, "PATCH", path, if_match, body, &reply);
	if (reply.status != 200)
		fail_msg("PATCH %s: expected 200, got %d: %s", path, reply.status, reply.body);
	http_reply_free(&reply);
	json_decref(current);
}

void shop_price_set(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id, int64_t price_minor)
{
	char path[96];
	json_t *body = json_pack("{s:I}", "price", (json_int_t)price_minor);

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
	patch_at_current_version(node, admin, path, body);
	json_decref(body);
}

struct shop_fixture shop;

int shop_group_setup(void **state)
{
	char email[128];

	(void)state;
	memset(&shop, 0, sizeof(shop));
	shop_start(&shop.node);
	shop_admin(&shop.node, shop_email(email, sizeof(email), "admin"), &shop.admin);
	return 0;
}

int shop_group_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&shop.node), 0);
	jkd_cleanup(&shop.node);
	return 0;
}

int shop_ledger_holds(void **state)
{
	(void)state;
	shop_ledger_check(&shop.node, &shop.admin, &shop.ledger);
	return 0;
}

uint64_t shop_fixture_variant(const char *name, int64_t price_minor, int64_t stock)
{
	uint64_t variant_id = shop_variant_create(&shop.node, &shop.admin, name, price_minor, stock);

	shop_ledger_add(&shop.ledger, variant_id, stock);
	return variant_id;
}

void shop_product_active_set(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id,
			     bool active)
{
	char path[96];
	json_t *variant = variant_read(node, admin, variant_id);
	json_t *body = json_pack("{s:b}", "active", active);

	snprintf(path, sizeof(path), "/api/v1/admin/products/%lld",
		 (long long)json_integer_value(json_object_get(variant, "product_id")));
	patch_at_current_version(node, admin, path, body);
	json_decref(body);
	json_decref(variant);
}

void shop_variant_delete(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/admin/variants/%llu", (unsigned long long)variant_id);
	json_decref(shop_call(node, admin, "DELETE", path, NULL, 204));
}

/* Worker of a race: waits for the others, checks out once and keeps the result. */
static void *race_checkout(void *arg)
{
	struct shop_race_client *client = arg;
	json_t *body = shop_checkout_body("carrera@example.es");
	struct http_reply reply;
	const char *type;
	json_t *json;

	pthread_barrier_wait(client->start);
	shop_checkout(client->node != NULL ? client->node : &shop.node, &client->guest, client->idempotency_key, body,
		      &reply);
	client->status = reply.status;
	json = json_loadb(reply.body, reply.body_len, 0, NULL);
	type = json_string_value(json_object_get(json, "type"));
	snprintf(client->type, sizeof(client->type), "%s", type != NULL ? type : "");
	client->order_number = json_integer_value(json_object_get(json_object_get(json, "order"), "number"));
	json_decref(json);
	http_reply_free(&reply);
	json_decref(body);
	return NULL;
}

void shop_race_run(struct shop_race_client *clients, size_t count)
{
	pthread_t threads[SHOP_RACE_CLIENTS_MAX];
	pthread_barrier_t start;

	assert_true(count >= 1 && count <= SHOP_RACE_CLIENTS_MAX);
	assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)count), 0);
	for (size_t i = 0; i < count; i++) {
		clients[i].start = &start;
		assert_int_equal(pthread_create(&threads[i], NULL, race_checkout, &clients[i]), 0);
	}
	for (size_t i = 0; i < count; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
}
