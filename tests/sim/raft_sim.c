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
 * Checked after every step: at most one leader per term, log matching,
 * leader completeness and the core's own invariants. State machine safety
 * means every applied entry equals the entry applied at that index on any
 * node. A ReadIndex result must not be older than what was committed when
 * the read started.
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
	struct raft_entry *log;
	size_t len, cap;
};

struct node {
	uint64_t id;
	struct raft *r;
	bool up;
	struct disk disk;
	uint64_t n_applied;
	uint64_t recorded_commit; /* commit index already copied into sim.committed */
};

struct packet {
	struct raft_msg m;
	uint64_t deliver_at;
};

struct committed {
	uint64_t term;
	uint64_t value;
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
	unsigned crashes, membership_changes, transfers; /* accepted requests, printed for one seed */
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

static void disk_truncate(struct disk *d, uint64_t index)
{
	while (d->len >= index)
		free(d->log[--d->len].data);
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
	disk_truncate(d, 1);
	free(d->log);
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
	enum raft_err err;

	for (int i = 0; i < s->n_nodes; i++)
		c.nodes[i] = s->nodes[i].id;
	err = raft_new(&c, &n->disk.hs, NULL, n->disk.log, n->disk.len, &n->r);
	if (err != RAFT_OK) {
		fail(s, "node %" PRIu64 " failed to restart: %s", n->id, raft_strerror(err));
		return;
	}
	n->up = true;
	n->n_applied = 0;
	n->recorded_commit = 0;
}

static void node_crash(struct sim *s, struct node *n)
{
	s->crashes++;
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
}

/* Network */

static void net_push(struct sim *s, const struct raft_msg *m)
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

static void record_commits(struct sim *s, struct node *n)
{
	uint64_t commit = raft_commit_index(n->r);

	for (uint64_t i = n->recorded_commit + 1; i <= commit && !s->failed; i++)
		check_committed(s, n, raft_entry_at(n->r, i));
	n->recorded_commit = commit;
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

	for (uint64_t i = 1; i < s->n_committed && s->committed[i].known; i++) {
		const struct committed *c = &s->committed[i];

		if (c->observed_term > term)
			continue;
		if (raft_term_at(n->r, i) != c->term)
			fail(s, "leader %" PRIu64 " of term %" PRIu64 " lacks committed index %" PRIu64,
			     n->id, term, i);
	}
}

/* If two logs hold an entry with the same index and term, they are identical up to it. */
static void check_log_matching(struct sim *s, const struct node *a, const struct node *b)
{
	uint64_t last = raft_last_index(a->r);

	if (raft_last_index(b->r) < last)
		last = raft_last_index(b->r);
	for (uint64_t i = last; i >= 1; i--) {
		if (raft_term_at(a->r, i) != raft_term_at(b->r, i))
			continue;
		for (uint64_t j = i; j >= 1; j--) {
			const struct raft_entry *x = raft_entry_at(a->r, j), *y = raft_entry_at(b->r, j);

			if (x->term != y->term || entry_value(x) != entry_value(y)) {
				fail(s, "log matching broken between nodes %" PRIu64 " and %" PRIu64
				     " at index %" PRIu64, a->id, b->id, j);
				return;
			}
		}
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
	n->n_applied = e->index;
	check_committed(s, n, e);
	committed_at(s, e->index)->applied = true;
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

/* Persists rd, unless a crash comes first: then the ready is lost. */
static bool persist(struct sim *s, struct node *n, const struct raft_ready *rd)
{
	if (s->faults && chance(s, 5))
		return false;
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

static void drain(struct sim *s, struct node *n)
{
	struct raft_ready rd;

	while (n->up && !s->failed && raft_has_ready(n->r)) {
		raft_ready(n->r, &rd);
		if (!persist(s, n, &rd)) {
			node_crash(s, n);
			return;
		}
		for (size_t i = 0; i < rd.n_msgs; i++)
			net_send(s, &rd.msgs[i]);
		for (size_t i = 0; i < rd.n_committed; i++)
			apply_entry(s, n, &rd.committed[i]);
		for (size_t i = 0; i < rd.n_reads; i++)
			answer_read(s, n, &rd.reads[i]);
		raft_advance(n->r, &rd);
	}
}

/* Events */

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
		if (to->up && !s->blocked[p.m.from - 1][p.m.to - 1]) {
			raft_step(to->r, &p.m);
			drain(s, to);
		}
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
		       "%u membership changes, %u leadership transfers\n", seed, terms_with_leader(&s),
		       max_committed(&s), s.crashes, s.membership_changes, s.transfers);
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
