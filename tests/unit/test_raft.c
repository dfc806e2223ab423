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

static struct raft *new_node(uint64_t id, bool pre_vote, const struct raft_hard_state *hs,
			     const struct raft_entry *log, size_t n_log)
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

	assert_int_equal(raft_new(&c, hs, NULL, log, n_log, &r), RAFT_OK);
	return r;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_rejected_on_prev_term_mismatch),
		cmocka_unit_test(append_truncates_conflicting_entries),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
