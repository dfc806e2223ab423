/* Audit log of admin changes; see audit.h. */
#include "store/audit.h"

#include <string.h>

#define SCHEMA_VERSION 1
#define COUNTER "audit"

void audit_actor_pack(struct rec_writer *w, uint64_t user_id, const char *email, uint64_t at_ms)
{
	rec_put_u64(w, "by", user_id);
	rec_put_cstr(w, "by_email", email);
	rec_put_u64(w, "at", at_ms);
}

bool audit_actor_read(const struct rec *command, struct audit_actor *out)
{
	return rec_get_u64(command, "by", &out->user_id) &&
	       rec_get_str(command, "by_email", &out->email, &out->email_len) &&
	       rec_get_u64(command, "at", &out->at_ms);
}

enum kv_err audit_append(struct store *store, struct kv_txn *txn, const struct audit_actor *actor,
			 uint32_t command_type, const char *action, uint64_t target_id, const char *summary)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	uint64_t seq;
	size_t summary_len = strnlen(summary, AUDIT_SUMMARY_MAX_BYTES);
	enum kv_err err = store_next_id(store, txn, COUNTER, &seq);

	if (err != KV_OK)
		return err;
	/* Cutting must not split a UTF-8 sequence, or the entry would not encode as JSON. */
	while (summary_len > 0 && summary_len < strlen(summary) && ((unsigned char)summary[summary_len] & 0xc0) == 0x80)
		summary_len--;
	buf_init(&value, 4096);
	rec_begin(&w, &value, STORE_RECORD_AUDIT, SCHEMA_VERSION, 7);
	rec_put_u64(&w, "user", actor->user_id);
	rec_put_str(&w, "email", actor->email, actor->email_len);
	rec_put_u64(&w, "command", command_type);
	rec_put_cstr(&w, "action", action);
	rec_put_u64(&w, "target", target_id);
	rec_put_str(&w, "summary", summary, summary_len);
	rec_put_u64(&w, "at", actor->at_ms);
	err = KV_NO_MEMORY;
	if (rec_end(&w) == 0) {
		key_put_u64(key, seq);
		err = kv_put(txn, store->audit, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

static json_t *entry_json(uint64_t seq, const void *data, size_t len, enum kv_err *err)
{
	struct rec r;
	const char *email, *action, *summary;
	size_t email_len, action_len, summary_len;
	uint64_t user, command, target, at;
	json_t *json = NULL;

	*err = rec_decode(&r, data, len, STORE_RECORD_AUDIT);
	if (*err == KV_OK && rec_get_u64(&r, "user", &user) && rec_get_str(&r, "email", &email, &email_len) &&
	    rec_get_u64(&r, "command", &command) && rec_get_str(&r, "action", &action, &action_len) &&
	    rec_get_u64(&r, "target", &target) && rec_get_str(&r, "summary", &summary, &summary_len) &&
	    rec_get_u64(&r, "at", &at))
		json = json_pack("{s:I, s:{s:I, s:s%}, s:I, s:s%, s:I, s:s%, s:I}", "seq", (json_int_t)seq, "who",
				 "user_id", (json_int_t)user, "email", email, email_len, "command",
				 (json_int_t)command, "action", action, action_len, "target", (json_int_t)target,
				 "summary", summary, summary_len, "at", (json_int_t)at);
	else if (*err == KV_OK)
		*err = KV_BAD_RECORD;
	rec_free(&r);
	if (json == NULL && *err == KV_OK)
		*err = KV_NO_MEMORY;
	return json;
}

json_t *audit_page_json(struct store *store, struct kv_txn *txn, uint64_t before, size_t limit, enum kv_err *err)
{
	json_t *entries = json_array();
	uint64_t total, seq;
	unsigned char key[8];
	struct kv_val val;

	*err = store_counter_get(store, txn, COUNTER, &total);
	if (entries == NULL || *err != KV_OK)
		goto fail;
	seq = before == 0 || before > total + 1 ? total + 1 : before;
	/* Sequence numbers have no gaps, so newest first is a walk down from the counter. */
	while (seq > 1 && json_array_size(entries) < limit) {
		json_t *entry;

		seq--;
		key_put_u64(key, seq);
		*err = kv_get(txn, store->audit, key, sizeof(key), &val);
		if (*err == KV_NOT_FOUND)
			continue;
		if (*err != KV_OK || (entry = entry_json(seq, val.data, val.len, err)) == NULL)
			goto fail;
		json_array_append_new(entries, entry);
	}
	*err = KV_OK;
	return json_pack("{s:o, s:I, s:o}", "entries", entries, "total", (json_int_t)total, "next_before",
			 seq > 1 ? json_integer((json_int_t)seq) : json_null());
fail:
	json_decref(entries);
	if (*err == KV_OK)
		*err = KV_NO_MEMORY;
	return NULL;
}
