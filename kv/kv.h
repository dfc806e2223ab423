/*
 * kv: the storage layer, one LMDB environment with named tables.
 *
 * Guarantees:
 * - One writer at a time (LMDB's rule); read transactions run beside it and
 *   never block it or each other (MVCC).
 * - The map grows on demand: when a write reports KV_MAP_FULL the caller
 *   aborts its write transaction, calls kv_grow() and retries. kv_grow()
 *   doubles the map size up to map_size_max_bytes, then returns
 *   KV_MAP_FULL_MAX. Growing waits until no transaction of this process is
 *   open, because LMDB remaps the file.
 * - Every LMDB error code is translated here into enum kv_err; nothing above
 *   this layer sees an MDB_* code.
 *
 * It knows nothing of the shop: keys and values are byte strings.
 *
 * Pointers returned by kv_get() and the scan functions point into the LMDB
 * map and stay valid only until the transaction that produced them ends or,
 * for a write transaction, until the next put or delete on it.
 */
#ifndef JKD_KV_KV_H
#define JKD_KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kv_err {
	KV_OK = 0,
	KV_NOT_FOUND,        /* key absent, or a scan reached its end */
	KV_MAP_FULL,         /* map full: abort, kv_grow(), retry */
	KV_MAP_FULL_MAX,     /* map full at map_size_max_bytes */
	KV_INVALID,          /* bad argument: empty or oversized key, bad option */
	KV_TABLES_FULL,      /* more tables than max_tables */
	KV_READERS_FULL,     /* more concurrent read transactions than max_readers */
	KV_TXN_FULL,         /* one transaction changed too many pages */
	KV_CORRUPT,          /* the file is damaged, truncated or of another version */
	KV_NO_MEMORY,
	KV_IO,               /* an I/O error or another LMDB failure */
	KV_BAD_RECORD,       /* a value failed to decode as a record */
	KV_UNSUPPORTED,      /* a record of a schema version this build cannot read, or a table not opened here */
	KV_NO_SPACE,         /* the file system is full or over quota (ENOSPC, EDQUOT) */
};

/* Returns a short English description of err, for logs. */
const char *kv_strerror(enum kv_err err);

/*
 * Translates an errno value of a failed system call: ENOSPC and EDQUOT to
 * KV_NO_SPACE, ENOMEM to KV_NO_MEMORY, anything else to KV_IO. LMDB returns
 * such values as they are, ENOSPC from the write of a commit for one.
 */
enum kv_err kv_err_from_errno(int errnum);

/* Maximum key size in bytes (LMDB's default compile-time limit). */
#define KV_KEY_MAX_BYTES 511

struct kv_options {
	const char *path;          /* directory, created if missing */
	size_t map_size_bytes;     /* initial map size */
	size_t map_size_max_bytes; /* kv_grow() stops here */
	unsigned max_tables;
	unsigned max_readers;
};

struct kv_env;
struct kv_txn;
struct kv_cursor;
typedef unsigned kv_table;

struct kv_val {
	const void *data;
	size_t len;
};

/*
 * Opens (creating if needed) the environment at options->path. On success
 * *out owns the environment until kv_close(). If the file is larger than
 * map_size_bytes, the map starts at the file's size. A data file shorter
 * than the pages its last commit uses (a truncated copy, say) returns
 * KV_CORRUPT, because reading past its end would kill the process with
 * SIGBUS.
 */
enum kv_err kv_open(const struct kv_options *options, struct kv_env **out);

/* Closes env. Every transaction and cursor must have ended. */
void kv_close(struct kv_env *env);

/*
 * Opens the table named name, creating it if missing. Call during start-up,
 * before other threads use env; the handle stays valid until kv_close().
 * kv_open() has already opened every table the file contains, so that
 * kv_digest() can read them; this call returns the same handle for those.
 */
enum kv_err kv_table_open(struct kv_env *env, const char *name, kv_table *out);

/* Doubles the map size, capped at map_size_max_bytes. */
enum kv_err kv_grow(struct kv_env *env);

/*
 * Writes a consistent, compacted copy of the whole environment, as of one
 * read transaction, to the file at path (created with mode 0600, replaced if
 * present) and syncs it. The copy is a data.mdb file that kv_open() can
 * open. It may take a while: run it off any latency-sensitive thread.
 * kv_grow() waits until it is done.
 */
enum kv_err kv_copy_to_file(struct kv_env *env, const char *path);

struct kv_stats {
	size_t map_size_bytes;
	size_t map_used_bytes;     /* pages in use times the page size */
	size_t map_size_max_bytes;
};
enum kv_err kv_stats(struct kv_env *env, struct kv_stats *out);

/*
 * Read transactions. A read transaction reads one snapshot; keep it short,
 * because it holds back page reuse and blocks kv_grow(). It may be ended by
 * another thread than the one that began it.
 */
enum kv_err kv_read_begin(struct kv_env *env, struct kv_txn **out);
void kv_read_end(struct kv_txn *txn);

/*
 * Write transactions: one at a time per environment (a second caller
 * waits). kv_write_commit() makes the changes durable (fsync) and frees txn
 * whatever it returns; kv_write_abort() discards them.
 * After any failed put, delete or commit the transaction is unusable and must
 * be aborted (unless commit already freed it).
 */
enum kv_err kv_write_begin(struct kv_env *env, struct kv_txn **out);
enum kv_err kv_write_commit(struct kv_txn *txn);
void kv_write_abort(struct kv_txn *txn);

/*
 * Nested write transactions: a child of a write transaction whose changes
 * join the parent on kv_child_commit() and vanish on kv_child_abort().
 * While a child is open the parent must not be used.
 */
enum kv_err kv_child_begin(struct kv_txn *parent, struct kv_txn **out);
enum kv_err kv_child_commit(struct kv_txn *child);
void kv_child_abort(struct kv_txn *child);

enum kv_err kv_get(struct kv_txn *txn, kv_table table, const void *key, size_t key_len,
		   struct kv_val *out);
enum kv_err kv_put(struct kv_txn *txn, kv_table table, const void *key, size_t key_len,
		   const void *value, size_t value_len);
/* Returns KV_NOT_FOUND if the key was absent. */
enum kv_err kv_del(struct kv_txn *txn, kv_table table, const void *key, size_t key_len);

/*
 * Prefix scan in key order. The cursor yields every key that starts with
 * prefix (all keys if prefix_len is 0) and, if after_len > 0, sorts strictly
 * after the key `after` (for pagination). kv_scan_next() returns KV_NOT_FOUND
 * at the end. End the cursor before its transaction.
 */
enum kv_err kv_scan_begin(struct kv_txn *txn, kv_table table, const void *prefix,
			  size_t prefix_len, const void *after, size_t after_len,
			  struct kv_cursor **out);
enum kv_err kv_scan_next(struct kv_cursor *cursor, struct kv_val *key, struct kv_val *value);
void kv_scan_end(struct kv_cursor *cursor);

/* Size of a kv_digest() output in bytes (BLAKE2b-256). */
#define KV_DIGEST_BYTES 32

/*
 * Hashes the content of every table in txn's snapshot into out, so that two
 * environments with the same tables and records give the same digest
 * whatever order the records were written in. A table is left out when its
 * name starts with one of the excluded_count strings in excluded_prefixes.
 * A full name used as a prefix also leaves out longer names that start with
 * it. kv does not interpret names: the caller chooses what to leave out.
 *
 * Format (libsodium crypto_generichash, BLAKE2b with a 32-byte output, no
 * key): the ASCII tag "jkd-kv-digest-v1", then for each table in
 * name order its name length, name and record count, then each record in
 * key order as key length, key, value length and value. Every length and
 * count is a 64-bit little-endian integer, so the digest is the same on
 * every architecture and no record can pass for another table's.
 *
 * Every hashed table must have been opened in this process, by kv_open()
 * (which opens the tables already in the file) or by kv_table_open().
 * A table that another process created since then returns KV_UNSUPPORTED.
 * Reads every record, so its cost grows with the size of the store.
 */
enum kv_err kv_digest(struct kv_txn *txn, const char *const *excluded_prefixes, size_t excluded_count,
		      unsigned char out[KV_DIGEST_BYTES]);

#endif
