/*
 * Cart and orders apply without HTTP: the same command log applied to two
 * fresh stores must give byte-identical tables and results, because every
 * replica runs it. The log covers catalog set-up, cart adds, a guest cart
 * merged at registration, a checkout, a refused checkout, a replayed
 * idempotency key and a cancellation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/accounts.h"
#include "store/audit.h"
#include "store/cart.h"
#include "store/catalog.h"
#include "store/orders.h"

#define COMMANDS_MAX 16
#define STAMP_MS 1796400000000ull

struct replica {
	char dir[512];
	struct kv_env *env;
	struct store store;
};

/* One command of the log and the result each replica gave it. */
struct logged_command {
	struct buf bytes;
	int status[2];
	char *data[2];
	size_t len[2];
};

static void replica_open(struct replica *r)
{
	const char *tmp = getenv("JKD_TEST_TMP");
	struct kv_options options = {.map_size_bytes = 8u << 20, .map_size_max_bytes = 64u << 20, .max_tables = 32,
				     .max_readers = 16};

	snprintf(r->dir, sizeof(r->dir), "%s/apply-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(r->dir));
	options.path = r->dir;
	assert_int_equal(kv_open(&options, &r->env), KV_OK);
	assert_int_equal(store_open(r->env, &r->store), KV_OK);
}

static void replica_close(struct replica *r)
{
	char command[600];

	kv_close(r->env);
	snprintf(command, sizeof(command), "rm -rf '%s'", r->dir);
	assert_int_equal(system(command), 0);
}

/* Applies a command as the log writer does: in a nested transaction that a failed status discards. */
static void replica_apply(struct replica *r, uint64_t index, struct logged_command *c, int which)
{
	struct repl_result result = {0};
	struct kv_txn *txn, *child;

	assert_int_equal(kv_write_begin(r->env, &txn), KV_OK);
	assert_int_equal(kv_child_begin(txn, &child), KV_OK);
	assert_int_equal(store_apply(&r->store, child, index, c->bytes.data, c->bytes.len, &result), KV_OK);
	if (result.status == STORE_OK)
		assert_int_equal(kv_child_commit(child), KV_OK);
	else
		kv_child_abort(child);
	assert_int_equal(kv_write_commit(txn), KV_OK);
	c->status[which] = result.status;
	c->data[which] = result.data;
	c->len[which] = result.len;
}

static void admin_begin(struct rec_writer *w, struct buf *out, uint32_t type, uint32_t fields)
{
	buf_init(out, 64 * 1024);
	rec_begin(w, out, type, 1, fields + AUDIT_ACTOR_FIELDS);
	audit_actor_pack(w, 1, "admin@example.es", STAMP_MS);
}

static void product_create(struct buf *out)
{
	static const char *const texts[][2] = {{"slug", "camiseta-replica"}, {"name", "Camiseta Réplica"},
					       {"description", ""}, {"brand", ""}, {"material", ""}, {"care", ""}};
	struct rec_writer w;

	admin_begin(&w, out, CATALOG_PRODUCT_CREATE, 1);
	rec_put_name(&w, "fields");
	msgpack_pack_map(&w.pk, 11);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		msgpack_pack_str_with_body(&w.pk, texts[i][0], strlen(texts[i][0]));
		msgpack_pack_str_with_body(&w.pk, texts[i][1], strlen(texts[i][1]));
	}
	msgpack_pack_str_with_body(&w.pk, "gender", 6);
	msgpack_pack_uint64(&w.pk, CATALOG_GENDER_UNISEX);
	msgpack_pack_str_with_body(&w.pk, "type", 4);
	msgpack_pack_uint64(&w.pk, CATALOG_TYPE_ROPA);
	msgpack_pack_str_with_body(&w.pk, "tags", 4);
	msgpack_pack_array(&w.pk, 0);
	msgpack_pack_str_with_body(&w.pk, "active", 6);
	msgpack_pack_true(&w.pk);
	msgpack_pack_str_with_body(&w.pk, "category", 8);
	msgpack_pack_uint64(&w.pk, 0);
	assert_int_equal(rec_end(&w), 0);
}

static void variant_create(struct buf *out, int64_t stock)
{
	struct rec_writer w;

	admin_begin(&w, out, CATALOG_VARIANT_CREATE, 2);
	rec_put_u64(&w, "product", 1);
	rec_put_name(&w, "fields");
	msgpack_pack_map(&w.pk, 6);
	msgpack_pack_str_with_body(&w.pk, "sku", 3);
	msgpack_pack_str_with_body(&w.pk, "CAM-REP-M", 9);
	msgpack_pack_str_with_body(&w.pk, "talla", 5);
	msgpack_pack_str_with_body(&w.pk, "M", 1);
	msgpack_pack_str_with_body(&w.pk, "color", 5);
	msgpack_pack_str_with_body(&w.pk, "Azul", 4);
	msgpack_pack_str_with_body(&w.pk, "price", 5);
	msgpack_pack_int64(&w.pk, 1999);
	msgpack_pack_str_with_body(&w.pk, "compare_at", 10);
	msgpack_pack_int64(&w.pk, 0);
	msgpack_pack_str_with_body(&w.pk, "stock", 5);
	msgpack_pack_int64(&w.pk, stock);
	assert_int_equal(rec_end(&w), 0);
}

static void guest_hash(unsigned char hash[32], unsigned char seed)
{
	memset(hash, seed, 32);
}

static void cart_add(struct buf *out, const struct cart_key *key, int64_t quantity)
{
	struct rec_writer w;

	buf_init(out, 1024);
	rec_begin(&w, out, CART_LINE_ADD, 1, 4);
	rec_put_bin(&w, "cart", key->bytes, key->len);
	rec_put_u64(&w, "variant", 1);
	rec_put_i64(&w, "quantity", quantity);
	rec_put_u64(&w, "at", STAMP_MS + 1);
	assert_int_equal(rec_end(&w), 0);
}

/* Registers a customer whose command carries the guest cart of seed. */
static void register_with_cart(struct buf *out, unsigned char seed)
{
	unsigned char hash[32];
	struct rec_writer w;

	guest_hash(hash, seed);
	buf_init(out, 4096);
	rec_begin(&w, out, ACCOUNTS_REGISTER, 1, 6);
	rec_put_cstr(&w, "email", "cliente@example.es");
	rec_put_cstr(&w, "name", "Cliente");
	rec_put_cstr(&w, "hash", "$argon2id$not-checked-by-apply");
	rec_put_u64(&w, "role", ACCOUNTS_ROLE_CUSTOMER);
	rec_put_u64(&w, "created_at", STAMP_MS + 2);
	rec_put_bin(&w, "guest_cart", hash, sizeof(hash));
	assert_int_equal(rec_end(&w), 0);
}

static void checkout(struct buf *out, const struct cart_key *key, uint64_t user_id, const char *idempotency_key)
{
	static const char *const address[][2] = {{"name", "Lucía"}, {"street", "Calle Mayor 1"}, {"city", "León"},
						 {"postal_code", "24001"}, {"province", "León"}, {"country", "ES"},
						 {"phone", "612345678"}};
	struct rec_writer w;

	buf_init(out, 4096);
	rec_begin(&w, out, ORDERS_CHECKOUT, 1, 8);
	rec_put_bin(&w, "cart", key->bytes, key->len);
	rec_put_u64(&w, "user", user_id);
	rec_put_cstr(&w, "email", "cliente@example.es");
	rec_put_cstr(&w, "key", idempotency_key);
	rec_put_cstr(&w, "payment", "contra_entrega");
	rec_put_u64(&w, "at", STAMP_MS + 3);
	rec_put_cstr(&w, "expected_total", NULL);
	rec_put_name(&w, "address");
	msgpack_pack_map(&w.pk, 7);
	for (size_t i = 0; i < 7; i++) {
		msgpack_pack_str_with_body(&w.pk, address[i][0], strlen(address[i][0]));
		msgpack_pack_str_with_body(&w.pk, address[i][1], strlen(address[i][1]));
	}
	assert_int_equal(rec_end(&w), 0);
}

static void cancel(struct buf *out, uint64_t number, uint64_t user_id)
{
	struct rec_writer w;

	buf_init(out, 1024);
	rec_begin(&w, out, ORDERS_STATE_CHANGE, 1, 5);
	rec_put_u64(&w, "number", number);
	rec_put_cstr(&w, "state", "cancelada");
	rec_put_bool(&w, "admin", false);
	rec_put_u64(&w, "user", user_id);
	rec_put_u64(&w, "at", STAMP_MS + 4);
	assert_int_equal(rec_end(&w), 0);
}

/* Builds the log; returns how many commands it has. */
static size_t log_build(struct logged_command *log)
{
	struct cart_key guest, customer, other;
	unsigned char hash[32];
	size_t n = 0;

	guest_hash(hash, 7);
	cart_key_guest(&guest, hash);
	guest_hash(hash, 9);
	cart_key_guest(&other, hash);
	cart_key_user(&customer, 1);
	product_create(&log[n++].bytes);
	variant_create(&log[n++].bytes, 5);
	cart_add(&log[n++].bytes, &guest, 3);
	register_with_cart(&log[n++].bytes, 7); /* the first account: user 1 */
	cart_add(&log[n++].bytes, &other, 4);
	checkout(&log[n++].bytes, &customer, 1, "clave-1");
	checkout(&log[n++].bytes, &other, 0, "clave-2"); /* 4 units against 2 left: out of stock */
	checkout(&log[n++].bytes, &customer, 1, "clave-1"); /* replay */
	cancel(&log[n++].bytes, 1, 1);
	assert_true(n <= COMMANDS_MAX);
	return n;
}

/* Fails unless the table contains the same keys and values in both replicas. */
static void tables_equal(struct replica *a, struct replica *b, kv_table table_a, kv_table table_b, const char *name)
{
	struct kv_txn *txn_a, *txn_b;
	struct kv_cursor *cursor_a, *cursor_b;
	struct kv_val key_a, val_a, key_b, val_b;
	enum kv_err err_a, err_b;
	size_t rows = 0;

	assert_int_equal(kv_read_begin(a->env, &txn_a), KV_OK);
	assert_int_equal(kv_read_begin(b->env, &txn_b), KV_OK);
	assert_int_equal(kv_scan_begin(txn_a, table_a, NULL, 0, NULL, 0, &cursor_a), KV_OK);
	assert_int_equal(kv_scan_begin(txn_b, table_b, NULL, 0, NULL, 0, &cursor_b), KV_OK);
	do {
		err_a = kv_scan_next(cursor_a, &key_a, &val_a);
		err_b = kv_scan_next(cursor_b, &key_b, &val_b);
		if (err_a != err_b)
			fail_msg("table %s: one replica has more rows than the other after %zu", name, rows);
		if (err_a == KV_OK && (key_a.len != key_b.len || memcmp(key_a.data, key_b.data, key_a.len) != 0 ||
				       val_a.len != val_b.len || memcmp(val_a.data, val_b.data, val_a.len) != 0))
			fail_msg("table %s: row %zu differs between replicas", name, rows);
		rows++;
	} while (err_a == KV_OK);
	kv_scan_end(cursor_a);
	kv_scan_end(cursor_b);
	kv_read_end(txn_a);
	kv_read_end(txn_b);
}

static void same_log_gives_same_state(void **state)
{
	static struct logged_command log[COMMANDS_MAX];
	struct replica replicas[2];
	size_t count = log_build(log);

	(void)state;
	replica_open(&replicas[0]);
	replica_open(&replicas[1]);
	for (int which = 0; which < 2; which++) {
		for (size_t i = 0; i < count; i++)
			replica_apply(&replicas[which], i + 1, &log[i], which);
	}
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(log[i].status[0], log[i].status[1]);
		assert_int_equal(log[i].len[0], log[i].len[1]);
		assert_memory_equal(log[i].data[0], log[i].data[1], log[i].len[0]);
	}
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.carts, replicas[1].store.carts, "carts");
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.orders, replicas[1].store.orders, "orders");
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.orders_index, replicas[1].store.orders_index,
		     "orders_index");
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.variants, replicas[1].store.variants, "variants");
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.counters, replicas[1].store.counters, "counters");
	tables_equal(&replicas[0], &replicas[1], replicas[0].store.audit, replicas[1].store.audit, "audit");

	/* The log's outcomes: merge, one order, a refused checkout, a replay, a cancellation. */
	assert_int_equal(log[3].status[0], STORE_OK);
	assert_int_equal(log[5].status[0], STORE_OK);
	assert_int_equal(log[6].status[0], STORE_CONFLICT);
	assert_int_equal(log[7].status[0], STORE_OK);
	assert_non_null(strstr(log[7].data[0], "\"replayed\":true"));
	assert_int_equal(log[8].status[0], STORE_OK);
	assert_non_null(strstr(log[8].data[0], "\"state\":\"cancelada\""));

	for (size_t i = 0; i < count; i++) {
		buf_free(&log[i].bytes);
		free(log[i].data[0]);
		free(log[i].data[1]);
	}
	replica_close(&replicas[0]);
	replica_close(&replicas[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_log_gives_same_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
