/* Raft core: single rules, driven by hand-built messages on a 3-node cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replication/raft.h"

#define MAX_OUT 32

/* Messages sent by the node under test, deep-copied out of its ready. */
struct outbox {
	struct raft_msg msgs[MAX_OUT];
	size_t n;
	uint64_t applied;
};

static struct raft *restart_node(uint64_t id, bool pre_vote, const struct raft_hard_state *hs,
				 const struct raft_snapshot_meta *snap, const struct raft_entry *log,
				 size_t n_log)
{
	struct raft_config c = {
		.id = id,
		.nodes = { 1, 2, 3 },
		.n_nodes = 3,
		.election_ticks = 10,
		.max_uncommitted = 4,
		.pre_vote = pre_vote,
		.check_quorum = true,
	};
	struct raft *r = NULL;

	assert_int_equal(raft_new(&c, hs, snap, log, n_log, &r), RAFT_OK);
	return r;
}

static struct raft *new_node(uint64_t id, bool pre_vote, const struct raft_hard_state *hs,
			     const struct raft_entry *log, size_t n_log)
{
	return restart_node(id, pre_vote, hs, NULL, log, n_log);
}

static void outbox_clear(struct outbox *out)
{
	for (size_t i = 0; i < out->n; i++)
		raft_msg_clear(&out->msgs[i]);
	out->n = 0;
}

/* Persists nothing (the tests have no disk), collects messages and advances. */
static void drain(struct raft *r, struct outbox *out)
{
	struct raft_ready rd;

	outbox_clear(out);
	while (raft_has_ready(r)) {
		raft_ready(r, &rd);
		for (size_t i = 0; i < rd.n_msgs && out->n < MAX_OUT; i++)
			assert_int_equal(raft_msg_copy(&out->msgs[out->n++], &rd.msgs[i]), RAFT_OK);
		out->applied += rd.n_committed;
		raft_advance(r, &rd);
	}
}

static const struct raft_msg *find_msg(const struct outbox *out, enum raft_msg_type type, uint64_t to)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->msgs[i].type == type && out->msgs[i].to == to)
			return &out->msgs[i];
	return NULL;
}

static void tick_n(struct raft *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		raft_tick(r);
}

/* Makes node 1 leader of term hs->term + 1 with node 2's vote. */
static struct raft *new_leader(const struct raft_hard_state *hs, const struct raft_entry *log,
			       size_t n_log, struct outbox *out)
{
	struct raft *r = new_node(1, false, hs, log, n_log);
	struct raft_msg vote = { .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1 };

	tick_n(r, 10);
	assert_int_equal(raft_role(r), RAFT_CANDIDATE);
	vote.term = raft_term(r);
	assert_int_equal(raft_step(r, &vote), RAFT_OK);
	assert_int_equal(raft_role(r), RAFT_LEADER);
	drain(r, out);
	return r;
}

static void append_rejected_on_prev_term_mismatch(void **state)
{
	struct raft_entry log[] = { { .term = 1, .index = 1 }, { .term = 1, .index = 2 } };
	struct raft_hard_state hs = { .term = 2 };
	struct raft *r = new_node(2, false, &hs, log, 2);
	struct raft_msg m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2, .index = 2, .log_term = 2 };
	struct outbox out = { 0 };
	const struct raft_msg *resp;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	drain(r, &out);
	resp = find_msg(&out, RAFT_MSG_APPEND_RESP, 1);
	assert_non_null(resp);
	assert_true(resp->reject);
	assert_int_equal(resp->index, 2);
	assert_int_equal(resp->hint, 2);
	assert_int_equal(raft_last_index(r), 2);
	outbox_clear(&out);
	raft_free(r);
}

static void append_truncates_conflicting_entries(void **state)
{
	struct raft_entry log[] = {
		{ .term = 1, .index = 1 }, { .term = 1, .index = 2 }, { .term = 1, .index = 3 },
	};
	struct raft_entry incoming[] = { { .term = 2, .index = 2 } };
	struct raft_hard_state hs = { .term = 2 };
	struct raft *r = new_node(2, false, &hs, log, 3);
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2, .index = 1, .log_term = 1,
		.commit = 2, .entries = incoming, .n_entries = 1,
	};
	struct outbox out = { 0 };
	const struct raft_msg *resp;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_int_equal(raft_last_index(r), 2);
	assert_int_equal(raft_term_at(r, 2), 2);
	assert_int_equal(raft_commit_index(r), 2);
	drain(r, &out);
	resp = find_msg(&out, RAFT_MSG_APPEND_RESP, 1);
	assert_non_null(resp);
	assert_false(resp->reject);
	assert_int_equal(resp->index, 2);
	assert_int_equal(out.applied, 2);
	outbox_clear(&out);
	raft_free(r);
}

/* An AppendEntries past the log whose log_term is 0, which raft_term_at()
 * also returns past the log, must not move the commit index beyond it. */
static void append_past_log_with_zero_term_dropped(void **state)
{
	struct raft_entry log[] = { { .term = 1, .index = 1 } };
	struct raft_hard_state hs = { .term = 1 };
	struct raft *r = new_node(2, false, &hs, log, 1);
	struct raft_msg m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 1, .index = 50, .commit = 50 };
	struct outbox out = { 0 };

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_INVALID_MESSAGE);
	assert_int_equal(raft_commit_index(r), 0);
	drain(r, &out);
	assert_int_equal(out.applied, 0);
	outbox_clear(&out);
	raft_free(r);
}

/* Entries that do not follow the message's index one by one would be
 * appended at the wrong place or truncate committed entries. */
static void append_entries_out_of_sequence_dropped(void **state)
{
	struct raft_entry log[] = { { .term = 1, .index = 1 }, { .term = 1, .index = 2 } };
	struct raft_entry gap[] = { { .term = 1, .index = 5 } };
	struct raft_entry behind[] = { { .term = 2, .index = 1 } };
	struct raft_entry future[] = { { .term = 9, .index = 3 } };
	struct raft_hard_state hs = { .term = 2, .commit = 2 };
	struct raft *r = new_node(2, false, &hs, log, 2);
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 2, .index = 2, .log_term = 1,
		.entries = gap, .n_entries = 1,
	};

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_INVALID_MESSAGE);
	m.entries = behind;
	assert_int_equal(raft_step(r, &m), RAFT_INVALID_MESSAGE);
	m.entries = future;
	assert_int_equal(raft_step(r, &m), RAFT_INVALID_MESSAGE);
	assert_int_equal(raft_last_index(r), 2);
	assert_int_equal(raft_term_at(r, 1), 1);
	assert_int_equal(raft_term(r), 2);
	raft_free(r);
}

/* A follower cannot acknowledge an index the leader never had. */
static void append_reply_past_leader_log_dropped(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1000 };
	struct raft_msg hb_ack = { .type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 1, .term = 1, .context = 1000 };

	(void)state;
	assert_int_equal(raft_step(r, &ack), RAFT_INVALID_MESSAGE);
	assert_int_equal(raft_match_index(r, 2), 0);
	assert_int_equal(raft_step(r, &hb_ack), RAFT_INVALID_MESSAGE);
	assert_int_equal(raft_role(r), RAFT_LEADER);
	outbox_clear(&out);
	raft_free(r);
}

static void pre_vote_keeps_terms(void **state)
{
	struct raft *candidate = new_node(1, true, NULL, NULL, 0);
	struct raft *voter = new_node(2, true, NULL, NULL, 0);
	struct outbox out = { 0 };
	const struct raft_msg *request, *resp;

	(void)state;
	tick_n(candidate, 10);
	assert_int_equal(raft_role(candidate), RAFT_PRE_CANDIDATE);
	assert_int_equal(raft_term(candidate), 0);
	drain(candidate, &out);
	request = find_msg(&out, RAFT_MSG_PRE_VOTE, 2);
	assert_non_null(request);
	assert_int_equal(request->term, 1);

	assert_int_equal(raft_step(voter, request), RAFT_OK);
	assert_int_equal(raft_term(voter), 0);
	outbox_clear(&out);
	drain(voter, &out);
	resp = find_msg(&out, RAFT_MSG_PRE_VOTE_RESP, 1);
	assert_non_null(resp);
	assert_false(resp->reject);

	/* One granted pre-vote plus its own makes a quorum: a real election. */
	assert_int_equal(raft_step(candidate, resp), RAFT_OK);
	assert_int_equal(raft_role(candidate), RAFT_CANDIDATE);
	assert_int_equal(raft_term(candidate), 1);
	outbox_clear(&out);
	raft_free(candidate);
	raft_free(voter);
}

static void vote_rejected_for_stale_log(void **state)
{
	struct raft_entry log[] = { { .term = 2, .index = 1 } };
	struct raft_hard_state hs = { .term = 2 };
	struct raft *r = new_node(2, false, &hs, log, 1);
	struct raft_msg m = { .type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 3, .index = 5, .log_term = 1 };
	struct outbox out = { 0 };
	const struct raft_msg *resp;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_int_equal(raft_term(r), 3);
	drain(r, &out);
	resp = find_msg(&out, RAFT_MSG_VOTE_RESP, 3);
	assert_non_null(resp);
	assert_true(resp->reject);
	outbox_clear(&out);
	raft_free(r);
}

static void check_quorum_steps_down(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);

	(void)state;
	/* One election timeout to start the check window, one to fail it. */
	tick_n(r, 20);
	assert_int_equal(raft_role(r), RAFT_FOLLOWER);
	assert_int_equal(raft_leader(r), 0);
	outbox_clear(&out);
	raft_free(r);
}

static void commit_needs_current_term(void **state)
{
	struct raft_entry log[] = { { .term = 1, .index = 1 }, { .term = 1, .index = 2 } };
	struct raft_hard_state hs = { .term = 2 };
	struct outbox out = { 0 };
	struct raft *r = new_leader(&hs, log, 2, &out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3, .index = 2 };

	(void)state;
	assert_int_equal(raft_last_index(r), 3); /* the no-op of term 3 */
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	assert_int_equal(raft_commit_index(r), 0);
	ack.index = 3;
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	assert_int_equal(raft_commit_index(r), 3);
	outbox_clear(&out);
	raft_free(r);
}

static void read_index_waits_for_quorum(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1 };
	struct raft_ready rd;
	const struct raft_msg *hb;

	(void)state;
	assert_int_equal(raft_read_index(r, 7), RAFT_NOT_READY);
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, &out);
	assert_int_equal(raft_commit_index(r), 1);

	assert_int_equal(raft_read_index(r, 7), RAFT_OK);
	drain(r, &out);
	hb = find_msg(&out, RAFT_MSG_HEARTBEAT, 3);
	assert_non_null(hb);

	struct raft_msg hb_ack = {
		.type = RAFT_MSG_HEARTBEAT_RESP, .from = 3, .to = 1, .term = 1, .context = hb->context,
	};

	assert_int_equal(raft_step(r, &hb_ack), RAFT_OK);
	raft_ready(r, &rd);
	assert_int_equal(rd.n_reads, 1);
	assert_int_equal(rd.reads[0].context, 7);
	assert_int_equal(rd.reads[0].index, 1);
	raft_advance(r, &rd);
	outbox_clear(&out);
	raft_free(r);
}

static void uncommitted_cap_drops_proposals(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);
	uint64_t value = 42, index = 0;

	(void)state;
	/* The no-op plus three proposals reach max_uncommitted = 4. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(raft_propose(r, &value, sizeof(value), &index), RAFT_OK);
	assert_int_equal(index, 4);
	assert_int_equal(raft_propose(r, &value, sizeof(value), &index), RAFT_DROPPED);
	drain(r, &out);
	outbox_clear(&out);
	raft_free(r);
}

static void transfer_sends_timeout_now(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1 };
	uint64_t value = 1;

	(void)state;
	assert_int_equal(raft_transfer_leadership(r, 2), RAFT_OK);
	assert_int_equal(raft_propose(r, &value, sizeof(value), NULL), RAFT_DROPPED);
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, &out);
	assert_non_null(find_msg(&out, RAFT_MSG_TIMEOUT_NOW, 2));
	outbox_clear(&out);
	raft_free(r);
}

static void learner_never_campaigns(void **state)
{
	struct outbox out = { 0 };
	struct raft *leader = new_leader(NULL, NULL, 0, &out);
	struct raft *learner = new_node(4, false, NULL, NULL, 0);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1 };
	const struct raft_msg *append;
	struct raft_msg reply;

	(void)state;
	assert_false(raft_is_member(learner, 4));
	assert_int_equal(raft_step(leader, &ack), RAFT_OK);
	drain(leader, &out);
	assert_int_equal(raft_propose_conf_change(leader, RAFT_CONF_ADD_LEARNER, 4, NULL), RAFT_OK);
	assert_true(raft_is_member(leader, 4));
	assert_false(raft_is_voter(leader, 4));
	assert_int_equal(raft_transfer_leadership(leader, 4), RAFT_NOT_VOTER);
	drain(leader, &out);

	/* The first probe fails because the learner's log is empty; the
	 * rejection makes the leader send everything from index 1. */
	append = find_msg(&out, RAFT_MSG_APPEND, 4);
	assert_non_null(append);
	assert_int_equal(raft_step(learner, append), RAFT_OK);
	assert_int_equal(raft_last_index(learner), 0);
	outbox_clear(&out);
	drain(learner, &out);
	reply = out.msgs[0];
	out.n = 0;
	assert_int_equal(reply.type, RAFT_MSG_APPEND_RESP);
	assert_true(reply.reject);
	assert_int_equal(raft_step(leader, &reply), RAFT_OK);
	raft_msg_clear(&reply);
	drain(leader, &out);
	append = find_msg(&out, RAFT_MSG_APPEND, 4);
	assert_non_null(append);
	assert_int_equal(raft_step(learner, append), RAFT_OK);
	assert_int_equal(raft_last_index(learner), 2);
	assert_true(raft_is_member(learner, 4));
	assert_false(raft_is_voter(learner, 4));
	outbox_clear(&out);
	tick_n(learner, 100);
	assert_int_equal(raft_role(learner), RAFT_FOLLOWER);
	assert_int_equal(raft_term(learner), 1);
	drain(learner, &out);
	outbox_clear(&out);
	raft_free(learner);
	raft_free(leader);
}

static void conf_change_waits_for_commit(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = new_leader(NULL, NULL, 0, &out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1 };

	(void)state;
	/* No entry of the leader's term is committed yet. */
	assert_int_equal(raft_propose_conf_change(r, RAFT_CONF_REMOVE, 3, NULL), RAFT_NOT_READY);
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, &out);
	assert_int_equal(raft_propose_conf_change(r, RAFT_CONF_REMOVE, 3, NULL), RAFT_OK);
	assert_false(raft_is_member(r, 3));
	assert_int_equal(raft_propose_conf_change(r, RAFT_CONF_ADD_LEARNER, 3, NULL), RAFT_CHANGE_PENDING);
	drain(r, &out);
	ack.index = 2;
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	assert_int_equal(raft_commit_index(r), 2);
	assert_int_equal(raft_propose_conf_change(r, RAFT_CONF_ADD_LEARNER, 3, NULL), RAFT_OK);
	drain(r, &out);
	outbox_clear(&out);
	raft_free(r);
}

static void follower_rejects_proposal(void **state)
{
	struct raft *r = new_node(2, false, NULL, NULL, 0);

	(void)state;
	assert_int_equal(raft_propose(r, "x", 1, NULL), RAFT_NOT_LEADER);
	assert_int_equal(raft_read_index(r, 1), RAFT_NOT_LEADER);
	assert_string_equal(raft_strerror(RAFT_NOT_LEADER), "this node is not the leader");
	raft_free(r);
}

/* Snapshots and log compaction */

/* Makes node 1 leader of term 1 with entries 1 to 4 committed and applied,
 * acknowledged by node 2 only. */
static struct raft *leader_with_applied_log(struct outbox *out)
{
	struct raft *r = new_leader(NULL, NULL, 0, out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 1 };
	uint64_t value = 7;

	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, out);
	for (int i = 0; i < 3; i++)
		assert_int_equal(raft_propose(r, &value, sizeof(value), NULL), RAFT_OK);
	drain(r, out);
	ack.index = 4;
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, out);
	assert_int_equal(raft_commit_index(r), 4);
	assert_int_equal(out->applied, 4);
	return r;
}

/* Node 3 has acknowledged nothing; its heartbeat reply makes the leader
 * look at what it needs. */
static void heartbeat_reply_from_3(struct raft *r, struct outbox *out)
{
	struct raft_msg hb_ack = { .type = RAFT_MSG_HEARTBEAT_RESP, .from = 3, .to = 1, .term = 1 };

	assert_int_equal(raft_step(r, &hb_ack), RAFT_OK);
	drain(r, out);
}

static void compact_keeps_snapshot_term(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = leader_with_applied_log(&out);
	struct raft_snapshot_meta meta;

	(void)state;
	assert_int_equal(raft_compact(r, 5), RAFT_NOT_APPLIED);
	assert_int_equal(raft_compact(r, 3), RAFT_OK);
	assert_int_equal(raft_term_at(r, 3), 1);
	assert_int_equal(raft_term_at(r, 2), 0);
	assert_null(raft_entry_at(r, 3));
	assert_non_null(raft_entry_at(r, 4));
	assert_int_equal(raft_last_index(r), 4);
	raft_snapshot_meta_get(r, &meta);
	assert_int_equal(meta.index, 3);
	assert_int_equal(meta.term, 1);
	assert_int_equal(meta.n_members, 3);
	assert_false(meta.learner[0] || meta.learner[1] || meta.learner[2]);

	/* An older index is already covered. */
	assert_int_equal(raft_compact(r, 2), RAFT_OK);
	raft_snapshot_meta_get(r, &meta);
	assert_int_equal(meta.index, 3);
	assert_null(raft_check_invariants(r));
	outbox_clear(&out);
	raft_free(r);
}

static void compact_records_membership_at_index(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = leader_with_applied_log(&out);
	struct raft_msg ack = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 1, .index = 5 };
	struct raft_snapshot_meta meta;

	(void)state;
	assert_int_equal(raft_propose_conf_change(r, RAFT_CONF_ADD_LEARNER, 4, NULL), RAFT_OK);
	drain(r, &out);
	assert_int_equal(raft_step(r, &ack), RAFT_OK);
	drain(r, &out);
	assert_int_equal(out.applied, 5);

	/* Before the configuration entry, node 4 is not a member yet. */
	assert_int_equal(raft_compact(r, 4), RAFT_OK);
	raft_snapshot_meta_get(r, &meta);
	assert_int_equal(meta.n_members, 3);
	assert_int_equal(raft_compact(r, 5), RAFT_OK);
	raft_snapshot_meta_get(r, &meta);
	assert_int_equal(meta.n_members, 4);
	assert_int_equal(meta.members[3], 4);
	assert_true(meta.learner[3]);
	assert_true(raft_is_member(r, 4));
	outbox_clear(&out);
	raft_free(r);
}

static void leader_sends_snapshot_to_lagging_follower(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = leader_with_applied_log(&out);
	const struct raft_msg *snap;
	uint64_t value = 8;

	(void)state;
	assert_int_equal(raft_compact(r, 4), RAFT_OK);
	heartbeat_reply_from_3(r, &out);
	snap = find_msg(&out, RAFT_MSG_SNAPSHOT, 3);
	assert_non_null(snap);
	assert_int_equal(snap->index, 4);
	assert_int_equal(snap->log_term, 1);
	assert_int_equal(snap->n_members, 3);
	assert_null(find_msg(&out, RAFT_MSG_APPEND, 3));

	/* While the snapshot is on its way, node 3 gets heartbeats but no entries. */
	assert_int_equal(raft_propose(r, &value, sizeof(value), NULL), RAFT_OK);
	drain(r, &out);
	assert_non_null(find_msg(&out, RAFT_MSG_APPEND, 2));
	assert_null(find_msg(&out, RAFT_MSG_APPEND, 3));
	heartbeat_reply_from_3(r, &out);
	assert_null(find_msg(&out, RAFT_MSG_SNAPSHOT, 3));
	tick_n(r, 1);
	drain(r, &out);
	assert_non_null(find_msg(&out, RAFT_MSG_HEARTBEAT, 3));
	outbox_clear(&out);
	raft_free(r);
}

static void failed_snapshot_is_retried(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = leader_with_applied_log(&out);

	(void)state;
	assert_int_equal(raft_compact(r, 4), RAFT_OK);
	heartbeat_reply_from_3(r, &out);
	assert_non_null(find_msg(&out, RAFT_MSG_SNAPSHOT, 3));

	/* The retry waits for a sign of life from the follower. */
	assert_int_equal(raft_report_snapshot(r, 3, false), RAFT_OK);
	drain(r, &out);
	assert_null(find_msg(&out, RAFT_MSG_SNAPSHOT, 3));
	heartbeat_reply_from_3(r, &out);
	assert_non_null(find_msg(&out, RAFT_MSG_SNAPSHOT, 3));
	assert_int_equal(raft_report_snapshot(r, 9, false), RAFT_UNKNOWN_NODE);
	outbox_clear(&out);
	raft_free(r);
}

static void snapshot_reply_resumes_appends(void **state)
{
	struct outbox out = { 0 };
	struct raft *r = leader_with_applied_log(&out);
	struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP, .from = 3, .to = 1, .term = 1, .index = 4 };
	const struct raft_msg *append;
	uint64_t value = 9;

	(void)state;
	assert_int_equal(raft_compact(r, 4), RAFT_OK);
	heartbeat_reply_from_3(r, &out);
	assert_int_equal(raft_report_snapshot(r, 3, true), RAFT_OK);
	assert_int_equal(raft_step(r, &resp), RAFT_OK);
	drain(r, &out);
	assert_int_equal(raft_propose(r, &value, sizeof(value), NULL), RAFT_OK);
	drain(r, &out);
	append = find_msg(&out, RAFT_MSG_APPEND, 3);
	assert_non_null(append);
	assert_int_equal(append->index, 4);
	assert_int_equal(append->log_term, 1);
	assert_int_equal(append->n_entries, 1);
	outbox_clear(&out);
	raft_free(r);
}

/* A leader's RAFT_MSG_SNAPSHOT of term 3 at index 3, with node 4 a learner. */
static struct raft_msg snapshot_msg(uint64_t index, uint64_t log_term)
{
	struct raft_msg m = {
		.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 3, .index = index,
		.log_term = log_term, .members = { 1, 2, 3, 4 }, .learner = { [3] = true }, .n_members = 4,
	};

	return m;
}

static void snapshot_replaces_conflicting_log(void **state)
{
	struct raft_entry log[] = {
		{ .term = 1, .index = 1 }, { .term = 1, .index = 2 }, { .term = 2, .index = 3 },
	};
	struct raft_hard_state hs = { .term = 2, .commit = 1 };
	struct raft *r = new_node(2, false, &hs, log, 3);
	struct raft_msg m = snapshot_msg(3, 3);
	struct raft_ready rd;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_int_equal(raft_last_index(r), 3);
	assert_int_equal(raft_term_at(r, 3), 3);
	assert_null(raft_entry_at(r, 3));
	assert_int_equal(raft_commit_index(r), 3);
	assert_true(raft_is_member(r, 4));
	assert_false(raft_is_voter(r, 4));

	raft_ready(r, &rd);
	assert_non_null(rd.snapshot);
	assert_int_equal(rd.snapshot->index, 3);
	assert_int_equal(rd.snapshot->term, 3);
	assert_int_equal(rd.n_entries, 0);
	assert_int_equal(rd.n_committed, 0);
	assert_true(rd.has_hard_state);
	assert_int_equal(rd.hard_state.commit, 3);
	assert_int_equal(rd.n_msgs, 1);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_APPEND_RESP);
	assert_false(rd.msgs[0].reject);
	assert_int_equal(rd.msgs[0].index, 3);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	raft_free(r);
}

static void snapshot_keeps_matching_suffix(void **state)
{
	struct raft_entry log[] = {
		{ .term = 1, .index = 1 }, { .term = 1, .index = 2 }, { .term = 3, .index = 3 },
		{ .term = 3, .index = 4 },
	};
	struct raft_hard_state hs = { .term = 3, .commit = 1 };
	struct raft *r = new_node(2, false, &hs, log, 4);
	struct raft_msg m = snapshot_msg(3, 3);
	struct raft_ready rd;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_int_equal(raft_last_index(r), 4);
	assert_non_null(raft_entry_at(r, 4));
	assert_int_equal(raft_commit_index(r), 3);

	/* The driver rewrites its whole stored log, so the kept entry goes out again. */
	raft_ready(r, &rd);
	assert_non_null(rd.snapshot);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].index, 4);
	raft_advance(r, &rd);
	raft_free(r);
}

static void stale_snapshot_answered_with_commit(void **state)
{
	struct raft_entry log[] = {
		{ .term = 1, .index = 1 }, { .term = 1, .index = 2 }, { .term = 3, .index = 3 },
	};
	struct raft_hard_state hs = { .term = 3, .commit = 3 };
	struct raft *r = new_node(2, false, &hs, log, 3);
	struct raft_msg m = snapshot_msg(2, 1);
	struct raft_ready rd;

	(void)state;
	assert_int_equal(raft_step(r, &m), RAFT_OK);
	assert_int_equal(raft_last_index(r), 3);
	assert_non_null(raft_entry_at(r, 1));
	assert_false(raft_is_member(r, 4));
	raft_ready(r, &rd);
	assert_null(rd.snapshot);
	assert_int_equal(rd.n_msgs, 1);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(rd.msgs[0].index, 3);
	raft_advance(r, &rd);
	raft_free(r);
}

static void restart_from_snapshot_and_suffix(void **state)
{
	struct raft_snapshot_meta meta = {
		.index = 5, .term = 2, .members = { 1, 2, 3, 4 }, .learner = { [3] = true }, .n_members = 4,
	};
	struct raft_entry log[] = { { .term = 2, .index = 6 }, { .term = 3, .index = 7 } };
	struct raft_hard_state hs = { .term = 3, .commit = 6 };
	struct raft *r = restart_node(2, false, &hs, &meta, log, 2);
	struct raft_ready rd;

	(void)state;
	assert_int_equal(raft_last_index(r), 7);
	assert_int_equal(raft_term_at(r, 5), 2);
	assert_int_equal(raft_term_at(r, 7), 3);
	assert_int_equal(raft_commit_index(r), 6);
	assert_true(raft_is_member(r, 4));
	assert_false(raft_is_voter(r, 4));

	/* Only the committed entries after the snapshot are applied again. */
	raft_ready(r, &rd);
	assert_null(rd.snapshot);
	assert_int_equal(rd.n_entries, 0);
	assert_int_equal(rd.n_committed, 1);
	assert_int_equal(rd.committed[0].index, 6);
	raft_advance(r, &rd);
	raft_free(r);
}

static void restart_rejects_gap_after_snapshot(void **state)
{
	struct raft_snapshot_meta meta = { .index = 5, .term = 2, .members = { 1, 2, 3 }, .n_members = 3 };
	struct raft_entry log[] = { { .term = 2, .index = 7 } };
	struct raft_config c = { .id = 2, .nodes = { 1, 2, 3 }, .n_nodes = 3 };
	struct raft_hard_state hs = { .term = 2, .commit = 4 };
	struct raft *r = NULL;

	(void)state;
	assert_int_equal(raft_new(&c, &hs, &meta, log, 1, &r), RAFT_INVALID_CONFIG);
	assert_null(r);

	/* A hard state older than the snapshot is lifted to it. */
	assert_int_equal(raft_new(&c, &hs, &meta, NULL, 0, &r), RAFT_OK);
	assert_int_equal(raft_commit_index(r), 5);
	assert_int_equal(raft_last_index(r), 5);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_rejected_on_prev_term_mismatch),
		cmocka_unit_test(append_truncates_conflicting_entries),
		cmocka_unit_test(append_past_log_with_zero_term_dropped),
		cmocka_unit_test(append_entries_out_of_sequence_dropped),
		cmocka_unit_test(append_reply_past_leader_log_dropped),
		cmocka_unit_test(pre_vote_keeps_terms),
		cmocka_unit_test(vote_rejected_for_stale_log),
		cmocka_unit_test(check_quorum_steps_down),
		cmocka_unit_test(commit_needs_current_term),
		cmocka_unit_test(read_index_waits_for_quorum),
		cmocka_unit_test(uncommitted_cap_drops_proposals),
		cmocka_unit_test(transfer_sends_timeout_now),
		cmocka_unit_test(learner_never_campaigns),
		cmocka_unit_test(conf_change_waits_for_commit),
		cmocka_unit_test(follower_rejects_proposal),
		cmocka_unit_test(compact_keeps_snapshot_term),
		cmocka_unit_test(compact_records_membership_at_index),
		cmocka_unit_test(leader_sends_snapshot_to_lagging_follower),
		cmocka_unit_test(failed_snapshot_is_retried),
		cmocka_unit_test(snapshot_reply_resumes_appends),
		cmocka_unit_test(snapshot_replaces_conflicting_log),
		cmocka_unit_test(snapshot_keeps_matching_suffix),
		cmocka_unit_test(stale_snapshot_answered_with_commit),
		cmocka_unit_test(restart_from_snapshot_and_suffix),
		cmocka_unit_test(restart_rejects_gap_after_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
