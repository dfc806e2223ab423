/*
 * Cart: the lines a shopper means to buy, one line per variant.
 *
 * A guest cart is found by a random cart token. The node taking the first
 * request makes it and returns it once (body, X-Cart-Token header and the
 * jkd_cart cookie). The state keys the cart by the token's SHA-256, so a
 * copy of the state reveals no usable token. A customer's cart is keyed by the
 * user id. At login or registration the guest cart merges into the
 * customer's (cart_merge_guest(), called by accounts apply).
 *
 * Guarantees, each enforced in apply:
 * - one line per variant: adding a variant already in the cart sums the
 *   quantities;
 * - every line has 1 to CART_QUANTITY_MAX units and a cart has at most
 *   CART_LINES_MAX lines;
 * - an add or a quantity change never leaves a line above the variant's
 *   stock at that moment. The quantity is lowered, and the line's notice
 *   in the response reports it ("quantity_clamped"). Stock can still fall
 *   later, which the cart shows ("insufficient_stock") and checkout rejects;
 * - the cart always shows current prices. Each line stores the unit price
 *   of its last add, and the view flags lines whose price changed since.
 *
 * Keys of table carts: 'g' | SHA-256 of the cart token (33 bytes) for a
 * guest, 'u' | user id as big-endian u64 (9 bytes) for a customer.
 * Record: cart {lines: [{variant, quantity, price}], updated_at}, where
 * price is the unit price in minor units at the line's last add and
 * updated_at is stamped in milliseconds by the proposing node.
 * NOTE: guest carts are deleted only by checkout or a merge; nothing yet
 * removes abandoned ones, although updated_at is kept for such a sweep.
 */
#ifndef JKD_STORE_CART_H
#define JKD_STORE_CART_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/catalog.h"
#include "store/http/http.h"

enum cart_command {
	CART_LINE_ADD = STORE_COMMANDS_CART, /* {cart, variant, quantity, at} */
	CART_LINE_SET,                       /* {cart, variant, quantity, at}: the line must exist */
	CART_LINE_DELETE,                    /* {cart, variant, at} */
};

#define CART_LINES_MAX 50
#define CART_QUANTITY_MAX 99
#define CART_TOKEN_CHARS 43 /* base64url of 32 random bytes */
#define CART_TOKEN_HEADER "X-Cart-Token"
#define CART_COOKIE "jkd_cart"
#define CART_KEY_MAX_BYTES 33
#define CART_NAME_MAX_BYTES 1024 /* product name kept in a priced line, NUL included */

/* The key of a cart in table carts. */
struct cart_key {
	unsigned char bytes[CART_KEY_MAX_BYTES];
	size_t len;
};

void cart_key_guest(struct cart_key *key, const unsigned char token_hash[32]);
void cart_key_user(struct cart_key *key, uint64_t user_id);

/* Returns true if bytes[0..len) has the form of a cart key. */
bool cart_key_valid(const void *bytes, size_t len);

struct cart_line {
	uint64_t variant_id;
	int64_t quantity;
	int64_t price_minor; /* unit price at the line's last add */
};

struct cart {
	struct cart_line lines[CART_LINES_MAX];
	size_t line_count;
	uint64_t updated_at_ms;
};

/* Reads the cart at key; a missing cart reads as empty (KV_OK, no lines). */
enum kv_err cart_get(struct store *store, struct kv_txn *txn, const struct cart_key *key, struct cart *out);

/* Writes cart at key inside an apply transaction, or deletes the record if it has no lines. */
enum kv_err cart_put(struct store *store, struct kv_txn *txn, const struct cart_key *key, const struct cart *cart);

/* A cart line with the current state of its variant and product. */
struct cart_priced_line {
	struct cart_line line;
	bool variant_exists;
	bool available; /* the variant exists and its product is active */
	struct catalog_variant variant; /* valid if variant_exists */
	char product_name[CART_NAME_MAX_BYTES];
};

/* Reads the current variant and product of line into out. Returns KV_OK or a kv error. */
enum kv_err cart_line_price(struct store *store, struct kv_txn *txn, const struct cart_line *line,
			    struct cart_priced_line *out);

/*
 * Renders cart with current prices as {"lines": [...], "line_count",
 * "item_count", "total", "currency"} into *out (new reference). Totals count
 * the available lines only, at current prices, which is what checkout
 * charges. Each line's "notice", if any, has a "code" and numbers; the HTTP
 * layer adds the translated "message".
 */
enum kv_err cart_render(struct store *store, struct kv_txn *txn, const struct cart *cart, json_t **out);

/*
 * Merges the guest cart of guest_token_hash into the cart of user_id inside
 * an apply transaction. Quantities of a variant in both carts are summed.
 * Every line the merge changes or adds is lowered to min(CART_QUANTITY_MAX,
 * stock) but kept at 1 or more, so no line is lost. The guest cart is deleted,
 * except for guest lines that did not fit under CART_LINES_MAX, which stay
 * in it. A missing guest cart merges nothing. Deterministic.
 */
enum kv_err cart_merge_guest(struct store *store, struct kv_txn *txn, const unsigned char guest_token_hash[32],
			     uint64_t user_id);

/* The store_domain_apply_fn of the cart commands. */
enum kv_err cart_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
		       const struct rec *command, struct repl_result *result);

/*
 * Finds a well-formed cart token in the X-Cart-Token header, else in the
 * jkd_cart cookie, and writes its SHA-256 into hash. With from_header_only,
 * the cookie is ignored. Returns false if there is none.
 */
bool cart_token_hash(const struct http_request *req, bool from_header_only, unsigned char hash[32]);

/* Adds the translated "message" to each line notice of a rendered cart. */
void cart_notices_translate(json_t *cart, enum i18n_lang lang);

/* Registers /api/v1/cart routes on router. */
int cart_routes_register(struct http_router *router, void *node);

#endif
