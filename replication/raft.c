/*
 * Raft as a pure state machine. See raft.h for the caller's contract.
 * Section numbers refer to Ongaro's 2014 dissertation (see raft.h).
 *
 * Roles. A learner, or a node outside the configuration, stays FOLLOWER
 * because it never starts an election. The learner flag belongs to the
 * membership, not to the role.
 *
 *                 election timeout, pre_vote on
 *        +------------------------------------------+
 *        |                                          v
 *   +----------+  higher term or leader seen  +---------------+
 *   | FOLLOWER |<-----------------------------| PRE_CANDIDATE |
 *   +----------+                              +---------------+
 *     |  ^  ^                                        | quorum of pre-votes
 *     |  |  | higher term, leader seen, lost vote    v
 *     |  |  +-------------------------------- +-----------+
 *     |  |                                    | CANDIDATE |<--+ timeout:
 *     |  |                                    +-----------+---+ new term
 *     |  | higher term, CheckQuorum fails,          | quorum of votes
 *     |  | or its removal committed                 |
 *     |  |                                          v
 *     |  +------------------------------------ +--------+
 *     |                                        | LEADER |
 *     +- timeout, pre_vote off, or TimeoutNow ->(CANDIDATE)
 *
 * Invariants (asserted with raft_check_invariants() after every tick, step
 * and advance when NDEBUG is not defined):
 *  - snapshot index <= applied <= commit <= last index, and
 *    snapshot index <= stable <= last index;
 *  - log terms, starting from the snapshot's, never decrease along the log
 *    and never exceed the current term;
 *  - the leader has lead == id and every follower's match < next <= last + 1;
 *  - a (pre-)candidate has no leader, and a candidate voted for itself.
 */
#include "replication/raft.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum progress_state {
	PROGRESS_PROBE,     /* one AppendEntries at a time until the follower's log matches */
	PROGRESS_REPLICATE, /* pipelined AppendEntries, bounded by the in-flight limits */
	PROGRESS_SNAPSHOT,  /* the follower needs compacted entries: a snapshot is on its way, §5.1 */
};

/* The leader's view of one follower, dissertation §3.5 and §10.2. */
struct progress {
	uint64_t id;
	uint64_t match;
	uint64_t next;
	enum progress_state state;
	bool probe_sent;          /* a probe is unacknowledged, so the next waits */
	uint64_t pending_snapshot; /* index of the snapshot sent in snapshot state */
	bool recent_active;       /* heard from within the last election timeout */
	uint64_t heartbeat_acked; /* highest heartbeat sequence number acknowledged */
	uint64_t *inflight_last;  /* ring of the last index of each unacknowledged message */
	size_t *inflight_bytes;
	size_t inflight_start, inflight_count, inflight_total_bytes;
};

struct read_request {
	uint64_t context;
	uint64_t index;
	uint64_t heartbeat_seq;
};

struct raft {
	struct raft_config config;
	enum raft_role role;
	uint64_t term, vote, lead, commit, applied, stable;
	struct raft_hard_state persisted_hs;

	/* Membership: the snapshot's membership (the bootstrap voters when
	 * there is no snapshot) changed by every configuration entry in the
	 * log, committed or not, §4.1 and §5.1. */
	uint64_t members[RAFT_MAX_NODES];
	bool learner[RAFT_MAX_NODES];
	size_t n_members;
	uint64_t config_index; /* index of the last configuration entry in the log, else 0 */

	struct raft_snapshot_meta snap; /* index 0 and the bootstrap voters before the first snapshot */
	bool snap_unsent;               /* an installed snapshot is not yet in a ready */
	struct raft_entry *log;         /* log[i] has index snap.index + i + 1 */
	size_t log_len, log_cap;

	unsigned election_elapsed, heartbeat_elapsed, randomized_timeout;
	bool votes[RAFT_MAX_NODES], votes_seen[RAFT_MAX_NODES];
	struct progress progress[RAFT_MAX_NODES];
	uint64_t transferee;
	uint64_t heartbeat_seq;

	struct read_request *pending_reads;
	size_t n_pending_reads, pending_reads_cap;

	struct raft_msg *outbox;
	size_t n_outbox, outbox_cap;
	struct raft_read_state *reads;
	size_t n_reads, reads_cap;
	bool out_of_memory; /* an allocation failed during the current input, so an output was dropped */
};

static const char *const err_messages[RAFT_ERR_COUNT] = {
	[RAFT_OK] = "success",
	[RAFT_NOT_LEADER] = "this node is not the leader",
	[RAFT_DROPPED] = "proposal dropped: leadership transfer in progress or too many uncommitted entries",
	[RAFT_NOT_READY] = "the leader has not committed an entry of its term yet",
	[RAFT_UNKNOWN_NODE] = "node id is not a cluster member",
	[RAFT_NOT_VOTER] = "node is a learner, not a voter",
	[RAFT_CHANGE_PENDING] = "a membership change is still uncommitted",
	[RAFT_INVALID_CONFIG] = "invalid raft configuration or persisted state",
	[RAFT_NOT_APPLIED] = "cannot compact beyond the applied index",
	[RAFT_NO_MEMORY] = "out of memory",
	[RAFT_INVALID_MESSAGE] = "malformed message dropped",
};

const char *raft_strerror(enum raft_err err)
{
	if ((unsigned)err >= RAFT_ERR_COUNT)
		return "unknown raft error";
	return err_messages[err];
}

const char *raft_role_name(enum raft_role role)
{
	static const char *const names[] = { "follower", "pre-candidate", "candidate", "leader" };

	return (unsigned)role < 4 ? names[role] : "unknown";
}

const char *raft_msg_type_name(enum raft_msg_type type)
{
	static const char *const names[RAFT_MSG_TYPE_COUNT] = {
		"append", "append_resp", "heartbeat", "heartbeat_resp", "vote",
		"vote_resp", "pre_vote", "pre_vote_resp", "timeout_now", "snapshot",
	};

	return (unsigned)type < RAFT_MSG_TYPE_COUNT ? names[type] : "unknown";
}

/* Entries and messages */

static bool entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len == 0)
		return true;
	dst->data = malloc(src->len);
	if (!dst->data)
		return false;
	memcpy(dst->data, src->data, src->len);
	return true;
}

void raft_msg_clear(struct raft_msg *m)
{
	for (size_t i = 0; i < m->n_entries; i++)
		free(m->entries[i].data);
	free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
}

enum raft_err raft_msg_copy(struct raft_msg *dst, const struct raft_msg *src)
{
	*dst = *src;
	dst->entries = NULL;
	dst->n_entries = 0;
	if (src->n_entries == 0)
		return RAFT_OK;
	dst->entries = calloc(src->n_entries, sizeof(*dst->entries));
	if (!dst->entries)
		return RAFT_NO_MEMORY;
	for (size_t i = 0; i < src->n_entries; i++) {
		if (!entry_copy(&dst->entries[i], &src->entries[i])) {
			raft_msg_clear(dst);
			return RAFT_NO_MEMORY;
		}
		dst->n_entries++;
	}
	return RAFT_OK;
}

/* Log */

/*
 * The entries up to the snapshot index are gone, so every access checks the
 * index against both ends of the log, §5.1.3.
 */
uint64_t raft_last_index(const struct raft *r)
{
	return r->snap.index + r->log_len;
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
	if (index == r->snap.index)
		return r->snap.term;
	if (index < r->snap.index || index > raft_last_index(r))
		return 0;
	return r->log[index - r->snap.index - 1].term;
}

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	if (index <= r->snap.index || index > raft_last_index(r))
		return NULL;
	return &r->log[index - r->snap.index - 1];
}

static uint64_t last_term(const struct raft *r)
{
	return raft_term_at(r, raft_last_index(r));
}

/* Appends a copy of e; the caller has set its index to last + 1. */
static bool log_append(struct raft *r, const struct raft_entry *e)
{
	if (r->log_len == r->log_cap) {
		size_t cap = r->log_cap ? r->log_cap * 2 : 64;
		struct raft_entry *log = realloc(r->log, cap * sizeof(*log));

		if (!log)
			return false;
		r->log = log;
		r->log_cap = cap;
	}
	assert(e->index == raft_last_index(r) + 1);
	if (!entry_copy(&r->log[r->log_len], e))
		return false;
	r->log_len++;
	return true;
}

/* Drops the entries from index on; committed entries are never dropped. */
static void log_truncate(struct raft *r, uint64_t index)
{
	assert(index > r->commit);
	while (raft_last_index(r) >= index)
		free(r->log[--r->log_len].data);
	if (r->stable >= index)
		r->stable = index - 1;
}

/* Drops the entries up to index, which the snapshot now covers. */
static void log_drop_through(struct raft *r, uint64_t index)
{
	size_t n = (size_t)(index - r->snap.index);

	assert(index >= r->snap.index);
	assert(index <= raft_last_index(r));
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		free(r->log[i].data);
	memmove(r->log, r->log + n, (r->log_len - n) * sizeof(*r->log));
	r->log_len -= n;
}

/* Outputs */

static void *grow(void *array, size_t *cap, size_t size)
{
	size_t new_cap = *cap ? *cap * 2 : 16;
	void *p = realloc(array, new_cap * size);

	if (p)
		*cap = new_cap;
	return p;
}

/* Removes the first k of the *n elements of array. */
static void drop_front(void *array, size_t *n, size_t k, size_t size)
{
	if (k == 0)
		return; /* array may still be NULL */
	memmove(array, (char *)array + k * size, (*n - k) * size);
	*n -= k;
}

/* Queues m for the next ready; on failure the message is lost like on a bad network. */
static void send(struct raft *r, struct raft_msg *m)
{
	m->from = r->config.id;
	if (m->type != RAFT_MSG_PRE_VOTE && m->type != RAFT_MSG_PRE_VOTE_RESP)
		m->term = r->term;
	if (r->n_outbox == r->outbox_cap) {
		struct raft_msg *p = grow(r->outbox, &r->outbox_cap, sizeof(*p));

		if (!p) {
			raft_msg_clear(m);
			r->out_of_memory = true;
			return;
		}
		r->outbox = p;
	}
	r->outbox[r->n_outbox++] = *m;
}

static void push_read(struct raft *r, uint64_t context, uint64_t index)
{
	if (r->n_reads == r->reads_cap) {
		struct raft_read_state *p = grow(r->reads, &r->reads_cap, sizeof(*p));

		if (!p) {
			r->out_of_memory = true;
			return;
		}
		r->reads = p;
	}
	r->reads[r->n_reads++] = (struct raft_read_state){ .context = context, .index = index };
}

/* Membership and quorum */

static int node_slot(const struct raft *r, uint64_t id)
{
	for (size_t i = 0; i < r->n_members; i++)
		if (r->members[i] == id)
			return (int)i;
	return -1;
}

static bool slot_votes(const struct raft *r, size_t slot)
{
	return slot < r->n_members && !r->learner[slot];
}

bool raft_is_member(const struct raft *r, uint64_t id)
{
	return node_slot(r, id) >= 0;
}

bool raft_is_voter(const struct raft *r, uint64_t id)
{
	int slot = node_slot(r, id);

	return slot >= 0 && slot_votes(r, (size_t)slot);
}

static size_t voters(const struct raft *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_members; i++)
		n += slot_votes(r, i);
	return n;
}

static size_t quorum(const struct raft *r)
{
	return voters(r) / 2 + 1;
}

static struct progress *progress_of(struct raft *r, uint64_t id)
{
	int slot = node_slot(r, id);

	return slot < 0 ? NULL : &r->progress[slot];
}

/* In-flight window of a follower in replicate state. The dissertation leaves
 * the bound open (§10.2.2), so it is a configured limit. */

static void inflight_reset(struct progress *pr)
{
	pr->inflight_start = 0;
	pr->inflight_count = 0;
	pr->inflight_total_bytes = 0;
}

static bool inflight_full(const struct raft *r, const struct progress *pr)
{
	return pr->inflight_count == r->config.max_inflight_msgs ||
	       pr->inflight_total_bytes >= r->config.max_inflight_bytes;
}

static void inflight_add(struct raft *r, struct progress *pr, uint64_t last, size_t bytes)
{
	size_t slot = (pr->inflight_start + pr->inflight_count) % r->config.max_inflight_msgs;

	assert(pr->inflight_count < r->config.max_inflight_msgs);
	pr->inflight_last[slot] = last;
	pr->inflight_bytes[slot] = bytes;
	pr->inflight_count++;
	pr->inflight_total_bytes += bytes;
}

/* Frees the messages whose entries all lie at or below index. */
static void inflight_free_to(struct raft *r, struct progress *pr, uint64_t index)
{
	while (pr->inflight_count > 0 && pr->inflight_last[pr->inflight_start] <= index) {
		pr->inflight_total_bytes -= pr->inflight_bytes[pr->inflight_start];
		pr->inflight_start = (pr->inflight_start + 1) % r->config.max_inflight_msgs;
		pr->inflight_count--;
	}
}

static void progress_become_probe(struct raft *r, struct progress *pr)
{
	(void)r;
	pr->state = PROGRESS_PROBE;
	pr->next = pr->match + 1;
	pr->probe_sent = false;
	inflight_reset(pr);
}

static void progress_become_replicate(struct progress *pr)
{
	pr->state = PROGRESS_REPLICATE;
	pr->next = pr->match + 1;
	pr->probe_sent = false;
	inflight_reset(pr);
}

/* AppendEntries wait while the follower installs a snapshot: it needs what
 * the leader no longer has. Heartbeats still go out. */
static void progress_become_snapshot(struct progress *pr, uint64_t index)
{
	pr->state = PROGRESS_SNAPSHOT;
	pr->pending_snapshot = index;
	pr->next = index + 1;
	pr->probe_sent = false;
	inflight_reset(pr);
}

static bool progress_paused(const struct raft *r, const struct progress *pr)
{
	switch (pr->state) {
	case PROGRESS_PROBE:
		return pr->probe_sent;
	case PROGRESS_REPLICATE:
		return inflight_full(r, pr);
	default:
		return true;
	}
}

/* Membership changes */

#define CONF_CHANGE_LEN 9 /* the operation byte, then the node id in host byte order */

static bool decode_conf_change(const struct raft_entry *e, enum raft_conf_op *op, uint64_t *id)
{
	const unsigned char *p = e->data;

	if (e->len != CONF_CHANGE_LEN)
		return false;
	*op = (enum raft_conf_op)p[0];
	memcpy(id, p + 1, sizeof(*id));
	return *id != 0;
}

/* Changes the membership in conf; its index and term stay as they are. */
static void apply_conf_change(struct raft_snapshot_meta *conf, enum raft_conf_op op, uint64_t id)
{
	size_t slot = 0;

	while (slot < conf->n_members && conf->members[slot] != id)
		slot++;
	if (op == RAFT_CONF_REMOVE) {
		if (slot == conf->n_members)
			return;
		conf->n_members--;
		conf->members[slot] = conf->members[conf->n_members];
		conf->learner[slot] = conf->learner[conf->n_members];
		return;
	}
	if (slot < conf->n_members) {
		if (op == RAFT_CONF_ADD_VOTER)
			conf->learner[slot] = false;
		return;
	}
	if (conf->n_members == RAFT_MAX_NODES)
		return; /* raft_propose_conf_change() keeps the log from asking for this */
	conf->members[conf->n_members] = id;
	conf->learner[conf->n_members] = op == RAFT_CONF_ADD_LEARNER;
	conf->n_members++;
}

/*
 * Puts the membership at index into conf: the snapshot's changed by the
 * configuration entries up to index, §4.1 and §5.1. Returns the index of the
 * last of those entries, 0 when there is none.
 */
static uint64_t membership_at(const struct raft *r, uint64_t index, struct raft_snapshot_meta *conf)
{
	uint64_t config_index = 0;

	assert(index >= r->snap.index);
	assert(index <= raft_last_index(r));
	*conf = r->snap;
	for (uint64_t i = r->snap.index + 1; i <= index; i++) {
		const struct raft_entry *e = raft_entry_at(r, i);
		enum raft_conf_op op;
		uint64_t id;

		if (e->type != RAFT_ENTRY_CONF_CHANGE || !decode_conf_change(e, &op, &id))
			continue;
		apply_conf_change(conf, op, id);
		config_index = i;
	}
	return config_index;
}

/* Moves each member's progress to its new slot and gives new members a fresh one. */
static void rebuild_progress(struct raft *r)
{
	struct progress old[RAFT_MAX_NODES], fresh[RAFT_MAX_NODES];
	bool taken[RAFT_MAX_NODES] = { false }, placed[RAFT_MAX_NODES] = { false };
	size_t j = 0;

	memcpy(old, r->progress, sizeof(old));
	for (size_t i = 0; i < r->n_members; i++) {
		for (size_t k = 0; k < RAFT_MAX_NODES; k++) {
			if (!taken[k] && old[k].id == r->members[i]) {
				fresh[i] = old[k];
				taken[k] = placed[i] = true;
				break;
			}
		}
	}
	/* Every slot owns in-flight buffers, so the rest reuse the unclaimed ones. */
	for (size_t i = 0; i < RAFT_MAX_NODES; i++) {
		if (placed[i])
			continue;
		while (taken[j])
			j++;
		taken[j] = true;
		fresh[i] = (struct progress){
			.inflight_last = old[j].inflight_last,
			.inflight_bytes = old[j].inflight_bytes,
		};
		if (i < r->n_members) {
			fresh[i].id = r->members[i];
			fresh[i].next = raft_last_index(r) + 1;
			fresh[i].recent_active = true;
		}
	}
	memcpy(r->progress, fresh, sizeof(fresh));
}

/* Takes the membership from the whole log, committed or not, §4.1. */
bool raft_conf_entry_apply(struct raft_snapshot_meta *conf, const struct raft_entry *e)
{
	enum raft_conf_op op;
	uint64_t id;

	if (e->type != RAFT_ENTRY_CONF_CHANGE || !decode_conf_change(e, &op, &id))
		return false;
	apply_conf_change(conf, op, id);
	return true;
}

static void recompute_membership(struct raft *r)
{
	struct raft_snapshot_meta conf;

	r->config_index = membership_at(r, raft_last_index(r), &conf);
	r->n_members = conf.n_members;
	memcpy(r->members, conf.members, sizeof(r->members));
	memcpy(r->learner, conf.learner, sizeof(r->learner));
	rebuild_progress(r);
	memset(r->votes, 0, sizeof(r->votes));
	memset(r->votes_seen, 0, sizeof(r->votes_seen));
}

/* Role changes */

static void reset(struct raft *r, uint64_t term)
{
	if (term != r->term) {
		r->term = term;
		r->vote = 0;
	}
	r->lead = 0;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	/* Randomized timeouts in [election, 2 * election) split votes rarely, §3.4. */
	r->randomized_timeout = r->config.election_ticks +
				(unsigned)(r->config.rand(r->config.rand_ctx) % r->config.election_ticks);
	memset(r->votes, 0, sizeof(r->votes));
	memset(r->votes_seen, 0, sizeof(r->votes_seen));
	r->transferee = 0;
	r->n_pending_reads = 0;
	for (size_t i = 0; i < r->n_members; i++) {
		struct progress *pr = &r->progress[i];

		pr->match = 0;
		pr->next = raft_last_index(r) + 1;
		pr->state = PROGRESS_PROBE;
		pr->probe_sent = false;
		pr->recent_active = false;
		pr->heartbeat_acked = 0;
		inflight_reset(pr);
	}
}

static void become_follower(struct raft *r, uint64_t term, uint64_t lead)
{
	reset(r, term);
	r->role = RAFT_FOLLOWER;
	r->lead = lead;
}

static void become_pre_candidate(struct raft *r)
{
	/* PreVote leaves term and vote alone, so a partitioned node that
	 * cannot win does not disrupt the cluster when it rejoins, §9.6. */
	memset(r->votes, 0, sizeof(r->votes));
	memset(r->votes_seen, 0, sizeof(r->votes_seen));
	r->role = RAFT_PRE_CANDIDATE;
	r->lead = 0;
}

static void become_candidate(struct raft *r)
{
	reset(r, r->term + 1);
	r->vote = r->config.id;
	r->role = RAFT_CANDIDATE;
}

static void append_local(struct raft *r, enum raft_entry_type type, const void *data, size_t len);
static void broadcast_append(struct raft *r);

static void become_leader(struct raft *r)
{
	reset(r, r->term);
	r->role = RAFT_LEADER;
	r->lead = r->config.id;
	for (size_t i = 0; i < r->n_members; i++)
		r->progress[i].recent_active = true;
	/* A no-op entry of the new term lets the leader commit, and so learn
	 * the commit index, without waiting for a client, §3.6.2 and §6.4. */
	append_local(r, RAFT_ENTRY_NORMAL, NULL, 0);
}

/* Elections */

static bool log_up_to_date(const struct raft *r, uint64_t term, uint64_t index)
{
	/* The election restriction, §3.6.1: compare last terms, then lengths. */
	return term > last_term(r) || (term == last_term(r) && index >= raft_last_index(r));
}

/* Records a vote and returns 1 when won, -1 when lost, 0 while undecided. */
static int poll(struct raft *r, uint64_t from, bool granted)
{
	int slot = node_slot(r, from);
	size_t yes = 0, no = 0;

	/* Only the votes of voters in this node's configuration count. */
	if (slot < 0 || !slot_votes(r, (size_t)slot))
		return 0;
	if (!r->votes_seen[slot]) {
		r->votes_seen[slot] = true;
		r->votes[slot] = granted;
	}
	for (size_t i = 0; i < r->n_members; i++) {
		if (!r->votes_seen[i] || !slot_votes(r, i))
			continue;
		if (r->votes[i])
			yes++;
		else
			no++;
	}
	if (yes >= quorum(r))
		return 1;
	if (no > voters(r) - quorum(r))
		return -1;
	return 0;
}

static void campaign(struct raft *r, bool pre_vote, bool transfer)
{
	enum raft_msg_type type = pre_vote ? RAFT_MSG_PRE_VOTE : RAFT_MSG_VOTE;
	uint64_t term;

	if (pre_vote) {
		become_pre_candidate(r);
		term = r->term + 1;
	} else {
		become_candidate(r);
		term = r->term;
	}
	if (poll(r, r->config.id, true) == 1) {
		if (pre_vote)
			campaign(r, false, transfer);
		else
			become_leader(r);
		return;
	}
	for (size_t i = 0; i < r->n_members; i++) {
		struct raft_msg m = {
			.type = type,
			.to = r->members[i],
			.term = term,
			.index = raft_last_index(r),
			.log_term = last_term(r),
			.context = transfer ? RAFT_CAMPAIGN_TRANSFER : 0,
		};

		if (m.to != r->config.id && slot_votes(r, i))
			send(r, &m);
	}
}

/* Replication */

/*
 * Sends the snapshot's metadata to a follower that needs entries the leader
 * has compacted, §5.1. The driver streams the data; raft_report_snapshot()
 * ends the snapshot state.
 */
static void send_snapshot(struct raft *r, struct progress *pr)
{
	struct raft_msg m = {
		.type = RAFT_MSG_SNAPSHOT,
		.to = pr->id,
		.index = r->snap.index,
		.log_term = r->snap.term,
		.n_members = r->snap.n_members,
	};

	memcpy(m.members, r->snap.members, sizeof(m.members));
	memcpy(m.learner, r->snap.learner, sizeof(m.learner));
	progress_become_snapshot(pr, r->snap.index);
	send(r, &m);
}

static void send_append(struct raft *r, struct progress *pr, bool send_if_empty)
{
	struct raft_msg m = { .type = RAFT_MSG_APPEND, .to = pr->id };
	size_t bytes = 0;

	if (progress_paused(r, pr))
		return;
	/* The entry before next, needed for the consistency check, or next
	 * itself is compacted. */
	if (pr->next <= r->snap.index) {
		send_snapshot(r, pr);
		return;
	}
	uint64_t last = raft_last_index(r);
	size_t n = pr->next <= last ? (size_t)(last - pr->next + 1) : 0;
	struct raft_entry *first = n > 0 ? &r->log[pr->next - r->snap.index - 1] : NULL;

	if (n > r->config.max_msg_entries)
		n = r->config.max_msg_entries;
	/* Stop at the byte limit, but always send at least one entry. */
	for (size_t i = 0; i < n; i++) {
		bytes += first[i].len;
		if (i > 0 && bytes > r->config.max_msg_bytes) {
			bytes -= first[i].len;
			n = i;
			break;
		}
	}
	if (n == 0 && !send_if_empty)
		return;
	m.index = pr->next - 1;
	m.log_term = raft_term_at(r, m.index);
	m.commit = r->commit;
	if (n > 0) {
		struct raft_msg view = m;

		view.entries = first;
		view.n_entries = n;
		if (raft_msg_copy(&m, &view) != RAFT_OK) {
			r->out_of_memory = true;
			return;
		}
	}
	if (pr->state == PROGRESS_REPLICATE) {
		/* Pipelining, §10.2.2: assume success and send the next batch. */
		if (n > 0) {
			pr->next += n;
			inflight_add(r, pr, pr->next - 1, bytes);
		}
	} else {
		pr->probe_sent = true;
	}
	send(r, &m);
}

static void for_each_follower(struct raft *r, void (*fn)(struct raft *, struct progress *))
{
	for (size_t i = 0; i < r->n_members; i++)
		if (r->progress[i].id != r->config.id)
			fn(r, &r->progress[i]);
}

static void send_append_always(struct raft *r, struct progress *pr)
{
	send_append(r, pr, true);
}

static void broadcast_append(struct raft *r)
{
	for_each_follower(r, send_append_always);
}

static void send_heartbeat(struct raft *r, struct progress *pr)
{
	/* A follower may lack entries up to the leader's commit, so tell it
	 * no more than it is known to match. */
	struct raft_msg m = {
		.type = RAFT_MSG_HEARTBEAT,
		.to = pr->id,
		.commit = pr->match < r->commit ? pr->match : r->commit,
		.context = r->heartbeat_seq,
	};

	send(r, &m);
}

static void broadcast_heartbeat(struct raft *r)
{
	r->heartbeat_seq++;
	struct progress *self = progress_of(r, r->config.id);

	if (self)
		self->heartbeat_acked = r->heartbeat_seq;
	for_each_follower(r, send_heartbeat);
}

/*
 * Commits the highest index stored on a quorum, but only when it has the
 * current term: older entries are committed indirectly by it, §3.6.2.
 */
static bool maybe_commit(struct raft *r)
{
	uint64_t matches[RAFT_MAX_NODES];
	size_t n = 0;

	for (size_t i = 0; i < r->n_members; i++)
		if (slot_votes(r, i))
			matches[n++] = r->progress[i].match;
	if (n == 0)
		return false;
	/* Insertion sort, descending: n is at most RAFT_MAX_NODES. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && matches[j] > matches[j - 1]; j--) {
			uint64_t t = matches[j];

			matches[j] = matches[j - 1];
			matches[j - 1] = t;
		}
	uint64_t index = matches[quorum(r) - 1];

	if (index <= r->commit || raft_term_at(r, index) != r->term)
		return false;
	r->commit = index;
	return true;
}

/* Commits what a quorum stores and sends the new commit index to the followers. */
static void leader_commit(struct raft *r)
{
	if (!maybe_commit(r))
		return;
	broadcast_append(r);
	/* A leader removed from the configuration steps down once the
	 * change is committed, §4.2.2. */
	if (!raft_is_voter(r, r->config.id) && r->config_index <= r->commit)
		become_follower(r, r->term, 0);
}

static void leader_self_progress(struct raft *r)
{
	struct progress *pr = progress_of(r, r->config.id);

	/* The leader counts itself only for entries on its own disk, §10.2.1. */
	if (pr) {
		pr->match = r->stable;
		pr->next = r->stable + 1;
	}
	leader_commit(r);
}

static void append_local(struct raft *r, enum raft_entry_type type, const void *data, size_t len)
{
	struct raft_entry e = {
		.type = type,
		.term = r->term,
		.index = raft_last_index(r) + 1,
		.data = (void *)data,
		.len = len,
	};

	if (!log_append(r, &e)) {
		r->out_of_memory = true;
		return;
	}
	if (type == RAFT_ENTRY_CONF_CHANGE)
		recompute_membership(r);
	/* A single voter commits in raft_advance(), once the entry is stable. */
	broadcast_append(r);
}

/* Public inputs */

static size_t uncommitted(const struct raft *r)
{
	return (size_t)(raft_last_index(r) - r->commit);
}

enum raft_err raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index)
{
	if (r->role != RAFT_LEADER)
		return RAFT_NOT_LEADER;
	/* During a transfer the old leader takes no new work, §3.10. */
	if (r->transferee != 0)
		return RAFT_DROPPED;
	/* Bounding uncommitted entries bounds the leader's memory when
	 * followers are slow or gone. The dissertation has no such limit. */
	if (uncommitted(r) >= r->config.max_uncommitted)
		return RAFT_DROPPED;
	r->out_of_memory = false;
	append_local(r, RAFT_ENTRY_NORMAL, data, len);
	if (r->out_of_memory)
		return RAFT_NO_MEMORY;
	if (index)
		*index = raft_last_index(r);
	return RAFT_OK;
}

static bool read_quorum_acked(struct raft *r, uint64_t seq)
{
	size_t acks = 0;

	for (size_t i = 0; i < r->n_members; i++)
		if (slot_votes(r, i) && r->progress[i].heartbeat_acked >= seq)
			acks++;
	return acks >= quorum(r);
}

/* Releases the pending reads, in order, whose heartbeat round a quorum acknowledged. */
static void release_reads(struct raft *r)
{
	size_t done = 0;

	while (done < r->n_pending_reads && read_quorum_acked(r, r->pending_reads[done].heartbeat_seq)) {
		push_read(r, r->pending_reads[done].context, r->pending_reads[done].index);
		done++;
	}
	drop_front(r->pending_reads, &r->n_pending_reads, done, sizeof(*r->pending_reads));
}

enum raft_err raft_read_index(struct raft *r, uint64_t context)
{
	if (r->role != RAFT_LEADER)
		return RAFT_NOT_LEADER;
	/* Until it commits an entry of its term the leader may not know the
	 * latest commit index, §6.4 step 1. */
	if (raft_term_at(r, r->commit) != r->term)
		return RAFT_NOT_READY;
	if (r->n_pending_reads == r->pending_reads_cap) {
		struct read_request *p = grow(r->pending_reads, &r->pending_reads_cap, sizeof(*p));

		if (!p)
			return RAFT_NO_MEMORY;
		r->pending_reads = p;
	}
	/* Record the commit index, then confirm leadership with a fresh
	 * heartbeat round acknowledged by a quorum, §6.4 steps 2 and 3. */
	broadcast_heartbeat(r);
	r->pending_reads[r->n_pending_reads++] = (struct read_request){
		.context = context,
		.index = r->commit,
		.heartbeat_seq = r->heartbeat_seq,
	};
	release_reads(r);
	return RAFT_OK;
}

enum raft_err raft_propose_conf_change(struct raft *r, enum raft_conf_op op, uint64_t id, uint64_t *index)
{
	unsigned char data[CONF_CHANGE_LEN];

	if (r->role != RAFT_LEADER)
		return RAFT_NOT_LEADER;
	if (id == 0 || (unsigned)op > RAFT_CONF_REMOVE)
		return RAFT_INVALID_CONFIG;
	if (op != RAFT_CONF_REMOVE && !raft_is_member(r, id) && r->n_members == RAFT_MAX_NODES)
		return RAFT_INVALID_CONFIG;
	if (r->transferee != 0 || uncommitted(r) >= r->config.max_uncommitted)
		return RAFT_DROPPED;
	/* One change at a time keeps every old and new majority overlapping,
	 * §4.1. The leader also waits until an entry of its own term commits:
	 * otherwise an uncommitted change left by an earlier leader and this
	 * one could each be decided by majorities that do not overlap. */
	if (r->config_index > r->commit)
		return RAFT_CHANGE_PENDING;
	if (raft_term_at(r, r->commit) != r->term)
		return RAFT_NOT_READY;
	data[0] = (unsigned char)op;
	memcpy(data + 1, &id, sizeof(id));
	r->out_of_memory = false;
	append_local(r, RAFT_ENTRY_CONF_CHANGE, data, sizeof(data));
	if (r->out_of_memory)
		return RAFT_NO_MEMORY;
	if (index)
		*index = raft_last_index(r);
	return RAFT_OK;
}

/* Finds the leader's progress of node id, for requests only a leader takes. */
static enum raft_err leader_progress(struct raft *r, uint64_t id, struct progress **pr)
{
	if (r->role != RAFT_LEADER)
		return RAFT_NOT_LEADER;
	*pr = progress_of(r, id);
	return *pr ? RAFT_OK : RAFT_UNKNOWN_NODE;
}

enum raft_err raft_transfer_leadership(struct raft *r, uint64_t to)
{
	struct progress *pr;
	enum raft_err err = leader_progress(r, to, &pr);

	if (err != RAFT_OK)
		return err;
	if (to == r->config.id)
		return RAFT_OK;
	if (!raft_is_voter(r, to))
		return RAFT_NOT_VOTER;
	/* The transfer aborts if not done within an election timeout, §3.10. */
	r->transferee = to;
	r->election_elapsed = 0;
	if (pr->match == raft_last_index(r)) {
		struct raft_msg m = { .type = RAFT_MSG_TIMEOUT_NOW, .to = to };

		send(r, &m);
	} else {
		send_append(r, pr, true);
	}
	return RAFT_OK;
}

/* Log compaction */

enum raft_err raft_compact(struct raft *r, uint64_t index)
{
	struct raft_snapshot_meta meta;

	if (index <= r->snap.index)
		return RAFT_OK;
	/* The stable index is at least the applied one after every
	 * raft_advance(), so the second test only catches misuse. */
	if (index > r->applied || index > r->stable)
		return RAFT_NOT_APPLIED;
	/* Raft keeps the index and term of the last discarded entry, for the
	 * AppendEntries consistency check, and the membership as of that entry,
	 * chapter 5 and §5.1. */
	membership_at(r, index, &meta);
	meta.index = index;
	meta.term = raft_term_at(r, index);
	log_drop_through(r, index);
	r->snap = meta;
	assert(!raft_check_invariants(r));
	return RAFT_OK;
}

void raft_snapshot_meta_get(const struct raft *r, struct raft_snapshot_meta *meta)
{
	*meta = r->snap;
}

enum raft_err raft_report_snapshot(struct raft *r, uint64_t to, bool ok)
{
	struct progress *pr;
	enum raft_err err = leader_progress(r, to, &pr);

	if (err != RAFT_OK)
		return err;
	if (pr->state != PROGRESS_SNAPSHOT)
		return RAFT_OK;
	/* Either way the next AppendEntries waits for a reply from the
	 * follower: its reply to the snapshot after a success, or a heartbeat
	 * reply after a failure, which then sends the snapshot again. */
	progress_become_probe(r, pr);
	if (ok && pr->next <= pr->pending_snapshot)
		pr->next = pr->pending_snapshot + 1;
	pr->probe_sent = true;
	assert(!raft_check_invariants(r));
	return RAFT_OK;
}

static bool quorum_active(struct raft *r)
{
	size_t active = 0;

	for (size_t i = 0; i < r->n_members; i++) {
		struct progress *pr = &r->progress[i];

		if (slot_votes(r, i) && (pr->id == r->config.id || pr->recent_active))
			active++;
		pr->recent_active = false;
	}
	return active >= quorum(r);
}

static void tick_leader(struct raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->election_elapsed >= r->config.election_ticks) {
		r->election_elapsed = 0;
		/* CheckQuorum, §6.2: a leader that has not heard from a quorum
		 * for an election timeout steps down, so that clients find
		 * the real leader and leases stay safe. */
		if (r->config.check_quorum && !quorum_active(r)) {
			become_follower(r, r->term, 0);
			return;
		}
		r->transferee = 0;
	}
	if (r->heartbeat_elapsed >= r->config.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		broadcast_heartbeat(r);
	}
}

void raft_tick(struct raft *r)
{
	if (r->role == RAFT_LEADER) {
		tick_leader(r);
	} else {
		/* Learners and removed nodes never start elections, §4.2.1, but
		 * their clock still runs, so the vote lease in handle_term()
		 * expires and they can vote once the configuration that other
		 * nodes hold names them voters. */
		if (r->election_elapsed < UINT_MAX)
			r->election_elapsed++;
		if (raft_is_voter(r, r->config.id) && r->election_elapsed >= r->randomized_timeout) {
			r->election_elapsed = 0;
			campaign(r, r->config.pre_vote, false);
		}
	}
	assert(!raft_check_invariants(r));
}

/* Message handling */

static void reply(struct raft *r, const struct raft_msg *to, struct raft_msg *m)
{
	m->to = to->from;
	send(r, m);
}

static void handle_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP };

	if (m->index < r->commit) {
		resp.index = r->commit;
		reply(r, m, &resp);
		return;
	}
	/* Consistency check, §3.5: the entry before the new ones must match.
	 * raft_term_at() is 0 past the log, so check the index as well. */
	if (m->index > raft_last_index(r) || raft_term_at(r, m->index) != m->log_term) {
		resp.index = m->index;
		resp.reject = true;
		resp.hint = raft_last_index(r);
		reply(r, m, &resp);
		return;
	}
	bool membership_changed = false;

	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		uint64_t have = raft_term_at(r, e->index);

		if (have == e->term)
			continue;
		/* A conflicting entry and all that follow it go, §3.5, and a
		 * dropped configuration entry no longer applies, §4.1. */
		if (have != 0) {
			membership_changed |= e->index <= r->config_index;
			log_truncate(r, e->index);
		}
		membership_changed |= e->type == RAFT_ENTRY_CONF_CHANGE;
		if (!log_append(r, e)) {
			r->out_of_memory = true;
			break;
		}
	}
	if (membership_changed)
		recompute_membership(r);
	if (r->out_of_memory)
		return;
	uint64_t last_new = m->index + m->n_entries;

	if (m->commit > r->commit)
		r->commit = m->commit < last_new ? m->commit : last_new;
	resp.index = last_new;
	reply(r, m, &resp);
}

/* Replaces the log with a snapshot from the leader, §5.1. */
static void install_snapshot(struct raft *r, const struct raft_snapshot_meta *meta)
{
	/* A snapshot of a prefix of the log keeps the entries after it;
	 * otherwise the whole log is superseded and may conflict with it. */
	if (raft_term_at(r, meta->index) == meta->term && meta->index <= raft_last_index(r))
		log_drop_through(r, meta->index);
	else
		log_drop_through(r, raft_last_index(r));
	r->snap = *meta;
	r->snap_unsent = true;
	r->commit = r->applied = meta->index;
	/* The driver rewrites the whole stored log with the snapshot, so the
	 * entries kept after it go out again in the next ready. */
	r->stable = meta->index;
	recompute_membership(r);
}

static bool snapshot_from_msg(const struct raft_msg *m, struct raft_snapshot_meta *meta)
{
	if (m->n_members == 0 || m->n_members > RAFT_MAX_NODES || m->log_term > m->term)
		return false;
	*meta = (struct raft_snapshot_meta){
		.index = m->index, .term = m->log_term, .n_members = m->n_members,
	};
	memcpy(meta->members, m->members, sizeof(meta->members));
	memcpy(meta->learner, m->learner, sizeof(meta->learner));
	return true;
}

static void handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP, .index = r->commit };
	struct raft_snapshot_meta meta;

	if (!snapshot_from_msg(m, &meta))
		return;
	/* A snapshot that is not newer than the commit index brings nothing:
	 * tell the leader where this node is. */
	if (meta.index > r->commit) {
		install_snapshot(r, &meta);
		resp.index = meta.index;
	}
	reply(r, m, &resp);
}

static void handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp = { .type = RAFT_MSG_HEARTBEAT_RESP, .context = m->context };

	if (m->commit > r->commit && m->commit <= raft_last_index(r))
		r->commit = m->commit;
	reply(r, m, &resp);
}

static void handle_append_resp(struct raft *r, struct progress *pr, const struct raft_msg *m)
{
	pr->recent_active = true;
	if (m->reject) {
		/* Stale: that index was acknowledged since, or it replies to an
		 * AppendEntries sent before the snapshot. */
		if (m->index <= pr->match || pr->state == PROGRESS_SNAPSHOT)
			return;
		if (pr->state == PROGRESS_REPLICATE) {
			progress_become_probe(r, pr);
		} else {
			if (pr->next - 1 != m->index)
				return; /* stale */
			/* Jump back to the follower's last index, §3.5. */
			pr->next = m->index < m->hint + 1 ? m->index : m->hint + 1;
			if (pr->next <= pr->match)
				pr->next = pr->match + 1;
			pr->probe_sent = false;
		}
		send_append(r, pr, true);
		return;
	}
	if (m->index > pr->match) {
		pr->match = m->index;
		if (pr->next < m->index + 1)
			pr->next = m->index + 1;
		/* The follower installed the snapshot, or had the entries. */
		if (pr->state == PROGRESS_PROBE ||
		    (pr->state == PROGRESS_SNAPSHOT && pr->match >= pr->pending_snapshot))
			progress_become_replicate(pr);
		else if (pr->state == PROGRESS_REPLICATE)
			inflight_free_to(r, pr, m->index);
		uint64_t commit = r->commit;

		leader_commit(r);
		if (r->role != RAFT_LEADER)
			return;
		if (r->commit == commit)
			send_append(r, pr, false);
	} else if (pr->state == PROGRESS_PROBE) {
		pr->probe_sent = false;
		send_append(r, pr, false);
	}
	if (pr->id == r->transferee && pr->match == raft_last_index(r)) {
		struct raft_msg tn = { .type = RAFT_MSG_TIMEOUT_NOW, .to = pr->id };

		send(r, &tn);
	}
}

static void handle_heartbeat_resp(struct raft *r, struct progress *pr, const struct raft_msg *m)
{
	pr->recent_active = true;
	pr->probe_sent = false;
	/* A heartbeat reply shows the follower is alive; open the window so a
	 * lost AppendEntries cannot stall replication forever. */
	if (pr->state == PROGRESS_REPLICATE && inflight_full(r, pr) && pr->inflight_count > 0) {
		pr->inflight_total_bytes -= pr->inflight_bytes[pr->inflight_start];
		pr->inflight_start = (pr->inflight_start + 1) % r->config.max_inflight_msgs;
		pr->inflight_count--;
	}
	if (m->context > pr->heartbeat_acked)
		pr->heartbeat_acked = m->context;
	release_reads(r);
	if (pr->match < raft_last_index(r)) {
		/* Everything was sent but not all acknowledged: a message may
		 * be lost, so probe again from the last acknowledged index.
		 * NOTE: under steady load this also restarts healthy pipelines
		 * once per heartbeat; a retransmission timer would be cheaper. */
		if (pr->state == PROGRESS_REPLICATE && pr->next > raft_last_index(r))
			progress_become_probe(r, pr);
		/* A probe is sent even without new entries: a new member's
		 * next starts past the leader's log, and only the probe's
		 * rejection walks it back, §3.5. */
		send_append(r, pr, pr->state == PROGRESS_PROBE);
	}
}

static void step_leader(struct raft *r, const struct raft_msg *m)
{
	struct progress *pr = progress_of(r, m->from);

	if (!pr)
		return;
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
		handle_append_resp(r, pr, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		handle_heartbeat_resp(r, pr, m);
		break;
	default:
		break;
	}
}

static void step_follower(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		r->election_elapsed = 0;
		r->lead = m->from;
		handle_append(r, m);
		break;
	case RAFT_MSG_HEARTBEAT:
		r->election_elapsed = 0;
		r->lead = m->from;
		handle_heartbeat(r, m);
		break;
	case RAFT_MSG_SNAPSHOT:
		r->election_elapsed = 0;
		r->lead = m->from;
		handle_snapshot(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		/* Start an election at once, skipping PreVote, §3.10. */
		if (raft_is_voter(r, r->config.id))
			campaign(r, false, true);
		break;
	default:
		break;
	}
}

static bool from_leader(const struct raft_msg *m)
{
	return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAPSHOT;
}

static void step_candidate(struct raft *r, const struct raft_msg *m)
{
	enum raft_msg_type want = r->role == RAFT_PRE_CANDIDATE ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;

	/* A leader of our term exists, so this election is over, §3.4. */
	if (from_leader(m)) {
		become_follower(r, m->term, m->from);
		step_follower(r, m);
		return;
	}
	if (m->type != want)
		return;
	switch (poll(r, m->from, !m->reject)) {
	case 1:
		if (r->role == RAFT_PRE_CANDIDATE)
			campaign(r, false, false);
		else
			become_leader(r);
		break;
	case -1:
		become_follower(r, r->term, 0);
		break;
	default:
		break;
	}
}

static void handle_vote(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PRE_VOTE;
	struct raft_msg resp = { .type = pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP };
	bool can_vote = r->vote == m->from || (r->vote == 0 && r->lead == 0) ||
			(pre && m->term > r->term);

	/* One vote per term, for a candidate whose log is at least as
	 * up to date as ours, §3.4 and §3.6.1. */
	if (can_vote && log_up_to_date(r, m->log_term, m->index)) {
		if (!pre) {
			r->election_elapsed = 0;
			r->vote = m->from;
		}
		resp.term = m->term;
	} else {
		resp.reject = true;
		resp.term = r->term;
	}
	/* send() fills in our term except for pre-votes, and our term equals
	 * m->term after a granted real vote. */
	reply(r, m, &resp);
}

/* Returns false when m is to be dropped because of its term. */
static bool handle_term(struct raft *r, const struct raft_msg *m)
{
	bool vote_request = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE;

	if (m->term > r->term) {
		/* A node that heard from a leader within the minimum election
		 * timeout ignores vote requests, so removed or partitioned
		 * servers cannot disrupt a working leader, §4.2.3. */
		bool in_lease = r->config.check_quorum && r->lead != 0 &&
				r->election_elapsed < r->config.election_ticks;

		if (vote_request && in_lease && m->context != RAFT_CAMPAIGN_TRANSFER)
			return false;
		if (m->type == RAFT_MSG_PRE_VOTE)
			return true; /* PreVote never changes our term, §9.6 */
		if (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject)
			return true; /* granted for the term we would campaign in */
		if (from_leader(m))
			become_follower(r, m->term, m->from);
		else
			become_follower(r, m->term, 0);
		return true;
	}
	if (m->term < r->term) {
		/* Tell a stale leader about the newer term, so it steps down
		 * even though our PreVote or CheckQuorum never raised its term. */
		if ((r->config.check_quorum || r->config.pre_vote) && from_leader(m)) {
			struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP };

			reply(r, m, &resp);
		} else if (m->type == RAFT_MSG_PRE_VOTE) {
			struct raft_msg resp = {
				.type = RAFT_MSG_PRE_VOTE_RESP, .reject = true, .term = r->term,
			};

			reply(r, m, &resp);
		}
		return false;
	}
	return true;
}

/*
 * An AppendEntries that no leader sends: its entries must follow m->index
 * one by one with terms that never decrease, from the term of the entry
 * before them up to the leader's term. Every entry past index 0 has a term
 * of at least 1. Handling such a message would append entries at the wrong
 * index or truncate committed ones.
 */
static bool append_malformed(const struct raft_msg *m)
{
	uint64_t term = m->log_term;

	if (m->log_term > m->term || (m->index > 0 && m->log_term == 0) || m->index > UINT64_MAX - m->n_entries)
		return true;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];

		if (e->index != m->index + 1 + i || e->term < term || e->term > m->term || e->term == 0)
			return true;
		term = e->term;
	}
	return false;
}

/*
 * A reply to this leader of its own term that acknowledges an index past
 * its log or a heartbeat it never sent. Counting it would commit entries
 * a quorum does not store, or confirm a ReadIndex without a quorum.
 */
static bool reply_malformed(const struct raft *r, const struct raft_msg *m)
{
	if (r->role != RAFT_LEADER || m->term != r->term)
		return false;
	if (m->type == RAFT_MSG_APPEND_RESP)
		return !m->reject && m->index > raft_last_index(r);
	if (m->type == RAFT_MSG_HEARTBEAT_RESP)
		return m->context > r->heartbeat_seq;
	return false;
}

enum raft_err raft_step(struct raft *r, const struct raft_msg *m)
{
	r->out_of_memory = false;
	/* Messages from non-members are handled too: a new node learns the
	 * membership from the log that the leader sends it. */
	if (m->from == 0)
		return RAFT_UNKNOWN_NODE;
	if ((m->type == RAFT_MSG_APPEND && append_malformed(m)) || reply_malformed(r, m))
		return RAFT_INVALID_MESSAGE;
	if (!handle_term(r, m))
		return RAFT_OK;
	if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE) {
		handle_vote(r, m);
	} else if (r->role == RAFT_LEADER) {
		step_leader(r, m);
	} else if (r->role == RAFT_FOLLOWER) {
		step_follower(r, m);
	} else {
		step_candidate(r, m);
	}
	assert(!raft_check_invariants(r));
	return r->out_of_memory ? RAFT_NO_MEMORY : RAFT_OK;
}

/* Ready */

static struct raft_hard_state hard_state(const struct raft *r)
{
	return (struct raft_hard_state){ .term = r->term, .vote = r->vote, .commit = r->commit };
}

static uint64_t apply_limit(const struct raft *r)
{
	/* Entries are applied only after they are on this node's disk; the
	 * caller persists rd.entries before it applies rd.committed. */
	return r->commit;
}

bool raft_has_ready(const struct raft *r)
{
	struct raft_hard_state hs = hard_state(r);

	return r->n_outbox > 0 || r->n_reads > 0 || r->snap_unsent || r->stable < raft_last_index(r) ||
	       apply_limit(r) > r->applied || memcmp(&hs, &r->persisted_hs, sizeof(hs)) != 0;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	struct raft_hard_state hs = hard_state(r);

	memset(rd, 0, sizeof(*rd));
	if (memcmp(&hs, &r->persisted_hs, sizeof(hs)) != 0) {
		rd->has_hard_state = true;
		rd->hard_state = hs;
	}
	rd->entries = r->log + (r->stable - r->snap.index);
	rd->n_entries = (size_t)(raft_last_index(r) - r->stable);
	rd->msgs = r->outbox;
	rd->n_msgs = r->n_outbox;
	rd->committed = r->log + (r->applied - r->snap.index);
	rd->n_committed = (size_t)(apply_limit(r) - r->applied);
	rd->reads = r->reads;
	rd->n_reads = r->n_reads;
	rd->snapshot = r->snap_unsent ? &r->snap : NULL;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	if (rd->has_hard_state)
		r->persisted_hs = rd->hard_state;
	if (rd->snapshot)
		r->snap_unsent = false;
	if (rd->n_entries > 0)
		r->stable = rd->entries[rd->n_entries - 1].index;
	r->applied += rd->n_committed;
	for (size_t i = 0; i < rd->n_msgs; i++)
		raft_msg_clear(&r->outbox[i]);
	/* Only messages of this ready were sent; keep any queued since. */
	drop_front(r->outbox, &r->n_outbox, rd->n_msgs, sizeof(*r->outbox));
	drop_front(r->reads, &r->n_reads, rd->n_reads, sizeof(*r->reads));
	if (r->role == RAFT_LEADER)
		leader_self_progress(r);
	assert(!raft_check_invariants(r));
}

/* Construction */

static uint64_t default_rand(void *ctx)
{
	(void)ctx;
	return 0;
}

static enum raft_err apply_defaults(struct raft_config *c)
{
	if (c->election_ticks == 0)
		c->election_ticks = 10;
	if (c->heartbeat_ticks == 0)
		c->heartbeat_ticks = 1;
	if (c->max_msg_entries == 0)
		c->max_msg_entries = 64;
	if (c->max_msg_bytes == 0)
		c->max_msg_bytes = 1u << 20;
	if (c->max_inflight_msgs == 0)
		c->max_inflight_msgs = 16;
	if (c->max_inflight_bytes == 0)
		c->max_inflight_bytes = 8u << 20;
	if (c->max_uncommitted == 0)
		c->max_uncommitted = 1024;
	/* NOTE: without a PRNG every node uses the same timeout, so split
	 * votes repeat; production callers should always pass one. */
	if (!c->rand)
		c->rand = default_rand;
	if (c->id == 0 || c->n_nodes == 0 || c->n_nodes > RAFT_MAX_NODES ||
	    c->heartbeat_ticks >= c->election_ticks)
		return RAFT_INVALID_CONFIG;
	return RAFT_OK;
}

/* Without a snapshot, the membership starts from the bootstrap voters. */
static enum raft_err restore_snapshot(struct raft *r, const struct raft_snapshot_meta *snap)
{
	if (!snap || snap->index == 0) {
		r->snap = (struct raft_snapshot_meta){ .n_members = r->config.n_nodes };
		memcpy(r->snap.members, r->config.nodes, sizeof(r->snap.members));
		return RAFT_OK;
	}
	if (snap->n_members == 0 || snap->n_members > RAFT_MAX_NODES || snap->term == 0)
		return RAFT_INVALID_CONFIG;
	r->snap = *snap;
	/* A snapshot covers only committed and applied entries, §5.1. */
	r->commit = r->applied = r->stable = snap->index;
	return RAFT_OK;
}

static enum raft_err restore(struct raft *r, const struct raft_hard_state *hs,
			     const struct raft_snapshot_meta *snap, const struct raft_entry *log,
			     size_t n_log)
{
	enum raft_err err = restore_snapshot(r, snap);

	if (err != RAFT_OK)
		return err;
	for (size_t i = 0; i < n_log; i++) {
		if (log[i].index != raft_last_index(r) + 1 || log[i].term < last_term(r))
			return RAFT_INVALID_CONFIG;
		if (!log_append(r, &log[i]))
			return RAFT_NO_MEMORY;
	}
	r->stable = raft_last_index(r);
	if (hs) {
		if (hs->commit > raft_last_index(r))
			return RAFT_INVALID_CONFIG;
		r->term = hs->term;
		r->vote = hs->vote;
		/* The hard state may predate the snapshot if a crash came
		 * between storing the two. */
		if (hs->commit > r->commit)
			r->commit = hs->commit;
		r->persisted_hs = *hs;
	}
	/* A crash between writing entries and the hard state can leave the
	 * stored term behind the log. No vote in the newer term was sent,
	 * because votes leave only after their hard state is synced. */
	if (last_term(r) > r->term) {
		r->term = last_term(r);
		r->vote = 0;
	}
	return RAFT_OK;
}

enum raft_err raft_new(const struct raft_config *config, const struct raft_hard_state *hs,
		       const struct raft_snapshot_meta *snapshot, const struct raft_entry *log,
		       size_t n_log, struct raft **out)
{
	struct raft *r = calloc(1, sizeof(*r));
	enum raft_err err;

	if (!r)
		return RAFT_NO_MEMORY;
	r->config = *config;
	err = apply_defaults(&r->config);
	for (size_t i = 0; err == RAFT_OK && i < RAFT_MAX_NODES; i++) {
		struct progress *pr = &r->progress[i];

		pr->inflight_last = calloc(r->config.max_inflight_msgs, sizeof(*pr->inflight_last));
		pr->inflight_bytes = calloc(r->config.max_inflight_msgs, sizeof(*pr->inflight_bytes));
		if (!pr->inflight_last || !pr->inflight_bytes)
			err = RAFT_NO_MEMORY;
	}
	if (err == RAFT_OK)
		err = restore(r, hs, snapshot, log, n_log);
	if (err == RAFT_OK)
		recompute_membership(r);
	if (err != RAFT_OK) {
		raft_free(r);
		return err;
	}
	become_follower(r, r->term, 0);
	*out = r;
	return RAFT_OK;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->log_len; i++)
		free(r->log[i].data);
	free(r->log);
	for (size_t i = 0; i < r->n_outbox; i++)
		raft_msg_clear(&r->outbox[i]);
	free(r->outbox);
	free(r->reads);
	free(r->pending_reads);
	for (size_t i = 0; i < RAFT_MAX_NODES; i++) {
		free(r->progress[i].inflight_last);
		free(r->progress[i].inflight_bytes);
	}
	free(r);
}

/* Accessors */

enum raft_role raft_role(const struct raft *r)
{
	return r->role;
}

uint64_t raft_id(const struct raft *r)
{
	return r->config.id;
}

uint64_t raft_term(const struct raft *r)
{
	return r->term;
}

uint64_t raft_leader(const struct raft *r)
{
	return r->lead;
}

uint64_t raft_commit_index(const struct raft *r)
{
	return r->commit;
}

size_t raft_members(const struct raft *r, uint64_t *ids, bool *voter, size_t max)
{
	for (size_t i = 0; i < r->n_members && i < max; i++) {
		ids[i] = r->members[i];
		if (voter)
			voter[i] = !r->learner[i];
	}
	return r->n_members;
}

void raft_hard_state_get(const struct raft *r, struct raft_hard_state *out)
{
	*out = hard_state(r);
}

uint64_t raft_match_index(const struct raft *r, uint64_t id)
{
	int slot = node_slot(r, id);

	if (r->role != RAFT_LEADER || slot < 0)
		return 0;
	return r->progress[slot].match;
}

static const char *check_log(const struct raft *r)
{
	if (r->snap.index > r->applied)
		return "snapshot index beyond applied index";
	if (r->applied > r->commit)
		return "applied index beyond commit index";
	if (r->commit > raft_last_index(r))
		return "commit index beyond last index";
	if (r->stable < r->snap.index || r->stable > raft_last_index(r))
		return "stable index outside the log";
	if (r->snap.term > r->term)
		return "snapshot term beyond current term";
	for (size_t i = 0; i < r->log_len; i++) {
		if (r->log[i].index != r->snap.index + i + 1)
			return "log entry has the wrong index";
		if (r->log[i].term > r->term)
			return "log entry term beyond current term";
		if (r->log[i].term < (i > 0 ? r->log[i - 1].term : r->snap.term))
			return "log terms decrease";
	}
	return NULL;
}

static const char *check_role(const struct raft *r)
{
	if ((r->role == RAFT_PRE_CANDIDATE || r->role == RAFT_CANDIDATE) && r->lead != 0)
		return "candidate knows a leader";
	if (r->role == RAFT_CANDIDATE && r->vote != r->config.id)
		return "candidate did not vote for itself";
	if (r->role != RAFT_LEADER)
		return NULL;
	if (r->lead != r->config.id)
		return "leader does not know it leads";
	for (size_t i = 0; i < r->n_members; i++) {
		const struct progress *pr = &r->progress[i];

		if (pr->match >= pr->next || pr->next > raft_last_index(r) + 1)
			return "follower progress out of range";
	}
	return NULL;
}

const char *raft_check_invariants(const struct raft *r)
{
	const char *err = check_log(r);

	return err ? err : check_role(r);
}
