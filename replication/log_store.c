/*
 * Raft log and hard state in LMDB; see log_store.h.
 */
#include "replication/log_store.h"

#include <stdlib.h>
#include <string.h>

#include "replication/wire.h"

#define LOG_TABLE "raft_log"
#define STATE_TABLE "raft_state"
#define HARD_STATE_KEY "hard_state"
#define SNAPSHOT_KEY "snapshot"
#define HARD_STATE_BYTES 24
#define ENTRY_VALUE_MAX_BYTES (256u << 20)

enum kv_err log_store_open(struct log_store *ls, struct kv_env *env)
{
	enum kv_err err;

	memset(ls, 0, sizeof(*ls));
	ls->env = env;
	err = kv_table_open(env, LOG_TABLE, &ls->log);
	if (err == KV_OK)
		err = kv_table_open(env, STATE_TABLE, &ls->state);
	return err;
}

void log_store_entries_free(struct raft_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i].data);
	free(entries);
}

static enum kv_err load_hard_state(struct log_store *ls, struct kv_txn *txn, struct raft_hard_state *hs)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, ls->state, HARD_STATE_KEY, strlen(HARD_STATE_KEY), &val);

	memset(hs, 0, sizeof(*hs));
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (val.len != HARD_STATE_BYTES)
		return KV_CORRUPT;
	hs->term = wire_load_u64(val.data);
	hs->vote = wire_load_u64((const unsigned char *)val.data + 8);
	hs->commit = wire_load_u64((const unsigned char *)val.data + 16);
	return KV_OK;
}

/* Appends a copy of the stored entry at index to *entries. */
static enum kv_err load_entry(struct raft_entry **entries, size_t *n, size_t *cap, uint64_t index,
			      const struct kv_val *value)
{
	struct raft_entry e;

	if (!wire_get_entry_value(value->data, value->len, index, &e))
		return KV_CORRUPT;
	if (*n == *cap) {
		size_t new_cap = *cap ? *cap * 2 : 256;
		struct raft_entry *grown = realloc(*entries, new_cap * sizeof(*grown));

		if (grown == NULL)
			return KV_NO_MEMORY;
		*entries = grown;
		*cap = new_cap;
	}
	if (e.len > 0) {
		void *copy = malloc(e.len);

		if (copy == NULL)
			return KV_NO_MEMORY;
		memcpy(copy, e.data, e.len);
		e.data = copy;
	}
	(*entries)[(*n)++] = e;
	return KV_OK;
}

void log_store_put_meta(struct buf *b, const struct raft_snapshot_meta *meta)
{
	wire_put_u64(b, meta->index);
	wire_put_u64(b, meta->term);
	wire_put_u8(b, (uint8_t)meta->n_members);
	for (size_t i = 0; i < meta->n_members; i++) {
		wire_put_u64(b, meta->members[i]);
		wire_put_u8(b, meta->learner[i] ? 1 : 0);
	}
}

bool log_store_get_meta(const void *data, size_t len, struct raft_snapshot_meta *meta)
{
	struct wire_reader r;

	memset(meta, 0, sizeof(*meta));
	wire_reader_init(&r, data, len);
	meta->index = wire_get_u64(&r);
	meta->term = wire_get_u64(&r);
	meta->n_members = wire_get_u8(&r);
	if (meta->n_members > RAFT_MAX_NODES)
		return false;
	for (size_t i = 0; i < meta->n_members; i++) {
		meta->members[i] = wire_get_u64(&r);
		meta->learner[i] = wire_get_u8(&r) != 0;
	}
	return !r.failed && r.left == 0;
}

static enum kv_err load_meta(struct log_store *ls, struct kv_txn *txn, struct raft_snapshot_meta *meta)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, ls->state, SNAPSHOT_KEY, strlen(SNAPSHOT_KEY), &val);

	memset(meta, 0, sizeof(*meta));
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	return log_store_get_meta(val.data, val.len, meta) ? KV_OK : KV_CORRUPT;
}

enum kv_err log_store_load(struct log_store *ls, struct raft_hard_state *hs, struct raft_snapshot_meta *meta,
			   struct raft_entry **entries, size_t *n)
{
	struct kv_txn *txn;
	struct kv_cursor *cursor;
	struct kv_val key, value;
	size_t cap = 0;
	enum kv_err err = kv_read_begin(ls->env, &txn);

	*entries = NULL;
	*n = 0;
	if (err != KV_OK)
		return err;
	err = load_hard_state(ls, txn, hs);
	if (err == KV_OK)
		err = load_meta(ls, txn, meta);
	if (err == KV_OK)
		err = kv_scan_begin(txn, ls->log, NULL, 0, NULL, 0, &cursor);
	if (err != KV_OK) {
		kv_read_end(txn);
		return err;
	}
	while ((err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
		uint64_t index;

		if (key.len != 8) {
			err = KV_CORRUPT;
			break;
		}
		index = wire_load_u64(key.data);
		if (index <= meta->index)
			continue; /* covered by the snapshot */
		err = load_entry(entries, n, &cap, index, &value);
		if (err != KV_OK)
			break;
	}
	kv_scan_end(cursor);
	kv_read_end(txn);
	if (err == KV_NOT_FOUND)
		err = KV_OK;
	if (err != KV_OK) {
		log_store_entries_free(*entries, *n);
		*entries = NULL;
		*n = 0;
		return err;
	}
	ls->first_index = meta->index + 1;
	ls->last_index = *n > 0 ? (*entries)[*n - 1].index : meta->index;
	return KV_OK;
}

/* Deletes the stored entries from first to last. */
static enum kv_err delete_range(struct log_store *ls, struct kv_txn *txn, uint64_t first, uint64_t last)
{
	for (uint64_t i = first; i <= last; i++) {
		unsigned char key[8];
		enum kv_err err;

		wire_store_u64(key, i);
		err = kv_del(txn, ls->log, key, sizeof(key));
		if (err != KV_OK && err != KV_NOT_FOUND)
			return err;
	}
	return KV_OK;
}

static enum kv_err put_hard_state(struct log_store *ls, struct kv_txn *txn, const struct raft_hard_state *hs)
{
	unsigned char value[HARD_STATE_BYTES];

	wire_store_u64(value, hs->term);
	wire_store_u64(value + 8, hs->vote);
	wire_store_u64(value + 16, hs->commit);
	return kv_put(txn, ls->state, HARD_STATE_KEY, strlen(HARD_STATE_KEY), value, sizeof(value));
}

enum kv_err log_store_write(struct log_store *ls, struct kv_txn *txn, const struct raft_ready *rd)
{
	struct buf value;
	enum kv_err err = KV_OK;

	if (rd->has_hard_state) {
		err = put_hard_state(ls, txn, &rd->hard_state);
		if (err != KV_OK)
			return err;
	}
	if (rd->n_entries == 0)
		return KV_OK;
	if (rd->entries[0].index <= ls->last_index) {
		err = delete_range(ls, txn, rd->entries[0].index, ls->last_index);
		if (err != KV_OK)
			return err;
	}
	buf_init(&value, ENTRY_VALUE_MAX_BYTES);
	for (size_t i = 0; i < rd->n_entries && err == KV_OK; i++) {
		unsigned char key[8];

		buf_reset(&value);
		wire_put_entry_value(&value, &rd->entries[i]);
		if (value.failed) {
			err = KV_NO_MEMORY;
			break;
		}
		wire_store_u64(key, rd->entries[i].index);
		err = kv_put(txn, ls->log, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

static enum kv_err put_meta(struct log_store *ls, struct kv_txn *txn, const struct raft_snapshot_meta *meta)
{
	struct buf value;
	enum kv_err err;

	buf_init(&value, 1024);
	log_store_put_meta(&value, meta);
	err = value.failed ? KV_NO_MEMORY
			   : kv_put(txn, ls->state, SNAPSHOT_KEY, strlen(SNAPSHOT_KEY), value.data, value.len);
	buf_free(&value);
	return err;
}

enum kv_err log_store_compact(struct log_store *ls, struct kv_txn *txn, const struct raft_snapshot_meta *meta)
{
	enum kv_err err = put_meta(ls, txn, meta);

	if (err == KV_OK && meta->index >= ls->first_index)
		err = delete_range(ls, txn, ls->first_index, meta->index);
	return err;
}

void log_store_compacted(struct log_store *ls, const struct raft_snapshot_meta *meta)
{
	if (meta->index >= ls->first_index)
		ls->first_index = meta->index + 1;
	if (ls->last_index < meta->index)
		ls->last_index = meta->index;
}

enum kv_err log_store_replace(struct log_store *ls, struct kv_txn *txn, const struct raft_hard_state *hs,
			      const struct raft_snapshot_meta *meta, const struct raft_entry *entries, size_t n)
{
	struct raft_ready rd = {.has_hard_state = true, .hard_state = *hs, .entries = (struct raft_entry *)entries,
				.n_entries = n};
	struct kv_cursor *cursor;
	struct kv_val key, value;
	uint64_t *keys = NULL;
	size_t count = 0, cap = 0;
	enum kv_err err = kv_scan_begin(txn, ls->log, NULL, 0, NULL, 0, &cursor);
	bool scanning = err == KV_OK;

	/* Collect first: LMDB cursors must not outlive deletes made beside them. */
	while (scanning && (err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
		if (key.len != 8)
			continue;
		if (count == cap) {
			uint64_t *grown = realloc(keys, (cap = cap ? cap * 2 : 1024) * sizeof(*keys));

			if (grown == NULL) {
				err = KV_NO_MEMORY;
				break;
			}
			keys = grown;
		}
		keys[count++] = wire_load_u64(key.data);
	}
	if (scanning)
		kv_scan_end(cursor);
	if (err == KV_NOT_FOUND)
		err = KV_OK;
	for (size_t i = 0; i < count && err == KV_OK; i++) {
		unsigned char k[8];

		wire_store_u64(k, keys[i]);
		err = kv_del(txn, ls->log, k, sizeof(k));
	}
	free(keys);
	ls->last_index = 0;
	if (err == KV_OK)
		err = put_meta(ls, txn, meta);
	if (err == KV_OK)
		err = log_store_write(ls, txn, &rd);
	return err;
}

void log_store_written(struct log_store *ls, const struct raft_ready *rd)
{
	if (rd->n_entries > 0)
		ls->last_index = rd->entries[rd->n_entries - 1].index;
}
