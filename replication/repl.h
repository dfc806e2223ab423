/*
 * repl: the ordered, durable command log and the single writer that applies
 * it. Callers propose opaque commands. repl gives each an index, applies it
 * through the state machine's apply function and reports the result on the
 * proposing loop's thread.
 *
 * Today (one node) a proposal is appended and applied at once: the writer
 * thread takes every queued proposal (up to batch_max). It applies each in
 * its own nested transaction inside one LMDB write transaction that also
 * stores the applied index, and commits once, so one fsync serves the batch.
 * Raft will sit between propose and apply without changing this interface.
 *
 * repl does not interpret commands.
 */
#ifndef JKD_REPLICATION_REPL_H
#define JKD_REPLICATION_REPL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "kv/kv.h"

enum repl_err {
	REPL_OK = 0,
	REPL_BUSY,          /* the proposal queue is full: retry later */
	REPL_STOPPED,       /* the writer is stopping */
	REPL_TOO_LARGE,     /* command larger than command_max_bytes */
	REPL_STORAGE_FULL,  /* the map is full at its maximum size, or the disk is full */
	REPL_STORAGE_ERROR, /* LMDB failed; see the log */
	REPL_NO_MEMORY,
};

const char *repl_strerror(enum repl_err err);

/*
 * Result of applying one command, produced by the state machine. data is
 * malloc'ed by apply (or NULL) and freed by repl after the done callback.
 * status is the state machine's own code (0 for success); repl does not
 * interpret it.
 */
struct repl_result {
	int status;
	void *data;
	size_t len;
};

/*
 * Applies the command at index inside txn, deterministically: it may only
 * read and write txn and fill *result. A non-zero status makes repl discard
 * the command's changes by aborting its nested transaction. A kv error
 * return (KV_MAP_FULL and the like) aborts the whole batch. repl then grows
 * the map and retries, or fails the batch.
 */
typedef enum kv_err (*repl_apply_fn)(void *state_machine, struct kv_txn *txn, uint64_t index,
				     const void *command, size_t command_len,
				     struct repl_result *result);

/*
 * Called on the proposing inbox's loop thread once the command was applied
 * (err == REPL_OK, index and *result set) or failed before being applied
 * (index 0, result empty). result may be moved out by setting its data to NULL.
 */
typedef void (*repl_done_fn)(void *ctx, enum repl_err err, uint64_t index, struct repl_result *result);

struct repl_config {
	struct kv_env *env;
	repl_apply_fn apply;
	void *state_machine;
	size_t batch_max;          /* commands per commit */
	size_t queue_max;          /* proposals waiting; beyond that propose returns REPL_BUSY */
	size_t command_max_bytes;
};

struct repl;

/*
 * An inbox delivers done callbacks on one libuv loop. Each thread that
 * proposes owns one and closes it with repl_inbox_close().
 */
struct repl_inbox;

enum repl_err repl_start(const struct repl_config *config, struct repl **out);

/* Applies what is queued, stops the writer and frees repl. Inboxes must be closed first. */
void repl_stop(struct repl *repl);

enum repl_err repl_inbox_open(struct repl *repl, uv_loop_t *loop, struct repl_inbox **out);

/*
 * Closes inbox; call it once, on its loop's thread (a done callback may call
 * it). No done callback of this inbox runs after it returns: results still
 * on their way are freed without one, and their count is logged once. The
 * loop must run on until the inbox's async handle has closed. The memory is
 * freed after that and after the writer has finished every proposal of it.
 */
void repl_inbox_close(struct repl_inbox *inbox);

/*
 * Queues command (copied) for the log. On REPL_OK, done is called once on
 * inbox's loop, unless the inbox is closed first: the command may still be
 * applied, but its result is then dropped without a done callback, so
 * whatever ctx owns is the caller's to free. On any other return done is
 * not called.
 */
enum repl_err repl_propose(struct repl *repl, struct repl_inbox *inbox, const void *command,
			   size_t command_len, repl_done_fn done, void *ctx);

/* The index of the last applied command (0 before the first). */
uint64_t repl_applied_index(const struct repl *repl);

/* Writes applied index, batch sizes and commit latency in Prometheus text format. */
void repl_write_metrics(const struct repl *repl, struct buf *out);

#endif
