/*
 * Single-node log: proposals are appended and applied at once by one writer
 * thread. See repl.h for the contract.
 *
 * The writer takes every queued proposal (at most batch_max), gives them the
 * next indexes, applies each in a nested transaction of one LMDB write
 * transaction, stores the last index in the same transaction and commits:
 * one fsync for the batch. A crash before the commit loses the whole batch
 * and none of it was acknowledged; after the commit all of it is durable.
 *
 * Ownership: a proposal belongs to the queue until the writer takes it, then
 * to the writer until it is put on its inbox, then to the inbox until the
 * done callback returns. An inbox counts the proposals that may still reach
 * it, plus one reference for its async handle. repl_inbox_close() closes the
 * handle on the loop thread and the close callback drops that reference.
 * Proposals that finish after the close are freed by the writer without
 * their done callback. Whichever thread drops the last reference frees the
 * inbox.
 */
#include "replication/repl.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"

#define REPL_META_TABLE "repl_meta"
#define REPL_APPLIED_KEY "applied_index"

struct proposal {
	struct proposal *next;
	struct repl_inbox *inbox;
	repl_done_fn done;
	void *ctx;
	enum repl_err err;
	uint64_t index;
	struct repl_result result;
	size_t command_len;
	unsigned char command[];
};

struct repl_inbox {
	uv_async_t async;
	pthread_mutex_t lock;
	struct proposal *head, *tail; /* applied, waiting for the loop */
	size_t refs;                  /* 1 until the async handle is closed, plus one per proposal not yet freed */
	uint64_t dropped;             /* results freed without a done callback because the inbox was closed */
	bool closed;                  /* set once, on the loop thread, by repl_inbox_close() */
};

struct repl {
	struct repl_config config;
	kv_table meta_table;
	pthread_t writer;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct proposal *head, *tail;
	size_t queued;
	bool stopping;

	_Atomic uint64_t applied_index;
	_Atomic uint64_t commits_failed;
	_Atomic uint64_t map_grows;
	struct metrics_size_histogram batch_sizes;
	struct metrics_histogram commit_latency;
};

static const char *const repl_messages[] = {
	[REPL_OK] = "ok",
	[REPL_BUSY] = "proposal queue full",
	[REPL_STOPPED] = "log writer stopped",
	[REPL_TOO_LARGE] = "command too large",
	[REPL_STORAGE_FULL] = "storage full: the map is at its maximum size or the disk is full",
	[REPL_STORAGE_ERROR] = "storage error",
	[REPL_NO_MEMORY] = "out of memory",
};

const char *repl_strerror(enum repl_err err)
{
	if ((size_t)err < sizeof(repl_messages) / sizeof(repl_messages[0]))
		return repl_messages[err];
	return "unknown error";
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void proposal_free(struct proposal *p)
{
	free(p->result.data);
	free(p);
}

/*
 * Drops the references of delivered proposals (their done callback ran) and
 * of dropped ones (freed without it). The thread that drops the last
 * reference frees the inbox. That is the close callback's thread or the
 * writer, and either way the async handle is closed by then.
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
 * Runs on the inbox's loop. Once closed is set under the lock, the writer no
 * longer touches the async handle. The handle is closed here because
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
 * Runs on the writer: hands a finished proposal to its inbox, or frees it if
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

enum repl_err repl_propose(struct repl *repl, struct repl_inbox *inbox, const void *command,
			   size_t command_len, repl_done_fn done, void *ctx)
{
	struct proposal *p;

	if (command_len > repl->config.command_max_bytes)
		return REPL_TOO_LARGE;
	p = malloc(sizeof(*p) + command_len);
	if (p == NULL)
		return REPL_NO_MEMORY;
	memset(p, 0, sizeof(*p));
	p->inbox = inbox;
	p->done = done;
	p->ctx = ctx;
	p->command_len = command_len;
	memcpy(p->command, command, command_len);

	pthread_mutex_lock(&repl->lock);
	if (repl->stopping || repl->queued >= repl->config.queue_max) {
		enum repl_err err = repl->stopping ? REPL_STOPPED : REPL_BUSY;

		pthread_mutex_unlock(&repl->lock);
		free(p);
		return err;
	}
	pthread_mutex_lock(&inbox->lock);
	inbox->refs++;
	pthread_mutex_unlock(&inbox->lock);
	if (repl->tail != NULL)
		repl->tail->next = p;
	else
		repl->head = p;
	repl->tail = p;
	repl->queued++;
	pthread_cond_signal(&repl->wake);
	pthread_mutex_unlock(&repl->lock);
	return REPL_OK;
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

static void batch_reset_results(struct proposal **batch, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(batch[i]->result.data);
		memset(&batch[i]->result, 0, sizeof(batch[i]->result));
		batch[i]->index = 0;
	}
}

/* Applies one command in its own nested transaction; a non-zero status discards its changes. */
static enum kv_err apply_one(struct repl *repl, struct kv_txn *txn, struct proposal *p)
{
	struct kv_txn *child;
	enum kv_err err = kv_child_begin(txn, &child);

	if (err != KV_OK)
		return err;
	err = repl->config.apply(repl->config.state_machine, child, p->index, p->command,
				 p->command_len, &p->result);
	if (err != KV_OK || p->result.status != 0) {
		kv_child_abort(child);
		return err;
	}
	return kv_child_commit(child);
}

/* Applies the batch in one write transaction and commits it. */
static enum kv_err batch_commit(struct repl *repl, struct proposal **batch, size_t count)
{
	uint64_t index = atomic_load(&repl->applied_index);
	struct kv_txn *txn;
	enum kv_err err = kv_write_begin(repl->config.env, &txn);

	if (err != KV_OK)
		return err;
	for (size_t i = 0; i < count && err == KV_OK; i++) {
		batch[i]->index = ++index;
		err = apply_one(repl, txn, batch[i]);
	}
	if (err == KV_OK)
		err = kv_put(txn, repl->meta_table, REPL_APPLIED_KEY, strlen(REPL_APPLIED_KEY), &index,
			     sizeof(index));
	if (err != KV_OK) {
		kv_write_abort(txn);
		return err;
	}
	err = kv_write_commit(txn);
	if (err == KV_OK)
		atomic_store(&repl->applied_index, index);
	return err;
}

/* Commits the batch, growing the map as often as LMDB reports it full. */
static enum kv_err batch_commit_growing(struct repl *repl, struct proposal **batch, size_t count)
{
	for (;;) {
		enum kv_err err = batch_commit(repl, batch, count);

		if (err != KV_MAP_FULL)
			return err;
		batch_reset_results(batch, count);
		err = kv_grow(repl->config.env);
		if (err != KV_OK)
			return err;
		atomic_fetch_add(&repl->map_grows, 1);
		log_info("kv_map_grown", "batch=%zu", count);
	}
}

static void batch_fail(struct repl *repl, struct proposal **batch, size_t count, enum kv_err err)
{
	atomic_fetch_add(&repl->commits_failed, 1);
	batch_reset_results(batch, count);
	for (size_t i = 0; i < count; i++)
		batch[i]->err = err_from_kv(err);
}

static void batch_run(struct repl *repl, struct proposal **batch, size_t count)
{
	uint64_t start_us = monotonic_us();
	enum kv_err err = batch_commit_growing(repl, batch, count);

	if (err != KV_OK && count > 1) {
		/* One command too large for the map must not fail the others: try each alone. */
		log_warn("repl_batch_failed", "err=%s batch=%zu retry=one_by_one", kv_strerror(err), count);
		batch_reset_results(batch, count);
		for (size_t i = 0; i < count; i++)
			batch_run(repl, &batch[i], 1);
		return;
	}
	if (err != KV_OK) {
		log_error("repl_commit_failed", "err=%s", kv_strerror(err));
		batch_fail(repl, batch, count, err);
	} else {
		metrics_size_observe(&repl->batch_sizes, count);
		metrics_histogram_observe(&repl->commit_latency, monotonic_us() - start_us);
	}
	for (size_t i = 0; i < count; i++)
		inbox_deliver(batch[i]);
}

/* Takes up to max proposals off the queue, waiting for one unless stopping. */
static size_t queue_take(struct repl *repl, struct proposal **batch, size_t max)
{
	size_t count = 0;

	pthread_mutex_lock(&repl->lock);
	while (repl->head == NULL && !repl->stopping)
		pthread_cond_wait(&repl->wake, &repl->lock);
	while (repl->head != NULL && count < max) {
		batch[count++] = repl->head;
		repl->head = repl->head->next;
		repl->queued--;
	}
	if (repl->head == NULL)
		repl->tail = NULL;
	pthread_mutex_unlock(&repl->lock);
	return count;
}

static void *writer_main(void *arg)
{
	struct repl *repl = arg;
	struct proposal **batch = calloc(repl->config.batch_max, sizeof(*batch));
	size_t count;

	if (batch == NULL) {
		log_error("repl_writer_failed", "err=%s", repl_strerror(REPL_NO_MEMORY));
		abort();
	}
	while ((count = queue_take(repl, batch, repl->config.batch_max)) > 0)
		batch_run(repl, batch, count);
	free(batch);
	return NULL;
}

static enum kv_err load_applied_index(struct repl *repl)
{
	struct kv_txn *txn;
	struct kv_val val;
	uint64_t index = 0;
	enum kv_err err = kv_table_open(repl->config.env, REPL_META_TABLE, &repl->meta_table);

	if (err != KV_OK)
		return err;
	err = kv_read_begin(repl->config.env, &txn);
	if (err != KV_OK)
		return err;
	err = kv_get(txn, repl->meta_table, REPL_APPLIED_KEY, strlen(REPL_APPLIED_KEY), &val);
	if (err == KV_OK && val.len == sizeof(index))
		memcpy(&index, val.data, sizeof(index));
	else if (err == KV_OK)
		err = KV_CORRUPT;
	else if (err == KV_NOT_FOUND)
		err = KV_OK;
	kv_read_end(txn);
	atomic_store(&repl->applied_index, index);
	return err;
}

enum repl_err repl_start(const struct repl_config *config, struct repl **out)
{
	struct repl *repl = calloc(1, sizeof(*repl));
	enum kv_err err;

	if (repl == NULL)
		return REPL_NO_MEMORY;
	assert(config->batch_max > 0);
	assert(config->queue_max > 0);
	repl->config = *config;
	err = load_applied_index(repl);
	if (err != KV_OK) {
		log_error("repl_start_failed", "err=%s", kv_strerror(err));
		free(repl);
		return err_from_kv(err);
	}
	pthread_mutex_init(&repl->lock, NULL);
	pthread_cond_init(&repl->wake, NULL);
	if (pthread_create(&repl->writer, NULL, writer_main, repl) != 0) {
		pthread_cond_destroy(&repl->wake);
		pthread_mutex_destroy(&repl->lock);
		free(repl);
		return REPL_NO_MEMORY;
	}
	log_info("repl_started", "mode=single_node applied_index=%" PRIu64,
		 atomic_load(&repl->applied_index));
	*out = repl;
	return REPL_OK;
}

void repl_stop(struct repl *repl)
{
	pthread_mutex_lock(&repl->lock);
	repl->stopping = true;
	pthread_cond_signal(&repl->wake);
	pthread_mutex_unlock(&repl->lock);
	pthread_join(repl->writer, NULL);
	log_info("repl_stopped", "applied_index=%" PRIu64, atomic_load(&repl->applied_index));
	pthread_cond_destroy(&repl->wake);
	pthread_mutex_destroy(&repl->lock);
	free(repl);
}

uint64_t repl_applied_index(const struct repl *repl)
{
	return atomic_load(&repl->applied_index);
}

void repl_write_metrics(const struct repl *repl, struct buf *out)
{
	metrics_write_header(out, "jkd_repl_applied_index", "gauge", "Index of the last applied command.");
	buf_printf(out, "jkd_repl_applied_index %" PRIu64 "\n", atomic_load(&repl->applied_index));
	metrics_write_header(out, "jkd_repl_commit_batch_size", "histogram",
			     "Commands committed per LMDB write transaction (one fsync).");
	metrics_size_write(out, "jkd_repl_commit_batch_size", &repl->batch_sizes);
	metrics_write_header(out, "jkd_repl_commit_duration_seconds", "histogram",
			     "Time to apply and commit one batch.");
	metrics_histogram_write(out, "jkd_repl_commit_duration_seconds", "", &repl->commit_latency);
	metrics_write_header(out, "jkd_repl_commits_failed_total", "counter", "Batches that failed to commit.");
	buf_printf(out, "jkd_repl_commits_failed_total %" PRIu64 "\n", atomic_load(&repl->commits_failed));
	metrics_write_header(out, "jkd_kv_map_grows_total", "counter", "Times the LMDB map was grown.");
	buf_printf(out, "jkd_kv_map_grows_total %" PRIu64 "\n", atomic_load(&repl->map_grows));
}
