/*
 * Apply functions of the cart commands, the cart record, its priced view and
 * the merge of a guest cart at login; see cart.h. The HTTP side is in
 * api_cart.c.
 */
#include "store/cart.h"

#include <string.h>

#include "common/i18n.h"
#include "store/codec.h"

#define SCHEMA_VERSION 1
#define TOKEN_HASH_BYTES 32
#define CART_RECORD_MAX_BYTES (64 * 1024)

/* A message for one line of the result: why its quantity is not what was requested. */
struct cart_notice {
	uint64_t variant_id; /* 0: none */
	const char *code;
	int64_t requested;
	int64_t available;
};

void cart_key_guest(struct cart_key *key, const unsigned char token_hash[32])
{
	key->bytes[0] = 'g';
	memcpy(key->bytes + 1, token_hash, TOKEN_HASH_BYTES);
	key->len = 1 + TOKEN_HASH_BYTES;
}

void cart_key_user(struct cart_key *key, uint64_t user_id)
{
	key->bytes[0] = 'u';
	key_put_u64(key->bytes + 1, user_id);
	key->len = 1 + 8;
}

bool cart_key_valid(const void *bytes, size_t len)
{
	const unsigned char *b = bytes;

	if (len == 1 + TOKEN_HASH_BYTES)
		return b[0] == 'g';
	return len == 1 + 8 && b[0] == 'u' && key_get_u64(b + 1) != 0;
}

static bool line_decode(const msgpack_object *map, struct cart_line *out)
{
	struct rec r = {.body = map};

	return rec_get_u64(&r, "variant", &out->variant_id) && rec_get_i64(&r, "quantity", &out->quantity) &&
	       rec_get_i64(&r, "price", &out->price_minor) && out->quantity >= 1 &&
	       out->quantity <= CART_QUANTITY_MAX;
}

static enum kv_err cart_decode(const void *data, size_t len, struct cart *out)
{
	const msgpack_object *lines;
	struct rec r;
	enum kv_err err = rec_decode(&r, data, len, STORE_RECORD_CART);

	if (err != KV_OK)
		goto out;
	lines = rec_get(&r, "lines");
	if (lines == NULL || lines->type != MSGPACK_OBJECT_ARRAY || lines->via.array.size > CART_LINES_MAX ||
	    !rec_get_u64(&r, "updated_at", &out->updated_at_ms)) {
		err = KV_BAD_RECORD;
		goto out;
	}
	for (uint32_t i = 0; i < lines->via.array.size && err == KV_OK; i++) {
		if (lines->via.array.ptr[i].type != MSGPACK_OBJECT_MAP ||
		    !line_decode(&lines->via.array.ptr[i], &out->lines[i]))
			err = KV_BAD_RECORD;
	}
	out->line_count = err == KV_OK ? lines->via.array.size : 0;
out:
	rec_free(&r);
	return err;
}

enum kv_err cart_get(struct store *store, struct kv_txn *txn, const struct cart_key *key, struct cart *out)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, store->carts, key->bytes, key->len, &val);

	memset(out, 0, sizeof(*out));
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	return cart_decode(val.data, val.len, out);
}

enum kv_err cart_put(struct store *store, struct kv_txn *txn, const struct cart_key *key, const struct cart *cart)
{
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	if (cart->line_count == 0) {
		err = kv_del(txn, store->carts, key->bytes, key->len);
		return err == KV_NOT_FOUND ? KV_OK : err;
	}
	buf_init(&value, CART_RECORD_MAX_BYTES);
	rec_begin(&w, &value, STORE_RECORD_CART, SCHEMA_VERSION, 2);
	rec_put_name(&w, "lines");
	msgpack_pack_array(&w.pk, (uint32_t)cart->line_count);
	for (size_t i = 0; i < cart->line_count; i++) {
		const struct cart_line *line = &cart->lines[i];

		msgpack_pack_map(&w.pk, 3);
		msgpack_pack_str_with_body(&w.pk, "variant", 7);
		msgpack_pack_uint64(&w.pk, line->variant_id);
		msgpack_pack_str_with_body(&w.pk, "quantity", 8);
		msgpack_pack_int64(&w.pk, line->quantity);
		msgpack_pack_str_with_body(&w.pk, "price", 5);
		msgpack_pack_int64(&w.pk, line->price_minor);
	}
	rec_put_u64(&w, "updated_at", cart->updated_at_ms);
	if (rec_end(&w) == 0)
		err = kv_put(txn, store->carts, key->bytes, key->len, value.data, value.len);
	buf_free(&value);
	return err;
}

/* Copies the catalog text into out, cut at a character boundary if it does not fit. */
static void text_copy(char *out, size_t out_size, const struct catalog_text *text)
{
	size_t len = text->len < out_size ? text->len : out_size - 1;

	while (len > 0 && len < text->len && ((unsigned char)text->ptr[len] & 0xc0) == 0x80)
		len--;
	memcpy(out, text->ptr, len);
	out[len] = '\0';
}

enum kv_err cart_line_price(struct store *store, struct kv_txn *txn, const struct cart_line *line,
			    struct cart_priced_line *out)
{
	struct catalog_product product;
	enum kv_err err;

	memset(out, 0, sizeof(*out));
	out->line = *line;
	err = catalog_variant_get(store, txn, line->variant_id, &out->variant);
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	out->variant_exists = true;
	err = catalog_product_get(store, txn, out->variant.product_id, &product);
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	out->available = product.active;
	text_copy(out->product_name, sizeof(out->product_name), &product.name);
	catalog_product_release(&product);
	return KV_OK;
}

static json_t *notice_json(const struct cart_notice *notice)
{
	json_t *json = json_pack("{s:s}", "code", notice->code);

	if (json != NULL && notice->requested > 0)
		json_object_set_new(json, "requested", json_integer(notice->requested));
	if (json != NULL && notice->available >= 0)
		json_object_set_new(json, "available", json_integer(notice->available));
	return json;
}

/* Renders one priced line; adds its total to *total and *items when it is available. */
static json_t *line_json(const struct cart_priced_line *p, const struct cart_notice *notice, int64_t *total,
			 int64_t *items)
{
	const struct catalog_variant *v = &p->variant;
	struct cart_notice shown = {.variant_id = p->line.variant_id, .available = -1};
	int64_t line_total = v->price_minor * p->line.quantity;
	json_t *json = json_pack("{s:I, s:I, s:b}", "variant_id", (json_int_t)p->line.variant_id, "quantity",
				 (json_int_t)p->line.quantity, "available", p->available);

	if (json == NULL)
		return NULL;
	if (!p->available) {
		shown.code = "unavailable";
	} else {
		json_object_set_new(json, "product_id", json_integer((json_int_t)v->product_id));
		json_object_set_new(json, "name", json_string(p->product_name));
		json_object_set_new(json, "sku", json_string(v->sku));
		json_object_set_new(json, "talla", json_string(v->size));
		json_object_set_new(json, "color", json_string(v->color));
		json_object_set_new(json, "unit_price", json_integer(v->price_minor));
		json_object_set_new(json, "line_total", json_integer(line_total));
		json_object_set_new(json, "price_changed", json_boolean(v->price_minor != p->line.price_minor));
		if (v->price_minor != p->line.price_minor)
			json_object_set_new(json, "previous_price", json_integer(p->line.price_minor));
		*total += line_total;
		*items += p->line.quantity;
		if (p->line.quantity > v->stock) {
			shown.code = "insufficient_stock";
			shown.available = v->stock;
		}
	}
	/* What apply just did to this line explains more than the current state. */
	if (notice != NULL && notice->variant_id == p->line.variant_id)
		shown = *notice;
	if (shown.code != NULL)
		json_object_set_new(json, "notice", notice_json(&shown));
	return json;
}

static enum kv_err render_with_notice(struct store *store, struct kv_txn *txn, const struct cart *cart,
				      const struct cart_notice *notice, json_t **out)
{
	struct cart_priced_line priced;
	int64_t total = 0, items = 0;
	json_t *lines = json_array();
	enum kv_err err = KV_OK;

	*out = NULL;
	if (lines == NULL)
		return KV_NO_MEMORY;
	for (size_t i = 0; i < cart->line_count && err == KV_OK; i++) {
		err = cart_line_price(store, txn, &cart->lines[i], &priced);
		if (err == KV_OK && json_array_append_new(lines, line_json(&priced, notice, &total, &items)) != 0)
			err = KV_NO_MEMORY;
	}
	if (err == KV_OK)
		*out = json_pack("{s:o, s:I, s:I, s:I, s:s}", "lines", lines, "line_count", (json_int_t)cart->line_count,
				 "item_count", (json_int_t)items, "total", (json_int_t)total, "currency", CATALOG_CURRENCY);
	else
		json_decref(lines);
	if (err == KV_OK && *out == NULL)
		err = KV_NO_MEMORY;
	return err;
}

enum kv_err cart_render(struct store *store, struct kv_txn *txn, const struct cart *cart, json_t **out)
{
	return render_with_notice(store, txn, cart, NULL, out);
}

static struct cart_line *line_find(struct cart *cart, uint64_t variant_id)
{
	for (size_t i = 0; i < cart->line_count; i++) {
		if (cart->lines[i].variant_id == variant_id)
			return &cart->lines[i];
	}
	return NULL;
}

/* The fields shared by the cart commands. Returns false if the command is malformed. */
static bool command_read(const struct rec *cmd, bool with_quantity, struct cart_key *key, struct cart_line *line,
			 uint64_t *at)
{
	const void *key_bytes;
	size_t key_len;

	memset(line, 0, sizeof(*line));
	if (!rec_get_bin(cmd, "cart", &key_bytes, &key_len) || !cart_key_valid(key_bytes, key_len) ||
	    !rec_get_u64(cmd, "variant", &line->variant_id) || !rec_get_u64(cmd, "at", at))
		return false;
	if (with_quantity && (!rec_get_i64(cmd, "quantity", &line->quantity) || line->quantity < 1 ||
			      line->quantity > CART_QUANTITY_MAX))
		return false;
	memcpy(key->bytes, key_bytes, key_len);
	key->len = key_len;
	return true;
}

/* Checks that the variant can be put in a cart; on failure sets the error result and clears *ok. */
static enum kv_err variant_check(const struct cart_priced_line *p, struct repl_result *result, bool *ok)
{
	*ok = false;
	if (!p->variant_exists)
		return store_result_error(result, STORE_NOT_FOUND, "variant_not_found", "variant_id",
					  N_("No variant has this id. Reload the product page and choose again."));
	if (!p->available)
		return store_result_error(result, STORE_INVALID, "product_unavailable", "variant_id",
					  N_("This product is not for sale at the moment."));
	if (p->variant.stock <= 0)
		return store_result_error_json(result, STORE_CONFLICT, "out_of_stock", "variant_id",
					       N_("This variant is out of stock."),
					       json_pack("{s:I, s:i}", "variant_id", (json_int_t)p->variant.id,
							 "available", 0));
	*ok = true;
	return KV_OK;
}

/*
 * Lowers wanted to the variant's stock and to CART_QUANTITY_MAX, filling
 * notice when it had to. The stock is above zero here (variant_check).
 */
static int64_t quantity_clamp(int64_t wanted, const struct catalog_variant *variant, struct cart_notice *notice)
{
	int64_t allowed = variant->stock < CART_QUANTITY_MAX ? variant->stock : CART_QUANTITY_MAX;

	if (wanted <= allowed)
		return wanted;
	notice->variant_id = variant->id;
	notice->code = variant->stock < wanted ? "quantity_clamped" : "quantity_max";
	notice->requested = wanted;
	notice->available = allowed;
	return allowed;
}

/* Stores cart at key and sets the result to its view, with notice on its line. */
static enum kv_err cart_store_and_render(struct store *store, struct kv_txn *txn, const struct cart_key *key,
					 const struct cart *cart, const struct cart_notice *notice,
					 struct repl_result *result)
{
	json_t *view;
	enum kv_err err = cart_put(store, txn, key, cart);

	if (err == KV_OK)
		err = render_with_notice(store, txn, cart, notice, &view);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "cart", view));
}

/*
 * Applies CART_LINE_ADD or CART_LINE_SET. An add sums with the existing line
 * and takes the current price. A set replaces the quantity of an existing
 * line and keeps the price of its last add.
 */
static enum kv_err apply_line_change(struct store *store, struct kv_txn *txn, const struct rec *cmd, bool add,
				     struct cart *cart, struct repl_result *result)
{
	struct cart_priced_line priced;
	struct cart_notice notice = {.available = -1};
	struct cart_key key;
	struct cart_line wanted, *line;
	uint64_t at;
	bool ok;
	enum kv_err err;

	if (!command_read(cmd, true, &key, &wanted, &at)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = cart_get(store, txn, &key, cart);
	if (err == KV_OK)
		err = cart_line_price(store, txn, &wanted, &priced);
	if (err != KV_OK)
		return err;
	line = line_find(cart, wanted.variant_id);
	if (!add && line == NULL)
		return store_result_error(result, STORE_NOT_FOUND, "line_not_found", "variant_id",
					  N_("This variant is not in the cart. Add it first."));
	err = variant_check(&priced, result, &ok);
	if (!ok)
		return err;
	if (line == NULL && cart->line_count == CART_LINES_MAX)
		return store_result_error(result, STORE_CONFLICT, "cart_full", "variant_id",
					  N_("The cart is full. Remove a line before adding another product."));
	if (line == NULL) {
		line = &cart->lines[cart->line_count++];
		*line = (struct cart_line){.variant_id = wanted.variant_id};
	}
	if (add) {
		wanted.quantity += line->quantity;
		line->price_minor = priced.variant.price_minor;
	}
	line->quantity = quantity_clamp(wanted.quantity, &priced.variant, &notice);
	cart->updated_at_ms = at;
	return cart_store_and_render(store, txn, &key, cart, &notice, result);
}

static enum kv_err apply_line_delete(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				     struct cart *cart, struct repl_result *result)
{
	struct cart_key key;
	struct cart_line target, *line;
	uint64_t at;
	size_t index;
	enum kv_err err;

	if (!command_read(cmd, false, &key, &target, &at)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = cart_get(store, txn, &key, cart);
	if (err != KV_OK)
		return err;
	line = line_find(cart, target.variant_id);
	if (line == NULL)
		return store_result_error(result, STORE_NOT_FOUND, "line_not_found", "variant_id",
					  N_("This variant is not in the cart. Add it first."));
	index = (size_t)(line - cart->lines);
	memmove(line, line + 1, (cart->line_count - index - 1) * sizeof(*line));
	cart->line_count--;
	cart->updated_at_ms = at;
	return cart_store_and_render(store, txn, &key, cart, NULL, result);
}

enum kv_err cart_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
		       const struct rec *command, struct repl_result *result)
{
	struct cart cart;

	(void)index;
	switch (type) {
	case CART_LINE_ADD:
	case CART_LINE_SET:
		return apply_line_change(store, txn, command, type == CART_LINE_ADD, &cart, result);
	case CART_LINE_DELETE:
		return apply_line_delete(store, txn, command, &cart, result);
	default:
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
}

/* Lowers a merged line to min(CART_QUANTITY_MAX, stock), never below 1. */
static enum kv_err merged_line_clamp(struct store *store, struct kv_txn *txn, struct cart_line *line)
{
	struct catalog_variant variant;
	enum kv_err err = catalog_variant_get(store, txn, line->variant_id, &variant);

	if (line->quantity > CART_QUANTITY_MAX)
		line->quantity = CART_QUANTITY_MAX;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (line->quantity > variant.stock)
		line->quantity = variant.stock > 1 ? variant.stock : 1;
	return KV_OK;
}

/* Moves the lines of guest into user; the guest lines that do not fit stay in guest. */
static enum kv_err carts_merge(struct store *store, struct kv_txn *txn, struct cart *guest, struct cart *user)
{
	size_t kept = 0;
	enum kv_err err = KV_OK;

	for (size_t i = 0; i < guest->line_count && err == KV_OK; i++) {
		const struct cart_line *from = &guest->lines[i];
		struct cart_line *into = line_find(user, from->variant_id);

		if (into != NULL) {
			into->quantity += from->quantity;
		} else if (user->line_count < CART_LINES_MAX) {
			into = &user->lines[user->line_count++];
			*into = *from;
		} else {
			guest->lines[kept++] = *from;
			continue;
		}
		err = merged_line_clamp(store, txn, into);
	}
	guest->line_count = kept;
	return err;
}

enum kv_err cart_merge_guest(struct store *store, struct kv_txn *txn, const unsigned char guest_token_hash[32],
			     uint64_t user_id)
{
	struct cart guest, user;
	struct cart_key guest_key, user_key;
	enum kv_err err;

	cart_key_guest(&guest_key, guest_token_hash);
	cart_key_user(&user_key, user_id);
	err = cart_get(store, txn, &guest_key, &guest);
	if (err != KV_OK || guest.line_count == 0)
		return err;
	err = cart_get(store, txn, &user_key, &user);
	if (err == KV_OK)
		err = carts_merge(store, txn, &guest, &user);
	if (guest.updated_at_ms > user.updated_at_ms)
		user.updated_at_ms = guest.updated_at_ms;
	if (err == KV_OK)
		err = cart_put(store, txn, &user_key, &user);
	if (err == KV_OK)
		err = cart_put(store, txn, &guest_key, &guest);
	return err;
}
