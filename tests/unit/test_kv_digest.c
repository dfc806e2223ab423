/*
 * Unit tests of kv_digest() against real LMDB environments: two fresh
 * environments per test under $JKD_TEST_TMP (or /tmp), filled with records
 * and compared by digest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv/kv.h"

#define MIB ((size_t)1024 * 1024)
#define TABLES_MAX 8
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Digest of an environment without tables: BLAKE2b-256 of the tag
 * "jkd-kv-digest-v1" alone. A change here changes every node's digest.
 */
static const char EMPTY_DIGEST_HEX[] = "3504045cfc616e385e917134fb686fdc52e08d2b429453edb2c871ddfbc2ff1b";

/*
 * Digest of one table "products" with the record p1 = camiseta, as the
 * format in kv.h defines it, computed outside this code with Python's
 * hashlib.blake2b(digest_size=32).
 */
static const char ONE_RECORD_DIGEST_HEX[] = "9b1b5b019aeecd0bb465c9b1c9c46b013d63d2b0903b9afd5aa3effe97ffe3f2";

/* One record to write: table name, key and value as C strings. */
struct record {
	const char *table;
	const char *key;
	const char *value;
};

struct env_dir {
	char dir[PATH_MAX];
	struct kv_env *env;
};

struct fixture {
	struct env_dir a;
	struct env_dir b;
};

static void env_dir_open(struct env_dir *e, const char *label)
{
	const char *base = getenv("JKD_TEST_TMP");
	struct kv_options options = {
		.map_size_bytes = 1 * MIB,
		.map_size_max_bytes = 16 * MIB,
		.max_tables = TABLES_MAX,
		.max_readers = 16,
	};
	int len;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	len = snprintf(e->dir, sizeof(e->dir), "%s/test_kv_digest_%s.XXXXXX", base, label);
	assert_true(len > 0 && (size_t)len < sizeof(e->dir));
	assert_non_null(mkdtemp(e->dir));
	options.path = e->dir;
	assert_int_equal(kv_open(&options, &e->env), KV_OK);
}

static void env_dir_reopen(struct env_dir *e)
{
	struct kv_options options = {
		.path = e->dir,
		.map_size_bytes = 1 * MIB,
		.map_size_max_bytes = 16 * MIB,
		.max_tables = TABLES_MAX,
		.max_readers = 16,
	};

	kv_close(e->env);
	e->env = NULL;
	assert_int_equal(kv_open(&options, &e->env), KV_OK);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void env_dir_remove(struct env_dir *e)
{
	kv_close(e->env);
	nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	env_dir_open(&f->a, "a");
	env_dir_open(&f->b, "b");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	env_dir_remove(&f->a);
	env_dir_remove(&f->b);
	free(f);
	return 0;
}

/* Opens the named tables, in the order given, without writing to them. */
static void tables_open(struct kv_env *env, const char *const *names, size_t count)
{
	kv_table table;

	for (size_t i = 0; i < count; i++)
		assert_int_equal(kv_table_open(env, names[i], &table), KV_OK);
}

#define RECORDS_MAX 16

/* Writes the records in one transaction, after opening their tables in the order met. */
static void records_write(struct kv_env *env, const struct record *records, size_t count)
{
	kv_table tables[RECORDS_MAX];
	struct kv_txn *txn;

	assert_true(count <= RECORDS_MAX);
	/* kv_table_open() takes the writer itself, so it must run before kv_write_begin(). */
	for (size_t i = 0; i < count; i++)
		assert_int_equal(kv_table_open(env, records[i].table, &tables[i]), KV_OK);
	assert_int_equal(kv_write_begin(env, &txn), KV_OK);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(kv_put(txn, tables[i], records[i].key, strlen(records[i].key), records[i].value,
					strlen(records[i].value)),
				 KV_OK);
	}
	assert_int_equal(kv_write_commit(txn), KV_OK);
}

static void digest_of(struct kv_env *env, const char *const *excluded, size_t excluded_count,
		      unsigned char out[KV_DIGEST_BYTES])
{
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(env, &txn), KV_OK);
	assert_int_equal(kv_digest(txn, excluded, excluded_count, out), KV_OK);
	kv_read_end(txn);
}

static bool digests_equal(struct fixture *f, const char *const *excluded, size_t excluded_count)
{
	unsigned char a[KV_DIGEST_BYTES], b[KV_DIGEST_BYTES];

	digest_of(f->a.env, excluded, excluded_count, a);
	digest_of(f->b.env, excluded, excluded_count, b);
	return memcmp(a, b, sizeof(a)) == 0;
}

static const struct record BASE[] = {
	{"products", "p1", "camiseta"},
	{"products", "p2", "pantalon"},
	{"products", "p3", "vestido"},
	{"stock", "p1", "4"},
	{"stock", "p2", "0"},
};

static void digest_ignores_write_order(void **state)
{
	struct fixture *f = *state;
	struct record reversed[ARRAY_LEN(BASE)];

	for (size_t i = 0; i < ARRAY_LEN(BASE); i++)
		reversed[i] = BASE[ARRAY_LEN(BASE) - 1 - i];
	records_write(f->a.env, BASE, ARRAY_LEN(BASE));
	/* One record per transaction on b, and the tables created in the other order. */
	for (size_t i = 0; i < ARRAY_LEN(reversed); i++)
		records_write(f->b.env, &reversed[i], 1);
	assert_true(digests_equal(f, NULL, 0));
}

static void digest_changes_with_one_value(void **state)
{
	struct fixture *f = *state;
	const struct record changed = {"stock", "p2", "1"};

	records_write(f->a.env, BASE, ARRAY_LEN(BASE));
	records_write(f->b.env, BASE, ARRAY_LEN(BASE));
	assert_true(digests_equal(f, NULL, 0));
	records_write(f->b.env, &changed, 1);
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_changes_with_extra_key(void **state)
{
	struct fixture *f = *state;
	const struct record extra = {"stock", "p3", "7"};

	records_write(f->a.env, BASE, ARRAY_LEN(BASE));
	records_write(f->b.env, BASE, ARRAY_LEN(BASE));
	records_write(f->b.env, &extra, 1);
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_changes_when_record_moves_table(void **state)
{
	struct fixture *f = *state;
	const char *const names[] = {"products", "stock"};
	const struct record in_products = {"products", "p9", "x"};
	const struct record in_stock = {"stock", "p9", "x"};

	tables_open(f->a.env, names, ARRAY_LEN(names));
	tables_open(f->b.env, names, ARRAY_LEN(names));
	records_write(f->a.env, &in_products, 1);
	records_write(f->b.env, &in_stock, 1);
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_separates_key_from_value(void **state)
{
	struct fixture *f = *state;
	const struct record split_early = {"products", "a", "bc"};
	const struct record split_late = {"products", "ab", "c"};

	records_write(f->a.env, &split_early, 1);
	records_write(f->b.env, &split_late, 1);
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_counts_empty_tables(void **state)
{
	struct fixture *f = *state;
	const char *const names[] = {"carts"};

	tables_open(f->b.env, names, ARRAY_LEN(names));
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_skips_excluded_tables(void **state)
{
	struct fixture *f = *state;
	const char *const excluded[] = {"raft_", "repl_"};
	const struct record node_local[] = {
		{"raft_log", "1", "entry"},
		{"raft_meta", "term", "3"},
		{"repl_meta", "applied_index", "12345678"},
	};

	records_write(f->a.env, BASE, ARRAY_LEN(BASE));
	records_write(f->b.env, BASE, ARRAY_LEN(BASE));
	records_write(f->b.env, node_local, ARRAY_LEN(node_local));
	assert_true(digests_equal(f, excluded, ARRAY_LEN(excluded)));
	assert_false(digests_equal(f, NULL, 0));
}

static void digest_prefix_excludes_only_matching_names(void **state)
{
	struct fixture *f = *state;
	const char *const excluded[] = {"raft_"};
	const struct record shop = {"rafters", "k", "v"};

	records_write(f->b.env, &shop, 1);
	assert_false(digests_equal(f, excluded, ARRAY_LEN(excluded)));
}

static void digest_hex_of(struct kv_env *env, char hex[2 * KV_DIGEST_BYTES + 1])
{
	unsigned char digest[KV_DIGEST_BYTES];

	digest_of(env, NULL, 0, digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static void digest_of_empty_env_is_stable(void **state)
{
	struct fixture *f = *state;
	char hex[2 * KV_DIGEST_BYTES + 1];

	digest_hex_of(f->a.env, hex);
	assert_string_equal(hex, EMPTY_DIGEST_HEX);
	assert_true(digests_equal(f, NULL, 0));
}

static void digest_matches_documented_format(void **state)
{
	struct fixture *f = *state;
	char hex[2 * KV_DIGEST_BYTES + 1];

	records_write(f->a.env, BASE, 1);
	digest_hex_of(f->a.env, hex);
	assert_string_equal(hex, ONE_RECORD_DIGEST_HEX);
}

static void digest_reads_tables_after_reopen(void **state)
{
	struct fixture *f = *state;
	unsigned char before[KV_DIGEST_BYTES], after[KV_DIGEST_BYTES];

	records_write(f->a.env, BASE, ARRAY_LEN(BASE));
	digest_of(f->a.env, NULL, 0, before);
	/* No kv_table_open() after the reopen: kv_open() must open the tables itself. */
	env_dir_reopen(&f->a);
	digest_of(f->a.env, NULL, 0, after);
	assert_memory_equal(before, after, sizeof(before));
}

static void digest_rejects_null_exclusions(void **state)
{
	struct fixture *f = *state;
	unsigned char digest[KV_DIGEST_BYTES];
	struct kv_txn *txn;

	assert_int_equal(kv_read_begin(f->a.env, &txn), KV_OK);
	assert_int_equal(kv_digest(txn, NULL, 1, digest), KV_INVALID);
	kv_read_end(txn);
}

#define DIGEST_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		DIGEST_TEST(digest_ignores_write_order),
		DIGEST_TEST(digest_changes_with_one_value),
		DIGEST_TEST(digest_changes_with_extra_key),
		DIGEST_TEST(digest_changes_when_record_moves_table),
		DIGEST_TEST(digest_separates_key_from_value),
		DIGEST_TEST(digest_counts_empty_tables),
		DIGEST_TEST(digest_skips_excluded_tables),
		DIGEST_TEST(digest_prefix_excludes_only_matching_names),
		DIGEST_TEST(digest_of_empty_env_is_stable),
		DIGEST_TEST(digest_matches_documented_format),
		DIGEST_TEST(digest_reads_tables_after_reopen),
		DIGEST_TEST(digest_rejects_null_exclusions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
