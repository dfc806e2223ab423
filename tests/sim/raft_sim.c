/*
 * Deterministic simulator for the Raft core: 3 or 5 real nodes over a
 * simulated network and disk, all driven by one seeded PRNG, so a seed
 * replays a run exactly.
 *
 * Faults: message loss, duplication, reordering and delay, symmetric and
 * asymmetric partitions, crashes that lose every ready not yet persisted
 * (and may tear one between its entries and its hard state), restarts,
 * leadership transfers, and client proposals and reads throughout.
 *
 * Log compaction is always on. Each node's state machine is a hash chain
 * over the applied entries, and a snapshot is the hash at an index. A node
 * compacts once its log contains a seed-chosen number of applied entries, so
 * lagging, restarted and re-added nodes catch up by snapshot streams, which
 * fail or arrive late like messages. A crash keeps the last durable snapshot
 * and may tear a compaction between the snapshot and the log deletion.
 *
 * Checked after every step: at most one leader per term, log matching over
 * the entries both logs still hold, leader completeness and the core's own
 * invariants. State machine safety means every applied entry equals the
 * entry applied at that index on any node, and the state machine after
 * each index, restored from a snapshot or not, is the same on every node.
 * A ReadIndex result must not be older than what was committed when the
 * read started.
 * After the fault phase the network heals and every node restarts; a leader
 * must then commit a new proposal on all nodes within LIVENESS_TICKS.
 *
 * Usage: raft_sim [--seed S] [--seeds FIRST:COUNT] [--nodes 3|5] [--steps N]
 * RAFT_SIM_TRACE=1 in the environment prints every delivered message.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/raft.h"

#define MAX_NODES 5
#define TICK_EVERY 4        /* steps per tick */
#define MAX_DELAY 12        /* steps a message may spend on the network */
#define LIVENESS_TICKS 2000 /* ticks after healing to elect a leader and commit */

struct disk {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap; /* index 0 before the first snapshot */
	uint64_t snap_hash;             /* the state machine at snap.index */
	struct raft_entry *log;         /* may start at or below snap.index after a torn compaction */
	size_t len, cap;
};

/* Snapshot data received from a leader and not yet handed to the core. */
struct staged {
	bool has;
	uint64_t index, term, hash;
};

struct node {
	uint64_t id;
	struct raft *r;
	bool up;
	unsigned incarnation; /* restarts, so a stream from a crashed sender dies */
	struct disk disk;
	uint64_t n_applied;
	uint64_t *hashes;     /* hashes[i]: state machine after index i, valid from the snapshot on */
	size_t hashes_cap;
	struct staged staged;
	uint64_t recorded_commit; /* commit index already copied into sim.committed */
};

enum packet_kind {
	PACKET_MSG,
	PACKET_SNAPSHOT,        /* a complete snapshot stream; m is its RAFT_MSG_SNAPSHOT */
	PACKET_SNAPSHOT_FAILED, /* the sender learns that its stream to m.to failed */
};

struct packet {
	struct raft_msg m;
	uint64_t deliver_at;
	enum packet_kind kind;
	uint64_t snap_hash;          /* PACKET_SNAPSHOT: the state machine at m.index */
	unsigned sender_incarnation; /* snapshot packets only */
};

struct committed {
	uint64_t term;
	uint64_t value;
	uint64_t hash;          /* state machine after applying this index */
	uint64_t observed_term; /* lowest term of a node that saw it committed */
	bool applied;
	bool known;
};

struct pending_read {
	uint64_t context;
	uint64_t min_index;
};

struct sim {
	const char *prog;
	uint64_t seed, rng;
	int n_nodes;
	long steps;
	uint64_t now;
	struct node nodes[MAX_NODES];
	struct packet *net;
	size_t n_net, net_cap;
	bool blocked[MAX_NODES][MAX_NODES];
	bool faults;
	uint64_t *leader_of_term;
	size_t n_terms;
	struct committed *committed;
	size_t n_committed;
	struct pending_read reads[256];
	size_t n_reads;
	uint64_t next_value, next_context;
	bool failed;
	uint64_t compact_threshold; /* applied entries kept in the log before a compaction */
	uint64_t compact_lag_max;   /* how far below the applied index a compaction may stop */
	/* Counts printed for one seed. */
	unsigned crashes, membership_changes, transfers;
	unsigned compactions, snapshots_sent, snapshots_installed;
};

static uint64_t next_rand(struct sim *s)
{
	/* splitmix64: small, fast and good enough for fault schedules. */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t sim_rand(void *ctx)
{
	return next_rand(ctx);
}

static bool chance(struct sim *s, unsigned per_10000)
{
	return next_rand(s) % 10000 < per_10000;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "raft_sim: out of memory\n");
		exit(2);
	}
	return p;
}

static void fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	s->failed = true;
	fprintf(stderr, "raft_sim: seed %" PRIu64 " step %" PRIu64 ": ", s->seed, s->now);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	for (int i = 0; i < s->n_nodes; i++) {
		const struct node *n = &s->nodes[i];

		if (!n->up) {
			fprintf(stderr, "  node %" PRIu64 ": down\n", n->id);
			continue;
		}
		fprintf(stderr, "  node %" PRIu64 ": %s term %" PRIu64 " leader %" PRIu64 " commit %" PRIu64
			" last %" PRIu64 " applied %" PRIu64 "\n", n->id, raft_role_name(raft_role(n->r)),
			raft_term(n->r), raft_leader(n->r), raft_commit_index(n->r), raft_last_index(n->r),
			n->n_applied);
		fprintf(stderr, "    members:");
		for (int j = 0; j < s->n_nodes; j++)
			if (raft_is_member(n->r, s->nodes[j].id))
				fprintf(stderr, " %" PRIu64 "%s", s->nodes[j].id,
					raft_is_voter(n->r, s->nodes[j].id) ? "" : " (learner)");
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "replay: %s --seed %" PRIu64 " --nodes %d --steps %ld\n", s->prog, s->seed,
		s->n_nodes, s->steps);
}

static uint64_t entry_value(const struct raft_entry *e)
{
	uint64_t v = 0;

	if (e->len == sizeof(v))
		memcpy(&v, e->data, sizeof(v));
	return v;
}

/* Disk */

/* Deletes the stored entries from index on. */
static void disk_truncate(struct disk *d, uint64_t index)
{
	while (d->len > 0 && d->log[d->len - 1].index >= index)
		free(d->log[--d->len].data);
}

/* Deletes the stored entries up to index, which a snapshot covers. */
static void disk_drop_through(struct disk *d, uint64_t index)
{
	size_t n = 0;

	while (n < d->len && d->log[n].index <= index)
		free(d->log[n++].data);
	if (n == 0)
		return; /* d->log may be NULL */
	memmove(d->log, d->log + n, (d->len - n) * sizeof(*d->log));
	d->len -= n;
}

static void disk_append(struct disk *d, const struct raft_entry *e)
{
	if (d->len == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->log = xrealloc(d->log, d->cap * sizeof(*d->log));
	}
	d->log[d->len] = *e;
	d->log[d->len].data = NULL;
	if (e->len) {
		d->log[d->len].data = xrealloc(NULL, e->len);
		memcpy(d->log[d->len].data, e->data, e->len);
	}
	d->len++;
}

static void disk_free(struct disk *d)
{
	disk_truncate(d, 0);
	free(d->log);
}

/* State machine */

static void set_hash(struct node *n, uint64_t index, uint64_t hash)
{
	if (index >= n->hashes_cap) {
		n->hashes_cap = index * 2 + 64;
		n->hashes = xrealloc(n->hashes, n->hashes_cap * sizeof(*n->hashes));
	}
	n->hashes[index] = hash;
}

/* Replaces the state machine with a snapshot of it at index. */
static void restore_state_machine(struct node *n, uint64_t index, uint64_t hash)
{
	n->n_applied = index;
	set_hash(n, index, hash);
}

static uint64_t mix(uint64_t hash, uint64_t value)
{
	/* One splitmix64 round over the chained value: order-sensitive. */
	uint64_t z = hash ^ (value + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Nodes */

static void node_start(struct sim *s, struct node *n)
{
	struct raft_config c = {
		.id = n->id,
		.n_nodes = (size_t)s->n_nodes,
		.election_ticks = 10,
		.heartbeat_ticks = 2,
		/* Small limits so batching, the in-flight window and the
		 * uncommitted cap all come into play. */
		.max_msg_entries = 4,
		.max_msg_bytes = 24,
		.max_inflight_msgs = 3,
		.max_uncommitted = 24,
		.pre_vote = true,
		.check_quorum = true,
		.rand = sim_rand,
		.rand_ctx = s,
	};
	const struct disk *d = &n->disk;
	size_t skip = 0;
	enum raft_err err;

	for (int i = 0; i < s->n_nodes; i++)
		c.nodes[i] = s->nodes[i].id;
	/* A torn compaction leaves entries the snapshot covers. */
	while (skip < d->len && d->log[skip].index <= d->snap.index)
		skip++;
	err = raft_new(&c, &d->hs, &d->snap, skip < d->len ? d->log + skip : NULL, d->len - skip, &n->r);
	if (err != RAFT_OK) {
		fail(s, "node %" PRIu64 " failed to restart: %s", n->id, raft_strerror(err));
		return;
	}
	n->up = true;
	n->incarnation++;
	restore_state_machine(n, d->snap.index, d->snap_hash);
	n->recorded_commit = d->snap.index;
}

static void node_crash(struct sim *s, struct node *n)
{
	s->crashes++;
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->staged.has = false;
}

/* Network */

static struct packet *net_push(struct sim *s, const struct raft_msg *m)
{
	if (s->n_net == s->net_cap) {
		s->net_cap = s->net_cap ? s->net_cap * 2 : 256;
		s->net = xrealloc(s->net, s->net_cap * sizeof(*s->net));
	}
	struct packet *p = &s->net[s->n_net++];

	if (raft_msg_copy(&p->m, m) != RAFT_OK) {
		fprintf(stderr, "raft_sim: out of memory\n");
		exit(2);
	}
	p->deliver_at = s->now + 1 + (s->faults ? next_rand(s) % MAX_DELAY : next_rand(s) % 3);
	p->kind = PACKET_MSG;
	return p;
}

static void net_send(struct sim *s, const struct raft_msg *m)
{
	if (s->blocked[m->from - 1][m->to - 1])
		return;
	if (s->faults && chance(s, 300))
		return; /* lost */
	net_push(s, m);
	if (s->faults && chance(s, 200))
		net_push(s, m); /* duplicated */
}

/* Safety checks */

static void record_leader(struct sim *s, const struct node *n)
{
	uint64_t term = raft_term(n->r);

	if (term >= s->n_terms) {
		size_t cap = term * 2 + 16;

		s->leader_of_term = xrealloc(s->leader_of_term, cap * sizeof(*s->leader_of_term));
		memset(s->leader_of_term + s->n_terms, 0, (cap - s->n_terms) * sizeof(*s->leader_of_term));
		s->n_terms = cap;
	}
	if (s->leader_of_term[term] == 0)
		s->leader_of_term[term] = n->id;
	else if (s->leader_of_term[term] != n->id)
		fail(s, "two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64, term,
		     s->leader_of_term[term], n->id);
}

static struct committed *committed_at(struct sim *s, uint64_t index)
{
	if (index >= s->n_committed) {
		size_t cap = index * 2 + 64;

		s->committed = xrealloc(s->committed, cap * sizeof(*s->committed));
		memset(s->committed + s->n_committed, 0, (cap - s->n_committed) * sizeof(*s->committed));
		s->n_committed = cap;
	}
	return &s->committed[index];
}

/* Records or compares the entry at index as committed (state machine safety). */
static void check_committed(struct sim *s, const struct node *n, const struct raft_entry *e)
{
	struct committed *c = committed_at(s, e->index);
	uint64_t term = raft_term(n->r);

	if (!c->known) {
		c->known = true;
		c->term = e->term;
		c->value = entry_value(e);
		c->observed_term = term;
		return;
	}
	if (c->term != e->term || c->value != entry_value(e))
		fail(s, "node %" PRIu64 " committed index %" PRIu64 " term %" PRIu64
		     " value %" PRIu64 " but term %" PRIu64 " value %" PRIu64 " was committed",
		     n->id, e->index, e->term, entry_value(e), c->term, c->value);
	if (term < c->observed_term)
		c->observed_term = term;
}

static uint64_t snapshot_index(const struct node *n)
{
	struct raft_snapshot_meta meta;

	raft_snapshot_meta_get(n->r, &meta);
	return meta.index;
}

static void record_commits(struct sim *s, struct node *n)
{
	uint64_t commit = raft_commit_index(n->r);
	uint64_t first = n->recorded_commit + 1;

	/* An installed snapshot covers committed entries this node never saw. */
	if (first <= snapshot_index(n))
		first = snapshot_index(n) + 1;
	for (uint64_t i = first; i <= commit && !s->failed; i++)
		check_committed(s, n, raft_entry_at(n->r, i));
	n->recorded_commit = commit;
}

/* A snapshot covers applied entries only, so it must match what was
 * committed and applied at its index. */
static void check_snapshot(struct sim *s, const struct node *n, uint64_t index, uint64_t term, uint64_t hash)
{
	const struct committed *c;

	if (index == 0)
		return;
	c = committed_at(s, index);
	if (!c->known || !c->applied || c->term != term || c->hash != hash)
		fail(s, "node %" PRIu64 " has a snapshot at index %" PRIu64 " term %" PRIu64
		     " that no node applied", n->id, index, term);
}

static uint64_t max_committed(const struct sim *s)
{
	uint64_t max = 0;

	for (uint64_t i = 1; i < s->n_committed && s->committed[i].known; i++)
		max = i;
	return max;
}

/* Every entry committed before a leader's term is in that leader's log, §3.6. */
static void check_leader_completeness(struct sim *s, const struct node *n)
{
	uint64_t term = raft_term(n->r);

	/* The snapshot contains the entries up to its index. */
	for (uint64_t i = snapshot_index(n) + 1; i < s->n_committed && s->committed[i].known; i++) {
		const struct committed *c = &s->committed[i];

		if (c->observed_term > term)
			continue;
		if (raft_term_at(n->r, i) != c->term)
			fail(s, "leader %" PRIu64 " of term %" PRIu64 " lacks committed index %" PRIu64,
			     n->id, term, i);
	}
}

/*
 * If two logs hold an entry with the same index and term, they are
 * identical up to it. Only the indexes both logs still hold count: from
 * the later of the two snapshots, whose term both know, to the shorter end.
 */
static void check_log_matching(struct sim *s, const struct node *a, const struct node *b)
{
	uint64_t last = raft_last_index(a->r), first = snapshot_index(a);

	if (raft_last_index(b->r) < last)
		last = raft_last_index(b->r);
	if (snapshot_index(b) > first)
		first = snapshot_index(b);
	for (uint64_t i = last; i >= first && i >= 1; i--) {
		if (raft_term_at(a->r, i) != raft_term_at(b->r, i))
			continue;
		for (uint64_t j = i; j > first; j--) {
			const struct raft_entry *x = raft_entry_at(a->r, j), *y = raft_entry_at(b->r, j);

			if (x->term != y->term || entry_value(x) != entry_value(y)) {
				fail(s, "log matching broken between nodes %" PRIu64 " and %" PRIu64
				     " at index %" PRIu64, a->id, b->id, j);
				return;
			}
		}
		if (first > 0 && raft_term_at(a->r, first) != raft_term_at(b->r, first))
			fail(s, "log matching broken between nodes %" PRIu64 " and %" PRIu64
			     " at snapshot index %" PRIu64, a->id, b->id, first);
		return;
	}
}

static void check_all(struct sim *s)
{
	for (int i = 0; i < s->n_nodes && !s->failed; i++) {
		struct node *n = &s->nodes[i];
		const char *broken;

		if (!n->up)
			continue;
		broken = raft_check_invariants(n->r);
		if (broken)
			fail(s, "node %" PRIu64 " invariant: %s", n->id, broken);
		if (raft_role(n->r) == RAFT_LEADER) {
			record_leader(s, n);
			check_leader_completeness(s, n);
		}
		if (snapshot_index(n) != n->disk.snap.index)
			fail(s, "node %" PRIu64 " has snapshot index %" PRIu64 " in memory but %" PRIu64
			     " on disk", n->id, snapshot_index(n), n->disk.snap.index);
		check_snapshot(s, n, n->disk.snap.index, n->disk.snap.term, n->disk.snap_hash);
		record_commits(s, n);
		for (int j = i + 1; j < s->n_nodes; j++)
			if (s->nodes[j].up)
				check_log_matching(s, n, &s->nodes[j]);
	}
}

/* Ready processing */

static void apply_entry(struct sim *s, struct node *n, const struct raft_entry *e)
{
	if (e->index != n->n_applied + 1) {
		fail(s, "node %" PRIu64 " applied index %" PRIu64 " after %" PRIu64, n->id, e->index,
		     n->n_applied);
		return;
	}
	uint64_t hash = mix(n->hashes[n->n_applied], entry_value(e));
	struct committed *c;

	check_committed(s, n, e);
	c = committed_at(s, e->index);
	if (!c->applied) {
		c->applied = true;
		c->hash = hash;
	} else if (c->hash != hash) {
		fail(s, "node %" PRIu64 " state machine differs after index %" PRIu64, n->id, e->index);
	}
	set_hash(n, e->index, hash);
	n->n_applied = e->index;
}

static void answer_read(struct sim *s, const struct node *n, const struct raft_read_state *rs)
{
	for (size_t i = 0; i < s->n_reads; i++) {
		if (s->reads[i].context != rs->context)
			continue;
		if (rs->index < s->reads[i].min_index)
			fail(s, "node %" PRIu64 " read %" PRIu64 " at index %" PRIu64
			     " but %" PRIu64 " was committed before the read", n->id, rs->context,
			     rs->index, s->reads[i].min_index);
		s->reads[i] = s->reads[--s->n_reads];
		return;
	}
}

/*
 * Installs the staged snapshot as raft.h orders: state machine, metadata,
 * deletion of the whole stored log and the entries of the ready, in one
 * atomic write.
 */
static void install_snapshot(struct sim *s, struct node *n, const struct raft_ready *rd)
{
	const struct raft_snapshot_meta *meta = rd->snapshot;

	if (!n->staged.has || n->staged.index != meta->index || n->staged.term != meta->term) {
		fail(s, "node %" PRIu64 " installs snapshot %" PRIu64 " term %" PRIu64
		     " but staged none or another", n->id, meta->index, meta->term);
		return;
	}
	n->disk.snap = *meta;
	n->disk.snap_hash = n->staged.hash;
	disk_truncate(&n->disk, 0);
	restore_state_machine(n, meta->index, n->staged.hash);
	n->staged.has = false;
	s->snapshots_installed++;
}

/* Persists rd, unless a crash comes first: then the ready is lost. */
static bool persist(struct sim *s, struct node *n, const struct raft_ready *rd)
{
	if (s->faults && chance(s, 5))
		return false;
	if (rd->snapshot)
		install_snapshot(s, n, rd);
	if (rd->n_entries > 0) {
		disk_truncate(&n->disk, rd->entries[0].index);
		for (size_t i = 0; i < rd->n_entries; i++)
			disk_append(&n->disk, &rd->entries[i]);
	}
	/* A crash between the log and the hard state tears the write. */
	if (s->faults && chance(s, 5))
		return false;
	if (rd->has_hard_state)
		n->disk.hs = rd->hard_state;
	return true;
}

/* Log compaction and snapshot streams */

/*
 * Snapshots the state machine at or a little below the applied index once
 * the log contains compact_threshold applied entries, or always when forced.
 * The snapshot and its metadata are written atomically; a crash may come
 * before that write or between it and the deletion of the covered entries.
 */
static void maybe_compact(struct sim *s, struct node *n, bool force)
{
	struct raft_snapshot_meta meta;
	uint64_t index = n->n_applied;
	enum raft_err err;

	raft_snapshot_meta_get(n->r, &meta);
	if (!force && n->n_applied < meta.index + s->compact_threshold)
		return;
	if (!force)
		index -= next_rand(s) % (s->compact_lag_max + 1);
	if (index <= meta.index)
		return;
	err = raft_compact(n->r, index);
	if (err != RAFT_OK) {
		fail(s, "node %" PRIu64 " failed to compact at %" PRIu64 ": %s", n->id, index, raft_strerror(err));
		return;
	}
	raft_snapshot_meta_get(n->r, &meta);
	if (meta.index != index || raft_term_at(n->r, index) != meta.term)
		fail(s, "node %" PRIu64 " compacted at %" PRIu64 " but its snapshot is at %" PRIu64,
		     n->id, index, meta.index);
	if (s->faults && chance(s, 5)) {
		node_crash(s, n);
		return;
	}
	n->disk.snap = meta;
	n->disk.snap_hash = n->hashes[index];
	s->compactions++;
	if (s->faults && chance(s, 20)) {
		node_crash(s, n);
		return;
	}
	disk_drop_through(&n->disk, index);
}

/*
 * Streams the sender's durable snapshot for a RAFT_MSG_SNAPSHOT. It may be
 * newer than the one the core announced, which raft.h allows. The stream
 * takes longer than a message and may fail; the sender learns either way.
 */
static void stream_snapshot(struct sim *s, struct node *from, const struct raft_msg *announced)
{
	const struct disk *d = &from->disk;
	struct raft_msg m = *announced;
	struct packet *p;

	if (d->snap.index < announced->index) {
		fail(s, "node %" PRIu64 " announced snapshot %" PRIu64 " but stores %" PRIu64, from->id,
		     announced->index, d->snap.index);
		return;
	}
	m.index = d->snap.index;
	m.log_term = d->snap.term;
	m.n_members = d->snap.n_members;
	memcpy(m.members, d->snap.members, sizeof(m.members));
	memcpy(m.learner, d->snap.learner, sizeof(m.learner));
	s->snapshots_sent++;
	p = net_push(s, &m);
	p->deliver_at += next_rand(s) % (4 * MAX_DELAY);
	p->kind = PACKET_SNAPSHOT;
	if (s->blocked[m.from - 1][m.to - 1] || (s->faults && chance(s, 1000)))
		p->kind = PACKET_SNAPSHOT_FAILED;
	p->snap_hash = d->snap_hash;
	p->sender_incarnation = from->incarnation;
}

#define MAX_SNAPSHOT_MSGS (2 * MAX_NODES)

static void drain(struct sim *s, struct node *n)
{
	struct raft_msg snapshots[MAX_SNAPSHOT_MSGS];
	size_t n_snapshots = 0;
	struct raft_ready rd;

	while (n->up && !s->failed && raft_has_ready(n->r)) {
		raft_ready(n->r, &rd);
		if (!persist(s, n, &rd)) {
			node_crash(s, n);
			return;
		}
		for (size_t i = 0; i < rd.n_msgs; i++) {
			if (rd.msgs[i].type != RAFT_MSG_SNAPSHOT)
				net_send(s, &rd.msgs[i]);
			else if (n_snapshots < MAX_SNAPSHOT_MSGS)
				snapshots[n_snapshots++] = rd.msgs[i]; /* no entries to own */
			else
				fail(s, "node %" PRIu64 " sent too many snapshots in one drain", n->id);
		}
		for (size_t i = 0; i < rd.n_committed; i++)
			apply_entry(s, n, &rd.committed[i]);
		for (size_t i = 0; i < rd.n_reads; i++)
			answer_read(s, n, &rd.reads[i]);
		raft_advance(n->r, &rd);
	}
	if (!n->up || s->failed)
		return;
	/* Compacting between raft_advance() and the next input is allowed;
	 * half of the time the sender snapshots its newest state to stream. */
	maybe_compact(s, n, n_snapshots > 0 && chance(s, 5000));
	for (size_t i = 0; i < n_snapshots && n->up; i++)
		stream_snapshot(s, n, &snapshots[i]);
}

/* Events */

static void report_snapshot(struct sim *s, const struct packet *p, bool ok)
{
	struct node *from = &s->nodes[p->m.from - 1];

	/* A stream dies with its sender, and a restarted sender has no
	 * snapshot state to end. */
	if (!from->up || from->incarnation != p->sender_incarnation)
		return;
	raft_report_snapshot(from->r, p->m.to, ok);
	drain(s, from);
}

/* Hands a complete stream to the receiver; the sender may learn of the
 * success before or after the receiver handles it. */
static void deliver_snapshot(struct sim *s, const struct packet *p)
{
	struct node *to = &s->nodes[p->m.to - 1];
	bool report_first = chance(s, 5000);

	if (!to->up || s->blocked[p->m.from - 1][p->m.to - 1]) {
		report_snapshot(s, p, false);
		return;
	}
	if (report_first)
		report_snapshot(s, p, true);
	to->staged = (struct staged){
		.has = true, .index = p->m.index, .term = p->m.log_term, .hash = p->snap_hash,
	};
	raft_step(to->r, &p->m);
	drain(s, to);
	to->staged.has = false; /* not installed: the node had the entries */
	if (!report_first)
		report_snapshot(s, p, true);
}

static void deliver(struct sim *s, const struct packet *p)
{
	struct node *to = &s->nodes[p->m.to - 1];
	const struct node *from = &s->nodes[p->m.from - 1];

	switch (p->kind) {
	case PACKET_MSG:
		if (to->up && !s->blocked[p->m.from - 1][p->m.to - 1]) {
			raft_step(to->r, &p->m);
			drain(s, to);
		}
		break;
	case PACKET_SNAPSHOT:
		if (from->up && from->incarnation == p->sender_incarnation)
			deliver_snapshot(s, p);
		break;
	case PACKET_SNAPSHOT_FAILED:
		report_snapshot(s, p, false);
		break;
	}
}

static void deliver_due(struct sim *s)
{
	size_t i = 0;

	while (i < s->n_net && !s->failed) {
		struct packet p = s->net[i];

		if (p.deliver_at > s->now) {
			i++;
			continue;
		}
		s->net[i] = s->net[--s->n_net];
		struct node *to = &s->nodes[p.m.to - 1];

		if (getenv("RAFT_SIM_TRACE"))
			fprintf(stderr, "%" PRIu64 ": %s %" PRIu64 "->%" PRIu64 " term %" PRIu64 " index %" PRIu64 " up %d blocked %d\n",
				s->now, raft_msg_type_name(p.m.type), p.m.from, p.m.to, p.m.term, p.m.index, to->up,
				s->blocked[p.m.from - 1][p.m.to - 1]);
		deliver(s, &p);
		raft_msg_clear(&p.m);
	}
}

static struct node *random_node(struct sim *s)
{
	return &s->nodes[next_rand(s) % (uint64_t)s->n_nodes];
}

static struct node *find_leader(struct sim *s)
{
	struct node *best = NULL;

	for (int i = 0; i < s->n_nodes; i++) {
		struct node *n = &s->nodes[i];

		if (n->up && raft_role(n->r) == RAFT_LEADER &&
		    (!best || raft_term(n->r) > raft_term(best->r)))
			best = n;
	}
	return best;
}

static enum raft_err propose(struct sim *s, struct node *n, uint64_t *index)
{
	uint64_t value = ++s->next_value;
	enum raft_err err = raft_propose(n->r, &value, sizeof(value), index);

	drain(s, n);
	return err;
}

static void start_read(struct sim *s, struct node *n)
{
	uint64_t context = ++s->next_context;

	if (s->n_reads == sizeof(s->reads) / sizeof(s->reads[0]))
		return;
	/* Register first: a single-node cluster releases the read inside the call. */
	s->reads[s->n_reads++] = (struct pending_read){ .context = context, .min_index = max_committed(s) };
	if (raft_read_index(n->r, context) != RAFT_OK)
		s->n_reads--;
	drain(s, n);
}

static void change_partition(struct sim *s)
{
	memset(s->blocked, 0, sizeof(s->blocked));
	if (chance(s, 5000)) {
		/* Symmetric: split the nodes into two random sides. */
		uint64_t side = next_rand(s);

		for (int a = 0; a < s->n_nodes; a++)
			for (int b = 0; b < s->n_nodes; b++)
				s->blocked[a][b] = ((side >> a) & 1) != ((side >> b) & 1);
	} else {
		/* Asymmetric: some links drop messages one way only. */
		for (int k = 0; k < s->n_nodes; k++) {
			int a = (int)(next_rand(s) % (uint64_t)s->n_nodes);
			int b = (int)(next_rand(s) % (uint64_t)s->n_nodes);

			if (a != b)
				s->blocked[a][b] = true;
		}
	}
}

static void inject_faults(struct sim *s)
{
	struct node *n = random_node(s);

	if (n->up && chance(s, 40))
		node_crash(s, n);
	else if (!n->up && chance(s, 150))
		node_start(s, n);
	if (chance(s, 40))
		change_partition(s);
	if (chance(s, 30))
		memset(s->blocked, 0, sizeof(s->blocked));
}

static void tick_all(struct sim *s)
{
	for (int i = 0; i < s->n_nodes; i++) {
		struct node *n = &s->nodes[i];

		/* Skipped ticks model clock drift between nodes. */
		if (!n->up || (s->faults && chance(s, 500)))
			continue;
		raft_tick(n->r);
		drain(s, n);
	}
}

/* Removes a voter, adds a non-member as a learner or promotes a learner. */
static void change_membership(struct sim *s, struct node *leader)
{
	struct node *n = random_node(s);
	size_t voters = 0;
	enum raft_conf_op op;

	for (int i = 0; i < s->n_nodes; i++)
		voters += raft_is_voter(leader->r, s->nodes[i].id);
	if (raft_is_voter(leader->r, n->id)) {
		/* Keep enough voters that a quorum can survive a crash. */
		if (voters <= (size_t)s->n_nodes / 2 + 1)
			return;
		op = RAFT_CONF_REMOVE;
	} else if (raft_is_member(leader->r, n->id)) {
		op = RAFT_CONF_ADD_VOTER;
	} else {
		op = RAFT_CONF_ADD_LEARNER;
	}
	if (raft_propose_conf_change(leader->r, op, n->id, NULL) == RAFT_OK)
		s->membership_changes++;
	drain(s, leader);
}

static void client_requests(struct sim *s)
{
	struct node *leader = find_leader(s);

	if (!leader)
		return;
	/* Draining may crash the leader, so check it before each request. */
	if (chance(s, 2500))
		propose(s, leader, NULL);
	if (leader->up && chance(s, 200))
		start_read(s, leader);
	if (leader->up && s->faults && chance(s, 20)) {
		if (raft_transfer_leadership(leader->r, random_node(s)->id) == RAFT_OK)
			s->transfers++;
		drain(s, leader);
	}
	if (leader->up && s->faults && chance(s, 40))
		change_membership(s, leader);
}

static void step(struct sim *s)
{
	s->now++;
	if (s->faults)
		inject_faults(s);
	if (s->now % TICK_EVERY == 0)
		tick_all(s);
	deliver_due(s);
	client_requests(s);
	check_all(s);
}

/* Heals everything and requires a new proposal committed on every node. */
static void check_liveness(struct sim *s)
{
	uint64_t index = 0, value = 0;

	s->faults = false;
	memset(s->blocked, 0, sizeof(s->blocked));
	for (int i = 0; i < s->n_nodes; i++)
		if (!s->nodes[i].up)
			node_start(s, &s->nodes[i]);
	for (long t = 0; t < (long)LIVENESS_TICKS * TICK_EVERY && !s->failed; t++) {
		struct node *leader;
		const struct committed *c;
		bool everywhere = true;

		step(s);
		leader = find_leader(s);
		if (index == 0 && leader) {
			value = s->next_value + 1;
			if (propose(s, leader, &index) != RAFT_OK)
				index = 0;
		}
		if (index == 0)
			continue;
		c = committed_at(s, index);
		/* A later leader may overwrite an uncommitted proposal: then
		 * propose again. */
		if (c->known && c->value != value) {
			index = 0;
			continue;
		}
		/* Nodes removed from the leader's configuration may lag forever. */
		for (int i = 0; i < s->n_nodes && leader; i++)
			if (raft_is_member(leader->r, s->nodes[i].id))
				everywhere = everywhere && s->nodes[i].n_applied >= index;
		everywhere = everywhere && leader;
		if (everywhere)
			return;
	}
	fail(s, "no proposal committed on all nodes within %d ticks after healing", LIVENESS_TICKS);
}

static size_t terms_with_leader(const struct sim *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_terms; i++)
		n += s->leader_of_term[i] != 0;
	return n;
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < s->n_nodes; i++) {
		if (s->nodes[i].up)
			node_crash(s, &s->nodes[i]);
		disk_free(&s->nodes[i].disk);
		free(s->nodes[i].hashes);
	}
	for (size_t i = 0; i < s->n_net; i++)
		raft_msg_clear(&s->net[i].m);
	free(s->net);
	free(s->leader_of_term);
	free(s->committed);
}

static bool run(const char *prog, uint64_t seed, int n_nodes, long steps, bool verbose)
{
	struct sim s = {
		.prog = prog, .seed = seed, .rng = seed, .n_nodes = n_nodes, .steps = steps, .faults = true,
	};
	bool ok;

	/* From a snapshot after every entry to one after 48 entries. */
	s.compact_threshold = 1 + next_rand(&s) % 48;
	s.compact_lag_max = next_rand(&s) % (s.compact_threshold + 1);
	for (int i = 0; i < n_nodes; i++)
		s.nodes[i].id = (uint64_t)i + 1;
	for (int i = 0; i < n_nodes; i++)
		node_start(&s, &s.nodes[i]);
	for (long i = 0; i < steps && !s.failed; i++)
		step(&s);
	if (!s.failed)
		check_liveness(&s);
	ok = !s.failed;
	if (verbose)
		printf("seed %" PRIu64 ": %zu terms with a leader, %" PRIu64 " entries committed, %u crashes, "
		       "%u membership changes, %u leadership transfers, %u compactions (threshold %" PRIu64
		       "), %u snapshots sent, %u installed\n", seed, terms_with_leader(&s), max_committed(&s),
		       s.crashes, s.membership_changes, s.transfers, s.compactions, s.compact_threshold,
		       s.snapshots_sent, s.snapshots_installed);
	sim_free(&s);
	return ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: raft_sim [--seed S | --seeds FIRST:COUNT] [--nodes 3|5] [--steps N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 1;
	int n_nodes = 3;
	long steps = 2000;
	unsigned failures = 0;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(argv[i], "--seed") == 0) {
			first = strtoull(v, NULL, 10);
			count = 1;
		} else if (strcmp(argv[i], "--seeds") == 0) {
			if (sscanf(v, "%" SCNu64 ":%" SCNu64, &first, &count) != 2)
				usage();
		} else if (strcmp(argv[i], "--nodes") == 0) {
			n_nodes = atoi(v);
		} else if (strcmp(argv[i], "--steps") == 0) {
			steps = atol(v);
		} else {
			usage();
		}
		i++;
	}
	if (n_nodes < 1 || n_nodes > MAX_NODES || steps < 0)
		usage();
	for (uint64_t seed = first; seed < first + count; seed++)
		if (!run(argv[0], seed, n_nodes, steps, count == 1))
			failures++;
	printf("raft_sim: %" PRIu64 " seeds, %d nodes, %ld steps: %u failed\n", count, n_nodes, steps, failures);
	return failures ? 1 : 0;
}
