/*
 * Unit tests of kv/kv.c against a real LMDB environment in a fresh
 * temporary directory per test, under $JKD_TEST_TMP (or /tmp).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kv/kv.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

/* Small map sizes for the growth tests: 64 KiB doubles six times to 4 MiB. */
#define TINY_MAP_BYTES (64 * KIB)
#define TINY_MAP_MAX_BYTES (4 * MIB)
#define TINY_MAP_GROWTHS 6

#define BATCH_KEYS 16
#define BATCH_VALUE_BYTES 1000
/* Bounds the fill loops: 2000 batches of 16 KB exceed the 4 MiB cap many times. */
#define MAX_BATCHES 2000

#define TEST_MAX_TABLES 4
#define TEST_MAX_READERS 16

/* How long a thread that must not block may take before the test fails. */
#define THREAD_DEADLINE_SECONDS 10

struct fixture {
	char dir[PATH_MAX];
	struct kv_env *env;
	kv_table table;
};

struct bytes {
	const char *data;
	size_t len;
};

/* A byte string from a literal that may contain NUL and 0xff bytes. */
#define BYTES(literal) ((struct bytes){ (literal), sizeof(literal) - 1 })

static void make_temp_dir(char *dir, size_t size)
{
	const char *base = getenv("JKD_TEST_TMP");
	int len;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	len = snprintf(dir, size, "%s/test_kv.XXXXXX", base);
	assert_true(len > 0 && (size_t)len < size);
	assert_non_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct kv_options options_for(const char *path, size_t map_bytes, size_t max_bytes)
{
	return (struct kv_options){
		.path = path,
		.map_size_bytes = map_bytes,
		.map_size_max_bytes = max_bytes,
		.max_tables = TEST_MAX_TABLES,
		.max_readers = TEST_MAX_READERS,
	};
}

static void open_env(struct fixture *f, size_t map_bytes, size_t max_bytes)
{
	struct kv_options options = options_for(f->dir, map_bytes, max_bytes);

	assert_int_equal(kv_open(&options, &f->env), KV_OK);
	assert_int_equal(kv_table_open(f->env, "items", &f->table), KV_OK);
}

static void reopen_env(struct fixture *f, size_t map_bytes, size_t max_bytes)
{
	kv_close(f->env);
	f->env = NULL;
	open_env(f, map_bytes, max_bytes);
}

static int setup_temp_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	make_temp_dir(f->dir, sizeof(f->dir));
	*state = f;
	return 0;
}

static int setup_env(void **state)
{
	struct fixture *f;

	if (setup_temp_dir(state) != 0)
		return -1;
	f = *state;
	open_env(f, 1 * MIB, 16 * MIB);
	return 0;
}

static int setup_tiny_env(void **state)
{
	struct fixture *f;

	if (setup_temp_dir(state) != 0)
		return -1;
	f = *state;
	open_env(f, TINY_MAP_BYTES, TINY_MAP_MAX_BYTES);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kv_close(f->env);
	remove_tree(f->dir);
	free(f);
	return 0;
}

static void put_bytes(struct fixture *f, struct bytes key, struct bytes value)
{
	struct kv_txn *txn;

	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, key.data, key.len, value.data, value.len), KV_OK);
	assert_int_equal(kv_write_commit(txn), KV_OK);
}

static void put_string(struct fixture *f, const char *key, const char *value)
{
	put_bytes(f, (struct bytes){ key, strlen(key) }, (struct bytes){ value, strlen(value) });
}

static void assert_value_in(struct kv_txn *txn, kv_table table, const char *key,
			    const char *expected)
{
	struct kv_val value;

	assert_int_equal(kv_get(txn, table, key, strlen(key), &value), KV_OK);
	assert_int_equal(value.len, strlen(expected));
	assert_memory_equal(value.data, expected, value.len);
}

static void assert_absent_in(struct kv_txn *txn, kv_table table, const char *key)
{
	struct kv_val value;

	assert_int_equal(kv_get(txn, table, key, strlen(key), &value), KV_NOT_FOUND);
}

static void assert_stored(struct fixture *f, const char *key, const char *expected)
{
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_value_in(txn, f->table, key, expected);
	kv_read_end(txn);
}

static void assert_absent(struct fixture *f, const char *key)
{
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_absent_in(txn, f->table, key);
	kv_read_end(txn);
}

static size_t map_size(struct kv_env *env)
{
	struct kv_stats stats;

	assert_int_equal(kv_stats(env, &stats), KV_OK);
	return stats.map_size_bytes;
}

static void sleep_ms(long ms)
{
	struct timespec delay = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&delay, NULL);
}

/* Joins thread, failing the test if it has not ended within the deadline. */
static void join_within_deadline(pthread_t thread)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += THREAD_DEADLINE_SECONDS;
	assert_int_equal(pthread_timedjoin_np(thread, NULL, &deadline), 0);
}

/* Batch writes: key k%08u contains BATCH_VALUE_BYTES bytes derived from its index. */

static void batch_key(char *key, size_t size, unsigned index)
{
	snprintf(key, size, "k%08u", index);
}

static void batch_value(unsigned char *value, unsigned index)
{
	memset(value, (int)(index * 7 % 251), BATCH_VALUE_BYTES);
}

/* Writes keys first to first + BATCH_KEYS - 1 in one write transaction. */
static enum kv_err put_batch(struct fixture *f, unsigned first)
{
	unsigned char value[BATCH_VALUE_BYTES];
	struct kv_txn *txn;
	char key[16];
	enum kv_err err;
	unsigned i;

	err = kv_write_begin(f->env, &txn);
	if (err != KV_OK)
		return err;
	for (i = first; i < first + BATCH_KEYS; i++) {
		batch_key(key, sizeof(key), i);
		batch_value(value, i);
		err = kv_put(txn, f->table, key, strlen(key), value, sizeof(value));
		if (err != KV_OK) {
			kv_write_abort(txn);
			return err;
		}
	}
	return kv_write_commit(txn);
}

static void assert_batches_stored(struct fixture *f, unsigned count)
{
	unsigned char expected[BATCH_VALUE_BYTES];
	struct kv_val value;
	struct kv_txn *txn;
	char key[16];
	unsigned i;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	for (i = 0; i < count; i++) {
		batch_key(key, sizeof(key), i);
		batch_value(expected, i);
		assert_int_equal(kv_get(txn, f->table, key, strlen(key), &value), KV_OK);
		assert_int_equal(value.len, sizeof(expected));
		assert_memory_equal(value.data, expected, sizeof(expected));
	}
	kv_read_end(txn);
}

/* Writes batches until one fails and returns that error. *written counts the stored keys. */
static enum kv_err fill_until_error(struct fixture *f, unsigned *written)
{
	enum kv_err err = KV_OK;
	int batch;

	for (batch = 0; batch < MAX_BATCHES; batch++) {
		err = put_batch(f, *written);
		if (err != KV_OK)
			return err;
		*written += BATCH_KEYS;
	}
	return err;
}

/* Asserts that a scan yields exactly the expected keys, in order. */
static void assert_scan(struct fixture *f, struct bytes prefix, struct bytes after,
			const struct bytes *expected, size_t expected_count)
{
	struct kv_cursor *cursor;
	struct kv_val key, value;
	struct kv_txn *txn;
	size_t i;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_scan_begin(txn, f->table, prefix.data, prefix.len, after.data,
				       after.len, &cursor), KV_OK);
	for (i = 0; i < expected_count; i++) {
		assert_int_equal(kv_scan_next(cursor, &key, &value), KV_OK);
		assert_int_equal(key.len, expected[i].len);
		assert_memory_equal(key.data, expected[i].data, key.len);
	}
	assert_int_equal(kv_scan_next(cursor, &key, &value), KV_NOT_FOUND);
	kv_scan_end(cursor);
	kv_read_end(txn);
}

static void put_keys(struct fixture *f, const struct bytes *keys, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		put_bytes(f, keys[i], BYTES("v"));
}

#define ARRAY_LEN(array) (sizeof(array) / sizeof((array)[0]))
#define NO_BYTES ((struct bytes){ NULL, 0 })

/* Basic operations */

static void put_then_get_returns_value(void **state)
{
	struct fixture *f = *state;

	put_string(f, "sku/1", "red shirt");
	assert_stored(f, "sku/1", "red shirt");
}

static void put_overwrites_value(void **state)
{
	struct fixture *f = *state;

	put_string(f, "sku/1", "red shirt");
	put_string(f, "sku/1", "blue shirt");
	assert_stored(f, "sku/1", "blue shirt");
}

static void put_accepts_empty_value(void **state)
{
	struct fixture *f = *state;

	put_bytes(f, BYTES("sku/1"), NO_BYTES);
	assert_stored(f, "sku/1", "");
}

static void get_missing_key_returns_not_found(void **state)
{
	struct fixture *f = *state;

	put_string(f, "sku/1", "red shirt");
	assert_absent(f, "sku/2");
}

static void del_removes_key(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *txn;

	put_string(f, "sku/1", "red shirt");
	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_del(txn, f->table, "sku/1", 5), KV_OK);
	assert_int_equal(kv_write_commit(txn), KV_OK);
	assert_absent(f, "sku/1");
}

static void del_missing_key_returns_not_found(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *txn;

	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_del(txn, f->table, "sku/1", 5), KV_NOT_FOUND);
	kv_write_abort(txn);
}

static void empty_key_rejected(void **state)
{
	struct fixture *f = *state;
	struct kv_val value;
	struct kv_txn *txn;

	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, "", 0, "v", 1), KV_INVALID);
	assert_int_equal(kv_get(txn, f->table, "", 0, &value), KV_INVALID);
	assert_int_equal(kv_del(txn, f->table, "", 0), KV_INVALID);
	assert_int_equal(kv_put(txn, f->table, NULL, 3, "v", 1), KV_INVALID);
	kv_write_abort(txn);
}

static void oversized_key_rejected(void **state)
{
	struct fixture *f = *state;
	char key[KV_KEY_MAX_BYTES + 1];
	struct kv_val value;
	struct kv_txn *txn;

	memset(key, 'k', sizeof(key));
	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, key, sizeof(key), "v", 1), KV_INVALID);
	assert_int_equal(kv_get(txn, f->table, key, sizeof(key), &value), KV_INVALID);
	assert_int_equal(kv_del(txn, f->table, key, sizeof(key)), KV_INVALID);
	kv_write_abort(txn);
}

static void max_size_key_accepted(void **state)
{
	struct fixture *f = *state;
	char key[KV_KEY_MAX_BYTES];
	struct kv_val value;
	struct kv_txn *txn;

	memset(key, 'k', sizeof(key));
	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, key, sizeof(key), "v", 1), KV_OK);
	assert_int_equal(kv_write_commit(txn), KV_OK);

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_get(txn, f->table, key, sizeof(key), &value), KV_OK);
	assert_int_equal(value.len, 1);
	kv_read_end(txn);
}

static void put_in_read_txn_rejected(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, "k", 1, "v", 1), KV_INVALID);
	assert_int_equal(kv_del(txn, f->table, "k", 1), KV_INVALID);
	kv_read_end(txn);
}

static void write_abort_discards_changes(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *txn;

	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, "k", 1, "v", 1), KV_OK);
	kv_write_abort(txn);
	assert_absent(f, "k");
}

static void tables_keep_keys_apart(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *txn;
	kv_table other;

	assert_int_equal(kv_table_open(f->env, "other", &other), KV_OK);
	put_string(f, "k", "items value");
	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_absent_in(txn, other, "k");
	kv_read_end(txn);
}

static void commit_survives_reopen(void **state)
{
	struct fixture *f = *state;

	put_string(f, "order/7", "paid");
	reopen_env(f, 1 * MIB, 16 * MIB);
	assert_stored(f, "order/7", "paid");
}

/* Prefix scans */

static void scan_yields_prefix_keys_in_order(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = {
		BYTES("user/2"), BYTES("user/10"), BYTES("other"), BYTES("user/1"), BYTES("users"),
	};
	const struct bytes expected[] = { BYTES("user/1"), BYTES("user/10"), BYTES("user/2") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("user/"), NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_stops_at_prefix_boundary(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = {
		BYTES("a"), BYTES("aa"), BYTES("ab"), BYTES("ab\0"), BYTES("abc"),
		BYTES("abz"), BYTES("ac"), BYTES("b"),
	};
	const struct bytes expected[] = { BYTES("ab"), BYTES("ab\0"), BYTES("abc"), BYTES("abz") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("ab"), NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_prefix_matches_equal_key(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("ab"), BYTES("abc"), BYTES("abcd"), BYTES("abd") };
	const struct bytes expected[] = { BYTES("abc"), BYTES("abcd") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("abc"), NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_prefix_ending_in_0xff(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = {
		BYTES("a\xfe"), BYTES("a\xff"), BYTES("a\xff\x00"), BYTES("a\xff\xff"),
		BYTES("a\xff\xff\xff"), BYTES("b"), BYTES("\xff"),
	};
	const struct bytes expected[] = {
		BYTES("a\xff"), BYTES("a\xff\x00"), BYTES("a\xff\xff"), BYTES("a\xff\xff\xff"),
	};

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("a\xff"), NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_0xff_prefix_ends_at_table_end(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("a"), BYTES("\xfe"), BYTES("\xff"), BYTES("\xff\xff") };
	const struct bytes expected[] = { BYTES("\xff"), BYTES("\xff\xff") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("\xff"), NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_empty_prefix_yields_all_keys(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("c"), BYTES("a"), BYTES("b") };
	const struct bytes expected[] = { BYTES("a"), BYTES("b"), BYTES("c") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, NO_BYTES, NO_BYTES, expected, ARRAY_LEN(expected));
}

static void scan_empty_table_yields_nothing(void **state)
{
	struct fixture *f = *state;

	assert_scan(f, BYTES("a"), NO_BYTES, NULL, 0);
	assert_scan(f, NO_BYTES, NO_BYTES, NULL, 0);
}

static void scan_prefix_without_keys_yields_nothing(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("a"), BYTES("c") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("b"), NO_BYTES, NULL, 0);
}

static void scan_pages_with_after_key(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = {
		BYTES("o"), BYTES("p/1"), BYTES("p/2"), BYTES("p/3"), BYTES("p/4"), BYTES("p/5"),
		BYTES("q/1"),
	};
	const struct bytes page1[] = { BYTES("p/1"), BYTES("p/2"), BYTES("p/3"), BYTES("p/4"),
				       BYTES("p/5") };
	const struct bytes page2[] = { BYTES("p/3"), BYTES("p/4"), BYTES("p/5") };
	const struct bytes page3[] = { BYTES("p/5") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("p/"), NO_BYTES, page1, ARRAY_LEN(page1));
	assert_scan(f, BYTES("p/"), BYTES("p/2"), page2, ARRAY_LEN(page2));
	assert_scan(f, BYTES("p/"), BYTES("p/4"), page3, ARRAY_LEN(page3));
	assert_scan(f, BYTES("p/"), BYTES("p/5"), NULL, 0);
}

static void scan_after_absent_key_starts_at_next(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("p/1"), BYTES("p/3"), BYTES("p/5") };
	const struct bytes expected[] = { BYTES("p/3"), BYTES("p/5") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("p/"), BYTES("p/2"), expected, ARRAY_LEN(expected));
}

static void scan_after_before_prefix_starts_at_prefix(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("a"), BYTES("p"), BYTES("p/1"), BYTES("p/2") };
	const struct bytes with_prefix_key[] = { BYTES("p/1"), BYTES("p/2") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("p/"), BYTES("a"), with_prefix_key, ARRAY_LEN(with_prefix_key));
	/* "p" is a proper prefix of the prefix "p/", so it sorts before every match. */
	assert_scan(f, BYTES("p/"), BYTES("p"), with_prefix_key, ARRAY_LEN(with_prefix_key));
}

static void scan_after_equal_to_prefix_excludes_it(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("p"), BYTES("p/1"), BYTES("q") };
	const struct bytes expected[] = { BYTES("p/1") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("p"), BYTES("p"), expected, ARRAY_LEN(expected));
}

static void scan_after_past_prefix_yields_nothing(void **state)
{
	struct fixture *f = *state;
	const struct bytes keys[] = { BYTES("p/1"), BYTES("p/2"), BYTES("q/1") };

	put_keys(f, keys, ARRAY_LEN(keys));
	assert_scan(f, BYTES("p/"), BYTES("q"), NULL, 0);
}

static void scan_next_after_end_returns_not_found(void **state)
{
	struct fixture *f = *state;
	struct kv_cursor *cursor;
	struct kv_txn *txn;
	struct kv_val key;
	int i;

	put_string(f, "a", "v");
	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_scan_begin(txn, f->table, NULL, 0, NULL, 0, &cursor), KV_OK);
	assert_int_equal(kv_scan_next(cursor, &key, NULL), KV_OK);
	for (i = 0; i < 3; i++)
		assert_int_equal(kv_scan_next(cursor, &key, NULL), KV_NOT_FOUND);
	kv_scan_end(cursor);
	kv_read_end(txn);
}

static void scan_sees_own_uncommitted_writes(void **state)
{
	struct fixture *f = *state;
	struct kv_cursor *cursor;
	struct kv_val key, value;
	struct kv_txn *txn;

	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_put(txn, f->table, "p/1", 3, "v", 1), KV_OK);
	assert_int_equal(kv_scan_begin(txn, f->table, "p/", 2, NULL, 0, &cursor), KV_OK);
	assert_int_equal(kv_scan_next(cursor, &key, &value), KV_OK);
	assert_int_equal(key.len, 3);
	assert_memory_equal(key.data, "p/1", 3);
	assert_int_equal(kv_scan_next(cursor, &key, &value), KV_NOT_FOUND);
	kv_scan_end(cursor);
	kv_write_abort(txn);
}

static void scan_rejects_oversized_bounds(void **state)
{
	struct fixture *f = *state;
	char bound[KV_KEY_MAX_BYTES + 1] = { 0 };
	struct kv_cursor *cursor;
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(f->env, &txn), KV_OK);
	assert_int_equal(kv_scan_begin(txn, f->table, bound, sizeof(bound), NULL, 0, &cursor),
			 KV_INVALID);
	assert_null(cursor);
	assert_int_equal(kv_scan_begin(txn, f->table, NULL, 0, bound, sizeof(bound), &cursor),
			 KV_INVALID);
	assert_null(cursor);
	kv_read_end(txn);
}

/* Transactions */

static void read_txn_keeps_snapshot_across_commit(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *reader;

	put_string(f, "stock", "old");
	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	put_string(f, "stock", "new");
	put_string(f, "added", "later");

	assert_value_in(reader, f->table, "stock", "old");
	assert_absent_in(reader, f->table, "added");
	kv_read_end(reader);
	assert_stored(f, "stock", "new");
}

struct writer_call {
	struct fixture *fixture;
	enum kv_err err;
};

static void *write_new_stock(void *arg)
{
	struct writer_call *call = arg;
	struct kv_txn *txn;

	call->err = kv_write_begin(call->fixture->env, &txn);
	if (call->err != KV_OK)
		return NULL;
	call->err = kv_put(txn, call->fixture->table, "stock", 5, "new", 3);
	if (call->err != KV_OK) {
		kv_write_abort(txn);
		return NULL;
	}
	call->err = kv_write_commit(txn);
	return NULL;
}

static void read_txn_keeps_snapshot_while_thread_commits(void **state)
{
	struct fixture *f = *state;
	struct writer_call call = { .fixture = f, .err = KV_IO };
	struct kv_txn *reader;
	pthread_t writer;

	put_string(f, "stock", "old");
	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	assert_int_equal(pthread_create(&writer, NULL, write_new_stock, &call), 0);
	join_within_deadline(writer);
	assert_int_equal(call.err, KV_OK);

	assert_value_in(reader, f->table, "stock", "old");
	kv_read_end(reader);
	assert_stored(f, "stock", "new");
}

static void *end_read_txn(void *arg)
{
	kv_read_end(arg);
	return NULL;
}

static void read_txn_ends_on_other_thread(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *reader;
	pthread_t thread;

	put_string(f, "k", "v");
	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	assert_value_in(reader, f->table, "k", "v");
	assert_int_equal(pthread_create(&thread, NULL, end_read_txn, reader), 0);
	join_within_deadline(thread);

	/* kv_grow() waits for every open transaction, so it returns only if the hold was released. */
	assert_int_equal(kv_grow(f->env), KV_OK);
}

static void child_abort_discards_changes(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *parent, *child;

	assert_int_equal(kv_write_begin(f->env, &parent), KV_OK);
	assert_int_equal(kv_put(parent, f->table, "a", 1, "1", 1), KV_OK);
	assert_int_equal(kv_child_begin(parent, &child), KV_OK);
	assert_int_equal(kv_put(child, f->table, "a", 1, "changed", 7), KV_OK);
	assert_int_equal(kv_put(child, f->table, "b", 1, "2", 1), KV_OK);
	assert_value_in(child, f->table, "b", "2");
	kv_child_abort(child);

	assert_value_in(parent, f->table, "a", "1");
	assert_absent_in(parent, f->table, "b");
	assert_int_equal(kv_write_commit(parent), KV_OK);
	assert_stored(f, "a", "1");
	assert_absent(f, "b");
}

static void child_commit_keeps_changes(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *parent, *child;

	assert_int_equal(kv_write_begin(f->env, &parent), KV_OK);
	assert_int_equal(kv_child_begin(parent, &child), KV_OK);
	assert_int_equal(kv_put(child, f->table, "b", 1, "2", 1), KV_OK);
	assert_int_equal(kv_child_commit(child), KV_OK);

	assert_value_in(parent, f->table, "b", "2");
	assert_int_equal(kv_write_commit(parent), KV_OK);
	assert_stored(f, "b", "2");
}

static void parent_abort_discards_committed_child(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *parent, *child;

	assert_int_equal(kv_write_begin(f->env, &parent), KV_OK);
	assert_int_equal(kv_child_begin(parent, &child), KV_OK);
	assert_int_equal(kv_put(child, f->table, "b", 1, "2", 1), KV_OK);
	assert_int_equal(kv_child_commit(child), KV_OK);
	kv_write_abort(parent);
	assert_absent(f, "b");
}

static void child_of_read_txn_rejected(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *reader, *child;

	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	assert_int_equal(kv_child_begin(reader, &child), KV_INVALID);
	assert_null(child);
	kv_read_end(reader);
}

/* Map growth */

static void grow_doubles_map_size(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(map_size(f->env), TINY_MAP_BYTES);
	assert_int_equal(kv_grow(f->env), KV_OK);
	assert_int_equal(map_size(f->env), 2 * TINY_MAP_BYTES);
}

static void map_full_then_grow_lets_retry_succeed(void **state)
{
	struct fixture *f = *state;
	unsigned written = 0;

	assert_int_equal(fill_until_error(f, &written), KV_MAP_FULL);
	assert_true(written > 0);
	assert_int_equal(map_size(f->env), TINY_MAP_BYTES);

	assert_int_equal(kv_grow(f->env), KV_OK);
	assert_int_equal(put_batch(f, written), KV_OK);
	assert_batches_stored(f, written + BATCH_KEYS);
}

static void map_full_at_cap_returns_full_max(void **state)
{
	struct fixture *f = *state;
	enum kv_err grow_err = KV_OK;
	unsigned written = 0;
	int growths = 0;
	int attempt;

	for (attempt = 0; attempt <= TINY_MAP_GROWTHS; attempt++) {
		assert_int_equal(fill_until_error(f, &written), KV_MAP_FULL);
		grow_err = kv_grow(f->env);
		if (grow_err != KV_OK)
			break;
		growths++;
	}
	assert_int_equal(grow_err, KV_MAP_FULL_MAX);
	assert_int_equal(growths, TINY_MAP_GROWTHS);
	assert_int_equal(map_size(f->env), TINY_MAP_MAX_BYTES);
	assert_int_equal(kv_grow(f->env), KV_MAP_FULL_MAX);
	assert_batches_stored(f, written);

	reopen_env(f, TINY_MAP_BYTES, TINY_MAP_MAX_BYTES);
	assert_int_equal(map_size(f->env), TINY_MAP_MAX_BYTES);
	assert_batches_stored(f, written);
	assert_int_equal(kv_grow(f->env), KV_MAP_FULL_MAX);
}

static void reopen_keeps_grown_map_size(void **state)
{
	struct fixture *f = *state;
	unsigned written = 0;

	assert_int_equal(fill_until_error(f, &written), KV_MAP_FULL);
	assert_int_equal(kv_grow(f->env), KV_OK);
	/* LMDB stores a grown map size with the next commit. */
	assert_int_equal(put_batch(f, written), KV_OK);
	written += BATCH_KEYS;

	reopen_env(f, TINY_MAP_BYTES, TINY_MAP_MAX_BYTES);
	assert_int_equal(map_size(f->env), 2 * TINY_MAP_BYTES);
	assert_batches_stored(f, written);
}

struct grow_call {
	struct kv_env *env;
	enum kv_err err;
	atomic_bool done;
};

static void *grow_in_thread(void *arg)
{
	struct grow_call *call = arg;

	call->err = kv_grow(call->env);
	atomic_store(&call->done, true);
	return NULL;
}

static void grow_waits_for_open_txn(void **state)
{
	struct fixture *f = *state;
	struct grow_call call = { .env = f->env, .err = KV_IO };
	struct kv_txn *reader;
	pthread_t grower;

	atomic_init(&call.done, false);
	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	assert_int_equal(pthread_create(&grower, NULL, grow_in_thread, &call), 0);
	sleep_ms(100);
	assert_false(atomic_load(&call.done));
	assert_int_equal(map_size(f->env), TINY_MAP_BYTES);

	kv_read_end(reader);
	join_within_deadline(grower);
	assert_int_equal(call.err, KV_OK);
	assert_int_equal(map_size(f->env), 2 * TINY_MAP_BYTES);
}

static void begin_while_grower_waits_does_not_block(void **state)
{
	struct fixture *f = *state;
	struct grow_call call = { .env = f->env, .err = KV_IO };
	struct writer_call write = { .fixture = f, .err = KV_IO };
	struct kv_txn *reader;
	pthread_t grower, writer;

	atomic_init(&call.done, false);
	assert_int_equal(kv_read_begin(f->env, &reader), KV_OK);
	assert_int_equal(pthread_create(&grower, NULL, grow_in_thread, &call), 0);
	sleep_ms(50);

	/*
	 * The reader's holder may need another transaction before it can end
	 * the reader, so a waiting grower must not block new transactions.
	 */
	assert_int_equal(pthread_create(&writer, NULL, write_new_stock, &write), 0);
	join_within_deadline(writer);
	assert_int_equal(write.err, KV_OK);
	assert_false(atomic_load(&call.done));

	kv_read_end(reader);
	join_within_deadline(grower);
	assert_int_equal(call.err, KV_OK);
	assert_stored(f, "stock", "new");
}

/* Opens the environment in a forked child, grows it to 1 MiB and fills 256 KB. */
static int grow_in_child_process(const char *dir)
{
	struct kv_options options = options_for(dir, 1 * MIB, TINY_MAP_MAX_BYTES);
	struct fixture child = { 0 };
	unsigned first;

	if (kv_open(&options, &child.env) != KV_OK)
		return 1;
	if (kv_table_open(child.env, "items", &child.table) != KV_OK)
		return 2;
	for (first = 0; first < 256; first += BATCH_KEYS) {
		if (put_batch(&child, first) != KV_OK)
			return 3;
	}
	kv_close(child.env);
	return 0;
}

static void grow_in_other_process(struct fixture *f)
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(grow_in_child_process(f->dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void read_begin_adopts_map_grown_elsewhere(void **state)
{
	struct fixture *f = *state;

	grow_in_other_process(f);
	assert_batches_stored(f, 256);
	assert_int_equal(map_size(f->env), 1 * MIB);
}

static void write_begin_adopts_map_grown_elsewhere(void **state)
{
	struct fixture *f = *state;

	grow_in_other_process(f);
	assert_int_equal(put_batch(f, 256), KV_OK);
	assert_int_equal(map_size(f->env), 1 * MIB);
	assert_batches_stored(f, 256 + BATCH_KEYS);
}

/* Limits, options and statistics */

static void stats_report_sane_sizes(void **state)
{
	struct fixture *f = *state;
	struct kv_stats before, after;
	unsigned first;

	assert_int_equal(kv_stats(f->env, &before), KV_OK);
	assert_int_equal(before.map_size_bytes, 1 * MIB);
	assert_int_equal(before.map_size_max_bytes, 16 * MIB);
	assert_true(before.map_used_bytes > 0);
	assert_true(before.map_used_bytes <= before.map_size_bytes);

	for (first = 0; first < 128; first += BATCH_KEYS)
		assert_int_equal(put_batch(f, first), KV_OK);
	assert_int_equal(kv_stats(f->env, &after), KV_OK);
	assert_true(after.map_used_bytes >= before.map_used_bytes + 128 * BATCH_VALUE_BYTES);
	assert_true(after.map_used_bytes <= after.map_size_bytes);
	assert_int_equal(after.map_size_bytes, 1 * MIB);
}

static void open_creates_missing_directories(void **state)
{
	struct fixture *f = *state;
	struct kv_options options;
	char path[PATH_MAX + 32];
	char data_file[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	options = options_for(path, 1 * MIB, 16 * MIB);
	assert_int_equal(kv_open(&options, &f->env), KV_OK);
	snprintf(data_file, sizeof(data_file), "%s/data.mdb", path);
	assert_int_equal(stat(data_file, &st), 0);
}

static void open_rejects_invalid_options(void **state)
{
	struct fixture *f = *state;
	struct kv_options cases[6];
	struct kv_env *env;
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++)
		cases[i] = options_for(f->dir, 1 * MIB, 16 * MIB);
	cases[0].path = NULL;
	cases[1].path = "";
	cases[2].map_size_bytes = 0;
	cases[3].map_size_max_bytes = 1 * MIB - 1;
	cases[4].max_tables = 0;
	cases[5].max_readers = 0;

	/* env starts at a non-NULL address each time, because kv_open() must reset it. */
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		env = (struct kv_env *)&env;
		assert_int_equal(kv_open(&cases[i], &env), KV_INVALID);
		assert_null(env);
	}
	env = (struct kv_env *)&env;
	assert_int_equal(kv_open(NULL, &env), KV_INVALID);
	assert_null(env);
}

static void open_garbage_file_returns_corrupt(void **state)
{
	struct fixture *f = *state;
	struct kv_options options = options_for(f->dir, 1 * MIB, 16 * MIB);
	char garbage[8192];
	char data_file[PATH_MAX + 16];
	FILE *file;

	snprintf(data_file, sizeof(data_file), "%s/data.mdb", f->dir);
	memset(garbage, 0xab, sizeof(garbage));
	file = fopen(data_file, "wb");
	assert_non_null(file);
	assert_int_equal(fwrite(garbage, 1, sizeof(garbage), file), sizeof(garbage));
	assert_int_equal(fclose(file), 0);

	assert_int_equal(kv_open(&options, &f->env), KV_CORRUPT);
	assert_null(f->env);
}

static void table_open_rejects_empty_name(void **state)
{
	struct fixture *f = *state;
	kv_table table;

	assert_int_equal(kv_table_open(f->env, "", &table), KV_INVALID);
	assert_int_equal(kv_table_open(f->env, NULL, &table), KV_INVALID);
}

static void table_open_reports_tables_full(void **state)
{
	struct fixture *f = *state;
	enum kv_err err = KV_OK;
	char name[16];
	kv_table table;
	unsigned opened = 1; /* the fixture's "items" */

	while (opened < 100) {
		snprintf(name, sizeof(name), "t%u", opened);
		err = kv_table_open(f->env, name, &table);
		if (err != KV_OK)
			break;
		opened++;
	}
	assert_int_equal(err, KV_TABLES_FULL);
	assert_int_equal(opened, TEST_MAX_TABLES);
}

static void read_begin_reports_readers_full(void **state)
{
	struct fixture *f = *state;
	struct kv_txn *readers[256];
	enum kv_err err = KV_OK;
	size_t count = 0;
	size_t i;

	while (count < ARRAY_LEN(readers)) {
		err = kv_read_begin(f->env, &readers[count]);
		if (err != KV_OK)
			break;
		count++;
	}
	assert_int_equal(err, KV_READERS_FULL);
	/* LMDB may round the reader table up, but never below max_readers. */
	assert_true(count >= TEST_MAX_READERS);
	for (i = 0; i < count; i++)
		kv_read_end(readers[i]);
}

/* Writes count values of value_bytes each, so the data file spans many pages. */
static void fill_pages(struct fixture *f, unsigned count, size_t value_bytes)
{
	char *value = malloc(value_bytes);
	char key[32];
	struct kv_txn *txn;

	assert_non_null(value);
	memset(value, 'v', value_bytes);
	assert_int_equal(kv_write_begin(f->env, &txn), KV_OK);
	for (unsigned i = 0; i < count; i++) {
		snprintf(key, sizeof(key), "key-%06u", i);
		assert_int_equal(kv_put(txn, f->table, key, strlen(key), value, value_bytes), KV_OK);
	}
	assert_int_equal(kv_write_commit(txn), KV_OK);
	free(value);
}

/* Copies dir/data.mdb into a new directory, keeping its first keep_bytes (all if SIZE_MAX). */
static void copy_data_file(const char *dir, char *copy_dir, size_t copy_dir_size, size_t keep_bytes)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	char chunk[65536];
	FILE *in, *out;
	size_t n, copied = 0;

	make_temp_dir(copy_dir, copy_dir_size);
	snprintf(from, sizeof(from), "%s/data.mdb", dir);
	snprintf(to, sizeof(to), "%s/data.mdb", copy_dir);
	in = fopen(from, "rb");
	out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while (copied < keep_bytes && (n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
		if (n > keep_bytes - copied)
			n = keep_bytes - copied;
		assert_int_equal(fwrite(chunk, 1, n, out), n);
		copied += n;
	}
	assert_int_equal(fclose(in), 0);
	assert_int_equal(fclose(out), 0);
}

static size_t data_file_bytes(const char *dir)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* Without the size check, the first transaction on the copy dies of SIGBUS. */
static void open_truncated_file_returns_corrupt(void **state)
{
	struct fixture *f = *state;
	struct kv_options options;
	struct kv_env *copy = (struct kv_env *)&copy;
	char copy_dir[PATH_MAX];
	size_t full;

	fill_pages(f, 200, 3000);
	kv_close(f->env);
	f->env = NULL;
	full = data_file_bytes(f->dir);
	copy_data_file(f->dir, copy_dir, sizeof(copy_dir), full / 2);
	options = options_for(copy_dir, 1 * MIB, 16 * MIB);

	assert_int_equal(kv_open(&options, &copy), KV_CORRUPT);
	assert_null(copy);
	remove_tree(copy_dir);
}

static void open_whole_copy_succeeds(void **state)
{
	struct fixture *f = *state;
	struct kv_options options;
	struct kv_env *copy = NULL;
	char copy_dir[PATH_MAX];
	kv_table table;

	fill_pages(f, 200, 3000);
	kv_close(f->env);
	f->env = NULL;
	copy_data_file(f->dir, copy_dir, sizeof(copy_dir), SIZE_MAX);
	options = options_for(copy_dir, 1 * MIB, 16 * MIB);

	assert_int_equal(kv_open(&options, &copy), KV_OK);
	assert_int_equal(kv_table_open(copy, "items", &table), KV_OK);
	kv_close(copy);
	remove_tree(copy_dir);
}

static void errno_maps_disk_full_to_no_space(void **state)
{
	(void)state;
	assert_int_equal(kv_err_from_errno(ENOSPC), KV_NO_SPACE);
	assert_int_equal(kv_err_from_errno(EDQUOT), KV_NO_SPACE);
	assert_int_equal(kv_err_from_errno(ENOMEM), KV_NO_MEMORY);
	assert_int_equal(kv_err_from_errno(EIO), KV_IO);
	assert_string_equal(kv_strerror(KV_NO_SPACE), "no space left on the device");
}

static void strerror_describes_every_code(void **state)
{
	const char *unknown = kv_strerror((enum kv_err)-1);
	enum kv_err err, other;

	(void)state;
	for (err = KV_OK; err <= KV_NO_SPACE; err++) {
		assert_non_null(kv_strerror(err));
		assert_true(strlen(kv_strerror(err)) > 0);
		assert_string_not_equal(kv_strerror(err), unknown);
		for (other = KV_OK; other < err; other++)
			assert_string_not_equal(kv_strerror(err), kv_strerror(other));
	}
}

#define ENV_TEST(name) cmocka_unit_test_setup_teardown(name, setup_env, teardown)
#define TINY_ENV_TEST(name) cmocka_unit_test_setup_teardown(name, setup_tiny_env, teardown)
#define DIR_TEST(name) cmocka_unit_test_setup_teardown(name, setup_temp_dir, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ENV_TEST(put_then_get_returns_value),
		ENV_TEST(put_overwrites_value),
		ENV_TEST(put_accepts_empty_value),
		ENV_TEST(get_missing_key_returns_not_found),
		ENV_TEST(del_removes_key),
		ENV_TEST(del_missing_key_returns_not_found),
		ENV_TEST(empty_key_rejected),
		ENV_TEST(oversized_key_rejected),
		ENV_TEST(max_size_key_accepted),
		ENV_TEST(put_in_read_txn_rejected),
		ENV_TEST(write_abort_discards_changes),
		ENV_TEST(tables_keep_keys_apart),
		ENV_TEST(commit_survives_reopen),
		ENV_TEST(scan_yields_prefix_keys_in_order),
		ENV_TEST(scan_stops_at_prefix_boundary),
		ENV_TEST(scan_prefix_matches_equal_key),
		ENV_TEST(scan_prefix_ending_in_0xff),
		ENV_TEST(scan_0xff_prefix_ends_at_table_end),
		ENV_TEST(scan_empty_prefix_yields_all_keys),
		ENV_TEST(scan_empty_table_yields_nothing),
		ENV_TEST(scan_prefix_without_keys_yields_nothing),
		ENV_TEST(scan_pages_with_after_key),
		ENV_TEST(scan_after_absent_key_starts_at_next),
		ENV_TEST(scan_after_before_prefix_starts_at_prefix),
		ENV_TEST(scan_after_equal_to_prefix_excludes_it),
		ENV_TEST(scan_after_past_prefix_yields_nothing),
		ENV_TEST(scan_next_after_end_returns_not_found),
		ENV_TEST(scan_sees_own_uncommitted_writes),
		ENV_TEST(scan_rejects_oversized_bounds),
		ENV_TEST(read_txn_keeps_snapshot_across_commit),
		ENV_TEST(read_txn_keeps_snapshot_while_thread_commits),
		ENV_TEST(read_txn_ends_on_other_thread),
		ENV_TEST(child_abort_discards_changes),
		ENV_TEST(child_commit_keeps_changes),
		ENV_TEST(parent_abort_discards_committed_child),
		ENV_TEST(child_of_read_txn_rejected),
		TINY_ENV_TEST(grow_doubles_map_size),
		TINY_ENV_TEST(map_full_then_grow_lets_retry_succeed),
		TINY_ENV_TEST(map_full_at_cap_returns_full_max),
		TINY_ENV_TEST(reopen_keeps_grown_map_size),
		TINY_ENV_TEST(grow_waits_for_open_txn),
		TINY_ENV_TEST(begin_while_grower_waits_does_not_block),
		TINY_ENV_TEST(read_begin_adopts_map_grown_elsewhere),
		TINY_ENV_TEST(write_begin_adopts_map_grown_elsewhere),
		ENV_TEST(stats_report_sane_sizes),
		DIR_TEST(open_creates_missing_directories),
		DIR_TEST(open_rejects_invalid_options),
		DIR_TEST(open_garbage_file_returns_corrupt),
		ENV_TEST(open_truncated_file_returns_corrupt),
		ENV_TEST(open_whole_copy_succeeds),
		cmocka_unit_test(errno_maps_disk_full_to_no_space),
		ENV_TEST(table_open_rejects_empty_name),
		ENV_TEST(table_open_reports_tables_full),
		ENV_TEST(read_begin_reports_readers_full),
		cmocka_unit_test(strerror_describes_every_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
