/*
 * The replica: one thread per node that owns the Raft core, the peer
 * transport and every LMDB write. See repl.h for the contract.
 *
 * Threads. HTTP workers call repl_propose() and friends, which queue a
 * request and wake the replica's libuv loop. Everything else runs on that
 * loop: Raft ticks from a timer, frames from the transport, and a check
 * handle that runs after each loop iteration and drains Raft's ready
 * output, so the frames and proposals of one iteration share one LMDB
 * commit and one fsync.
 *
 * Log entries. Each normal entry's data is an envelope: kind (1 byte),
 * origin node id (1 byte), the origin's request sequence number (8 bytes)
 * and the command. Every node applies every command; the origin finds its
 * waiting request by sequence number and delivers the result. Sequence
 * numbers start from the wall clock in microseconds at start-up, so a
 * restarted node never mistakes an old entry of its own for a new request.
 *
 * Requests. A request waits in exactly one list: `waiting` until a leader
 * is known, `pending` once proposed or forwarded, `waiters` once it only
 * needs the local applied index to reach a value. Each has a deadline
 * (write_timeout_ms); an expired request fails with REPL_TIMEOUT, or with
 * REPL_NO_QUORUM if no leader was ever found for it.
 *
 * Forwarding. A follower sends FRAME_FORWARD with the envelope to the
 * leader, which proposes it as is, or replies with FRAME_FORWARD_NACK. A
 * forwarded proposal is never resent: after a lost leader it may still
 * commit, so resending could apply it twice. It times out instead and the
 * client retries (checkouts with their Idempotency-Key).
 *
 * Ownership of requests between threads: a request belongs to the incoming
 * queue, then to the replica thread, then to its inbox until the done
 * callback returns.
 */
#include "replication/repl.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/log.h"
#include "replication/replica_internal.h"

static const char *const repl_messages[REPL_ERR_COUNT] = {
	[REPL_OK] = "ok",
	[REPL_BUSY] = "proposal queue full",
	[REPL_STOPPED] = "replica stopped",
	[REPL_TOO_LARGE] = "command too large",
	[REPL_STORAGE_FULL] = "storage full: the map is at its maximum size or the disk is full",
	[REPL_STORAGE_ERROR] = "storage error",
	[REPL_NO_MEMORY] = "out of memory",
	[REPL_NO_QUORUM] = "no leader reachable",
	[REPL_TIMEOUT] = "not applied in time; the outcome is unknown",
	[REPL_INVALID] = "invalid membership request",
};

const char *repl_strerror(enum repl_err err)
{
	if ((unsigned)err < REPL_ERR_COUNT)
		return repl_messages[err];
	return "unknown error";
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Request lists, owned by one thread at a time. */

static void plist_push(struct plist *l, struct proposal *p)
{
	p->next = NULL;
	p->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	l->count++;
}

static void plist_remove(struct plist *l, struct proposal *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->next = p->prev = NULL;
	l->count--;
}

/* Takes the whole list, leaving it empty. */
static struct proposal *plist_take(struct plist *l)
{
	struct proposal *head = l->head;

	memset(l, 0, sizeof(*l));
	return head;
}

/* Takes at most max requests from the head of the list, as a list of their own. */
static struct proposal *plist_take_first(struct plist *l, size_t max)
{
	struct proposal *head = l->head, *last = head;
	size_t n = 1;

	if (head == NULL || max == 0 || l->count <= max)
		return plist_take(l);
	while (n < max) {
		last = last->next;
		n++;
	}
	l->head = last->next;
	l->head->prev = NULL;
	last->next = NULL;
	l->count -= n;
	return head;
}

static struct proposal *plist_find(const struct plist *l, enum request_kind kind, uint64_t seq)
{
	for (struct proposal *p = l->head; p != NULL; p = p->next)
		if (p->kind == kind && (p->seq & SEQ_MASK) == (seq & SEQ_MASK))
			return p;
	return NULL;
}

/* Inboxes: the results' way back to the proposing loop. */

static void proposal_free(struct proposal *p)
{
	free(p->result.data);
	free(p);
}

/*
 * Drops the references of delivered proposals (their done callback ran) and
 * of dropped ones (freed without it). The thread that drops the last
 * reference frees the inbox. That is the close callback's thread or the
 * replica thread, and either way the async handle is closed by then.
 */
static void inbox_release(struct repl_inbox *inbox, size_t delivered, size_t dropped)
{
	uint64_t dropped_total;
	bool last;

	pthread_mutex_lock(&inbox->lock);
	assert(inbox->refs >= delivered + dropped);
	inbox->refs -= delivered + dropped;
	inbox->dropped += dropped;
	dropped_total = inbox->dropped;
	last = inbox->refs == 0;
	pthread_mutex_unlock(&inbox->lock);
	if (!last)
		return;
	if (dropped_total > 0)
		log_warn("repl_results_dropped", "count=%" PRIu64 " reason=inbox_closed", dropped_total);
	pthread_mutex_destroy(&inbox->lock);
	free(inbox);
}

/* Frees a list of proposals whose inbox is closed, without calling done. Returns how many. */
static size_t proposals_drop(struct proposal *p)
{
	struct proposal *next;
	size_t count = 0;

	for (; p != NULL; p = next) {
		next = p->next;
		proposal_free(p);
		count++;
	}
	return count;
}

static void inbox_closed_cb(uv_handle_t *handle)
{
	inbox_release(handle->data, 1, 0);
}

/*
 * Runs on the inbox's loop: calls the done callbacks of every applied
 * proposal. A done callback may close the inbox (the HTTP server stops a
 * worker after its last response), and the proposals after it are then
 * dropped, because nothing may be delivered after repl_inbox_close().
 */
static void inbox_drain_cb(uv_async_t *async)
{
	struct repl_inbox *inbox = async->data;
	struct proposal *p, *next;
	size_t delivered = 0, dropped = 0;

	pthread_mutex_lock(&inbox->lock);
	p = inbox->head;
	inbox->head = inbox->tail = NULL;
	pthread_mutex_unlock(&inbox->lock);

	/* Only this thread sets closed, so reading it here needs no lock. */
	for (; p != NULL && !inbox->closed; p = next) {
		next = p->next;
		p->done(p->ctx, p->err, p->index, &p->result);
		proposal_free(p);
		delivered++;
	}
	dropped = proposals_drop(p);
	inbox_release(inbox, delivered, dropped);
}

enum repl_err repl_inbox_open(struct repl *repl, uv_loop_t *loop, struct repl_inbox **out)
{
	struct repl_inbox *inbox = calloc(1, sizeof(*inbox));

	(void)repl;
	if (inbox == NULL)
		return REPL_NO_MEMORY;
	if (uv_async_init(loop, &inbox->async, inbox_drain_cb) != 0) {
		free(inbox);
		return REPL_NO_MEMORY;
	}
	pthread_mutex_init(&inbox->lock, NULL);
	inbox->async.data = inbox;
	inbox->refs = 1;
	*out = inbox;
	return REPL_OK;
}

/*
 * Runs on the inbox's loop. Once closed is set under the lock, the replica
 * thread no longer touches the async handle. The handle is closed here because
 * uv_close() must run on the loop's own thread.
 */
void repl_inbox_close(struct repl_inbox *inbox)
{
	struct proposal *waiting;

	pthread_mutex_lock(&inbox->lock);
	assert(!inbox->closed);
	inbox->closed = true;
	waiting = inbox->head;
	inbox->head = inbox->tail = NULL;
	pthread_mutex_unlock(&inbox->lock);

	/* The reference of the open handle keeps the inbox alive until inbox_closed_cb. */
	inbox_release(inbox, 0, proposals_drop(waiting));
	uv_close((uv_handle_t *)&inbox->async, inbox_closed_cb);
}

/*
 * Runs on the replica thread: hands a finished proposal to its inbox, or frees it if
 * the inbox is closed. uv_async_send() is called under the lock, so it never
 * runs after repl_inbox_close() has set closed and gone on to uv_close().
 */
static void inbox_deliver(struct proposal *p)
{
	struct repl_inbox *inbox = p->inbox;

	pthread_mutex_lock(&inbox->lock);
	if (inbox->closed) {
		pthread_mutex_unlock(&inbox->lock);
		proposal_free(p);
		inbox_release(inbox, 0, 1);
		return;
	}
	p->next = NULL;
	if (inbox->tail != NULL)
		inbox->tail->next = p;
	else
		inbox->head = p;
	inbox->tail = p;
	uv_async_send(&inbox->async);
	pthread_mutex_unlock(&inbox->lock);
}

/* Hands a finished request to its inbox and stops counting it. */
static void finish(struct repl *repl, struct proposal *p, enum repl_err err)
{
	p->err = err;
	if (err != REPL_OK) {
		free(p->result.data);
		memset(&p->result, 0, sizeof(p->result));
	}
	atomic_fetch_sub(&repl->outstanding, 1);
	inbox_deliver(p);
}

static void fail_list(struct repl *repl, struct plist *l, enum repl_err err)
{
	struct proposal *p = plist_take(l), *next;

	for (; p != NULL; p = next) {
		next = p->next;
		finish(repl, p, err);
	}
}

/* Requests from other threads */

static enum repl_err enqueue(struct repl *repl, struct proposal *p)
{
	pthread_mutex_lock(&repl->lock);
	if (repl->stopping || atomic_load(&repl->outstanding) >= repl->config.queue_max) {
		enum repl_err err = repl->stopping ? REPL_STOPPED : REPL_BUSY;

		pthread_mutex_unlock(&repl->lock);
		free(p);
		return err;
	}
	pthread_mutex_lock(&p->inbox->lock);
	p->inbox->refs++;
	pthread_mutex_unlock(&p->inbox->lock);
	atomic_fetch_add(&repl->outstanding, 1);
	plist_push(&repl->incoming, p);
	/* Under the lock, so it never races with the handle's close at stop. */
	uv_async_send(&repl->wake);
	pthread_mutex_unlock(&repl->lock);
	return REPL_OK;
}

static struct proposal *request_new(struct repl *repl, struct repl_inbox *inbox, enum request_kind kind,
				    size_t command_len, repl_done_fn done, void *ctx)
{
	struct proposal *p = calloc(1, sizeof(*p) + command_len);

	if (p == NULL)
		return NULL;
	p->inbox = inbox;
	p->done = done;
	p->ctx = ctx;
	p->kind = kind;
	p->seq = atomic_fetch_add(&repl->next_seq, 1);
	p->command_len = command_len;
	return p;
}

enum repl_err repl_propose(struct repl *repl, struct repl_inbox *inbox, const void *command,
			   size_t command_len, repl_done_fn done, void *ctx)
{
	struct proposal *p;

	if (command_len > repl->config.command_max_bytes)
		return REPL_TOO_LARGE;
	p = request_new(repl, inbox, REQ_PROPOSE, ENVELOPE_BYTES + command_len, done, ctx);
	if (p == NULL)
		return REPL_NO_MEMORY;
	p->command[0] = ENTRY_COMMAND;
	p->command[1] = (unsigned char)repl->config.node_id;
	wire_store_u64(p->command + 2, p->seq);
	memcpy(p->command + ENVELOPE_BYTES, command, command_len);
	return enqueue(repl, p);
}

enum repl_err repl_wait_applied(struct repl *repl, struct repl_inbox *inbox, uint64_t index, repl_done_fn done,
				void *ctx)
{
	struct proposal *p = request_new(repl, inbox, REQ_WAIT, 0, done, ctx);

	if (p == NULL)
		return REPL_NO_MEMORY;
	p->index = index;
	return enqueue(repl, p);
}

enum repl_err repl_read_barrier(struct repl *repl, struct repl_inbox *inbox, repl_done_fn done, void *ctx)
{
	struct proposal *p = request_new(repl, inbox, REQ_READ, 0, done, ctx);

	return p != NULL ? enqueue(repl, p) : REPL_NO_MEMORY;
}

enum repl_err repl_member_change(struct repl *repl, struct repl_inbox *inbox, enum repl_member_op op, uint32_t id,
				 const char *address, repl_done_fn done, void *ctx)
{
	struct proposal *p;

	if (id == 0 || id > REPL_NODE_ID_MAX ||
	    (op == REPL_MEMBER_ADD && (address == NULL || address[0] == '\0' ||
				       strlen(address) >= REPL_ADDRESS_MAX)))
		return REPL_INVALID;
	p = request_new(repl, inbox, REQ_MEMBER, 0, done, ctx);
	if (p == NULL)
		return REPL_NO_MEMORY;
	p->op = op;
	p->member_id = id;
	if (address != NULL)
		snprintf(p->address, sizeof(p->address), "%s", address);
	return enqueue(repl, p);
}

/* Peer addresses */

static const char *address_of(const struct repl *repl, uint32_t id)
{
	for (size_t i = 0; i < repl->address_count; i++)
		if (repl->addresses[i].id == id)
			return repl->addresses[i].address;
	return NULL;
}

/* Records id's address; connects the transport to it if it is new. */
static void address_set(struct repl *repl, uint32_t id, const char *address)
{
	struct peer_address *slot = NULL;

	for (size_t i = 0; i < repl->address_count; i++)
		if (repl->addresses[i].id == id)
			slot = &repl->addresses[i];
	if (slot != NULL && strcmp(slot->address, address) == 0)
		return;
	if (slot == NULL) {
		if (repl->address_count == RAFT_MAX_NODES + 1)
			return;
		slot = &repl->addresses[repl->address_count++];
	}
	slot->id = id;
	snprintf(slot->address, sizeof(slot->address), "%s", address);
	if (repl->transport != NULL && id != repl->config.node_id) {
		struct transport_peer peer = {.id = id, .address = address};
		enum transport_err err = transport_add_peer(repl->transport, &peer);

		if (err != TRANSPORT_OK)
			log_error("peer_add_failed", "peer=%" PRIu32 " address=%s err=\"%s\"", id, address,
				  transport_strerror(err));
	}
}

/* Frames to peers */

void send_frame(struct repl *repl, uint32_t to)
{
	enum transport_err err;

	if (repl->transport == NULL || repl->frame.failed)
		return;
	err = transport_send(repl->transport, to, repl->frame.data, repl->frame.len);
	if (err != TRANSPORT_OK && err != TRANSPORT_UNKNOWN_PEER)
		log_debug("frame_send_failed", "peer=%" PRIu32 " err=\"%s\"", to, transport_strerror(err));
}

void frame_begin(struct repl *repl, enum frame_kind kind)
{
	buf_reset(&repl->frame);
	wire_put_u8(&repl->frame, (uint8_t)kind);
}

static void send_seq_reply(struct repl *repl, uint32_t to, enum frame_kind kind, uint64_t seq, uint64_t value)
{
	frame_begin(repl, kind);
	wire_put_u64(&repl->frame, seq);
	wire_put_u64(&repl->frame, value);
	send_frame(repl, to);
}

/* Leader work */

static enum repl_err err_from_raft(enum raft_err err)
{
	switch (err) {
	case RAFT_OK:
		return REPL_OK;
	case RAFT_NOT_LEADER:
		return REPL_NO_QUORUM;
	case RAFT_NO_MEMORY:
		return REPL_NO_MEMORY;
	case RAFT_DROPPED:
	case RAFT_NOT_READY:
	case RAFT_CHANGE_PENDING:
		return REPL_BUSY;
	default:
		return REPL_INVALID;
	}
}

static enum repl_err err_from_kv(enum kv_err err)
{
	switch (err) {
	case KV_OK:
		return REPL_OK;
	case KV_MAP_FULL:
	case KV_MAP_FULL_MAX:
	case KV_NO_SPACE:
		return REPL_STORAGE_FULL;
	case KV_NO_MEMORY:
		return REPL_NO_MEMORY;
	default:
		return REPL_STORAGE_ERROR;
	}
}

/*
 * Refuses a command that would not fit under the largest map size: the
 * entry is stored in the log and its effect in the tables. Checking at the
 * leader keeps every node from committing what none can apply.
 */
static bool storage_has_room(struct repl *repl, size_t len)
{
	struct kv_stats stats;

	if (kv_stats(repl->config.env, &stats) != KV_OK)
		return true;
	return stats.map_used_bytes + 2 * len + STORAGE_RESERVE_BYTES <= stats.map_size_max_bytes;
}

static enum repl_err leader_propose(struct repl *repl, const void *envelope, size_t len)
{
	if (!storage_has_room(repl, len))
		return REPL_STORAGE_FULL;
	return err_from_raft(raft_propose(repl->raft, envelope, len, NULL));
}

static enum raft_err leader_read(struct repl *repl, uint32_t origin, uint64_t seq)
{
	return raft_read_index(repl->raft, (uint64_t)origin << 56 | (seq & SEQ_MASK));
}

/* Appends the address record and then the learner; the leader promotes it later. */
static enum repl_err leader_member_change(struct repl *repl, enum repl_member_op op, uint32_t id,
					  const char *address)
{
	unsigned char record[2 + REPL_ADDRESS_MAX];
	size_t len;
	enum raft_err err;

	switch (op) {
	case REPL_MEMBER_ADD:
		if (raft_is_member(repl->raft, id))
			return REPL_INVALID;
		len = strlen(address);
		record[0] = ENTRY_PEER_ADDRESS;
		record[1] = (unsigned char)id;
		memcpy(record + 2, address, len);
		err = raft_propose(repl->raft, record, 2 + len, NULL);
		if (err == RAFT_OK)
			err = raft_propose_conf_change(repl->raft, RAFT_CONF_ADD_LEARNER, id, NULL);
		break;
	case REPL_MEMBER_REMOVE:
		if (!raft_is_member(repl->raft, id))
			return REPL_INVALID;
		err = raft_propose_conf_change(repl->raft, RAFT_CONF_REMOVE, id, NULL);
		break;
	case REPL_LEADER_TRANSFER:
		if (id == repl->config.node_id)
			return REPL_OK;
		err = raft_transfer_leadership(repl->raft, id);
		break;
	default:
		return REPL_INVALID;
	}
	log_info("membership_request", "op=%d node=%" PRIu32 " err=\"%s\"", (int)op, id, raft_strerror(err));
	return err_from_raft(err);
}

/* Promotes learners whose log has caught up with the commit index, dissertation §4.2.1. */
static void leader_promote_learners(struct repl *repl)
{
	uint64_t ids[RAFT_MAX_NODES];
	bool voter[RAFT_MAX_NODES];
	size_t n = raft_members(repl->raft, ids, voter, RAFT_MAX_NODES);

	if (raft_role(repl->raft) != RAFT_LEADER)
		return;
	for (size_t i = 0; i < n; i++) {
		if (voter[i] || raft_match_index(repl->raft, ids[i]) < raft_commit_index(repl->raft))
			continue;
		if (raft_propose_conf_change(repl->raft, RAFT_CONF_ADD_VOTER, ids[i], NULL) == RAFT_OK)
			log_info("learner_promoted", "node=%" PRIu64, ids[i]);
		return;
	}
}

/* Routing of local requests */

static uint64_t leader_id(const struct repl *repl)
{
	return raft_leader(repl->raft);
}

/* Leaderless for longer than two election timeouts: a partition, not an election. */
static bool leader_lost(struct repl *repl)
{
	uint64_t election_ms = (uint64_t)repl->config.tick_ms * repl->config.election_ticks;

	return uv_now(&repl->loop) > repl->leader_seen_ms + 2 * election_ms;
}

static void wait_for_index(struct repl *repl, struct proposal *p)
{
	if (repl->applied_index >= p->index) {
		p->index = repl->applied_index;
		finish(repl, p, REPL_OK);
		return;
	}
	plist_push(&repl->waiters, p);
}

static void route_at_leader(struct repl *repl, struct proposal *p)
{
	enum repl_err err = REPL_OK;

	switch (p->kind) {
	case REQ_PROPOSE:
		err = leader_propose(repl, p->command, p->command_len);
		break;
	case REQ_READ:
		if (leader_read(repl, repl->config.node_id, p->seq) == RAFT_NOT_READY) {
			plist_push(&repl->waiting, p);
			return;
		}
		break;
	case REQ_MEMBER:
		err = leader_member_change(repl, p->op, p->member_id, p->address);
		finish(repl, p, err);
		return;
	case REQ_WAIT:
		break;
	}
	if (err != REPL_OK) {
		finish(repl, p, err);
		return;
	}
	p->routed = true;
	plist_push(&repl->pending, p);
}

static void forward(struct repl *repl, struct proposal *p, uint32_t leader)
{
	switch (p->kind) {
	case REQ_PROPOSE:
		frame_begin(repl, FRAME_FORWARD);
		wire_put_u64(&repl->frame, p->seq);
		buf_append(&repl->frame, p->command, p->command_len);
		break;
	case REQ_READ:
		frame_begin(repl, FRAME_READ);
		wire_put_u64(&repl->frame, p->seq);
		break;
	case REQ_MEMBER:
		frame_begin(repl, FRAME_MEMBER);
		wire_put_u64(&repl->frame, p->seq);
		wire_put_u8(&repl->frame, (uint8_t)p->op);
		wire_put_u32(&repl->frame, p->member_id);
		wire_put_u32(&repl->frame, (uint32_t)strlen(p->address));
		buf_append(&repl->frame, p->address, strlen(p->address));
		break;
	case REQ_WAIT:
		return;
	}
	send_frame(repl, leader);
	atomic_fetch_add(&repl->forwarded, 1);
	p->routed = true;
	p->forwarded_to = leader;
	plist_push(&repl->pending, p);
}

static void route(struct repl *repl, struct proposal *p)
{
	uint64_t leader = leader_id(repl);

	if (p->kind == REQ_WAIT) {
		wait_for_index(repl, p);
	} else if (leader == repl->config.node_id) {
		route_at_leader(repl, p);
	} else if (leader != 0) {
		forward(repl, p, (uint32_t)leader);
	} else if (leader_lost(repl)) {
		finish(repl, p, REPL_NO_QUORUM);
	} else {
		plist_push(&repl->waiting, p);
	}
}

/*
 * The leader a request was forwarded to is gone. A read is simply asked
 * again. A proposal may or may not have reached the old leader's log and
 * may still commit, so it fails as timed out (outcome unknown) at once,
 * rather than after the whole write timeout.
 */
static void leader_changed(struct repl *repl, uint64_t leader)
{
	struct proposal *p, *next;

	for (p = repl->pending.head; p != NULL; p = next) {
		next = p->next;
		if (p->forwarded_to == 0 || p->forwarded_to == leader)
			continue;
		plist_remove(&repl->pending, p);
		p->forwarded_to = 0;
		if (p->kind == REQ_READ) {
			plist_push(&repl->waiting, p);
			continue;
		}
		atomic_fetch_add(&repl->timeouts, 1);
		finish(repl, p, REPL_TIMEOUT);
	}
}

static void route_waiting(struct repl *repl)
{
	struct proposal *p, *next;

	if (leader_id(repl) == 0 && !leader_lost(repl))
		return;
	for (p = plist_take(&repl->waiting); p != NULL; p = next) {
		next = p->next;
		route(repl, p);
	}
}

/* Frames from peers */

#define INVALID_LOG_INTERVAL_MS 1000

/*
 * Counts an authenticated frame that did not decode and logs it, at most
 * once a second with the number of frames not logged in between.
 */
static void frame_invalid(struct repl *repl, uint32_t from, const char *kind)
{
	uint64_t now = uv_now(&repl->loop);

	atomic_fetch_add(&repl->frames_invalid, 1);
	if (repl->invalid_logged_ms != 0 && now < repl->invalid_logged_ms + INVALID_LOG_INTERVAL_MS) {
		repl->invalid_suppressed++;
		return;
	}
	log_warn("frame_invalid", "peer=%" PRIu32 " kind=%s suppressed=%" PRIu64, from, kind,
		 repl->invalid_suppressed);
	repl->invalid_logged_ms = now;
	repl->invalid_suppressed = 0;
}

static void on_forward(struct repl *repl, uint32_t from, struct wire_reader *r)
{
	uint64_t seq = wire_get_u64(r);
	enum repl_err err;

	/* Only commands are forwarded; address records come from the leader's own membership changes. */
	if (r->failed || r->left < ENVELOPE_BYTES || r->p[0] != ENTRY_COMMAND || r->p[1] != from) {
		frame_invalid(repl, from, "forward");
		return;
	}
	err = raft_role(repl->raft) == RAFT_LEADER ? leader_propose(repl, r->p, r->left) : REPL_NO_QUORUM;
	if (err != REPL_OK)
		send_seq_reply(repl, from, FRAME_FORWARD_NACK, seq, err);
}

static void on_read(struct repl *repl, uint32_t from, struct wire_reader *r)
{
	uint64_t seq = wire_get_u64(r);
	enum raft_err err;

	if (r->failed)
		return;
	err = leader_read(repl, from, seq);
	if (err != RAFT_OK)
		send_seq_reply(repl, from, FRAME_READ_NACK, seq, err_from_raft(err));
}

static void on_member(struct repl *repl, uint32_t from, struct wire_reader *r)
{
	uint64_t seq = wire_get_u64(r);
	uint8_t op = wire_get_u8(r);
	uint32_t id = wire_get_u32(r), len = wire_get_u32(r);
	const char *text = len < REPL_ADDRESS_MAX ? wire_get_bytes(r, len) : NULL;
	char address[REPL_ADDRESS_MAX];
	enum repl_err err = REPL_NO_QUORUM;

	if (r->failed || text == NULL || id == 0 || id > REPL_NODE_ID_MAX) {
		frame_invalid(repl, from, "member");
		return;
	}
	memcpy(address, text, len);
	address[len] = '\0';
	if (raft_role(repl->raft) == RAFT_LEADER)
		err = leader_member_change(repl, (enum repl_member_op)op, id, address);
	send_seq_reply(repl, from, FRAME_MEMBER_RESP, seq, err);
}

/* Handles the leader's reply to one of this node's requests. */
static void on_reply(struct repl *repl, enum frame_kind kind, struct wire_reader *r)
{
	uint64_t seq = wire_get_u64(r), value = wire_get_u64(r);
	enum request_kind req = REQ_READ;
	struct proposal *p;

	if (kind == FRAME_FORWARD_NACK)
		req = REQ_PROPOSE;
	else if (kind == FRAME_MEMBER_RESP)
		req = REQ_MEMBER;
	if (r->failed)
		return;
	p = plist_find(&repl->pending, req, seq);
	if (p == NULL)
		return;
	plist_remove(&repl->pending, p);
	if (kind == FRAME_READ_OK) {
		p->index = value;
		p->read_index_known = true;
		wait_for_index(repl, p);
		return;
	}
	finish(repl, p, value < REPL_ERR_COUNT ? (enum repl_err)value : REPL_STORAGE_ERROR);
}

static void on_frame(void *ctx, uint32_t from, const void *payload, size_t len)
{
	struct repl *repl = ctx;
	struct wire_reader r;
	struct raft_msg m;
	enum frame_kind kind;

	if (repl->stalled || repl->restarting)
		return;
	wire_reader_init(&r, payload, len);
	kind = (enum frame_kind)wire_get_u8(&r);
	switch (kind) {
	case FRAME_RAFT:
		/* Snapshots travel as FRAME_SNAP_CHUNK; the core never gets one from the wire. */
		if (!wire_get_raft_msg(&r, &m, RAFT_MSG_ENTRIES_MAX) || m.from != from ||
		    m.to != repl->config.node_id || m.type == RAFT_MSG_SNAPSHOT) {
			raft_msg_clear(&m);
			frame_invalid(repl, from, "raft");
			return;
		}
		if (raft_step(repl->raft, &m) == RAFT_INVALID_MESSAGE)
			atomic_fetch_add(&repl->frames_invalid, 1);
		raft_msg_clear(&m);
		break;
	case FRAME_FORWARD:
		on_forward(repl, from, &r);
		break;
	case FRAME_READ:
		on_read(repl, from, &r);
		break;
	case FRAME_MEMBER:
		on_member(repl, from, &r);
		break;
	case FRAME_SNAP_CHUNK:
		snapshot_on_chunk(repl, from, &r);
		break;
	case FRAME_SNAP_DONE:
		snapshot_on_done(repl, from, &r);
		break;
	case FRAME_FORWARD_NACK:
	case FRAME_READ_OK:
	case FRAME_READ_NACK:
	case FRAME_MEMBER_RESP:
		on_reply(repl, kind, &r);
		break;
	default:
		frame_invalid(repl, from, "unknown");
		break;
	}
}
/* Persisting and applying a ready */

/* Applies one command in its own nested transaction; a non-zero status discards its changes. */
static enum kv_err apply_command(struct repl *repl, struct kv_txn *txn, uint64_t index, const unsigned char *command,
				 size_t len, struct repl_result *result)
{
	struct kv_txn *child;
	enum kv_err err = kv_child_begin(txn, &child);

	if (err != KV_OK)
		return err;
	err = repl->config.apply(repl->config.state_machine, child, index, command, len, result);
	if (err != KV_OK || result->status != 0) {
		kv_child_abort(child);
		return err;
	}
	return kv_child_commit(child);
}

static void address_set(struct repl *repl, uint32_t id, const char *address);

/* Records a joining member's address and connects to it; a retried commit repeats both harmlessly. */
static enum kv_err store_address(struct repl *repl, struct kv_txn *txn, const unsigned char *record, size_t len)
{
	unsigned char key = record[1];
	char address[REPL_ADDRESS_MAX];

	if (len < 3 || len - 2 >= REPL_ADDRESS_MAX || key == 0)
		return KV_OK; /* malformed records are skipped the same way on every node */
	memcpy(address, record + 2, len - 2);
	address[len - 2] = '\0';
	address_set(repl, key, address);
	return kv_put(txn, repl->peers_table, &key, 1, record + 2, len - 2);
}

/*
 * Applies one committed entry. The result of a command this node proposed
 * goes to its request; other nodes' results are dropped.
 */
static enum kv_err apply_entry(struct repl *repl, struct kv_txn *txn, const struct raft_entry *e,
			       struct proposal **mine)
{
	const unsigned char *data = e->data;
	struct repl_result scratch = {0};
	struct proposal *p = NULL;
	enum kv_err err;

	*mine = NULL;
	if (e->type != RAFT_ENTRY_NORMAL || e->len < 2)
		return KV_OK;
	if (data[0] == ENTRY_PEER_ADDRESS)
		return store_address(repl, txn, data, e->len);

	if (data[0] != ENTRY_COMMAND || e->len < ENVELOPE_BYTES)
		return KV_OK;
	if (data[1] == repl->config.node_id)
		p = plist_find(&repl->pending, REQ_PROPOSE, wire_load_u64(data + 2));
	err = apply_command(repl, txn, e->index, data + ENVELOPE_BYTES, e->len - ENVELOPE_BYTES,
			    p != NULL ? &p->result : &scratch);
	free(scratch.data);
	if (p != NULL) {
		p->index = e->index;
		*mine = p;
	}
	return err;
}

struct applied {
	struct proposal **mine;
	size_t count;
};

static void applied_reset(struct applied *a)
{
	for (size_t i = 0; i < a->count; i++) {
		free(a->mine[i]->result.data);
		memset(&a->mine[i]->result, 0, sizeof(a->mine[i]->result));
	}
	a->count = 0;
}

/*
 * Records the applied index, and the term and membership at it, so that a
 * copy of the environment describes itself as a snapshot (snapshot.c).
 */
static enum kv_err put_applied_state(struct repl *repl, struct kv_txn *txn, const struct raft_snapshot_meta *state)
{
	struct buf value;
	enum kv_err err = kv_put(txn, repl->meta_table, REPL_APPLIED_KEY, strlen(REPL_APPLIED_KEY), &state->index,
				 sizeof(state->index));

	if (err != KV_OK)
		return err;
	buf_init(&value, 1024);
	log_store_put_meta(&value, state);
	err = value.failed ? KV_NO_MEMORY
			   : kv_put(txn, repl->meta_table, REPL_APPLIED_STATE_KEY, strlen(REPL_APPLIED_STATE_KEY),
				    value.data, value.len);
	buf_free(&value);
	return err;
}

static enum kv_err ready_commit(struct repl *repl, const struct raft_ready *rd, struct applied *a,
				struct raft_snapshot_meta *state)
{
	struct kv_txn *txn;
	enum kv_err err = kv_write_begin(repl->config.env, &txn);

	*state = repl->applied_conf;
	state->index = repl->applied_index;
	state->term = repl->applied_term;
	if (err != KV_OK)
		return err;
	err = log_store_write(&repl->log, txn, rd);
	for (size_t i = 0; i < rd->n_committed && err == KV_OK; i++) {
		const struct raft_entry *e = &rd->committed[i];
		struct proposal *mine;

		/* Entries up to the stored applied index were applied before a restart. */
		if (e->index <= state->index)
			continue;
		err = apply_entry(repl, txn, e, &mine);
		if (mine != NULL)
			a->mine[a->count++] = mine;
		raft_conf_entry_apply(state, e);
		state->index = e->index;
		state->term = e->term;
	}
	if (err == KV_OK && state->index != repl->applied_index)
		err = put_applied_state(repl, txn, state);
	if (err != KV_OK) {
		kv_write_abort(txn);
		return err;
	}
	return kv_write_commit(txn);
}

/* Persists and applies rd in one transaction, growing the map as often as LMDB reports it full. */
static enum kv_err ready_persist(struct repl *repl, const struct raft_ready *rd, struct applied *a,
				 struct raft_snapshot_meta *state)
{
	for (;;) {
		enum kv_err err = ready_commit(repl, rd, a, state);

		if (err != KV_MAP_FULL)
			return err;
		applied_reset(a);
		err = kv_grow(repl->config.env);
		if (err != KV_OK)
			return err;
		atomic_fetch_add(&repl->map_grows, 1);
		log_info("kv_map_grown", "entries=%zu", rd->n_entries + rd->n_committed);
	}
}

static void send_messages(struct repl *repl, const struct raft_ready *rd)
{
	for (size_t i = 0; i < rd->n_msgs; i++) {
		if (rd->msgs[i].type == RAFT_MSG_SNAPSHOT) {
			/* The data goes out of band; see snapshot.c. */
			snapshot_send_start(repl, (uint32_t)rd->msgs[i].to);
			continue;
		}
		frame_begin(repl, FRAME_RAFT);
		wire_put_raft_msg(&repl->frame, &rd->msgs[i]);
		send_frame(repl, (uint32_t)rd->msgs[i].to);
	}
}

static void serve_reads(struct repl *repl, const struct raft_ready *rd)
{
	for (size_t i = 0; i < rd->n_reads; i++) {
		uint64_t context = rd->reads[i].context;
		uint32_t origin = (uint32_t)(context >> 56);
		struct proposal *p;

		if (origin != repl->config.node_id) {
			send_seq_reply(repl, origin, FRAME_READ_OK, context & SEQ_MASK, rd->reads[i].index);
			continue;
		}
		p = plist_find(&repl->pending, REQ_READ, context);
		if (p == NULL)
			continue;
		plist_remove(&repl->pending, p);
		p->index = rd->reads[i].index;
		p->read_index_known = true;
		wait_for_index(repl, p);
	}
}

static void release_waiters(struct repl *repl)
{
	struct proposal *p, *next;

	for (p = repl->waiters.head; p != NULL; p = next) {
		next = p->next;
		if (p->index <= repl->applied_index) {
			plist_remove(&repl->waiters, p);
			p->index = repl->applied_index;
			finish(repl, p, REPL_OK);
		}
	}
}

static void log_storage_failure(struct repl *repl, enum kv_err err)
{
	uint64_t now = uv_now(&repl->loop);

	atomic_fetch_add(&repl->commits_failed, 1);
	if (now < repl->storage_logged_ms + STORAGE_LOG_INTERVAL_MS && repl->storage_logged_ms != 0)
		return;
	repl->storage_logged_ms = now;
	log_error("repl_commit_failed", "err=\"%s\" hint=\"the node stops applying until storage works again\"",
		  kv_strerror(err));
}

/* Handles one ready. Returns false if it could not be persisted; it is then retried as is. */
static bool handle_ready(struct repl *repl)
{
	struct raft_ready rd;
	struct applied a = {0};
	struct raft_snapshot_meta state;
	uint64_t start_us = monotonic_us();
	enum kv_err err;

	raft_ready(repl->raft, &rd);
	a.mine = rd.n_committed > 0 ? calloc(rd.n_committed, sizeof(*a.mine)) : NULL;
	if (rd.n_committed > 0 && a.mine == NULL)
		return false;
	err = ready_persist(repl, &rd, &a, &state);
	if (err != KV_OK) {
		applied_reset(&a);
		free(a.mine);
		log_storage_failure(repl, err);
		return false;
	}
	log_store_written(&repl->log, &rd);
	if (state.index != repl->applied_index) {
		repl->applied_conf = state;
		repl->applied_term = state.term;
		repl->applied_index = state.index;
		atomic_store(&repl->applied_atomic, state.index);
	}
	metrics_size_observe(&repl->batch_sizes, rd.n_entries + rd.n_committed);
	metrics_histogram_observe(&repl->commit_latency, monotonic_us() - start_us);
	send_messages(repl, &rd);
	for (size_t i = 0; i < a.count; i++) {
		plist_remove(&repl->pending, a.mine[i]);
		finish(repl, a.mine[i], REPL_OK);
	}
	free(a.mine);
	serve_reads(repl, &rd);
	raft_advance(repl->raft, &rd);
	return true;
}

static void status_update(struct repl *repl)
{
	struct repl_status s = {0};
	uint64_t ids[RAFT_MAX_NODES];
	bool voter[RAFT_MAX_NODES];
	size_t n = raft_members(repl->raft, ids, voter, RAFT_MAX_NODES);
	uint64_t leader = leader_id(repl);

	s.node_id = repl->config.node_id;
	s.role = raft_role_name(raft_role(repl->raft));
	s.term = raft_term(repl->raft);
	s.leader = (uint32_t)leader;
	s.commit_index = raft_commit_index(repl->raft);
	s.applied_index = repl->applied_index;
	s.last_index = raft_last_index(repl->raft);
	s.member_count = n < RAFT_MAX_NODES ? n : RAFT_MAX_NODES;
	for (size_t i = 0; i < s.member_count; i++) {
		const char *address = address_of(repl, (uint32_t)ids[i]);

		s.members[i].id = (uint32_t)ids[i];
		s.members[i].voter = voter[i];
		snprintf(s.members[i].address, sizeof(s.members[i].address), "%s", address != NULL ? address : "");
	}
	if (leader != 0)
		repl->leader_seen_ms = uv_now(&repl->loop);
	if (s.leader != repl->status.leader || s.role != repl->status.role)
		log_info("raft_role_changed", "node=%" PRIu32 " role=%s term=%" PRIu64 " leader=%" PRIu32, s.node_id, s.role,
			 s.term, s.leader);
	atomic_store(&repl->has_leader, leader != 0);
	pthread_mutex_lock(&repl->status_lock);
	repl->status = s;
	pthread_mutex_unlock(&repl->status_lock);
}

/* Drains Raft's output; runs after every loop iteration. */
static void on_idle(uv_idle_t *idle)
{
	(void)idle;
}

static void drive(struct repl *repl)
{
	if (raft_has_ready(repl->raft) && !handle_ready(repl)) {
		repl->stalled = true;
		atomic_store(&repl->stalled_atomic, true);
		return;
	}
	/*
	 * One ready per loop iteration. The next one, usually the commit of the
	 * entries just persisted, waits for the requests that arrive meanwhile,
	 * so one transaction (one fsync) applies a batch and persists the next.
	 * The idle handle keeps the loop from blocking while a ready waits.
	 */
	if (raft_has_ready(repl->raft))
		uv_idle_start(&repl->idle, on_idle);
	else
		uv_idle_stop(&repl->idle);
	repl->stalled = false;
	atomic_store(&repl->stalled_atomic, false);
	release_waiters(repl);
	if (leader_id(repl) != repl->status.leader)
		leader_changed(repl, leader_id(repl));
	status_update(repl);
	route_waiting(repl);
	snapshot_maybe_compact(repl);
}

static void on_check(uv_check_t *check)
{
	drive(check->data);
}

static void expire(struct repl *repl, struct plist *l, uint64_t now, enum repl_err err)
{
	struct proposal *p, *next;

	for (p = l->head; p != NULL; p = next) {
		next = p->next;
		if (p->deadline_ms > now)
			continue;
		plist_remove(l, p);
		atomic_fetch_add(&repl->timeouts, 1);
		finish(repl, p, err);
	}
}

static void on_tick(uv_timer_t *timer)
{
	struct repl *repl = timer->data;
	uint64_t now = uv_now(&repl->loop);

	snapshot_on_tick(repl);
	if (repl->restarting)
		return;
	if (repl->stalled) {
		drive(repl);
		if (repl->stalled)
			return;
	}
	raft_tick(repl->raft);
	leader_promote_learners(repl);
	expire(repl, &repl->pending, now, REPL_TIMEOUT);
	expire(repl, &repl->waiters, now, REPL_TIMEOUT);
	expire(repl, &repl->waiting, now, REPL_NO_QUORUM);
	/* The check handle would only run after the next poll, a tick later. */
	drive(repl);
}

static void stop_loop(struct repl *repl);

static void on_wake(uv_async_t *async)
{
	struct repl *repl = async->data;
	struct proposal *p, *next;
	bool stopping;

	pthread_mutex_lock(&repl->lock);
	p = plist_take_first(&repl->incoming, repl->config.batch_max);
	stopping = repl->stopping;
	/* Leave the rest for the next loop iteration, so one ready contains at most batch_max new requests. */
	if (repl->incoming.head != NULL && !stopping)
		uv_async_send(&repl->wake);
	pthread_mutex_unlock(&repl->lock);
	for (; p != NULL; p = next) {
		next = p->next;
		p->deadline_ms = uv_now(&repl->loop) + repl->config.write_timeout_ms;
		if (repl->stalled && p->kind != REQ_WAIT)
			plist_push(&repl->waiting, p);
		else
			route(repl, p);
	}
	if (stopping)
		stop_loop(repl);
}

/* Start and stop */

static void on_handle_closed(uv_handle_t *handle)
{
	(void)handle;
}

static void on_transport_closed(void *ctx)
{
	(void)ctx;
}

/* Fails what is left and closes every handle, so uv_run() returns. */
static void stop_loop(struct repl *repl)
{
	/* Apply what is committed, so that its requests get their results. */
	for (int i = 0; i < STOP_DRIVE_ROUNDS_MAX && !repl->stalled && raft_has_ready(repl->raft); i++)
		drive(repl);
	fail_list(repl, &repl->waiting, REPL_STOPPED);
	fail_list(repl, &repl->pending, REPL_STOPPED);
	fail_list(repl, &repl->waiters, REPL_STOPPED);
	snapshot_stop(repl);
	uv_close((uv_handle_t *)&repl->wake, on_handle_closed);
	uv_close((uv_handle_t *)&repl->tick, on_handle_closed);
	uv_close((uv_handle_t *)&repl->check, on_handle_closed);
	uv_close((uv_handle_t *)&repl->idle, on_handle_closed);
	if (repl->transport != NULL)
		transport_close(repl->transport, on_transport_closed, NULL);
	repl->transport = NULL;
}

static void *replica_main(void *arg)
{
	struct repl *repl = arg;

	uv_run(&repl->loop, UV_RUN_DEFAULT);
	return NULL;
}

/*
 * Reads the applied index and the term and membership at it from env (this
 * node's, or a received snapshot's). A new environment has index and term 0
 * and the bootstrap membership.
 */
enum kv_err load_applied_state(struct repl *repl, struct kv_env *env, uint64_t *index, uint64_t *term,
			       struct raft_snapshot_meta *conf)
{
	struct kv_txn *txn;
	struct kv_val val;
	kv_table table;
	enum kv_err err = kv_table_open(env, REPL_META_TABLE, &table);

	memset(conf, 0, sizeof(*conf));
	for (size_t i = 0; i < repl->config.bootstrap_count && i < RAFT_MAX_NODES; i++)
		conf->members[conf->n_members++] = repl->config.bootstrap[i];
	*index = *term = 0;
	if (err == KV_OK)
		err = kv_read_begin(env, &txn);
	if (err != KV_OK)
		return err;
	err = kv_get(txn, table, REPL_APPLIED_STATE_KEY, strlen(REPL_APPLIED_STATE_KEY), &val);
	if (err == KV_OK) {
		struct raft_snapshot_meta state;

		if (log_store_get_meta(val.data, val.len, &state)) {
			*index = state.index;
			*term = state.term;
			*conf = state;
		} else {
			err = KV_CORRUPT;
		}
	} else if (err == KV_NOT_FOUND) {
		err = KV_OK;
	}
	kv_read_end(txn);
	return err;
}

/* Peer addresses recorded in the log win over the configured ones: they are newer. */
static enum kv_err load_addresses(struct repl *repl)
{
	struct kv_txn *txn;
	struct kv_cursor *cursor;
	struct kv_val key, value;
	enum kv_err err = kv_read_begin(repl->config.env, &txn);

	if (err != KV_OK)
		return err;
	err = kv_scan_begin(txn, repl->peers_table, NULL, 0, NULL, 0, &cursor);
	if (err != KV_OK) {
		kv_read_end(txn);
		return err;
	}
	while ((err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
		char address[REPL_ADDRESS_MAX];

		if (key.len != 1 || value.len >= REPL_ADDRESS_MAX)
			continue;
		memcpy(address, value.data, value.len);
		address[value.len] = '\0';
		address_set(repl, *(const unsigned char *)key.data, address);
	}
	kv_scan_end(cursor);
	kv_read_end(txn);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

static uint64_t rand_next(void *ctx)
{
	uint64_t *state = ctx;

	/* splitmix64: only election jitter depends on it. */
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rand_state;

static enum repl_err raft_open(struct repl *repl)
{
	struct raft_config rc = {
		.id = repl->config.node_id,
		.election_ticks = repl->config.election_ticks,
		.heartbeat_ticks = 1,
		.max_msg_entries = RAFT_MSG_ENTRIES_MAX,
		.max_msg_bytes = RAFT_MSG_BYTES_MAX,
		.pre_vote = true,
		.check_quorum = repl->config.peer_count > 0,
		.rand = rand_next,
		.rand_ctx = &rand_state,
	};
	struct raft_hard_state hs;
	struct raft_snapshot_meta meta;
	struct raft_entry *entries;
	size_t n;
	enum kv_err kerr = log_store_load(&repl->log, &hs, &meta, &entries, &n);
	enum raft_err err;

	if (kerr != KV_OK) {
		log_error("raft_log_load_failed", "err=\"%s\"", kv_strerror(kerr));
		return err_from_kv(kerr);
	}
	rand_state = (uint64_t)time(NULL) ^ ((uint64_t)repl->config.node_id << 32) ^ monotonic_us();
	for (size_t i = 0; i < repl->config.bootstrap_count && i < RAFT_MAX_NODES; i++)
		rc.nodes[rc.n_nodes++] = repl->config.bootstrap[i];
	if (repl->applied_index > (n > 0 ? entries[n - 1].index : meta.index)) {
		log_error("raft_log_behind_state", "applied_index=%" PRIu64 " log_entries=%zu "
			  "hint=\"this data directory was written without a Raft log; start from an empty one\"",
			  repl->applied_index, n);
		log_store_entries_free(entries, n);
		return REPL_STORAGE_ERROR;
	}
	err = raft_new(&rc, &hs, &meta, entries, n, &repl->raft);
	log_store_entries_free(entries, n);
	if (err != RAFT_OK) {
		log_error("raft_start_failed", "err=\"%s\"", raft_strerror(err));
		return REPL_STORAGE_ERROR;
	}
	return REPL_OK;
}

static enum repl_err transport_start(struct repl *repl)
{
	struct transport_peer peers[RAFT_MAX_NODES];
	struct transport_config tc = {
		.loop = &repl->loop,
		.node_id = repl->config.node_id,
		.listen_address = repl->config.listen_address,
		.peers = peers,
		.payload_max_bytes = repl->config.command_max_bytes + RAFT_MSG_BYTES_MAX + 4096,
		.send_queue_max = TRANSPORT_QUEUE_MAX,
		.overflow = TRANSPORT_OVERFLOW_DROP_OLDEST,
		.on_frame = on_frame,
		.ctx = repl,
	};
	enum transport_err err;

	if (repl->config.listen_address == NULL || repl->config.listen_address[0] == '\0')
		return REPL_OK;
	memcpy(tc.key, repl->config.key, sizeof(tc.key));
	for (size_t i = 0; i < repl->address_count; i++) {
		if (repl->addresses[i].id == repl->config.node_id)
			continue;
		peers[tc.peer_count].id = repl->addresses[i].id;
		peers[tc.peer_count].address = repl->addresses[i].address;
		tc.peer_count++;
	}
	err = transport_open(&tc, &repl->transport);
	if (err != TRANSPORT_OK) {
		log_error("transport_start_failed", "listen=%s err=\"%s\"", repl->config.listen_address,
			  transport_strerror(err));
		return REPL_STORAGE_ERROR;
	}
	return REPL_OK;
}

static enum repl_err open_state(struct repl *repl)
{
	enum kv_err err = kv_table_open(repl->config.env, REPL_META_TABLE, &repl->meta_table);

	if (err == KV_OK)
		err = kv_table_open(repl->config.env, PEERS_TABLE, &repl->peers_table);
	if (err == KV_OK)
		err = log_store_open(&repl->log, repl->config.env);
	if (err == KV_OK)
		err = load_applied_state(repl, repl->config.env, &repl->applied_index, &repl->applied_term,
					 &repl->applied_conf);
	atomic_store(&repl->applied_atomic, repl->applied_index);
	if (err != KV_OK) {
		log_error("repl_start_failed", "err=\"%s\"", kv_strerror(err));
		return err_from_kv(err);
	}
	for (size_t i = 0; i < repl->config.peer_count; i++)
		address_set(repl, repl->config.peers[i].id, repl->config.peers[i].address);
	if (repl->config.listen_address != NULL && repl->config.listen_address[0] != '\0')
		address_set(repl, repl->config.node_id, repl->config.listen_address);
	err = load_addresses(repl);
	return err == KV_OK ? raft_open(repl) : err_from_kv(err);
}

static enum repl_err loop_open(struct repl *repl)
{
	if (uv_loop_init(&repl->loop) != 0) {
		log_error("repl_loop_failed", "");
		abort();
	}
	uv_async_init(&repl->loop, &repl->wake, on_wake);
	uv_timer_init(&repl->loop, &repl->tick);
	uv_check_init(&repl->loop, &repl->check);
	uv_idle_init(&repl->loop, &repl->idle);
	repl->wake.data = repl->tick.data = repl->check.data = repl->idle.data = repl;
	uv_timer_start(&repl->tick, on_tick, repl->config.tick_ms, repl->config.tick_ms);
	uv_check_start(&repl->check, on_check);
	return transport_start(repl);
}

/*
 * A node that is the only voter elects itself at once instead of waiting
 * out an election timeout, so a single node serves writes from the start.
 */
static void campaign_alone(struct repl *repl)
{
	uint64_t ids[RAFT_MAX_NODES];
	bool voter[RAFT_MAX_NODES];
	size_t n = raft_members(repl->raft, ids, voter, RAFT_MAX_NODES);

	if (n != 1 || ids[0] != repl->config.node_id || !voter[0])
		return;
	for (unsigned i = 0; i < 2 * repl->config.election_ticks + 1 && raft_role(repl->raft) != RAFT_LEADER; i++)
		raft_tick(repl->raft);
}

static void repl_free(struct repl *repl)
{
	if (repl->raft != NULL)
		raft_free(repl->raft);
	buf_free(&repl->frame);
	pthread_mutex_destroy(&repl->status_lock);
	pthread_mutex_destroy(&repl->lock);
	free(repl);
}

enum repl_err repl_start(const struct repl_config *config, struct repl **out)
{
	struct repl *repl = calloc(1, sizeof(*repl));
	struct timeval now;
	bool loop_made = false;
	enum repl_err err;

	if (repl == NULL)
		return REPL_NO_MEMORY;
	assert(config->queue_max > 0);
	assert(config->node_id > 0);
	assert(config->node_id <= REPL_NODE_ID_MAX);
	repl->config = *config;
	/* The bootstrap list is read again when a snapshot arrives, so keep a copy. */
	if (repl->config.bootstrap_count > RAFT_MAX_NODES)
		repl->config.bootstrap_count = RAFT_MAX_NODES;
	if (repl->config.bootstrap_count > 0)
		memcpy(repl->bootstrap, config->bootstrap, repl->config.bootstrap_count * sizeof(*repl->bootstrap));
	repl->config.bootstrap = repl->bootstrap;
	if (repl->config.compact_entries == 0)
		repl->config.compact_entries = 10000;
	if (repl->config.tick_ms == 0)
		repl->config.tick_ms = 50;
	if (repl->config.election_ticks < 2)
		repl->config.election_ticks = 10;
	if (repl->config.write_timeout_ms == 0)
		repl->config.write_timeout_ms = 5000;
	repl->config.peers = NULL; /* copied into addresses below */
	repl->receiving.fd = -1;
	pthread_mutex_init(&repl->lock, NULL);
	pthread_mutex_init(&repl->status_lock, NULL);
	buf_init(&repl->frame, config->command_max_bytes + RAFT_MSG_BYTES_MAX + 4096);
	gettimeofday(&now, NULL);
	atomic_store(&repl->next_seq, (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_usec);
	repl->config.peers = config->peers;
	err = open_state(repl);
	repl->config.peers = NULL;
	if (err == REPL_OK) {
		loop_made = true;
		err = loop_open(repl);
	}
	if (err == REPL_OK)
		campaign_alone(repl);
	if (err == REPL_OK && pthread_create(&repl->thread, NULL, replica_main, repl) != 0)
		err = REPL_NO_MEMORY;
	if (err != REPL_OK && loop_made) {
		/* Close what loop_open() made and let the loop release it. */
		stop_loop(repl);
		uv_run(&repl->loop, UV_RUN_DEFAULT);
		uv_loop_close(&repl->loop);
	}
	if (err != REPL_OK) {
		repl_free(repl);
		return err;
	}
	repl->leader_seen_ms = uv_now(&repl->loop);
	log_info("repl_started", "node=%" PRIu32 " peers=%zu applied_index=%" PRIu64 " last_index=%" PRIu64,
		 repl->config.node_id, repl->address_count > 0 ? repl->address_count - 1 : 0, repl->applied_index,
		 raft_last_index(repl->raft));
	*out = repl;
	return REPL_OK;
}

void repl_stop(struct repl *repl)
{
	pthread_mutex_lock(&repl->lock);
	repl->stopping = true;
	pthread_mutex_unlock(&repl->lock);
	uv_async_send(&repl->wake);
	pthread_join(repl->thread, NULL);
	uv_loop_close(&repl->loop);
	log_info("repl_stopped", "applied_index=%" PRIu64, repl->applied_index);
	repl_free(repl);
}

uint64_t repl_applied_index(const struct repl *repl)
{
	return atomic_load(&repl->applied_atomic);
}

bool repl_is_stalled(const struct repl *repl)
{
	return atomic_load(&repl->stalled_atomic);
}

bool repl_has_leader(const struct repl *repl)
{
	return atomic_load(&repl->has_leader);
}

void repl_get_status(struct repl *repl, struct repl_status *out)
{
	pthread_mutex_lock(&repl->status_lock);
	*out = repl->status;
	pthread_mutex_unlock(&repl->status_lock);
	if (out->role == NULL)
		out->role = "follower";
}

void repl_write_metrics(const struct repl *repl, struct buf *out)
{
	struct repl_status s;

	repl_get_status((struct repl *)repl, &s);
	metrics_write_header(out, "jkd_repl_applied_index", "gauge", "Index of the last applied command.");
	buf_printf(out, "jkd_repl_applied_index %" PRIu64 "\n", atomic_load(&repl->applied_atomic));
	metrics_write_header(out, "jkd_raft_commit_index", "gauge", "Highest log index known to be committed.");
	buf_printf(out, "jkd_raft_commit_index %" PRIu64 "\n", s.commit_index);
	metrics_write_header(out, "jkd_raft_term", "gauge", "Current Raft term.");
	buf_printf(out, "jkd_raft_term %" PRIu64 "\n", s.term);
	metrics_write_header(out, "jkd_raft_leader", "gauge", "Id of the known leader, 0 when none.");
	buf_printf(out, "jkd_raft_leader %" PRIu32 "\n", s.leader);
	metrics_write_header(out, "jkd_raft_is_leader", "gauge", "1 on the leader.");
	buf_printf(out, "jkd_raft_is_leader %d\n", s.leader != 0 && s.leader == s.node_id);
	metrics_write_header(out, "jkd_repl_commit_batch_size", "histogram",
			     "Log entries persisted plus applied per LMDB write transaction (one fsync).");
	metrics_size_write(out, "jkd_repl_commit_batch_size", &repl->batch_sizes);
	metrics_write_header(out, "jkd_repl_commit_duration_seconds", "histogram",
			     "Time to persist, apply and commit one Raft ready.");
	metrics_histogram_write(out, "jkd_repl_commit_duration_seconds", "", &repl->commit_latency);
	metrics_write_header(out, "jkd_repl_commits_failed_total", "counter", "Readies that failed to commit.");
	buf_printf(out, "jkd_repl_commits_failed_total %" PRIu64 "\n", atomic_load(&repl->commits_failed));
	metrics_write_header(out, "jkd_repl_forwarded_total", "counter", "Requests forwarded to the leader.");
	buf_printf(out, "jkd_repl_forwarded_total %" PRIu64 "\n", atomic_load(&repl->forwarded));
	metrics_write_header(out, "jkd_repl_timeouts_total", "counter", "Requests that expired before completing.");
	buf_printf(out, "jkd_repl_timeouts_total %" PRIu64 "\n", atomic_load(&repl->timeouts));
	metrics_write_header(out, "jkd_repl_frames_invalid_total", "counter",
			     "Authenticated frames that failed to decode and were dropped.");
	buf_printf(out, "jkd_repl_frames_invalid_total %" PRIu64 "\n", atomic_load(&repl->frames_invalid));
	metrics_write_header(out, "jkd_kv_map_grows_total", "counter", "Times the LMDB map was grown.");
	buf_printf(out, "jkd_kv_map_grows_total %" PRIu64 "\n", atomic_load(&repl->map_grows));
	if (repl->transport != NULL)
		transport_write_metrics(repl->transport, out);
}
