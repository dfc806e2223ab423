/*
 * The deterministic state machine: every change of node state is a command
 * record applied here, in log order, inside the log's write transaction.
 * Apply reads and writes only that transaction and the command: no clock, no
 * randomness, no node-local state, so every replica computes the same state
 * and the same result.
 */
#ifndef JKD_STORE_APPLY_H
#define JKD_STORE_APPLY_H

#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "replication/repl.h"

/* Command types (record type of a command). */
enum store_command {
	STORE_COMMAND_KV_PUT = 1,
	STORE_COMMAND_KV_DELETE = 2,
};

/* Record types of stored values. */
enum store_record {
	STORE_RECORD_RAW_VALUE = 1,
};

/* Result statuses of apply, carried in repl_result.status. */
enum store_status {
	STORE_OK = 0,
	STORE_VERSION_MISMATCH = 1, /* compare-and-set failed */
	STORE_NOT_FOUND = 2,
	STORE_BAD_COMMAND = 3,      /* the command failed to decode: a bug in the proposer */
};

/* Compare-and-set expectations of a raw KV write. */
#define STORE_IF_ANY UINT64_MAX /* no condition */
#define STORE_IF_ABSENT 0       /* the key must not exist */
#define STORE_IF_PRESENT (UINT64_MAX - 1) /* the key must exist, any version */

/* Result data of the raw KV commands: the key's version after the write, or its current one on a mismatch. */
struct store_kv_result {
	uint64_t version;
};

struct store {
	struct kv_env *env;
	kv_table raw; /* operator raw KV: key -> [version, value] */
};

/* Opens the store's tables in env. */
enum kv_err store_open(struct kv_env *env, struct store *out);

/* The repl_apply_fn of the store: state_machine is a struct store. */
enum kv_err store_apply(void *state_machine, struct kv_txn *txn, uint64_t index, const void *command,
			size_t command_len, struct repl_result *result);

/* Encodes a raw KV put command into out. if_version is a version, STORE_IF_ANY or STORE_IF_ABSENT. */
int store_command_kv_put(struct buf *out, const void *key, size_t key_len, const void *value,
			 size_t value_len, uint64_t if_version);

/* Encodes a raw KV delete command into out. */
int store_command_kv_delete(struct buf *out, const void *key, size_t key_len, uint64_t if_version);

/*
 * Decodes a stored raw value. On 0, *value points into data (valid as long
 * as data) and *version is set. Returns -1 if the record is damaged.
 */
int store_raw_value_decode(const void *data, size_t len, uint64_t *version, const void **value,
			   size_t *value_len);

#endif
