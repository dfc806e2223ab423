/*
 * raft: the Raft consensus algorithm as a pure state machine. It follows
 * Diego Ongaro, "Consensus: Bridging Theory and Practice", PhD dissertation,
 * Stanford University, 2014, cited below as "dissertation §N". The LaTeX
 * sources are at https://github.com/ongardie/dissertation.
 *
 * The core has no sockets, clock, randomness or disk. The caller feeds it
 * inputs (raft_tick, raft_step, raft_propose, raft_read_index,
 * raft_transfer_leadership) and then drains its outputs:
 *
 *	while (raft_has_ready(r)) {
 *		raft_ready(r, &rd);
 *		persist rd.hard_state (if rd.has_hard_state) and rd.entries,
 *		    truncating the stored log at rd.entries[0].index first;
 *		sync the disk;
 *		send rd.msgs;
 *		apply rd.committed in order and serve rd.reads;
 *		raft_advance(r, &rd);
 *	}
 *
 * Messages may depend on the persisted state (a vote, an acknowledged
 * entry), so they must only leave after the sync. No other raft call may
 * happen between raft_ready() and raft_advance(). Everything in a ready
 * struct stays valid until raft_advance().
 *
 * Log compaction, dissertation chapter 5. The caller owns the state machine
 * and its snapshots; the core only keeps the snapshot's metadata (index,
 * term and membership at that index) and never handles snapshot data.
 *  - Compacting: once the state machine is durably saved at an index at or
 *    below the applied index, call raft_compact() outside a ready, read the
 *    metadata with raft_snapshot_meta_get() and store it with the snapshot
 *    in one atomic write. Then delete the stored log entries up to the
 *    index; after a crash in between, skip them at restart. Keep the
 *    snapshot until a newer one replaces it, §5.1. For a state machine kept
 *    on disk, the stored state at its applied index can be the snapshot,
 *    §5.2.
 *  - Restarting: load the newest snapshot into the state machine and pass its
 *    metadata with the stored entries after it to raft_new(). The core then
 *    emits the committed entries after the snapshot again in rd.committed,
 *    so a state machine that persists its applied index skips those at or
 *    below it.
 *  - Sending, leader side: a RAFT_MSG_SNAPSHOT in rd.msgs is not sent as is.
 *    The driver streams the snapshot at m.index with the message to m.to,
 *    out of band (InstallSnapshot, §5.1). It may stream a newer snapshot
 *    instead, one it compacted to after this ready, if it sets m.index,
 *    m.log_term and the membership to that snapshot's metadata. Once the
 *    stream has succeeded or failed, it calls raft_report_snapshot().
 *    Heartbeats to that node go on meanwhile.
 *  - Receiving, follower side: the driver stages the streamed data and
 *    passes the message to raft_step() only once all of it has arrived. If
 *    the node accepts it, the next ready has rd.snapshot set, and the driver
 *    handles that ready in this order:
 *	1. install the staged data as the state machine, store *rd.snapshot,
 *	   delete every stored log entry and write rd.entries, all in one
 *	   atomic write (the core puts the entries it keeps after the snapshot
 *	   back in rd.entries, and a torn write could lose acknowledged ones);
 *	2. persist rd.hard_state and sync, send rd.msgs, and go on as above.
 *    If that ready has no rd.snapshot, the node already had the entries:
 *    the driver discards the staged copy.
 *
 * The core is independent of the shop: entries carry opaque bytes.
 */
#ifndef JKD_REPLICATION_RAFT_H
#define JKD_REPLICATION_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_NODES 9

enum raft_err {
	RAFT_OK = 0,
	RAFT_NOT_LEADER,     /* only the leader accepts this request: retry at raft_leader() */
	RAFT_DROPPED,        /* the leader is transferring leadership or has too many uncommitted entries: retry later */
	RAFT_NOT_READY,      /* a new leader has not yet committed an entry of its term: retry later */
	RAFT_UNKNOWN_NODE,   /* the node id is not a member of the cluster */
	RAFT_NOT_VOTER,      /* the node is a learner, so it cannot lead */
	RAFT_CHANGE_PENDING, /* the previous membership change is not committed yet: retry later */
	RAFT_INVALID_CONFIG, /* the configuration or the restored state is invalid */
	RAFT_NOT_APPLIED,    /* compaction beyond the applied index: apply first */
	RAFT_NO_MEMORY,
	RAFT_INVALID_MESSAGE, /* a message no correct node sends (entries out of sequence, an index past the log): dropped */
	RAFT_ERR_COUNT,
};

const char *raft_strerror(enum raft_err err);

enum raft_role {
	RAFT_FOLLOWER,
	RAFT_PRE_CANDIDATE,
	RAFT_CANDIDATE,
	RAFT_LEADER,
};

const char *raft_role_name(enum raft_role role);

enum raft_msg_type {
	RAFT_MSG_APPEND,        /* AppendEntries request, dissertation §3.5 */
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_HEARTBEAT,     /* empty AppendEntries that also confirms leadership for ReadIndex */
	RAFT_MSG_HEARTBEAT_RESP,
	RAFT_MSG_VOTE,          /* RequestVote, dissertation §3.4 */
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_PRE_VOTE,      /* PreVote, dissertation §9.6 */
	RAFT_MSG_PRE_VOTE_RESP,
	RAFT_MSG_TIMEOUT_NOW,   /* leadership transfer, dissertation §3.10 */
	RAFT_MSG_SNAPSHOT,      /* InstallSnapshot, dissertation §5.1; its data travels out of band */
	RAFT_MSG_TYPE_COUNT,
};

const char *raft_msg_type_name(enum raft_msg_type type);

enum raft_entry_type {
	RAFT_ENTRY_NORMAL,      /* a command for the state machine */
	RAFT_ENTRY_CONF_CHANGE, /* a membership change made by raft_propose_conf_change() */
};

/* Single-server membership changes, dissertation §4.1 and §4.2.1. */
enum raft_conf_op {
	RAFT_CONF_ADD_LEARNER, /* receives the log but neither votes nor counts toward quorums */
	RAFT_CONF_ADD_VOTER,   /* adds a voter or promotes a learner */
	RAFT_CONF_REMOVE,
};

struct raft_entry {
	enum raft_entry_type type;
	uint64_t term;
	uint64_t index;
	void *data; /* malloc'ed by the owner of the entry; NULL for the leader's no-op entry */
	size_t len;
};

/*
 * A message between nodes. Which fields matter depends on type:
 * APPEND: index and log_term of the entry before entries, commit.
 * APPEND_RESP: index is the last matching index, or the rejected index with
 *     reject set, and hint is then the follower's last index.
 * HEARTBEAT and HEARTBEAT_RESP: commit, and context is the heartbeat
 *     sequence number that ReadIndex counts.
 * VOTE and PRE_VOTE: index and log_term of the candidate's last entry,
 *     context is RAFT_CAMPAIGN_TRANSFER when a leadership transfer forces it.
 * VOTE_RESP and PRE_VOTE_RESP: reject.
 * SNAPSHOT: index and log_term of the last entry the snapshot covers, and
 *     members, learner and n_members, the membership at that index. The
 *     follower replies with an APPEND_RESP.
 */
struct raft_msg {
	enum raft_msg_type type;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	uint64_t log_term;
	uint64_t index;
	uint64_t commit;
	uint64_t hint;
	uint64_t context;
	bool reject;
	size_t n_entries;
	struct raft_entry *entries; /* owned by the message */
	uint64_t members[RAFT_MAX_NODES]; /* SNAPSHOT only */
	bool learner[RAFT_MAX_NODES];
	size_t n_members;
};

#define RAFT_CAMPAIGN_TRANSFER 1

/* Deep-copies src into dst, including entry data. */
enum raft_err raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src);
/* Frees the entries of m, not m itself. */
void raft_msg_clear(struct raft_msg *m);

struct raft_hard_state {
	uint64_t term;
	uint64_t vote;   /* node voted for in term, 0 for none */
	uint64_t commit;
};

/* The state a snapshot stands for: its last entry and the membership then, §5.1. */
struct raft_snapshot_meta {
	uint64_t index; /* last entry the snapshot covers, 0 for none */
	uint64_t term;  /* term of that entry */
	uint64_t members[RAFT_MAX_NODES];
	bool learner[RAFT_MAX_NODES];
	size_t n_members;
};

struct raft_read_state {
	uint64_t context; /* the caller's value passed to raft_read_index() */
	uint64_t index;   /* serve the read once this index is applied */
};

/*
 * Returns a uniformly distributed 64-bit value. The core only uses it for
 * election timeout jitter, so a seeded generator makes runs reproducible.
 */
typedef uint64_t (*raft_rand_fn)(void *ctx);

struct raft_config {
	uint64_t id;                  /* this node, non-zero */
	uint64_t nodes[RAFT_MAX_NODES]; /* voters at bootstrap, the same on every node; the log changes them */
	size_t n_nodes;
	unsigned election_ticks;      /* base election timeout; 10 when 0 */
	unsigned heartbeat_ticks;     /* 1 when 0; must be less than election_ticks */
	size_t max_msg_entries;       /* entries per AppendEntries; 64 when 0 */
	size_t max_msg_bytes;         /* entry bytes per AppendEntries; 1 MiB when 0 */
	size_t max_inflight_msgs;     /* unacknowledged AppendEntries per follower; 16 when 0 */
	size_t max_inflight_bytes;    /* unacknowledged entry bytes per follower; 8 MiB when 0 */
	size_t max_uncommitted;       /* uncommitted entries at the leader; 1024 when 0 */
	bool pre_vote;
	bool check_quorum;
	raft_rand_fn rand;
	void *rand_ctx;
};

struct raft_ready {
	bool has_hard_state;
	struct raft_hard_state hard_state;
	struct raft_entry *entries; /* to persist, in index order */
	size_t n_entries;
	struct raft_msg *msgs;      /* to send after the sync */
	size_t n_msgs;
	struct raft_entry *committed; /* to apply, in index order */
	size_t n_committed;
	struct raft_read_state *reads;
	size_t n_reads;
	/* A snapshot received from the leader, to install before anything
	 * else in this ready (see the top of this file); NULL for none. */
	const struct raft_snapshot_meta *snapshot;
};

struct raft;

/*
 * Creates a node from its persisted hard state, snapshot metadata and log
 * (entries snapshot->index + 1 onward, copied). hs, snapshot and log may be
 * NULL (and n_log 0) for a new node; a NULL snapshot or one at index 0 means
 * no snapshot, and the membership is then config->nodes.
 */
enum raft_err raft_new(const struct raft_config *config, const struct raft_hard_state *hs,
		       const struct raft_snapshot_meta *snapshot, const struct raft_entry *log,
		       size_t n_log, struct raft **out);
void raft_free(struct raft *r);

/* Advances the logical clock by one tick: elections and heartbeats. */
void raft_tick(struct raft *r);
/*
 * Handles a message from another node; m and its entries are copied. A
 * message that no correct node sends is dropped with RAFT_INVALID_MESSAGE,
 * so a peer that has the cluster key but is buggy cannot break the
 * log's invariants.
 */
enum raft_err raft_step(struct raft *r, const struct raft_msg *m);
/* Appends a command at the leader. *index receives its log index. */
enum raft_err raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index);
/* Starts a linearizable read at the leader, dissertation §6.4. */
enum raft_err raft_read_index(struct raft *r, uint64_t context);
/*
 * Appends a membership change at the leader. It takes effect on each node
 * as soon as the node appends it, and only one may be uncommitted at a time.
 */
enum raft_err raft_propose_conf_change(struct raft *r, enum raft_conf_op op, uint64_t id, uint64_t *index);
/* Hands leadership to node to, dissertation §3.10. */
enum raft_err raft_transfer_leadership(struct raft *r, uint64_t to);

/*
 * Drops the log entries up to index from memory, because the caller stores a
 * durable snapshot of its state machine at index, §5.1. index must not
 * exceed the applied index (RAFT_NOT_APPLIED); an index at or below the
 * current snapshot does nothing. raft_term_at(index) still returns its term.
 */
enum raft_err raft_compact(struct raft *r, uint64_t index);
/* Copies the metadata of the last snapshot (compacted or installed) into *meta. */
void raft_snapshot_meta_get(const struct raft *r, struct raft_snapshot_meta *meta);
/*
 * Reports the end of the snapshot stream to node to, at the leader. After a
 * success the leader waits for the node's reply and then replicates the
 * entries after the snapshot. After a failure it sends a new
 * RAFT_MSG_SNAPSHOT once the node replies to a heartbeat. Reports for a
 * node that is not waiting for a snapshot are ignored.
 */
enum raft_err raft_report_snapshot(struct raft *r, uint64_t to, bool ok);

/*
 * Applies a membership change entry to conf (members and learner flags
 * only), the way the core does. Returns false, leaving conf alone, for any
 * other entry. A driver uses it to know the membership at its applied index.
 */
bool raft_conf_entry_apply(struct raft_snapshot_meta *conf, const struct raft_entry *e);

bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
/* Records that rd was persisted, sent and applied, and frees its messages. */
void raft_advance(struct raft *r, const struct raft_ready *rd);

enum raft_role raft_role(const struct raft *r);
uint64_t raft_id(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_leader(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
bool raft_is_member(const struct raft *r, uint64_t id);
bool raft_is_voter(const struct raft *r, uint64_t id);
/*
 * Returns the term of the entry at index, or 0 when there is none. The term
 * at the snapshot index is known; those of the entries before it are not.
 */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* Returns the entry at index, or NULL when it is compacted or beyond the log. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);

/*
 * Fills ids (and voter, when not NULL) with the current members, at most
 * max of them; returns how many there are.
 */
size_t raft_members(const struct raft *r, uint64_t *ids, bool *voter, size_t max);
/* The current term, vote and commit index (persisted or about to be). */
void raft_hard_state_get(const struct raft *r, struct raft_hard_state *out);
/* The leader's record of how much of its log id stores; 0 elsewhere or when unknown. */
uint64_t raft_match_index(const struct raft *r, uint64_t id);

/* Returns NULL when the node's state is consistent, else the broken invariant. */
const char *raft_check_invariants(const struct raft *r);

#endif
