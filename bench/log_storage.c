/*
 * log_storage: measures the cost of keeping the Raft log in the state
 * machine's LMDB environment (one commit per batch, as the replica does)
 * against a separate environment for the log (two commits per batch).
 *
 * Each batch writes `batch` log entries of `size` bytes and applies them:
 * one state record per entry and the applied index. Every commit syncs.
 *
 *   build/bin/bench_log_storage DIR [batches] [size]
 *
 * DIR must be on the disk under test; the tool creates and removes
 * DIR/same, DIR/log and DIR/state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv/kv.h"

#define BATCH_SIZES 4

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct kv_env *env_open(const char *dir, const char *name)
{
	char path[4096];
	struct kv_options options = {
		.path = path,
		.map_size_bytes = (size_t)256 << 20,
		.map_size_max_bytes = (size_t)4096 << 20,
		.max_tables = 8,
		.max_readers = 8,
	};
	struct kv_env *env;
	enum kv_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err = kv_open(&options, &env);
	if (err != KV_OK) {
		fprintf(stderr, "bench_log_storage: cannot open %s: %s\n", path, kv_strerror(err));
		exit(1);
	}
	return env;
}

static void check(enum kv_err err, const char *what)
{
	if (err != KV_OK) {
		fprintf(stderr, "bench_log_storage: %s failed: %s\n", what, kv_strerror(err));
		exit(1);
	}
}

static void put_entries(struct kv_txn *txn, kv_table table, uint64_t first, size_t count, const char *value,
			size_t size)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t key = first + i;

		check(kv_put(txn, table, &key, sizeof(key), value, size), "put");
	}
}

/* Log and state in one environment: one commit per batch. */
static double run_same(const char *dir, size_t batches, size_t batch, const char *value, size_t size)
{
	struct kv_env *env = env_open(dir, "same");
	kv_table log, state, meta;
	uint64_t index = 1;
	double start;

	check(kv_table_open(env, "log", &log), "table");
	check(kv_table_open(env, "state", &state), "table");
	check(kv_table_open(env, "meta", &meta), "table");
	start = now_s();
	for (size_t b = 0; b < batches; b++, index += batch) {
		struct kv_txn *txn;
		uint64_t applied = index + batch - 1;

		check(kv_write_begin(env, &txn), "begin");
		put_entries(txn, log, index, batch, value, size);
		put_entries(txn, state, index, batch, value, size);
		check(kv_put(txn, meta, "applied", 7, &applied, sizeof(applied)), "put");
		check(kv_write_commit(txn), "commit");
	}
	kv_close(env);
	return now_s() - start;
}

/* Log in its own environment: the log commit, then the apply commit. */
static double run_separate(const char *dir, size_t batches, size_t batch, const char *value, size_t size)
{
	struct kv_env *log_env = env_open(dir, "log"), *state_env = env_open(dir, "state");
	kv_table log, state, meta;
	uint64_t index = 1;
	double start;

	check(kv_table_open(log_env, "log", &log), "table");
	check(kv_table_open(state_env, "state", &state), "table");
	check(kv_table_open(state_env, "meta", &meta), "table");
	start = now_s();
	for (size_t b = 0; b < batches; b++, index += batch) {
		struct kv_txn *txn;
		uint64_t applied = index + batch - 1;

		check(kv_write_begin(log_env, &txn), "begin");
		put_entries(txn, log, index, batch, value, size);
		check(kv_write_commit(txn), "commit");
		check(kv_write_begin(state_env, &txn), "begin");
		put_entries(txn, state, index, batch, value, size);
		check(kv_put(txn, meta, "applied", 7, &applied, sizeof(applied)), "put");
		check(kv_write_commit(txn), "commit");
	}
	kv_close(log_env);
	kv_close(state_env);
	return now_s() - start;
}

static void remove_dir(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s/data.mdb", dir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s/lock.mdb", dir, name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rmdir(path);
}

int main(int argc, char **argv)
{
	static const size_t batch_sizes[BATCH_SIZES] = {1, 8, 64, 512};
	size_t batches = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
	char *value;

	if (argc < 2 || batches == 0 || size == 0 || size > (1u << 20)) {
		fprintf(stderr, "usage: bench_log_storage DIR [batches (500)] [entry bytes (200)]\n");
		return 2;
	}
	value = malloc(size);
	if (value == NULL)
		return 1;
	memset(value, 'x', size);
	printf("batch  same env (writes/s)  separate envs (writes/s)  ratio\n");
	fflush(stdout);
	for (size_t i = 0; i < BATCH_SIZES; i++) {
		size_t batch = batch_sizes[i];
		size_t n = batch >= 64 ? batches / 4 : batches;
		double same = run_same(argv[1], n, batch, value, size);
		double separate = run_separate(argv[1], n, batch, value, size);
		double writes = (double)(n * batch);

		printf("%5zu  %19.0f  %24.0f  %5.2f\n", batch, writes / same, writes / separate,
		       (writes / same) / (writes / separate));
		remove_dir(argv[1], "same");
		remove_dir(argv[1], "log");
		remove_dir(argv[1], "state");
	}
	free(value);
	return 0;
}
