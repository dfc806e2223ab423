/*
 * Log compaction and snapshots, dissertation chapter 5.
 *
 * The state machine lives in LMDB and every commit records the applied
 * index with the term and membership at it (replica.c), so the stored state
 * is itself a snapshot at its applied index, §5.2. Compaction therefore
 * only drops log entries: once compact_entries entries are applied past the
 * last snapshot, the node keeps the last quarter of them for followers that
 * are a little behind and deletes the rest.
 *
 * Sending. The core requests a snapshot for a follower with
 * RAFT_MSG_SNAPSHOT. A libuv pool thread then writes a consistent compacted
 * copy of the environment (kv_copy_to_file) to <data_dir>/snapshot-out-<id>.mdb.
 * The replica thread streams it in SNAPSHOT_CHUNK_BYTES chunks, a few at a
 * time per tick, so heartbeats and replication to the other nodes go on
 * meanwhile, and reports success to the core once the last chunk is sent.
 * The copy may be newer than the index the core asked for, which raft.h
 * allows.
 *
 * Receiving. The follower writes the chunks in order to
 * <data_dir>/snapshot-in/data.mdb. Once all have arrived it opens the copy,
 * reads the applied index, term and membership it describes and, if that
 * is ahead of its own commit index, rewrites the copy's Raft tables as its
 * own: its hard state, the snapshot metadata and any of its log entries
 * after the snapshot that match it (§5.1). It then renames the copy over
 * data.mdb, replies to the leader and asks the node to restart,
 * because other threads still read the old file. A restart takes a fraction
 * of a second and is the simplest way to swap a live LMDB environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "replication/replica_internal.h"

#define SNAPSHOT_CHUNK_BYTES (256u << 10)
#define SNAPSHOT_CHUNKS_QUEUED_MAX 4
#define SNAPSHOT_TIMEOUT_MS 30000
#define SNAPSHOT_RESTART_WAIT_MS 1000
#define SNAPSHOT_IN_DIR "snapshot-in"

/* Writes dir/name into out; false if it does not fit. */
static bool path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n >= 0 && (size_t)n < size;
}

/* Compaction */

void snapshot_maybe_compact(struct repl *repl)
{
	struct raft_snapshot_meta meta;
	uint64_t keep = repl->config.compact_entries / 4, index;
	struct kv_txn *txn;
	enum kv_err err;

	raft_snapshot_meta_get(repl->raft, &meta);
	if (repl->restarting || repl->applied_index < meta.index + repl->config.compact_entries)
		return;
	index = repl->applied_index - keep;
	if (raft_compact(repl->raft, index) != RAFT_OK)
		return;
	raft_snapshot_meta_get(repl->raft, &meta);
	err = kv_write_begin(repl->config.env, &txn);
	if (err == KV_OK) {
		err = log_store_compact(&repl->log, txn, &meta);
		if (err == KV_OK)
			err = kv_write_commit(txn);
		else
			kv_write_abort(txn);
	}
	if (err != KV_OK) {
		/* The entries stay on disk until the next compaction deletes them. */
		log_warn("raft_compact_failed", "index=%" PRIu64 " err=\"%s\"", meta.index, kv_strerror(err));
		return;
	}
	log_store_compacted(&repl->log, &meta);
	log_debug("raft_log_compacted", "index=%" PRIu64 " term=%" PRIu64, meta.index, meta.term);
}

/* Sending, on the leader */

static struct snapshot_out *sending_slot(struct repl *repl, uint32_t peer)
{
	struct snapshot_out *free_slot = NULL;

	for (size_t i = 0; i < RAFT_MAX_NODES; i++) {
		if (repl->sending[i].active && repl->sending[i].peer == peer)
			return &repl->sending[i];
		if (!repl->sending[i].active && free_slot == NULL)
			free_slot = &repl->sending[i];
	}
	return free_slot;
}

static void send_end(struct repl *repl, struct snapshot_out *out, bool ok)
{
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	unlink(out->path);
	out->active = false;
	if (raft_role(repl->raft) == RAFT_LEADER)
		raft_report_snapshot(repl->raft, out->peer, ok);
	log_info("snapshot_send_finished", "peer=%" PRIu32 " bytes=%" PRIu64 " ok=%d", out->peer, out->offset, ok);
}

/*
 * NOTE: kv_copy_to_file() holds the environment's resize lock shared, so a
 * map growth on the replica thread waits for the copy to end, and with it
 * heartbeats. Growth is rare (the map doubles), but a large copy then
 * stalls the node for its duration.
 */
static void copy_work(uv_work_t *work)
{
	struct snapshot_out *out = work->data;

	out->copy_err = kv_copy_to_file(out->repl->config.env, out->path);
}

static void copy_done(uv_work_t *work, int status)
{
	struct snapshot_out *out = work->data;
	struct repl *repl = out->repl;
	struct stat st;

	if (status != 0 || out->copy_err != KV_OK || repl->restarting) {
		log_warn("snapshot_copy_failed", "peer=%" PRIu32 " err=\"%s\"", out->peer,
			 status != 0 ? uv_strerror(status) : kv_strerror(out->copy_err));
		send_end(repl, out, false);
		return;
	}
	out->fd = open(out->path, O_RDONLY | O_CLOEXEC);
	if (out->fd < 0 || fstat(out->fd, &st) != 0) {
		log_warn("snapshot_copy_failed", "peer=%" PRIu32 " err=\"%s\"", out->peer, strerror(errno));
		send_end(repl, out, false);
		return;
	}
	out->size = (uint64_t)st.st_size;
	out->copied = true;
	out->last_ms = uv_now(&repl->loop);
	log_info("snapshot_send_started", "peer=%" PRIu32 " bytes=%" PRIu64, out->peer, out->size);
}

void snapshot_send_start(struct repl *repl, uint32_t to)
{
	struct snapshot_out *out = sending_slot(repl, to);
	char name[64];

	if (out == NULL || out->active || repl->config.data_dir == NULL)
		return;
	memset(out, 0, sizeof(*out));
	out->active = true;
	out->peer = to;
	out->fd = -1;
	out->repl = repl;
	out->xfer_id = atomic_fetch_add(&repl->next_seq, 1);
	out->last_ms = uv_now(&repl->loop);
	out->work.data = out;
	snprintf(name, sizeof(name), "snapshot-out-%" PRIu32 ".mdb", to);
	if (!path_join(out->path, sizeof(out->path), repl->config.data_dir, name) ||
	    uv_queue_work(&repl->loop, &out->work, copy_work, copy_done) != 0)
		send_end(repl, out, false);
}

/* Sends chunks while the peer's send queue is short. */
static void send_pump(struct repl *repl, struct snapshot_out *out)
{
	struct transport_peer_stats stats;
	unsigned char *chunk;

	if (repl->transport == NULL || transport_get_peer_stats(repl->transport, out->peer, &stats) != TRANSPORT_OK)
		return;
	chunk = malloc(SNAPSHOT_CHUNK_BYTES);
	if (chunk == NULL)
		return;
	while (out->offset < out->size && stats.queued < SNAPSHOT_CHUNKS_QUEUED_MAX) {
		ssize_t n = pread(out->fd, chunk, SNAPSHOT_CHUNK_BYTES, (off_t)out->offset);

		if (n <= 0) {
			free(chunk);
			send_end(repl, out, false);
			return;
		}
		frame_begin(repl, FRAME_SNAP_CHUNK);
		wire_put_u64(&repl->frame, out->xfer_id);
		wire_put_u64(&repl->frame, raft_term(repl->raft));
		wire_put_u64(&repl->frame, out->offset);
		wire_put_u64(&repl->frame, out->size);
		buf_append(&repl->frame, chunk, (size_t)n);
		send_frame(repl, out->peer);
		out->offset += (uint64_t)n;
		out->last_ms = uv_now(&repl->loop);
		stats.queued++;
	}
	free(chunk);
	/*
	 * Success is reported once every chunk is handed to the transport: the
	 * follower's own reply may never leave, because it restarts right
	 * after installing. If the install failed after all, the follower's log
	 * is still behind the leader's, so the leader's next probe fails and
	 * the core requests a new snapshot.
	 */
	if (out->offset == out->size)
		send_end(repl, out, true);
}

void snapshot_on_done(struct repl *repl, uint32_t from, struct wire_reader *r)
{
	uint64_t xfer_id = wire_get_u64(r);
	bool ok = wire_get_u8(r) == 1;
	struct snapshot_out *out = sending_slot(repl, from);

	if (r->failed || out == NULL || !out->active || out->xfer_id != xfer_id)
		return;
	send_end(repl, out, ok);
}

/* Receiving, on a follower */

static void receive_reset(struct repl *repl)
{
	if (repl->receiving.fd >= 0 && repl->receiving.active)
		close(repl->receiving.fd);
	repl->receiving.active = false;
	repl->receiving.fd = -1;
}

static void reply_done(struct repl *repl, uint32_t to, uint64_t xfer_id, bool ok)
{
	frame_begin(repl, FRAME_SNAP_DONE);
	wire_put_u64(&repl->frame, xfer_id);
	wire_put_u8(&repl->frame, ok ? 1 : 0);
	send_frame(repl, to);
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Collects this node's entries after index when its log matches the snapshot there, §5.1. */
static size_t kept_entries(struct repl *repl, const struct raft_snapshot_meta *meta, struct raft_entry **out)
{
	uint64_t last = raft_last_index(repl->raft);
	size_t n = 0;

	*out = NULL;
	if (last <= meta->index || raft_term_at(repl->raft, meta->index) != meta->term)
		return 0;
	*out = calloc((size_t)(last - meta->index), sizeof(**out));
	if (*out == NULL)
		return 0;
	for (uint64_t i = meta->index + 1; i <= last; i++) {
		const struct raft_entry *e = raft_entry_at(repl->raft, i);

		if (e == NULL)
			break;
		(*out)[n++] = *e; /* shallow: written before the core changes */
	}
	return n;
}

/*
 * Makes the received copy this node's own: its hard state, the snapshot
 * metadata and the entries it keeps replace the leader's Raft tables.
 * Returns 1 when installed, 0 when the node already has it all, -1 on failure.
 */
static int install_prepare(struct repl *repl, const char *dir, uint64_t leader_term)
{
	struct kv_options options = {
		.path = dir,
		.map_size_bytes = (size_t)repl->receiving.size + (64u << 20),
		.map_size_max_bytes = repl->config.map_size_max_bytes,
		.max_tables = 32,
		.max_readers = 8,
	};
	struct raft_snapshot_meta meta;
	struct raft_hard_state hs;
	struct raft_entry *keep = NULL;
	struct log_store ls;
	struct kv_env *env;
	struct kv_txn *txn;
	size_t n_keep;
	enum kv_err err;

	if (options.map_size_max_bytes < options.map_size_bytes)
		options.map_size_max_bytes = options.map_size_bytes;
	err = kv_open(&options, &env);
	if (err != KV_OK) {
		log_error("snapshot_open_failed", "path=%s err=\"%s\"", dir, kv_strerror(err));
		return -1;
	}
	err = load_applied_state(repl, env, &meta.index, &meta.term, &meta);
	if (err == KV_OK && (meta.index == 0 || meta.n_members == 0))
		err = KV_CORRUPT;
	if (err != KV_OK || meta.index <= raft_commit_index(repl->raft)) {
		kv_close(env);
		if (err != KV_OK)
			log_error("snapshot_invalid", "path=%s err=\"%s\"", dir, kv_strerror(err));
		return err != KV_OK ? -1 : 0;
	}
	raft_hard_state_get(repl->raft, &hs);
	if (leader_term > hs.term) {
		hs.term = leader_term;
		hs.vote = 0;
	}
	hs.commit = meta.index;
	n_keep = kept_entries(repl, &meta, &keep);
	err = log_store_open(&ls, env);
	if (err == KV_OK)
		err = kv_write_begin(env, &txn);
	if (err == KV_OK) {
		err = log_store_replace(&ls, txn, &hs, &meta, keep, n_keep);
		if (err == KV_OK)
			err = kv_write_commit(txn);
		else
			kv_write_abort(txn);
	}
	free(keep);
	kv_close(env);
	if (err != KV_OK) {
		log_error("snapshot_prepare_failed", "path=%s err=\"%s\"", dir, kv_strerror(err));
		return -1;
	}
	log_info("snapshot_received", "index=%" PRIu64 " term=%" PRIu64 " kept_entries=%zu", meta.index, meta.term,
		 n_keep);
	return 1;
}

/* Moves the prepared copy over data.mdb; the old lock file goes too, since its reader slots are ours. */
static int install_commit(struct repl *repl, const char *dir)
{
	char from[4096], to[4096], lock[4096];

	if (!path_join(from, sizeof(from), dir, "data.mdb") ||
	    !path_join(to, sizeof(to), repl->config.data_dir, "data.mdb") ||
	    !path_join(lock, sizeof(lock), repl->config.data_dir, "lock.mdb")) {
		errno = ENAMETOOLONG;
		log_error("snapshot_install_failed", "path=%s err=\"%s\"", dir, strerror(errno));
		return -1;
	}
	if (rename(from, to) != 0 || sync_dir(repl->config.data_dir) != 0) {
		log_error("snapshot_install_failed", "path=%s err=\"%s\"", to, strerror(errno));
		return -1;
	}
	unlink(lock);
	if (path_join(lock, sizeof(lock), dir, "lock.mdb"))
		unlink(lock);
	return 0;
}

static void receive_finish(struct repl *repl)
{
	char dir[4096];
	struct snapshot_in *in = &repl->receiving;
	int rc;

	rc = path_join(dir, sizeof(dir), repl->config.data_dir, SNAPSHOT_IN_DIR) && fsync(in->fd) == 0 ? 0 : -1;
	close(in->fd);
	in->fd = -1;
	in->active = false;
	if (rc == 0)
		rc = install_prepare(repl, dir, in->term);
	if (rc == 1)
		rc = install_commit(repl, dir) == 0 ? 1 : -1;
	reply_done(repl, in->from, in->xfer_id, rc >= 0);
	if (rc != 1)
		return;
	/* Nothing more is applied from the old file; restart once the reply has left. */
	repl->restarting = true;
	repl->restart_deadline_ms = uv_now(&repl->loop) + SNAPSHOT_RESTART_WAIT_MS;
	log_info("snapshot_installed", "restart=pending");
}

static bool receive_begin(struct repl *repl, uint32_t from, uint64_t xfer_id, uint64_t term, uint64_t size)
{
	char path[4096];
	struct snapshot_in *in = &repl->receiving;

	receive_reset(repl);
	if (!path_join(path, sizeof(path), repl->config.data_dir, SNAPSHOT_IN_DIR))
		return false;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return false;
	if (!path_join(path, sizeof(path), repl->config.data_dir, SNAPSHOT_IN_DIR "/data.mdb"))
		return false;
	in->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in->fd < 0)
		return false;
	in->active = true;
	in->from = from;
	in->xfer_id = xfer_id;
	in->term = term;
	in->size = size;
	in->received = 0;
	log_info("snapshot_receive_started", "from=%" PRIu32 " bytes=%" PRIu64, from, size);
	return true;
}

void snapshot_on_chunk(struct repl *repl, uint32_t from, struct wire_reader *r)
{
	uint64_t xfer_id = wire_get_u64(r), term = wire_get_u64(r), offset = wire_get_u64(r), size = wire_get_u64(r);
	struct snapshot_in *in = &repl->receiving;
	size_t len = r->left;
	const void *data = wire_get_bytes(r, len);

	/* Only the current leader's snapshot is taken, §5.1; a stale one is ignored. */
	if (r->failed || data == NULL || repl->config.data_dir == NULL || term < raft_term(repl->raft) ||
	    offset + len > size || size == 0)
		return;
	if (offset == 0 && !receive_begin(repl, from, xfer_id, term, size)) {
		log_error("snapshot_receive_failed", "err=\"%s\"", strerror(errno));
		reply_done(repl, from, xfer_id, false);
		return;
	}
	if (!in->active || in->from != from || in->xfer_id != xfer_id || offset != in->received) {
		/* A lost chunk: start over. The leader retries after our failure reply. */
		receive_reset(repl);
		reply_done(repl, from, xfer_id, false);
		return;
	}
	if (write(in->fd, data, len) != (ssize_t)len) {
		log_error("snapshot_receive_failed", "err=\"%s\"", strerror(errno));
		receive_reset(repl);
		reply_done(repl, from, xfer_id, false);
		return;
	}
	in->received += len;
	in->last_ms = uv_now(&repl->loop);
	if (in->received == in->size)
		receive_finish(repl);
}

/* Ticks: pacing, timeouts and the restart after an install */

void snapshot_on_tick(struct repl *repl)
{
	uint64_t now = uv_now(&repl->loop);

	if (repl->restarting) {
		struct transport_peer_stats stats;
		bool flushed = repl->transport == NULL ||
			       transport_get_peer_stats(repl->transport, repl->receiving.from, &stats) != TRANSPORT_OK ||
			       stats.queued == 0;

		if ((flushed || now >= repl->restart_deadline_ms) && repl->config.restart != NULL)
			repl->config.restart(repl->config.restart_ctx);
		return;
	}
	for (size_t i = 0; i < RAFT_MAX_NODES; i++) {
		struct snapshot_out *out = &repl->sending[i];

		if (!out->active || !out->copied)
			continue;
		if (raft_role(repl->raft) != RAFT_LEADER || now > out->last_ms + SNAPSHOT_TIMEOUT_MS)
			send_end(repl, out, false);
		else
			send_pump(repl, out);
	}
	if (repl->receiving.active && now > repl->receiving.last_ms + SNAPSHOT_TIMEOUT_MS)
		receive_reset(repl);
}

void snapshot_stop(struct repl *repl)
{
	for (size_t i = 0; i < RAFT_MAX_NODES; i++) {
		struct snapshot_out *out = &repl->sending[i];

		/* A copy still running finishes in copy_done(), which the loop runs before it ends. */
		if (out->active && out->copied)
			send_end(repl, out, false);
	}
	receive_reset(repl);
}
