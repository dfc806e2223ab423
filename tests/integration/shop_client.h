/*
 * A small shop client for integration tests: accounts, catalog set-up through
 * the admin API, carts, checkout and the stock ledger check, all over HTTP
 * against the real jkd binary. Every helper fails the test on an unexpected
 * status, with the response body in the message.
 */
#ifndef JKD_TESTS_SHOP_CLIENT_H
#define JKD_TESTS_SHOP_CLIENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/integration/harness.h"

/* Who sends a request: a session (bearer token), a guest cart token, both or neither. */
struct shop_actor {
	char token[128];      /* session token, "" for none */
	char cart_token[64];  /* guest cart token, "" for none */
	uint64_t user_id;
};

/* Starts jkd with cheap password hashing and no login throttling, for fast tests. */
void shop_start(struct jkd_node *node);

/* Sends a request as actor (may be NULL) with a JSON body (may be NULL) and extra header lines. */
void shop_request(struct jkd_node *node, const struct shop_actor *actor, const char *method, const char *path,
		  const char *extra_headers, const json_t *body, struct http_reply *reply);

/* Parses the reply body as JSON; fails the test if it is not. */
json_t *shop_reply_json(const struct http_reply *reply);

/*
 * Sends a request, checks the status and returns the parsed body (caller
 * frees). Fails the test with the body if the status differs.
 */
json_t *shop_call(struct jkd_node *node, const struct shop_actor *actor, const char *method, const char *path,
		  const json_t *body, int expected_status);

/* Creates an administrator through the operator API and logs in as it. */
void shop_admin(struct jkd_node *node, const char *email, struct shop_actor *out);

/* Registers a customer; a guest cart token in out->cart_token is sent along, so that cart merges. */
void shop_register(struct jkd_node *node, const char *email, struct shop_actor *out);

/* Logs in (sending out->cart_token if set, so the guest cart merges) and keeps the session in out. */
void shop_login(struct jkd_node *node, const char *email, struct shop_actor *out);

/* Logs out and clears the session token in actor. */
void shop_logout(struct jkd_node *node, struct shop_actor *actor);

/* Creates an active product with one variant of price and stock; returns the variant id. */
uint64_t shop_variant_create(struct jkd_node *node, const struct shop_actor *admin, const char *name,
			     int64_t price_minor, int64_t stock);

/* Reads the variant's stock through the admin API. */
int64_t shop_variant_stock(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id);

/* Adds delta to the variant's stock through the admin API. */
void shop_stock_adjust(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id, int64_t delta);

/* Sets the variant's price through the admin API. */
void shop_price_set(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id, int64_t price_minor);

/* Puts the variant's product on sale (active) or takes it off sale through the admin API. */
void shop_product_active_set(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id,
			     bool active);

/* Deletes the variant through the admin API. */
void shop_variant_delete(struct jkd_node *node, const struct shop_actor *admin, uint64_t variant_id);

/*
 * Adds quantity of the variant to actor's cart and returns the cart JSON
 * (caller frees). A guest without a cart token keeps the one returned.
 */
json_t *shop_cart_add(struct jkd_node *node, struct shop_actor *actor, uint64_t variant_id, int64_t quantity);

/* Returns a checkout body with a valid Spanish address (caller frees). */
json_t *shop_checkout_body(const char *guest_email);

/* Sends POST /api/v1/orders with the idempotency key; the reply is left to the caller. */
void shop_checkout(struct jkd_node *node, const struct shop_actor *actor, const char *idempotency_key,
		   const json_t *body, struct http_reply *reply);

/* The stock each variant should have with no orders: its first stock plus the admin adjustments. */
#define SHOP_LEDGER_MAX 256
struct shop_ledger {
	uint64_t variant_ids[SHOP_LEDGER_MAX];
	int64_t expected[SHOP_LEDGER_MAX];
	size_t count;
};

/* Records a variant's first stock, or an admin adjustment of an entry already there. */
void shop_ledger_add(struct shop_ledger *ledger, uint64_t variant_id, int64_t units);

/* Drops a variant from the ledger, after the test deleted it. */
void shop_ledger_remove(struct shop_ledger *ledger, uint64_t variant_id);

/*
 * Checks, for every variant of the ledger, that its stock plus the units in
 * orders not cancelled equals its ledger entry, and that the stock is not
 * negative.
 */
void shop_ledger_check(struct jkd_node *node, const struct shop_actor *admin, const struct shop_ledger *ledger);

/* A node with an administrator and the ledger of the variants the tests made. */
struct shop_fixture {
	struct jkd_node node;
	struct shop_actor admin;
	struct shop_ledger ledger;
};

/* The fixture of the test file: one node for all its tests. */
extern struct shop_fixture shop;

/* cmocka group setup: starts the node and logs in a new administrator. */
int shop_group_setup(void **state);

/* cmocka group teardown: stops the node (failing on a non-zero exit, leak reports included) and removes its data. */
int shop_group_teardown(void **state);

/* cmocka teardown run after every test: checks the stock ledger (shop_ledger_check). */
int shop_ledger_holds(void **state);

/* Creates a variant through shop_variant_create() and records its stock in the ledger. */
uint64_t shop_fixture_variant(const char *name, int64_t price_minor, int64_t stock);

/* One client of a checkout race: checks out once, on its node, with its guest cart and idempotency key. */
#define SHOP_RACE_CLIENTS_MAX 50
struct shop_race_client {
	struct jkd_node *node;           /* NULL means shop.node */
	struct shop_actor guest;
	const char *idempotency_key;
	int status;
	char type[64];                   /* problem type of the response, "" if none */
	json_int_t order_number;         /* 0 if the response has no order */
	pthread_barrier_t *start;        /* private */
};

/*
 * Runs every client's checkout at the same moment, each on its own thread,
 * and joins them. The caller checks the results, because cmocka cannot
 * fail a test from another thread.
 */
void shop_race_run(struct shop_race_client *clients, size_t count);

/* Returns a fresh email address "<prefix>-<n>@example.es" in out. */
const char *shop_email(char *out, size_t out_size, const char *prefix);

#endif
