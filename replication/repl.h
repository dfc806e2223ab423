/*
 * repl: the replicated, durable command log and the thread that applies it.
 * Callers propose opaque commands. repl orders them through Raft, applies
 * each committed command through the state machine's apply function on
 * every node, and reports the result on the proposing loop's thread of the
 * node that proposed it.
 *
 * One replication thread per node owns the Raft core (raft.h), the peer
 * transport (transport.h) and every LMDB write. A follower forwards its
 * proposals to the leader. Each node applies committed entries in its own
 * LMDB write transaction, which also persists new log entries and records
 * the applied index, so one fsync serves both. A node without peers is a
 * cluster of one.
 *
 * repl does not interpret commands.
 */
#ifndef JKD_REPLICATION_REPL_H
#define JKD_REPLICATION_REPL_H

#include <stdbool.h>
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
	REPL_NO_QUORUM,     /* no leader is reachable: retry later */
	REPL_TIMEOUT,       /* not applied within write_timeout_ms; it may still be applied later */
	REPL_INVALID,       /* a membership request names an invalid node or address */
	REPL_ERR_COUNT,
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

#define REPL_NODE_ID_MAX 255
#define REPL_ADDRESS_MAX 128

struct repl_peer {
	uint32_t id;
	char address[REPL_ADDRESS_MAX]; /* nanomsg address, e.g. "tcp://127.0.0.1:7402" */
};

struct repl_config {
	struct kv_env *env;
	repl_apply_fn apply;
	void *state_machine;
	size_t batch_max;          /* new requests taken per loop iteration, so per LMDB commit */
	size_t queue_max;          /* proposals waiting; beyond that propose returns REPL_BUSY */
	size_t command_max_bytes;

	uint32_t node_id;                       /* 1..REPL_NODE_ID_MAX */
	const char *listen_address;             /* peer listener; NULL or "" without peers */
	const struct repl_peer *peers;          /* the other nodes, copied */
	size_t peer_count;
	const uint32_t *bootstrap;              /* voters of the first configuration, same on every node */
	size_t bootstrap_count;
	unsigned char key[32];                  /* cluster key; unused without peers */
	unsigned tick_ms;                       /* Raft tick */
	unsigned election_ticks;
	unsigned write_timeout_ms;              /* proposals and reads not done by then fail with REPL_TIMEOUT */
	const char *data_dir;                   /* the environment's directory: snapshots are staged there */
	uint64_t compact_entries;               /* compact the log once this many entries are applied past the last snapshot */
	size_t map_size_max_bytes;              /* for opening a received snapshot */
	/*
	 * Called on the replica thread after a snapshot from the leader has
	 * replaced the data file: the process must start again from the new
	 * file (the node re-executes itself). It should not return.
	 */
	void (*restart)(void *ctx);
	void *restart_ctx;
};

/* A snapshot of the node's replication state for operators. */
struct repl_status {
	uint32_t node_id;
	const char *role;  /* static string */
	uint64_t term;
	uint32_t leader;   /* 0 when unknown */
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_index;
	size_t member_count;
	struct {
		uint32_t id;
		bool voter;
		char address[REPL_ADDRESS_MAX];
	} members[9];
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

/*
 * Calls done once the node has applied index (err REPL_OK, index set to the
 * applied index), or fails it with REPL_TIMEOUT after write_timeout_ms. Used
 * for read-your-writes across nodes.
 */
enum repl_err repl_wait_applied(struct repl *repl, struct repl_inbox *inbox, uint64_t index, repl_done_fn done,
				void *ctx);

/*
 * Linearizable read barrier (ReadIndex, dissertation §6.4): calls done once
 * this node has applied everything committed when the request reached the
 * leader, so a read that follows returns every write acknowledged before it.
 */
enum repl_err repl_read_barrier(struct repl *repl, struct repl_inbox *inbox, repl_done_fn done, void *ctx);

enum repl_member_op {
	REPL_MEMBER_ADD,      /* joins as a learner; the leader promotes it once it has caught up */
	REPL_MEMBER_REMOVE,
	REPL_LEADER_TRANSFER, /* hands leadership to id */
};

/*
 * Asks the leader (forwarding when this node is a follower) to change the
 * membership. done is called once the leader accepted the change (it then
 * takes effect as the log commits) or refused it.
 */
enum repl_err repl_member_change(struct repl *repl, struct repl_inbox *inbox, enum repl_member_op op, uint32_t id,
				 const char *address, repl_done_fn done, void *ctx);

void repl_get_status(struct repl *repl, struct repl_status *out);

/*
 * True while the node cannot persist or apply what Raft hands it (storage
 * full or failing): it serves reads but applies nothing until that passes.
 */
bool repl_is_stalled(const struct repl *repl);

/* True if a leader is known and was heard from recently: writes may succeed. */
bool repl_has_leader(const struct repl *repl);

/* The index of the last applied command (0 before the first). */
uint64_t repl_applied_index(const struct repl *repl);

/* Writes applied index, batch sizes and commit latency in Prometheus text format. */
void repl_write_metrics(const struct repl *repl, struct buf *out);

#endif
