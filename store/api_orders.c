/*
 * HTTP side of orders: checkout, a customer's orders, cancellation, and the
 * admin order and customer listings.
 *
 * Checkout needs an Idempotency-Key header (1 to 64 characters of
 * [A-Za-z0-9_-]). The key goes into the command with the cart it checks
 * out. For a repeated key apply returns the first order, and this file
 * sends it with 200 and "Idempotent-Replayed: true" in place of 201.
 *
 * Customers read and cancel only their own orders, and a guest only the
 * orders of its cart token. To cancel, a guest must send the token in the
 * X-Cart-Token header, because a cancel has no body that would make a
 * browser preflight a cross-site request. Any other order is 404, so the
 * order numbers of others stay hidden.
 *
 * Checkout command fields: cart (cart key, also the idempotency scope),
 * user (0 for a guest), email, key (the idempotency key), address (map of
 * the shipping address strings), payment, at, and expected_total when the
 * client sent it.
 * State change fields: number, state, admin, user, guest_cart (optional), at,
 * and for an admin the audit actor's by and by_email.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/accounts.h"
#include "store/api.h"
#include "store/audit.h"
#include "store/cart.h"
#include "store/codec.h"
#include "store/orders.h"

#define CHECKOUT_BODY_MAX_BYTES (16 * 1024)
#define STATE_BODY_MAX_BYTES 1024
#define PAGE_SIZE_DEFAULT 20
#define CUSTOMERS_SCAN_MAX 100000
#define IDEMPOTENCY_HEADER "Idempotency-Key"
#define ADDRESS_FIELD_MAX_BYTES 64

static struct node *node_of(struct http_request *req)
{
	return ((struct node_worker *)req->worker_data)->node;
}

static void respond_read_failed(struct http_request *req, enum kv_err err)
{
	log_error("orders_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
	http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
}

/* Reads the Idempotency-Key header into key; responds 428 or 400 naming it if missing or malformed. */
static bool idempotency_key_read(struct http_request *req, char *key, size_t key_size)
{
	size_t len;
	const char *value = http_header_get(req, IDEMPOTENCY_HEADER, &len);
	bool valid;

	if (value == NULL) {
		http_respond_problem(req, 428, "idempotency_key_missing", IDEMPOTENCY_HEADER,
				     "Send an Idempotency-Key header with a new random value for each order.");
		return false;
	}
	valid = len >= 1 && len <= ORDERS_IDEMPOTENCY_KEY_MAX && len < key_size;
	for (size_t i = 0; valid && i < len; i++)
		valid = isalnum((unsigned char)value[i]) || value[i] == '-' || value[i] == '_';
	if (!valid) {
		http_respond_problem(req, 400, "invalid_field", IDEMPOTENCY_HEADER,
				     "The Idempotency-Key header must have 1 to %d characters of A-Z, a-z, 0-9, - and _.",
				     ORDERS_IDEMPOTENCY_KEY_MAX);
		return false;
	}
	memcpy(key, value, len);
	key[len] = '\0';
	return true;
}

/*
 * Copies the members of body's shipping_address object into a new object
 * named "shipping_address.<member>", so the field readers name the nested
 * field in their problems. Responds 400 and returns NULL if it is not an
 * object.
 */
static json_t *address_flatten(struct http_request *req, json_t *body)
{
	json_t *address = json_object_get(body, "shipping_address"), *flat, *value;
	const char *member;
	char name[ADDRESS_FIELD_MAX_BYTES];

	if (address == NULL || json_is_null(address)) {
		http_respond_problem(req, 400, "missing_field", "shipping_address", "The field %s is required.",
				     "shipping_address");
		return NULL;
	}
	if (!json_is_object(address)) {
		http_respond_problem(req, 400, "invalid_field", "shipping_address",
				     "The field shipping_address must be an object with name, street, city, postal_code, province, country and phone.");
		return NULL;
	}
	flat = json_object();
	json_object_foreach(address, member, value) {
		if (snprintf(name, sizeof(name), "shipping_address.%s", member) < (int)sizeof(name))
			json_object_set(flat, name, value);
	}
	return flat;
}

/* Spanish postal codes: five digits, the first two a province code from 01 to 52. */
static bool postal_code_valid(const char *code)
{
	int province;

	for (int i = 0; i < 5; i++) {
		if (!isdigit((unsigned char)code[i]))
			return false;
	}
	province = (code[0] - '0') * 10 + (code[1] - '0');
	return code[5] == '\0' && province >= 1 && province <= 52;
}

/* Spanish phone numbers: nine digits starting with 6, 7, 8 or 9, with an optional +34 or 0034 and spaces. */
static bool phone_valid(const char *phone)
{
	char digits[32];
	size_t len = 0;
	const char *p = phone;

	if (strncmp(p, "+34", 3) == 0)
		p += 3;
	else if (strncmp(p, "0034", 4) == 0)
		p += 4;
	for (; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		if (!isdigit((unsigned char)*p) || len == sizeof(digits) - 1)
			return false;
		digits[len++] = *p;
	}
	return len == 9 && digits[0] >= '6' && digits[0] <= '9';
}

/* Validates the shipping address of body and packs it as the command's "address" map. */
static bool address_read(struct http_request *req, json_t *body, struct rec_writer *w)
{
	static const struct {
		const char *field;
		size_t min_chars, max_chars;
	} fields[] = {
		{"name", 1, 100}, {"street", 1, 200}, {"city", 1, 100}, {"postal_code", 5, 5},
		{"province", 1, 50}, {"country", 2, 2}, {"phone", 9, 20},
	};
	const char *values[sizeof(fields) / sizeof(fields[0])];
	json_t *flat = address_flatten(req, body);
	char name[ADDRESS_FIELD_MAX_BYTES];
	bool ok = flat != NULL;

	for (size_t i = 0; ok && i < sizeof(fields) / sizeof(fields[0]); i++) {
		snprintf(name, sizeof(name), "shipping_address.%s", fields[i].field);
		ok = api_string(req, flat, name, true, fields[i].min_chars, fields[i].max_chars, false, &values[i]);
	}
	if (ok && !postal_code_valid(values[3])) {
		http_respond_problem(req, 400, "invalid_postal_code", "shipping_address.postal_code",
				     "The postal code must be a Spanish one: five digits, starting with 01 to 52.");
		ok = false;
	} else if (ok && strcmp(values[5], "ES") != 0) {
		http_respond_problem(req, 400, "invalid_country", "shipping_address.country",
				     "The shop ships only within Spain: the country must be ES.");
		ok = false;
	} else if (ok && !phone_valid(values[6])) {
		http_respond_problem(req, 400, "invalid_phone", "shipping_address.phone",
				     "The phone must be a Spanish number of nine digits, optionally after +34.");
		ok = false;
	}
	if (ok) {
		rec_put_name(w, "address");
		msgpack_pack_map(&w->pk, sizeof(fields) / sizeof(fields[0]));
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			msgpack_pack_str_with_body(&w->pk, fields[i].field, strlen(fields[i].field));
			msgpack_pack_str_with_body(&w->pk, values[i], strlen(values[i]));
		}
	}
	json_decref(flat);
	return ok;
}

static bool payment_read(struct http_request *req, json_t *body, const char **payment)
{
	if (!api_string(req, body, "payment_method", true, 1, 32, false, payment))
		return false;
	if (strcmp(*payment, "contra_entrega") == 0 || strcmp(*payment, "transferencia") == 0)
		return true;
	http_respond_problem(req, 400, "invalid_field", "payment_method",
			     "The field payment_method must be contra_entrega or transferencia.");
	return false;
}

/* The buyer's email: the account's for a customer, else the body's "email", normalised. */
static bool email_read(struct http_request *req, json_t *body, const struct api_principal *who, char *email,
		       size_t email_size)
{
	const char *given;

	if (who->user_id != 0) {
		snprintf(email, email_size, "%s", who->email);
		return true;
	}
	if (!api_string(req, body, "email", true, 3, ACCOUNTS_EMAIL_MAX, false, &given))
		return false;
	if (!accounts_email_normalise(given, email, email_size)) {
		http_respond_problem(req, 400, "invalid_email", "email",
				     "Invalid email address: expected a form like nombre@dominio.es.");
		return false;
	}
	return true;
}

/* Sends a checkout's order: 201 with its Location, or 200 for a repeated idempotency key. */
static void checkout_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	char headers[256];
	bool replayed;
	json_int_t number;
	json_t *body = api_result_json(req, err, index, result);

	if (body == NULL)
		return;
	replayed = json_is_true(json_object_get(body, "replayed"));
	json_object_del(body, "replayed");
	number = json_integer_value(json_object_get(json_object_get(body, "order"), "number"));
	snprintf(headers, sizeof(headers),
		 "Location: /api/v1/orders/%lld\r\n%sCache-Control: no-store\r\nX-Jkd-Applied-Index: %llu\r\n",
		 (long long)number, replayed ? "Idempotent-Replayed: true\r\n" : "", (unsigned long long)index);
	if (!replayed)
		log_info("order_created", "rid=%s order=%lld", req->request_id, (long long)number);
	http_respond_json(req, replayed ? 200 : 201, body, headers);
}

/* Reads everything a checkout needs besides the cart and packs the command into w. */
static bool checkout_fields(struct http_request *req, json_t *body, const struct api_principal *who,
			    const char *key, struct rec_writer *w)
{
	char email[sizeof(who->email)];
	const char *payment;
	int64_t expected_total = -1;

	if (!email_read(req, body, who, email, sizeof(email)) || !payment_read(req, body, &payment) ||
	    !api_integer(req, body, "expected_total", false, 0, INT64_MAX, &expected_total))
		return false;
	rec_put_u64(w, "user", who->user_id);
	rec_put_cstr(w, "email", email);
	rec_put_cstr(w, "key", key);
	rec_put_cstr(w, "payment", payment);
	rec_put_u64(w, "at", api_now_ms());
	if (expected_total >= 0)
		rec_put_i64(w, "expected_total", expected_total);
	else
		rec_put_cstr(w, "expected_total", NULL);
	return address_read(req, body, w);
}

static void handle_checkout(struct http_request *req)
{
	char key[ORDERS_IDEMPOTENCY_KEY_MAX + 1];
	unsigned char hash[32];
	struct api_principal who;
	struct cart_key cart;
	struct rec_writer w;
	struct buf command;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ANONYMOUS, &who) || !idempotency_key_read(req, key, sizeof(key)) ||
	    (body = api_json_body(req)) == NULL)
		return;
	if (who.user_id != 0) {
		cart_key_user(&cart, who.user_id);
	} else if (cart_token_hash(req, false, hash)) {
		cart_key_guest(&cart, hash);
	} else {
		http_respond_problem(req, 422, "cart_empty", "cart", "The cart is empty. Add products before checking out.");
		json_decref(body);
		return;
	}
	buf_init(&command, CHECKOUT_BODY_MAX_BYTES);
	rec_begin(&w, &command, ORDERS_CHECKOUT, 1, 8);
	rec_put_bin(&w, "cart", cart.bytes, cart.len);
	if (checkout_fields(req, body, &who, key, &w)) {
		if (rec_end(&w) != 0)
			command.failed = true;
		api_propose(req, &command, 201, checkout_done);
	}
	buf_free(&command);
	json_decref(body);
}

/* Reads ?page= and ?page_size=; responds 400 naming the parameter if one is invalid. */
static bool page_read(struct http_request *req, unsigned *page, unsigned *page_size)
{
	const struct {
		const char *name;
		unsigned max, fallback;
		unsigned *out;
	} params[] = {
		{"page", ORDERS_PAGE_MAX, 1, page},
		{"page_size", ORDERS_PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT, page_size},
	};

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		char text[16], *end;
		int len = http_query_get(req, params[i].name, text, sizeof(text));
		unsigned long value = len > 0 ? strtoul(text, &end, 10) : 0;

		*params[i].out = params[i].fallback;
		if (len == -1)
			continue;
		if (len <= 0 || *end != '\0' || !isdigit((unsigned char)text[0]) || value < 1 || value > params[i].max) {
			http_respond_problem(req, 400, "invalid_field", params[i].name,
					     "The parameter %s must be a whole number from 1 to %u.", params[i].name,
					     params[i].max);
			return false;
		}
		*params[i].out = (unsigned)value;
	}
	return true;
}

static void respond_list(struct http_request *req, uint64_t user_id, enum order_state state)
{
	struct node *node = node_of(req);
	unsigned page, page_size;
	struct kv_txn *txn;
	json_t *list = NULL;
	enum kv_err err;

	if (!page_read(req, &page, &page_size))
		return;
	err = kv_read_begin(node->env, &txn);
	if (err == KV_OK) {
		err = orders_list(&node->store, txn, user_id, state, page, page_size, &list);
		kv_read_end(txn);
	}
	if (err != KV_OK) {
		respond_read_failed(req, err);
		return;
	}
	http_respond_json(req, 200, list, "Cache-Control: no-store\r\n");
}

static void handle_orders_list(struct http_request *req)
{
	struct api_principal who;

	if (api_authenticate(req, API_ROLE_CUSTOMER, &who))
		respond_list(req, who.user_id, 0);
}

/*
 * Finds who may see orders through the customer routes: the account, else
 * the guest of the cart token. Responds 401 and returns false if neither.
 */
static bool viewer_read(struct http_request *req, bool token_from_header_only, struct order_viewer *viewer)
{
	struct api_principal who;

	memset(viewer, 0, sizeof(*viewer));
	if (!api_authenticate(req, API_ROLE_ANONYMOUS, &who))
		return false;
	viewer->user_id = who.user_id;
	if (who.user_id != 0)
		return true;
	viewer->has_guest_cart = cart_token_hash(req, token_from_header_only, viewer->guest_cart);
	if (viewer->has_guest_cart)
		return true;
	http_respond_problem_headers(req, 401, "WWW-Authenticate: Bearer realm=\"jkd\"\r\n", "unauthorized", NULL,
				     "Log in, or send the X-Cart-Token of the cart that placed the order.");
	return false;
}

static void respond_order(struct http_request *req, const struct order_viewer *viewer)
{
	struct node *node = node_of(req);
	struct kv_txn *txn;
	uint64_t number;
	json_t *order = NULL;
	enum kv_err err;

	if (!api_path_id(req, "number", &number))
		return;
	err = kv_read_begin(node->env, &txn);
	if (err == KV_OK) {
		err = orders_get_json(&node->store, txn, number, viewer, &order);
		kv_read_end(txn);
	}
	if (err == KV_NOT_FOUND) {
		http_respond_problem(req, 404, "order_not_found", "number",
				     "No order has this number. Check the number in your order list.");
		return;
	}
	if (err != KV_OK) {
		respond_read_failed(req, err);
		return;
	}
	http_respond_json(req, 200, json_pack("{s:o}", "order", order), "Cache-Control: no-store\r\n");
}

static void handle_order_get(struct http_request *req)
{
	struct order_viewer viewer;

	if (viewer_read(req, false, &viewer))
		respond_order(req, &viewer);
}

/* Proposes a state change; admin_email is set for an admin, whose change goes to the audit log. */
static void propose_state_change(struct http_request *req, const struct order_viewer *actor,
				 const char *admin_email, enum order_state state)
{
	struct rec_writer w;
	struct buf command;
	uint64_t number;
	uint32_t fields = 5 + (actor->has_guest_cart ? 1 : 0) + (admin_email != NULL ? AUDIT_ACTOR_FIELDS - 1 : 0);

	if (!api_path_id(req, "number", &number))
		return;
	buf_init(&command, 1024);
	rec_begin(&w, &command, ORDERS_STATE_CHANGE, 1, fields);
	rec_put_u64(&w, "number", number);
	rec_put_cstr(&w, "state", order_state_name(state));
	rec_put_bool(&w, "admin", actor->admin);
	rec_put_u64(&w, "user", actor->user_id);
	if (actor->has_guest_cart)
		rec_put_bin(&w, "guest_cart", actor->guest_cart, sizeof(actor->guest_cart));
	if (admin_email != NULL)
		audit_actor_pack(&w, actor->user_id, admin_email, api_now_ms());
	else
		rec_put_u64(&w, "at", api_now_ms());
	if (rec_end(&w) != 0)
		command.failed = true;
	api_propose(req, &command, 200, NULL);
	buf_free(&command);
}

static void handle_order_cancel(struct http_request *req)
{
	struct order_viewer viewer;

	if (viewer_read(req, true, &viewer))
		propose_state_change(req, &viewer, NULL, ORDER_CANCELADA);
}

static void handle_admin_orders(struct http_request *req)
{
	struct api_principal who;
	enum order_state state = 0;
	char name[16];
	int len;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who))
		return;
	len = http_query_get(req, "state", name, sizeof(name));
	if (len != -1 && (len < 0 || (state = order_state_parse(name)) == 0)) {
		http_respond_problem(req, 400, "invalid_field", "state",
				     "The parameter state must be pendiente, pagada, enviada, entregada or cancelada.");
		return;
	}
	respond_list(req, 0, state);
}

static void handle_admin_order_get(struct http_request *req)
{
	struct api_principal who;
	struct order_viewer viewer = {.admin = true};

	if (api_authenticate(req, API_ROLE_ADMIN, &who))
		respond_order(req, &viewer);
}

static void handle_admin_order_state(struct http_request *req)
{
	struct api_principal who;
	struct order_viewer actor = {.admin = true};
	enum order_state state;
	const char *name;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || (body = api_json_body(req)) == NULL)
		return;
	actor.user_id = who.user_id;
	if (api_string(req, body, "state", true, 1, 16, false, &name)) {
		state = order_state_parse(name);
		if (state != 0)
			propose_state_change(req, &actor, who.email, state);
		else
			http_respond_problem(req, 400, "invalid_field", "state",
					     "The field state must be pendiente, pagada, enviada, entregada or cancelada.");
	}
	json_decref(body);
}

/* Appends the JSON of customer user, with its order statistics, to customers. */
static enum kv_err customer_append(struct store *store, struct kv_txn *txn, const struct accounts_user *user,
				   json_t *customers)
{
	uint64_t count;
	int64_t spent;
	json_t *json;
	enum kv_err err = orders_customer_stats(store, txn, user->id, &count, &spent);

	if (err != KV_OK)
		return err;
	json = accounts_user_json(user);
	json_object_set_new(json, "created_at", json_integer((json_int_t)user->created_at_ms));
	json_object_set_new(json, "order_count", json_integer((json_int_t)count));
	json_object_set_new(json, "total_spent", json_integer(spent));
	return json_array_append_new(customers, json) == 0 ? KV_OK : KV_NO_MEMORY;
}

/*
 * Lists one page of customer accounts in id order and counts them all.
 * NOTE: accounts keeps no count of customers, so the count walks the users
 * table, up to CUSTOMERS_SCAN_MAX records. Past that, "total" is a lower
 * bound and "total_exact" is false.
 */
static enum kv_err customers_page(struct store *store, struct kv_txn *txn, unsigned page, unsigned page_size,
				  json_t *customers, uint64_t *total, bool *exact)
{
	size_t skip = (size_t)(page - 1) * page_size, scanned = 0;
	struct accounts_user user;
	struct kv_cursor *cursor;
	struct kv_val key, val;
	enum kv_err err = kv_scan_begin(txn, store->users, NULL, 0, NULL, 0, &cursor);

	*total = 0;
	while (err == KV_OK && scanned < CUSTOMERS_SCAN_MAX && (err = kv_scan_next(cursor, &key, &val)) == KV_OK) {
		scanned++;
		if (key.len != 8)
			continue;
		err = accounts_user_get(store, txn, key_get_u64(key.data), &user);
		if (err != KV_OK || user.role != ACCOUNTS_ROLE_CUSTOMER)
			continue;
		if (*total >= skip && *total < skip + page_size)
			err = customer_append(store, txn, &user, customers);
		++*total;
	}
	*exact = scanned < CUSTOMERS_SCAN_MAX;
	kv_scan_end(cursor);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

static void handle_admin_customers(struct http_request *req)
{
	struct node *node = node_of(req);
	struct api_principal who;
	unsigned page, page_size;
	struct kv_txn *txn;
	uint64_t total = 0;
	bool exact = true;
	json_t *customers;
	enum kv_err err;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !page_read(req, &page, &page_size))
		return;
	customers = json_array();
	err = customers == NULL ? KV_NO_MEMORY : kv_read_begin(node->env, &txn);
	if (err == KV_OK) {
		err = customers_page(&node->store, txn, page, page_size, customers, &total, &exact);
		kv_read_end(txn);
	}
	if (err != KV_OK) {
		json_decref(customers);
		respond_read_failed(req, err);
		return;
	}
	http_respond_json(req, 200,
			  json_pack("{s:o, s:I, s:I, s:I, s:b}", "customers", customers, "page", (json_int_t)page,
				    "page_size", (json_int_t)page_size, "total", (json_int_t)total, "total_exact", exact),
			  "Cache-Control: no-store\r\n");
}

int orders_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_POST, "/api/v1/orders", handle_checkout, node, CHECKOUT_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/orders", handle_orders_list, node, 0},
		{HTTP_METHOD_GET, "/api/v1/orders/{number}", handle_order_get, node, 0},
		{HTTP_METHOD_POST, "/api/v1/orders/{number}/cancel", handle_order_cancel, node, STATE_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/admin/orders", handle_admin_orders, node, 0},
		{HTTP_METHOD_GET, "/api/v1/admin/orders/{number}", handle_admin_order_get, node, 0},
		{HTTP_METHOD_POST, "/api/v1/admin/orders/{number}/state", handle_admin_order_state, node,
		 STATE_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/admin/customers", handle_admin_customers, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
