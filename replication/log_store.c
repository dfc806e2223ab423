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

enum kv_err log_store_load(struct log_store *ls, struct raft_hard_state *hs, struct raft_entry **entries,
			   size_t *n)
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
	ls->last_index = *n > 0 ? (*entries)[*n - 1].index : 0;
	return KV_OK;
}

/* Deletes every stored entry from index on. */
static enum kv_err truncate_from(struct log_store *ls, struct kv_txn *txn, uint64_t index)
{
	for (uint64_t i = index; i <= ls->last_index; i++) {
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
		err = truncate_from(ls, txn, rd->entries[0].index);
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

void log_store_written(struct log_store *ls, const struct raft_ready *rd)
{
	if (rd->n_entries > 0)
		ls->last_index = rd->entries[rd->n_entries - 1].index;
}
