/*
 * The deterministic state machine: every change of node state is a command
 * record applied here, in log order, inside the log's write transaction.
 * Apply reads and writes only that transaction and the command: no clock, no
 * randomness, no node-local state, so every replica computes the same state
 * and the same result.
 */
#ifndef JKD_STORE_APPLY_H
#define JKD_STORE_APPLY_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "replication/repl.h"

/*
 * Command types (record type of a command), in ranges by domain. Each
 * domain's apply function handles its own range; see store_apply().
 */
enum store_command {
	STORE_COMMAND_KV_PUT = 1,
	STORE_COMMAND_KV_DELETE = 2,

	STORE_COMMANDS_ACCOUNTS = 100, /* 100-199: accounts.h */
	STORE_COMMANDS_CATALOG = 200,  /* 200-299: catalog.h */
	STORE_COMMANDS_CART = 300,     /* 300-399: cart.h */
	STORE_COMMANDS_ORDERS = 400,   /* 400-499: orders.h */
	STORE_COMMANDS_END = 500,
};

/* Record types of stored values. */
enum store_record {
	STORE_RECORD_RAW_VALUE = 1,
	STORE_RECORD_USER = 100,
	STORE_RECORD_SESSION = 101,
	STORE_RECORD_CATEGORY = 200,
	STORE_RECORD_PRODUCT = 201,
	STORE_RECORD_VARIANT = 202,
	STORE_RECORD_IMAGE = 203,
	STORE_RECORD_CART = 300,
	STORE_RECORD_ORDER = 400,
	STORE_RECORD_AUDIT = 401,
};

/*
 * Result statuses of apply, carried in repl_result.status. The result data
 * of a shop command is a JSON document: the created or changed resource on
 * STORE_OK, else {"code": ..., "field": ..., ...} with the details the
 * HTTP layer needs to word the error in the client's language.
 */
enum store_status {
	STORE_OK = 0,
	STORE_VERSION_MISMATCH = 1, /* compare-and-set failed: 412 */
	STORE_NOT_FOUND = 2,        /* 404 */
	STORE_BAD_COMMAND = 3,      /* the command failed to decode: a bug in the proposer */
	STORE_CONFLICT = 4,         /* uniqueness or state conflict: 409 */
	STORE_INVALID = 5,          /* a reference or value checked against the state is invalid: 422 */
	STORE_FORBIDDEN = 6,        /* 403 */
	STORE_UNAUTHORIZED = 7,     /* the session is gone: 401 */
};

/* Compare-and-set expectations of a raw KV write. */
#define STORE_IF_ANY UINT64_MAX /* no condition */
#define STORE_IF_ABSENT 0       /* the key must not exist */
#define STORE_IF_PRESENT (UINT64_MAX - 1) /* the key must exist, any version */

/* Result data of the raw KV commands: the key's version after the write, or its current one on a mismatch. */
struct store_kv_result {
	uint64_t version;
};

/*
 * The tables of the state machine. Keys with numbers use big-endian u64
 * (key_put_u64) so they sort numerically; "a|b" below means the bytes of a
 * followed by the bytes of b.
 */
struct store {
	struct kv_env *env;
	kv_table raw;              /* operator raw KV: key -> [version, value] */
	kv_table counters;         /* name -> u64, ids assigned in apply */
	kv_table users;            /* user id -> user record */
	kv_table users_by_email;   /* normalised email -> user id */
	kv_table sessions;         /* SHA-256 of token -> session record */
	kv_table sessions_by_user; /* user id|token hash -> empty */
	kv_table categories;       /* category id -> category record */
	kv_table products;         /* product id -> product record */
	kv_table products_by_slug; /* slug -> product id */
	kv_table variants;         /* variant id -> variant record */
	kv_table variants_by_sku;  /* SKU -> variant id */
	kv_table product_views;    /* product id -> pre-rendered public JSON */
	kv_table images;           /* image id -> image record with its bytes */
	kv_table catalog_links;    /* kind|owner id|member id -> empty, see catalog.h */
	kv_table catalog_index;    /* listing and search indexes, see catalog.h */
	kv_table carts;            /* cart key -> cart record */
	kv_table orders;           /* order number -> order record */
	kv_table orders_index;     /* by user, by state, idempotency keys; see orders.h */
	kv_table audit;            /* sequence -> admin change record */

	/*
	 * Called by catalog apply after any change to a product, its variants or
	 * its images, inside the same transaction, so indexes follow the catalog.
	 * NULL means no indexes are kept. Must be deterministic like apply.
	 */
	enum kv_err (*product_changed)(struct store *store, struct kv_txn *txn, uint64_t product_id);
};

/* Takes the next value of the counter name (starting at 1) in txn. */
enum kv_err store_next_id(struct store *store, struct kv_txn *txn, const char *name, uint64_t *out);

/* Reads the counter name without changing it: 0 if it was never set. */
enum kv_err store_counter_get(struct store *store, struct kv_txn *txn, const char *name, uint64_t *out);

/*
 * Sets result to status with data json serialised compactly (stolen; NULL
 * gives no data). Returns KV_NO_MEMORY if serialising failed.
 */
enum kv_err store_result_json(struct repl_result *result, int status, json_t *json);

/*
 * Sets result to an error status with {"code": code, "field": field,
 * "message": message}. message is an English message id marked with N_()
 * that the responding node translates; field may be NULL. Add details with
 * store_result_error_json().
 */
enum kv_err store_result_error(struct repl_result *result, int status, const char *code, const char *field,
			       const char *message);

/* Same, with the members of details (stolen) added to the error document. */
enum kv_err store_result_error_json(struct repl_result *result, int status, const char *code,
				    const char *field, const char *message, json_t *details);

struct rec;

/*
 * Applies one shop command of type (within the domain's range) whose decoded
 * record is command. Same rules as store_apply(): deterministic, only txn.
 */
typedef enum kv_err (*store_domain_apply_fn)(struct store *store, struct kv_txn *txn, uint64_t index,
					     uint32_t type, const struct rec *command,
					     struct repl_result *result);

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
