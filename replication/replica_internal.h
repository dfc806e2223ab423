/*
 * Internals of the replica shared by replica.c (requests, Raft driving,
 * start and stop) and snapshot.c (compaction, and snapshot transfer and
 * installation). Everything here runs on the replica thread unless a
 * field's comment states otherwise.
 */
#ifndef JKD_REPLICATION_REPLICA_INTERNAL_H
#define JKD_REPLICATION_REPLICA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "replication/log_store.h"
#include "replication/raft.h"
#include "replication/repl.h"
#include "replication/transport.h"
#include "replication/wire.h"

#define REPL_META_TABLE "repl_meta"
#define REPL_APPLIED_KEY "applied_index"       /* 8 bytes, host order; store/ops_api.c reads it too */
#define REPL_APPLIED_STATE_KEY "applied_state" /* index, term and membership, as snapshot metadata */
#define PEERS_TABLE "raft_peers"

#define ENVELOPE_BYTES 10
#define SEQ_MASK ((UINT64_C(1) << 56) - 1) /* a read's Raft context carries the origin in the top byte */
#define TRANSPORT_QUEUE_MAX 4096
#define STOP_DRIVE_ROUNDS_MAX 64 /* readies handled at stop */
#define RAFT_MSG_BYTES_MAX (1u << 20)
#define RAFT_MSG_ENTRIES_MAX 256
#define STORAGE_RESERVE_BYTES (256u << 10)
#define STORAGE_LOG_INTERVAL_MS 5000

enum entry_kind {
	ENTRY_COMMAND = 1,
	ENTRY_PEER_ADDRESS = 2, /* a member's transport address: id (1 byte), then the address */
};

enum frame_kind {
	FRAME_RAFT = 1,
	FRAME_FORWARD,      /* follower -> leader: seq, envelope */
	FRAME_FORWARD_NACK, /* leader -> follower: seq, error */
	FRAME_READ,         /* follower -> leader: seq */
	FRAME_READ_OK,      /* leader -> follower: seq, read index */
	FRAME_READ_NACK,    /* leader -> follower: seq, error */
	FRAME_MEMBER,       /* follower -> leader: seq, op, id, address length, address */
	FRAME_MEMBER_RESP,  /* leader -> follower: seq, error */
	FRAME_SNAP_CHUNK,   /* leader -> follower: transfer id, term, offset, size, bytes */
	FRAME_SNAP_DONE,    /* follower -> leader: transfer id, 1 if installed or not needed, 0 on failure */
};

enum request_kind {
	REQ_PROPOSE,
	REQ_WAIT,
	REQ_READ,
	REQ_MEMBER,
};

struct proposal {
	struct proposal *next, *prev;
	struct repl_inbox *inbox;
	repl_done_fn done;
	void *ctx;
	enum repl_err err;
	uint64_t index;
	struct repl_result result;
	enum request_kind kind;
	uint64_t seq;
	uint64_t deadline_ms;
	bool read_index_known;
	bool routed;           /* proposed or forwarded at least once */
	uint32_t forwarded_to; /* the leader it was forwarded to, 0 if proposed here */
	enum repl_member_op op;
	uint32_t member_id;
	char address[REPL_ADDRESS_MAX];
	size_t command_len; /* envelope plus command */
	unsigned char command[];
};

struct plist {
	struct proposal *head, *tail;
	size_t count;
};

struct repl_inbox {
	uv_async_t async;
	pthread_mutex_t lock;
	struct proposal *head, *tail; /* done, waiting for the loop */
	size_t refs;                  /* 1 until the async handle is closed, plus one per request not yet freed */
	uint64_t dropped;             /* results freed without a done callback because the inbox was closed */
	bool closed;                  /* set once, on the loop thread, by repl_inbox_close() */
};

struct peer_address {
	uint32_t id;
	char address[REPL_ADDRESS_MAX];
};

/* A snapshot on its way to one follower. */
struct snapshot_out {
	bool active;
	bool copied;        /* the copy is made and streaming */
	uint32_t peer;
	uint64_t xfer_id;
	uint64_t size, offset;
	uint64_t last_ms;   /* last progress, for the transfer timeout */
	int fd;
	enum kv_err copy_err;
	uv_work_t work;
	struct repl *repl;
	char path[4096];
};

/* A snapshot being received from the leader. */
struct snapshot_in {
	bool active;
	uint32_t from;
	uint64_t xfer_id, term, size, received;
	uint64_t last_ms;
	int fd;
};

struct repl {
	struct repl_config config;
	kv_table meta_table;
	kv_table peers_table;
	struct log_store log;
	struct raft *raft;
	struct transport *transport;
	struct peer_address addresses[RAFT_MAX_NODES + 1];
	size_t address_count;

	pthread_t thread;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	uv_check_t check;
	uv_idle_t idle;

	/* Shared with the proposing threads. */
	pthread_mutex_t lock;
	struct plist incoming;
	bool stopping;
	_Atomic size_t outstanding; /* requests accepted and not yet delivered */
	_Atomic uint64_t next_seq;

	/* Owned by the replica thread. */
	struct plist waiting, pending, waiters;
	uint64_t applied_index;
	uint64_t leader_seen_ms;   /* last time a leader was known */
	bool stalled;              /* a ready could not be persisted; retried on the next tick */
	uint64_t storage_logged_ms;
	struct buf frame;
	uint32_t bootstrap[RAFT_MAX_NODES];
	struct raft_snapshot_meta applied_conf; /* membership at the applied index */
	uint64_t applied_term;                  /* term of the entry at the applied index */
	struct snapshot_out sending[RAFT_MAX_NODES];
	struct snapshot_in receiving;
	bool restarting;                        /* a snapshot replaced the data file: waiting to restart */
	uint64_t restart_deadline_ms;

	pthread_mutex_t status_lock;
	struct repl_status status;
	_Atomic uint64_t applied_atomic;
	_Atomic bool has_leader;
	_Atomic bool stalled_atomic;

	_Atomic uint64_t commits_failed;
	_Atomic uint64_t map_grows;
	_Atomic uint64_t forwarded;
	_Atomic uint64_t timeouts;
	_Atomic uint64_t frames_invalid;
	uint64_t invalid_logged_ms;  /* replica thread only: rate limit of the frame_invalid log */
	uint64_t invalid_suppressed;
	struct metrics_size_histogram batch_sizes;
	struct metrics_histogram commit_latency;
};


/* replica.c */
void frame_begin(struct repl *repl, enum frame_kind kind);
void send_frame(struct repl *repl, uint32_t to);
enum kv_err load_applied_state(struct repl *repl, struct kv_env *env, uint64_t *index, uint64_t *term,
			       struct raft_snapshot_meta *conf);

/* snapshot.c */
void snapshot_maybe_compact(struct repl *repl);
void snapshot_send_start(struct repl *repl, uint32_t to);
void snapshot_on_tick(struct repl *repl);
void snapshot_on_chunk(struct repl *repl, uint32_t from, struct wire_reader *r);
void snapshot_on_done(struct repl *repl, uint32_t from, struct wire_reader *r);
void snapshot_stop(struct repl *repl);

#endif
