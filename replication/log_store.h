/*
 * log_store: the Raft log and hard state in two tables of the node's LMDB
 * environment ("raft_log": big-endian index -> term, type, data;
 * "raft_state": the hard state).
 *
 * They live in the same environment as the state machine so that one
 * write transaction, and so one fsync, persists new entries, applies the
 * committed ones and records the applied index. docs/BENCHMARKS.md has the
 * measurement behind that choice.
 */
#ifndef JKD_REPLICATION_LOG_STORE_H
#define JKD_REPLICATION_LOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "replication/raft.h"

struct log_store {
	struct kv_env *env;
	kv_table log;
	kv_table state;
	uint64_t first_index; /* lowest index stored: the snapshot's index plus one */
	uint64_t last_index;  /* highest index written, to know when a write must truncate */
};

enum kv_err log_store_open(struct log_store *ls, struct kv_env *env);

/*
 * Reads the hard state and snapshot metadata (zero when none) and every
 * stored entry after the snapshot, in index order. *entries is malloc'ed
 * with copies of the data; free it with log_store_entries_free().
 */
enum kv_err log_store_load(struct log_store *ls, struct raft_hard_state *hs, struct raft_snapshot_meta *meta,
			   struct raft_entry **entries, size_t *n);
void log_store_entries_free(struct raft_entry *entries, size_t n);

/*
 * Writes a ready's hard state and entries in txn. Entries at and after the
 * first new index are deleted first, since a new leader may have replaced
 * them (dissertation §3.5).
 */
enum kv_err log_store_write(struct log_store *ls, struct kv_txn *txn, const struct raft_ready *rd);

/* Records that the transaction log_store_write() filled has committed. */
void log_store_written(struct log_store *ls, const struct raft_ready *rd);

/* Stores meta and deletes the entries it covers, in txn (dissertation §5.1). */
enum kv_err log_store_compact(struct log_store *ls, struct kv_txn *txn, const struct raft_snapshot_meta *meta);
/* Records that the transaction log_store_compact() filled has committed. */
void log_store_compacted(struct log_store *ls, const struct raft_snapshot_meta *meta);

/*
 * Replaces the whole stored log, in txn: every entry is deleted, then hs,
 * meta and entries are written. Installing a snapshot uses it on the
 * received copy, whose log is the leader's.
 */
enum kv_err log_store_replace(struct log_store *ls, struct kv_txn *txn, const struct raft_hard_state *hs,
			      const struct raft_snapshot_meta *meta, const struct raft_entry *entries, size_t n);

/* Encodes and decodes snapshot metadata. */
void log_store_put_meta(struct buf *b, const struct raft_snapshot_meta *meta);
bool log_store_get_meta(const void *data, size_t len, struct raft_snapshot_meta *meta);

#endif
