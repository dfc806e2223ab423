/*
 * Apply functions of the orders commands and the order readers; see
 * orders.h. The HTTP side is in api_orders.c.
 *
 * An order record's body mirrors the order's JSON, so apply builds the
 * order as JSON and stores it packed as msgpack, and readers turn it back
 * into JSON without a field-by-field codec. jansson keeps object members in
 * insertion order, so the same command packs to the same bytes on every
 * replica.
 */
#include "store/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/i18n.h"
#include "store/audit.h"
#include "store/cart.h"
#include "store/catalog.h"
#include "store/codec.h"

#define SCHEMA_VERSION 1
#define ORDER_RECORD_MAX_BYTES (1024 * 1024)
#define JSON_DEPTH_MAX 8
#define INDEX_KEY_MAX_BYTES (2 + CART_KEY_MAX_BYTES + ORDERS_IDEMPOTENCY_KEY_MAX)

static const char *const state_names[] = {
	[ORDER_PENDIENTE] = "pendiente",
	[ORDER_PAGADA] = "pagada",
	[ORDER_ENVIADA] = "enviada",
	[ORDER_ENTREGADA] = "entregada",
	[ORDER_CANCELADA] = "cancelada",
};

const char *order_state_name(enum order_state state)
{
	if (state < ORDER_PENDIENTE || state > ORDER_CANCELADA)
		return NULL;
	return state_names[state];
}

enum order_state order_state_parse(const char *name)
{
	for (int s = ORDER_PENDIENTE; name != NULL && s <= ORDER_CANCELADA; s++) {
		if (strcmp(name, state_names[s]) == 0)
			return (enum order_state)s;
	}
	return 0;
}

bool order_transition_allowed(enum order_state from, enum order_state to)
{
	switch (to) {
	case ORDER_PAGADA:
		return from == ORDER_PENDIENTE;
	case ORDER_ENVIADA:
		return from == ORDER_PAGADA;
	case ORDER_ENTREGADA:
		return from == ORDER_ENVIADA;
	case ORDER_CANCELADA:
		return from == ORDER_PENDIENTE || from == ORDER_PAGADA;
	default:
		return false;
	}
}

/* Packs a JSON value as msgpack: objects become maps, integers int64. */
static void json_pack_msgpack(msgpack_packer *pk, const json_t *value, int depth)
{
	const char *key;
	json_t *member;
	size_t i;

	if (depth > JSON_DEPTH_MAX) {
		msgpack_pack_nil(pk);
		return;
	}
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, (uint32_t)json_object_size(value));
		json_object_foreach((json_t *)value, key, member) {
			msgpack_pack_str_with_body(pk, key, strlen(key));
			json_pack_msgpack(pk, member, depth + 1);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, (uint32_t)json_array_size(value));
		json_array_foreach(value, i, member)
			json_pack_msgpack(pk, member, depth + 1);
		break;
	case JSON_STRING:
		msgpack_pack_str_with_body(pk, json_string_value(value), json_string_length(value));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(value));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

/* Turns a msgpack object back into JSON; returns NULL on a type JSON lacks or invalid UTF-8. */
static json_t *json_from_msgpack(const msgpack_object *o, int depth)
{
	json_t *out = NULL;

	if (depth > JSON_DEPTH_MAX)
		return NULL;
	switch (o->type) {
	case MSGPACK_OBJECT_MAP:
		out = json_object();
		for (uint32_t i = 0; out != NULL && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			json_t *value = json_from_msgpack(&kv->val, depth + 1);

			if (kv->key.type != MSGPACK_OBJECT_STR || value == NULL ||
			    json_object_setn_new(out, kv->key.via.str.ptr, kv->key.via.str.size, value) != 0) {
				json_decref(value);
				json_decref(out);
				out = NULL;
			}
		}
		return out;
	case MSGPACK_OBJECT_ARRAY:
		out = json_array();
		for (uint32_t i = 0; out != NULL && i < o->via.array.size; i++) {
			if (json_array_append_new(out, json_from_msgpack(&o->via.array.ptr[i], depth + 1)) != 0) {
				json_decref(out);
				out = NULL;
			}
		}
		return out;
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 <= INT64_MAX ? json_integer((json_int_t)o->via.u64) : NULL;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_NIL:
		return json_null();
	default:
		return NULL;
	}
}

static void number_key(unsigned char *out, uint64_t number)
{
	key_put_u64(out, number);
}

static enum kv_err order_put(struct store *store, struct kv_txn *txn, uint64_t number, const json_t *order)
{
	unsigned char key[8];
	msgpack_packer pk;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, ORDER_RECORD_MAX_BYTES);
	msgpack_packer_init(&pk, &value, codec_buf_write);
	kv_record_begin(&pk, STORE_RECORD_ORDER, SCHEMA_VERSION);
	json_pack_msgpack(&pk, order, 0);
	number_key(key, number);
	if (!value.failed)
		err = kv_put(txn, store->orders, key, sizeof(key), value.data, value.len);
	buf_free(&value);
	return err;
}

/* Reads order number with its internal members into *out (new reference). */
static enum kv_err order_load(struct store *store, struct kv_txn *txn, uint64_t number, json_t **out)
{
	unsigned char key[8];
	struct kv_val val;
	struct rec r;
	enum kv_err err;

	*out = NULL;
	number_key(key, number);
	err = kv_get(txn, store->orders, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	err = rec_decode(&r, val.data, val.len, STORE_RECORD_ORDER);
	if (err == KV_OK)
		*out = json_from_msgpack(r.body, 0);
	rec_free(&r);
	if (err == KV_OK && *out == NULL)
		err = KV_BAD_RECORD;
	return err;
}

/* Removes the internal members (names starting with '_') of an order, leaving its public JSON. */
static json_t *order_public(json_t *order)
{
	const char *key;
	json_t *value;
	void *tmp;

	json_object_foreach_safe(order, tmp, key, value) {
		if (key[0] == '_')
			json_object_del(order, key);
	}
	return order;
}

static void hex_encode(char *out, const unsigned char *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static bool order_visible(json_t *order, const struct order_viewer *viewer)
{
	json_t *customer = json_object_get(order, "customer");
	json_int_t user_id = json_integer_value(json_object_get(customer, "user_id"));
	const char *guest_cart = json_string_value(json_object_get(order, "_guest_cart"));
	char hex[65];

	if (viewer->admin)
		return true;
	if (viewer->user_id != 0)
		return user_id > 0 && (uint64_t)user_id == viewer->user_id;
	if (!viewer->has_guest_cart || guest_cart == NULL)
		return false;
	hex_encode(hex, viewer->guest_cart, sizeof(viewer->guest_cart));
	return strcmp(hex, guest_cart) == 0;
}

enum kv_err orders_get_json(struct store *store, struct kv_txn *txn, uint64_t number,
			    const struct order_viewer *viewer, json_t **out)
{
	enum kv_err err = order_load(store, txn, number, out);

	if (err != KV_OK)
		return err;
	if (!order_visible(*out, viewer)) {
		json_decref(*out);
		*out = NULL;
		return KV_NOT_FOUND;
	}
	order_public(*out);
	return KV_OK;
}

/* Index key helpers; see the layout in orders.h. */
static size_t index_key_list(unsigned char *out, char kind, uint64_t owner, uint64_t number)
{
	size_t len = 0;

	out[len++] = (unsigned char)kind;
	if (kind == 's')
		out[len++] = (unsigned char)owner;
	if (kind == 'u') {
		key_put_u64(out + len, owner);
		len += 8;
	}
	key_put_u64(out + len, UINT64_MAX - number);
	return len + 8;
}

static size_t index_key_idempotency(unsigned char *out, const struct cart_key *scope, const char *key,
				    size_t key_len)
{
	out[0] = 'i';
	memcpy(out + 1, scope->bytes, scope->len);
	memcpy(out + 1 + scope->len, key, key_len);
	return 1 + scope->len + key_len;
}

/* Reads an 8-byte big-endian value of orders_index, 0 if absent. */
static enum kv_err index_u64_get(struct store *store, struct kv_txn *txn, const unsigned char *key, size_t key_len,
				 size_t offset, uint64_t *out)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, store->orders_index, key, key_len, &val);

	*out = 0;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (val.len < offset + 8)
		return KV_BAD_RECORD;
	*out = key_get_u64((const unsigned char *)val.data + offset);
	return KV_OK;
}

/* Adds delta to the count of orders in state (0: all orders). */
static enum kv_err state_count_add(struct store *store, struct kv_txn *txn, unsigned state, int64_t delta)
{
	unsigned char key[2] = {'n', (unsigned char)state}, value[8];
	uint64_t count;
	enum kv_err err = index_u64_get(store, txn, key, sizeof(key), 0, &count);

	if (err != KV_OK)
		return err;
	key_put_u64(value, count + (uint64_t)delta);
	return kv_put(txn, store->orders_index, key, sizeof(key), value, sizeof(value));
}

enum kv_err orders_customer_stats(struct store *store, struct kv_txn *txn, uint64_t user_id, uint64_t *count,
				  int64_t *spent_minor)
{
	unsigned char key[9] = {'p'};
	uint64_t spent = 0;
	enum kv_err err;

	key_put_u64(key + 1, user_id);
	err = index_u64_get(store, txn, key, sizeof(key), 0, count);
	if (err == KV_OK)
		err = index_u64_get(store, txn, key, sizeof(key), 8, &spent);
	*spent_minor = (int64_t)spent;
	return err;
}

static enum kv_err customer_stats_add(struct store *store, struct kv_txn *txn, uint64_t user_id, int64_t orders,
				      int64_t spent_minor)
{
	unsigned char key[9] = {'p'}, value[16];
	uint64_t count;
	int64_t spent;
	enum kv_err err;

	key_put_u64(key + 1, user_id);
	err = orders_customer_stats(store, txn, user_id, &count, &spent);
	if (err != KV_OK)
		return err;
	key_put_u64(value, count + (uint64_t)orders);
	key_put_u64(value + 8, (uint64_t)(spent + spent_minor));
	return kv_put(txn, store->orders_index, key, sizeof(key), value, sizeof(value));
}

/* Adds (or with remove, deletes) the state index entry of an order and counts it. */
static enum kv_err state_index_change(struct store *store, struct kv_txn *txn, uint64_t number,
				      enum order_state state, bool remove)
{
	unsigned char key[INDEX_KEY_MAX_BYTES];
	size_t len = index_key_list(key, 's', state, number);
	enum kv_err err = remove ? kv_del(txn, store->orders_index, key, len)
				 : kv_put(txn, store->orders_index, key, len, "", 0);

	if (err != KV_OK)
		return err;
	return state_count_add(store, txn, state, remove ? -1 : 1);
}

/* The fields of a checkout command. Strings point into the command. */
struct checkout {
	struct cart_key cart;
	uint64_t user_id;
	const char *email, *key, *payment;
	size_t email_len, key_len, payment_len;
	const msgpack_object *address;
	uint64_t at_ms;
	int64_t expected_total; /* -1: not given */
};

static bool checkout_read(const struct rec *cmd, struct checkout *c)
{
	const void *cart;
	size_t cart_len;

	memset(c, 0, sizeof(*c));
	c->expected_total = -1;
	if (!rec_get_bin(cmd, "cart", &cart, &cart_len) || !cart_key_valid(cart, cart_len) ||
	    !rec_get_u64(cmd, "user", &c->user_id) || !rec_get_str(cmd, "email", &c->email, &c->email_len) ||
	    !rec_get_str(cmd, "key", &c->key, &c->key_len) || !rec_get_str(cmd, "payment", &c->payment, &c->payment_len) ||
	    !rec_get_u64(cmd, "at", &c->at_ms))
		return false;
	c->address = rec_get(cmd, "address");
	(void)rec_get_i64(cmd, "expected_total", &c->expected_total);
	memcpy(c->cart.bytes, cart, cart_len);
	c->cart.len = cart_len;
	return c->address != NULL && c->address->type == MSGPACK_OBJECT_MAP && c->key_len >= 1 &&
	       c->key_len <= ORDERS_IDEMPOTENCY_KEY_MAX;
}

/*
 * Sets the result of a checkout to {"order": order, "replayed": replayed}
 * (order stolen, made public). The HTTP layer responds 200 for a replay and
 * 201 for a new order, and drops "replayed" from the body.
 */
static enum kv_err order_result(struct repl_result *result, json_t *order, bool replayed)
{
	return store_result_json(result, STORE_OK,
				 json_pack("{s:o, s:b}", "order", order_public(order), "replayed", replayed));
}

/*
 * Returns the first order of the checkout's idempotency key, if there is
 * one, as the result. NOTE: the new request's address and payment are not
 * compared with the first one's, so a reused key with other data still
 * returns the first order.
 */
static enum kv_err idempotent_replay(struct store *store, struct kv_txn *txn, const struct checkout *c,
				    struct repl_result *result, bool *replayed)
{
	unsigned char key[INDEX_KEY_MAX_BYTES];
	size_t len = index_key_idempotency(key, &c->cart, c->key, c->key_len);
	uint64_t number;
	json_t *order;
	enum kv_err err = index_u64_get(store, txn, key, len, 0, &number);

	*replayed = false;
	if (err != KV_OK || number == 0)
		return err;
	err = order_load(store, txn, number, &order);
	if (err != KV_OK)
		return err;
	*replayed = true;
	return order_result(result, order, true);
}

/*
 * Checks every priced line: all must be for sale and in stock. Otherwise
 * sets the error result listing each line at fault and clears *ok.
 */
static enum kv_err lines_check(const struct cart_priced_line *lines, size_t count, struct repl_result *result,
			       bool *ok)
{
	json_t *unavailable = json_array(), *short_lines = json_array();

	for (size_t i = 0; i < count; i++) {
		const struct cart_priced_line *p = &lines[i];

		if (!p->available)
			json_array_append_new(unavailable, json_pack("{s:I}", "variant_id", (json_int_t)p->line.variant_id));
		else if (p->line.quantity > p->variant.stock)
			json_array_append_new(short_lines,
					      json_pack("{s:I, s:s, s:I, s:I}", "variant_id", (json_int_t)p->variant.id,
							"sku", p->variant.sku, "requested", (json_int_t)p->line.quantity,
							"available", (json_int_t)(p->variant.stock > 0 ? p->variant.stock : 0)));
	}
	*ok = json_array_size(unavailable) == 0 && json_array_size(short_lines) == 0;
	if (json_array_size(unavailable) > 0) {
		json_decref(short_lines);
		return store_result_error_json(result, STORE_INVALID, "variant_unavailable", "lines",
					       N_("Some items in the cart are no longer for sale. Remove them from the cart and try again."),
					       json_pack("{s:o}", "details", unavailable));
	}
	json_decref(unavailable);
	if (json_array_size(short_lines) > 0)
		return store_result_error_json(result, STORE_CONFLICT, "out_of_stock", "lines",
					       N_("Some items in the cart do not have enough stock. Lower their quantities and try again."),
					       json_pack("{s:o}", "details", short_lines));
	json_decref(short_lines);
	return KV_OK;
}

/* Reads and prices the cart of the checkout into lines (CART_LINES_MAX entries). */
static enum kv_err cart_priced(struct store *store, struct kv_txn *txn, const struct cart_key *key,
			       struct cart_priced_line *lines, size_t *count)
{
	struct cart cart;
	enum kv_err err = cart_get(store, txn, key, &cart);

	*count = 0;
	for (size_t i = 0; err == KV_OK && i < cart.line_count; i++)
		err = cart_line_price(store, txn, &cart.lines[i], &lines[i]);
	if (err == KV_OK)
		*count = cart.line_count;
	return err;
}

static json_t *order_line_json(const struct cart_priced_line *p, int64_t *total, int64_t *items)
{
	int64_t line_total = p->variant.price_minor * p->line.quantity;

	*total += line_total;
	*items += p->line.quantity;
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "variant_id", (json_int_t)p->variant.id,
			 "product_id", (json_int_t)p->variant.product_id, "name", p->product_name, "sku", p->variant.sku,
			 "talla", p->variant.size, "color", p->variant.color, "unit_price",
			 (json_int_t)p->variant.price_minor, "quantity", (json_int_t)p->line.quantity, "line_total",
			 (json_int_t)line_total);
}

/* The order's shipping address from the command's map; NULL if a member is not a string. */
static json_t *address_json(const msgpack_object *map)
{
	static const char *const fields[] = {"name", "street", "city", "postal_code", "province", "country", "phone"};
	struct rec r = {.body = map};
	json_t *address = json_object();

	for (size_t i = 0; address != NULL && i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *value;
		size_t len;

		if (!rec_get_str(&r, fields[i], &value, &len) ||
		    json_object_set_new(address, fields[i], json_stringn(value, len)) != 0) {
			json_decref(address);
			address = NULL;
		}
	}
	return address;
}

/* Builds the order of a checkout whose lines passed lines_check; NULL if the command's text is invalid. */
static json_t *order_build(const struct checkout *c, uint64_t number, const struct cart_priced_line *lines,
			   size_t count)
{
	int64_t total = 0, items = 0;
	json_t *line_list = json_array(), *order;
	char guest_cart[2 * 32 + 1];

	for (size_t i = 0; i < count; i++)
		json_array_append_new(line_list, order_line_json(&lines[i], &total, &items));
	order = json_pack("{s:I, s:s, s:{s:o, s:s%, s:b}, s:o, s:s%, s:o, s:I, s:I, s:s, s:I, s:I, s:[{s:s, s:I}]}",
			  "number", (json_int_t)number, "state", state_names[ORDER_PENDIENTE], "customer", "user_id",
			  c->user_id != 0 ? json_integer((json_int_t)c->user_id) : json_null(), "email", c->email,
			  c->email_len, "guest", c->user_id == 0, "shipping_address", address_json(c->address),
			  "payment_method", c->payment, c->payment_len, "lines", line_list, "item_count",
			  (json_int_t)items, "total", (json_int_t)total, "currency", CATALOG_CURRENCY, "created_at",
			  (json_int_t)c->at_ms, "updated_at", (json_int_t)c->at_ms, "history", "state",
			  state_names[ORDER_PENDIENTE], "at", (json_int_t)c->at_ms);
	if (order != NULL && c->user_id == 0) {
		hex_encode(guest_cart, c->cart.bytes + 1, 32);
		json_object_set_new(order, "_guest_cart", json_string(guest_cart));
	}
	return order;
}

/* Stores a new order and its index entries and counts. */
static enum kv_err order_insert(struct store *store, struct kv_txn *txn, const struct checkout *c,
				uint64_t number, const json_t *order)
{
	unsigned char key[INDEX_KEY_MAX_BYTES], value[8];
	size_t len;
	enum kv_err err = order_put(store, txn, number, order);

	if (err == KV_OK)
		err = kv_put(txn, store->orders_index, key, index_key_list(key, 'a', 0, number), "", 0);
	if (err == KV_OK && c->user_id != 0)
		err = kv_put(txn, store->orders_index, key, index_key_list(key, 'u', c->user_id, number), "", 0);
	if (err == KV_OK && c->user_id != 0)
		err = customer_stats_add(store, txn, c->user_id, 1,
					 json_integer_value(json_object_get(order, "total")));
	if (err == KV_OK)
		err = state_index_change(store, txn, number, ORDER_PENDIENTE, false);
	if (err == KV_OK)
		err = state_count_add(store, txn, 0, 1);
	len = index_key_idempotency(key, &c->cart, c->key, c->key_len);
	key_put_u64(value, number);
	if (err == KV_OK)
		err = kv_put(txn, store->orders_index, key, len, value, sizeof(value));
	return err;
}

/* Takes the stock of every line; lines_check has shown that all of it is there. */
static enum kv_err stock_take(struct store *store, struct kv_txn *txn, const struct cart_priced_line *lines,
			      size_t count)
{
	int64_t left;
	enum kv_err err = KV_OK;

	for (size_t i = 0; i < count && err == KV_OK; i++)
		err = catalog_stock_add(store, txn, lines[i].variant.id, -lines[i].line.quantity, &left);
	return err;
}

static bool checkout_payment_valid(const struct checkout *c)
{
	return (c->payment_len == 14 && memcmp(c->payment, "contra_entrega", 14) == 0) ||
	       (c->payment_len == 13 && memcmp(c->payment, "transferencia", 13) == 0);
}

/* Creates the order of a priced, checked cart: stock, number, record, indexes, empty cart. */
static enum kv_err checkout_commit(struct store *store, struct kv_txn *txn, const struct checkout *c,
				   const struct cart_priced_line *lines, size_t count, struct repl_result *result)
{
	struct cart empty = {.line_count = 0};
	uint64_t number = 0;
	json_t *order = NULL;
	enum kv_err err = stock_take(store, txn, lines, count);

	if (err == KV_INVALID)
		return store_result_error(result, STORE_CONFLICT, "out_of_stock", "lines",
					  N_("Some items in the cart do not have enough stock. Lower their quantities and try again."));
	if (err == KV_OK)
		err = store_next_id(store, txn, "order", &number);
	if (err == KV_OK && (order = order_build(c, number, lines, count)) == NULL) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	if (err == KV_OK)
		err = order_insert(store, txn, c, number, order);
	if (err == KV_OK)
		err = cart_put(store, txn, &c->cart, &empty);
	if (err != KV_OK) {
		json_decref(order);
		return err;
	}
	return order_result(result, order, false);
}

static int64_t lines_total(const struct cart_priced_line *lines, size_t count)
{
	int64_t total = 0;

	for (size_t i = 0; i < count; i++)
		total += lines[i].variant.price_minor * lines[i].line.quantity;
	return total;
}

static enum kv_err apply_checkout(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				  struct cart_priced_line *lines, struct repl_result *result)
{
	struct checkout c;
	size_t count;
	bool done, ok;
	enum kv_err err;

	if (!checkout_read(cmd, &c) || !checkout_payment_valid(&c)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = idempotent_replay(store, txn, &c, result, &done);
	if (err != KV_OK || done)
		return err;
	err = cart_priced(store, txn, &c.cart, lines, &count);
	if (err != KV_OK)
		return err;
	if (count == 0)
		return store_result_error(result, STORE_INVALID, "cart_empty", "cart",
					  N_("The cart is empty. Add products before checking out."));
	err = lines_check(lines, count, result, &ok);
	if (!ok)
		return err;
	if (c.expected_total >= 0 && c.expected_total != lines_total(lines, count))
		return store_result_error_json(result, STORE_CONFLICT, "total_changed", "expected_total",
					       N_("The cart total changed since it was shown. Review the cart and confirm again."),
					       json_pack("{s:I}", "total", (json_int_t)lines_total(lines, count)));
	return checkout_commit(store, txn, &c, lines, count, result);
}

/* The fields of a state change command. */
struct state_change {
	uint64_t number;
	enum order_state to;
	struct order_viewer actor;
	uint64_t at_ms;
};

static bool state_change_read(const struct rec *cmd, struct state_change *s)
{
	const char *state;
	size_t state_len, hash_len;
	const void *hash;
	char name[16];

	memset(s, 0, sizeof(*s));
	if (!rec_get_u64(cmd, "number", &s->number) || !rec_get_str(cmd, "state", &state, &state_len) ||
	    state_len >= sizeof(name) || !rec_get_bool(cmd, "admin", &s->actor.admin) ||
	    !rec_get_u64(cmd, "user", &s->actor.user_id) || !rec_get_u64(cmd, "at", &s->at_ms))
		return false;
	memcpy(name, state, state_len);
	name[state_len] = '\0';
	s->to = order_state_parse(name);
	if (s->actor.admin && !audit_actor_read(cmd, &(struct audit_actor){0}))
		return false;
	if (rec_get_bin(cmd, "guest_cart", &hash, &hash_len) && hash_len == sizeof(s->actor.guest_cart)) {
		memcpy(s->actor.guest_cart, hash, hash_len);
		s->actor.has_guest_cart = true;
	}
	return s->to != 0;
}

/* Gives back the stock of every line of a cancelled order. */
static enum kv_err stock_restore(struct store *store, struct kv_txn *txn, json_t *order)
{
	json_t *line;
	size_t i;
	int64_t left;
	enum kv_err err = KV_OK;

	json_array_foreach(json_object_get(order, "lines"), i, line) {
		uint64_t variant_id = (uint64_t)json_integer_value(json_object_get(line, "variant_id"));
		int64_t quantity = json_integer_value(json_object_get(line, "quantity"));

		err = catalog_stock_add(store, txn, variant_id, quantity, &left);
		/* NOTE: stock of a variant deleted since the order has nowhere to go back to, so it is dropped. */
		if (err == KV_NOT_FOUND)
			err = KV_OK;
		if (err != KV_OK)
			break;
	}
	return err;
}

/* Appends an admin's state change to the audit log, as "<from> -> <to>". */
static enum kv_err state_change_audit(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				      const struct state_change *s, enum order_state from)
{
	struct audit_actor actor;
	char summary[64];

	if (!s->actor.admin || !audit_actor_read(cmd, &actor))
		return KV_OK;
	snprintf(summary, sizeof(summary), "%s -> %s", state_names[from], state_names[s->to]);
	return audit_append(store, txn, &actor, ORDERS_STATE_CHANGE, "order.state", s->number, summary);
}

/* Moves the order's indexes and counts from state from to s->to and records the change in the order. */
static enum kv_err order_move(struct store *store, struct kv_txn *txn, const struct state_change *s,
			      enum order_state from, json_t *order)
{
	json_int_t user_id = json_integer_value(json_object_get(json_object_get(order, "customer"), "user_id"));
	enum kv_err err = state_index_change(store, txn, s->number, from, true);

	if (err == KV_OK)
		err = state_index_change(store, txn, s->number, s->to, false);
	if (err == KV_OK && s->to == ORDER_CANCELADA)
		err = stock_restore(store, txn, order);
	if (err == KV_OK && s->to == ORDER_CANCELADA && user_id > 0)
		err = customer_stats_add(store, txn, (uint64_t)user_id, 0,
					 -json_integer_value(json_object_get(order, "total")));
	if (err != KV_OK)
		return err;
	json_object_set_new(order, "state", json_string(state_names[s->to]));
	json_object_set_new(order, "updated_at", json_integer((json_int_t)s->at_ms));
	json_array_append_new(json_object_get(order, "history"),
			      json_pack("{s:s, s:I}", "state", state_names[s->to], "at", (json_int_t)s->at_ms));
	return order_put(store, txn, s->number, order);
}

static enum kv_err apply_state_change(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				      struct repl_result *result)
{
	struct state_change s;
	enum order_state from;
	json_t *order = NULL;
	enum kv_err err;

	if (!state_change_read(cmd, &s)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	if (!s.actor.admin && s.to != ORDER_CANCELADA)
		return store_result_error(result, STORE_FORBIDDEN, "forbidden", "state",
					  N_("Only an administrator can set this state."));
	err = order_load(store, txn, s.number, &order);
	if (err == KV_OK && !order_visible(order, &s.actor))
		err = KV_NOT_FOUND;
	if (err == KV_NOT_FOUND) {
		json_decref(order);
		return store_result_error(result, STORE_NOT_FOUND, "order_not_found", "number",
					  N_("No order has this number. Check the number in your order list."));
	}
	if (err != KV_OK)
		return err;
	from = order_state_parse(json_string_value(json_object_get(order, "state")));
	if (!order_transition_allowed(from, s.to)) {
		json_decref(order);
		return store_result_error_json(result, STORE_CONFLICT, "invalid_transition", "state",
					       N_("The order cannot go from its current state to the requested one."),
					       json_pack("{s:s, s:s}", "from", from != 0 ? state_names[from] : "",
							 "to", state_names[s.to]));
	}
	err = order_move(store, txn, &s, from, order);
	if (err == KV_OK)
		err = state_change_audit(store, txn, cmd, &s, from);
	if (err != KV_OK) {
		json_decref(order);
		return err;
	}
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "order", order_public(order)));
}

enum kv_err orders_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			 const struct rec *command, struct repl_result *result)
{
	struct cart_priced_line *lines;
	enum kv_err err;

	(void)index;
	switch (type) {
	case ORDERS_CHECKOUT:
		/* CART_LINES_MAX priced lines are too large for the writer thread's stack. */
		lines = malloc(CART_LINES_MAX * sizeof(*lines));
		if (lines == NULL)
			return KV_NO_MEMORY;
		err = apply_checkout(store, txn, command, lines, result);
		free(lines);
		return err;
	case ORDERS_STATE_CHANGE:
		return apply_state_change(store, txn, command, result);
	default:
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
}

/* The summary of an order in listings. */
static json_t *order_summary(json_t *order)
{
	static const char *const fields[] = {"number",  "state", "customer",   "payment_method", "item_count",
					     "total",   "currency", "created_at", "updated_at"};
	json_t *summary = json_object();

	for (size_t i = 0; summary != NULL && i < sizeof(fields) / sizeof(fields[0]); i++)
		json_object_set(summary, fields[i], json_object_get(order, fields[i]));
	return summary;
}

/* Total and scan prefix of a listing. */
static enum kv_err list_scope(struct store *store, struct kv_txn *txn, uint64_t user_id, enum order_state state,
			      unsigned char *prefix, size_t *prefix_len, uint64_t *total)
{
	unsigned char count_key[2] = {'n', (unsigned char)state};
	int64_t spent;

	if (user_id != 0) {
		prefix[0] = 'u';
		key_put_u64(prefix + 1, user_id);
		*prefix_len = 9;
		return orders_customer_stats(store, txn, user_id, total, &spent);
	}
	prefix[0] = state != 0 ? 's' : 'a';
	prefix[1] = (unsigned char)state;
	*prefix_len = state != 0 ? 2 : 1;
	return index_u64_get(store, txn, count_key, sizeof(count_key), 0, total);
}

/* Appends the summaries of up to page_size orders after skipping skip entries under prefix. */
static enum kv_err list_collect(struct store *store, struct kv_txn *txn, const unsigned char *prefix,
				size_t prefix_len, size_t skip, unsigned page_size, json_t *orders)
{
	uint64_t numbers[ORDERS_PAGE_SIZE_MAX];
	size_t found = 0;
	struct kv_cursor *cursor;
	struct kv_val key, val;
	enum kv_err err = kv_scan_begin(txn, store->orders_index, prefix, prefix_len, NULL, 0, &cursor);

	if (err != KV_OK)
		return err;
	while (found < page_size && (err = kv_scan_next(cursor, &key, &val)) == KV_OK) {
		if (key.len != prefix_len + 8)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		numbers[found++] = UINT64_MAX - key_get_u64((const unsigned char *)key.data + prefix_len);
	}
	kv_scan_end(cursor);
	if (err != KV_OK && err != KV_NOT_FOUND)
		return err;
	err = KV_OK;
	for (size_t i = 0; i < found && err == KV_OK; i++) {
		json_t *order;

		err = order_load(store, txn, numbers[i], &order);
		if (err == KV_OK)
			json_array_append_new(orders, order_summary(order));
		json_decref(order);
	}
	return err;
}

enum kv_err orders_list(struct store *store, struct kv_txn *txn, uint64_t user_id, enum order_state state,
			unsigned page, unsigned page_size, json_t **out)
{
	unsigned char prefix[9];
	size_t prefix_len;
	uint64_t total;
	json_t *orders = json_array();
	enum kv_err err;

	*out = NULL;
	if (orders == NULL)
		return KV_NO_MEMORY;
	if (page < 1 || page > ORDERS_PAGE_MAX || page_size < 1 || page_size > ORDERS_PAGE_SIZE_MAX) {
		json_decref(orders);
		return KV_INVALID;
	}
	err = list_scope(store, txn, user_id, state, prefix, &prefix_len, &total);
	if (err == KV_OK)
		err = list_collect(store, txn, prefix, prefix_len, (size_t)(page - 1) * page_size, page_size, orders);
	if (err != KV_OK) {
		json_decref(orders);
		return err;
	}
	*out = json_pack("{s:o, s:I, s:I, s:I}", "orders", orders, "page", (json_int_t)page, "page_size",
			 (json_int_t)page_size, "total", (json_int_t)total);
	return *out != NULL ? KV_OK : KV_NO_MEMORY;
}
