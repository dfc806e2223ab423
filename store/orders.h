/*
 * Orders: checkout turns a cart into an order, and an order moves through
 * its states.
 *
 * Guarantees, each enforced in apply:
 * - Checkout is one command. It checks the stock of every cart line and
 *   takes it all (catalog_stock_add) or, if any line is short, changes
 *   nothing and lists every short variant with the units left. The same
 *   command stores the order and empties the cart.
 * - The order keeps a snapshot of each line (product name, SKU, talla,
 *   color, unit price, quantity, line total) at the current prices, the
 *   same prices and total the cart view shows.
 * - An idempotency key names one checkout within its scope, which is the
 *   customer or the guest cart. A second checkout with the same key returns
 *   the first order and creates nothing. That is true even when both arrive
 *   at once, because apply checks and records the key.
 * - States: pendiente -> pagada -> enviada -> entregada, and cancelada from
 *   pendiente or pagada. Any other transition is a conflict. Cancelling
 *   gives the stock of every line back; cancelada is final, so that happens
 *   once.
 *
 * Table orders: order number (big-endian u64) -> order record. The record
 * body is a msgpack map shaped like the order's JSON (see orders_render),
 * plus members whose names start with '_' that the JSON leaves out.
 *
 * Table orders_index, keys by their first byte ("~n" is UINT64_MAX - order
 * number as big-endian u64, so a forward scan lists the newest first):
 *   'a' | ~n                        -> empty       every order
 *   's' | state (1 byte) | ~n       -> empty       orders in a state
 *   'u' | user id (8) | ~n          -> empty       a customer's orders
 *   'i' | scope | idempotency key   -> n (8)       scope: 'u' | user id (8)
 *                                                  or 'g' | cart token SHA-256 (32)
 *   'n' | state (1 byte)            -> count (8)   orders in a state; state 0: all
 *   'p' | user id (8)               -> [count (8), spent (8)]  a customer's
 *                                      orders, and the total of those not cancelled
 * Counts are kept by apply so listings report a total without scanning.
 */
#ifndef JKD_STORE_ORDERS_H
#define JKD_STORE_ORDERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/http/http.h"

enum orders_command {
	ORDERS_CHECKOUT = STORE_COMMANDS_ORDERS, /* see api_orders.c for the fields */
	ORDERS_STATE_CHANGE,
};

enum order_state {
	ORDER_PENDIENTE = 1,
	ORDER_PAGADA = 2,
	ORDER_ENVIADA = 3,
	ORDER_ENTREGADA = 4,
	ORDER_CANCELADA = 5,
};

#define ORDER_STATE_COUNT 5
#define ORDERS_IDEMPOTENCY_KEY_MAX 64
#define ORDERS_PAGE_SIZE_MAX 100
#define ORDERS_PAGE_MAX 1000

/* Returns the state's name ("pendiente", ...), or NULL for a value outside enum order_state. */
const char *order_state_name(enum order_state state);

/* Parses a state name; returns 0 for an unknown name. */
enum order_state order_state_parse(const char *name);

/* Returns true if an order may go from one state to the other. */
bool order_transition_allowed(enum order_state from, enum order_state to);

/* The reader of an order: a customer by user id, a guest by cart token hash, or an admin. */
struct order_viewer {
	uint64_t user_id;              /* 0: a guest */
	bool has_guest_cart;
	unsigned char guest_cart[32];  /* SHA-256 of the guest's cart token */
	bool admin;                    /* may read and change every order */
};

/*
 * Reads order number as its JSON (new reference) into *out, if viewer may
 * see it. Returns KV_OK, KV_NOT_FOUND (also when the viewer may not see
 * it) or a kv error.
 */
enum kv_err orders_get_json(struct store *store, struct kv_txn *txn, uint64_t number,
			    const struct order_viewer *viewer, json_t **out);

/*
 * Lists one page of orders, newest first, into *out as {"orders": [...],
 * "page", "page_size", "total"}: a customer's (user_id != 0), or with
 * user_id 0 every order, in state (0: any state). page counts from 1.
 */
enum kv_err orders_list(struct store *store, struct kv_txn *txn, uint64_t user_id, enum order_state state,
			unsigned page, unsigned page_size, json_t **out);

/*
 * Reads a customer's order count and the total of the orders not
 * cancelled, in minor units. Both are 0 for a customer without orders.
 */
enum kv_err orders_customer_stats(struct store *store, struct kv_txn *txn, uint64_t user_id, uint64_t *count,
				  int64_t *spent_minor);

/* The store_domain_apply_fn of the orders commands. */
enum kv_err orders_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			 const struct rec *command, struct repl_result *result);

/* Registers the customer routes (/api/v1/orders...) and the admin ones (/api/v1/admin/...). */
int orders_routes_register(struct http_router *router, void *node);

#endif
