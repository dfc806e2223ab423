/*
 * Checkout on a three-node cluster with the clients spread over all nodes:
 * stock is taken all at once or not at all, and one idempotency key makes
 * one order even when two nodes receive it at the same time. The
 * single-node versions are in test_checkout.c.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/cluster.h"
#include "tests/integration/shop_client.h"

#define RACE_CLIENTS 48
#define TIMEOUT_MS 10000

static struct cluster cluster;
static struct shop_actor admin;

static struct jkd_node *member(size_t i)
{
	return cluster.members[i % cluster.count].node;
}

static int cluster_setup(void **state)
{
	static const char *const flags[] = {"--auth-hash-memory-mb", "8", "--auth-login-address-attempts", "100000",
					    NULL};
	char email[128];

	(void)state;
	cluster_start(&cluster, 3, flags);
	shop_admin(member(0), shop_email(email, sizeof(email), "admin"), &admin);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	return 0;
}

/*
 * Returns the variant's stock on node 1, where the administrator logged in,
 * after checking that every node has the same shop tables.
 */
static int64_t stock_after_commit(uint64_t variant_id)
{
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
	return shop_variant_stock(member(0), &admin, variant_id);
}

static void guests_on_all_nodes_race_for_three_units(void **state)
{
	static struct shop_race_client clients[RACE_CLIENTS];
	char keys[RACE_CLIENTS][32];
	uint64_t variant_id = shop_variant_create(member(0), &admin, "Camiseta Clúster", 1999, 3);
	int created = 0, out_of_stock = 0;

	(void)state;
	memset(clients, 0, sizeof(clients));
	cluster_wait_applied(&cluster, cluster_applied_max(&cluster), TIMEOUT_MS);
	for (size_t i = 0; i < RACE_CLIENTS; i++) {
		clients[i].node = member(i);
		json_decref(shop_cart_add(clients[i].node, &clients[i].guest, variant_id, 1));
		snprintf(keys[i], sizeof(keys[i]), "cluster-race-%zu", i);
		clients[i].idempotency_key = keys[i];
	}
	shop_race_run(clients, RACE_CLIENTS);
	for (size_t i = 0; i < RACE_CLIENTS; i++) {
		if (clients[i].status == 201)
			created++;
		else if (clients[i].status == 409 && strcmp(clients[i].type, "/problems/out_of_stock") == 0)
			out_of_stock++;
		else
			fail_msg("client %zu on node %zu: unexpected status %d (%s)", i, i % cluster.count + 1,
				 clients[i].status, clients[i].type);
	}
	assert_int_equal(created, 3);
	assert_int_equal(out_of_stock, RACE_CLIENTS - 3);
	assert_int_equal(stock_after_commit(variant_id), 0);
}

static void same_key_on_two_nodes_makes_one_order(void **state)
{
	struct shop_race_client clients[2];
	uint64_t variant_id = shop_variant_create(member(0), &admin, "Chaqueta Dos Nodos", 8900, 10);

	(void)state;
	memset(clients, 0, sizeof(clients));
	json_decref(shop_cart_add(member(0), &clients[0].guest, variant_id, 1));
	cluster_wait_applied(&cluster, cluster_applied_max(&cluster), TIMEOUT_MS);
	clients[1].guest = clients[0].guest;
	clients[0].node = member(1);
	clients[1].node = member(2);
	clients[0].idempotency_key = "clave-dos-nodos";
	clients[1].idempotency_key = "clave-dos-nodos";
	shop_race_run(clients, 2);
	assert_int_equal((clients[0].status == 201) + (clients[1].status == 201), 1);
	assert_int_equal((clients[0].status == 200) + (clients[1].status == 200), 1);
	assert_true(clients[0].order_number > 0);
	assert_int_equal(clients[0].order_number, clients[1].order_number);
	assert_int_equal(stock_after_commit(variant_id), 9);
}

static void replayed_key_on_other_node_returns_first_order(void **state)
{
	struct shop_actor guest;
	struct http_reply first, second;
	json_t *body = shop_checkout_body("otro-nodo@example.es");
	uint64_t variant_id = shop_variant_create(member(0), &admin, "Pantalón Otro Nodo", 4500, 10);
	char replayed[16];

	(void)state;
	memset(&guest, 0, sizeof(guest));
	json_decref(shop_cart_add(member(1), &guest, variant_id, 2));
	shop_checkout(member(1), &guest, "clave-otro-nodo", body, &first);
	assert_int_equal(first.status, 201);
	cluster_wait_applied(&cluster, cluster_applied_max(&cluster), TIMEOUT_MS);
	shop_checkout(member(2), &guest, "clave-otro-nodo", body, &second);
	assert_int_equal(second.status, 200);
	assert_string_equal(second.body, first.body);
	assert_true(http_reply_header(&second, "Idempotent-Replayed", replayed, sizeof(replayed)));
	assert_int_equal(stock_after_commit(variant_id), 8);
	http_reply_free(&first);
	http_reply_free(&second);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guests_on_all_nodes_race_for_three_units),
		cmocka_unit_test(same_key_on_two_nodes_makes_one_order),
		cmocka_unit_test(replayed_key_on_other_node_returns_first_order),
	};

	return cmocka_run_group_tests(tests, cluster_setup, cluster_teardown);
}
