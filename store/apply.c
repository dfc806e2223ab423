/*
 * Apply functions of the commands in apply.h, one per command type.
 *
 * A raw KV key's version is the log index of the command that last wrote
 * it, so versions grow on every write and every replica agrees on them.
 */
#include "store/apply.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/record.h"

#define COMMAND_SCHEMA_VERSION 1
#define RECORD_SCHEMA_VERSION 1

struct kv_command {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	uint64_t if_version;
};

static int buf_write_cb(void *data, const char *bytes, size_t len)
{
	return buf_append(data, bytes, len) ? 0 : -1;
}

int store_command_kv_put(struct buf *out, const void *key, size_t key_len, const void *value,
			 size_t value_len, uint64_t if_version)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, buf_write_cb);
	kv_record_begin(&pk, STORE_COMMAND_KV_PUT, COMMAND_SCHEMA_VERSION);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin_with_body(&pk, key, key_len);
	msgpack_pack_bin_with_body(&pk, value, value_len);
	msgpack_pack_uint64(&pk, if_version);
	return out->failed ? -1 : 0;
}

int store_command_kv_delete(struct buf *out, const void *key, size_t key_len, uint64_t if_version)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, buf_write_cb);
	kv_record_begin(&pk, STORE_COMMAND_KV_DELETE, COMMAND_SCHEMA_VERSION);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, key, key_len);
	msgpack_pack_uint64(&pk, if_version);
	return out->failed ? -1 : 0;
}

static int decode_kv_command(const msgpack_object *body, bool with_value, struct kv_command *out)
{
	const msgpack_object *items = body->via.array.ptr;
	size_t expected = with_value ? 3 : 2;

	if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != expected)
		return -1;
	if (items[0].type != MSGPACK_OBJECT_BIN || items[expected - 1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	out->key = items[0].via.bin.ptr;
	out->key_len = items[0].via.bin.size;
	out->if_version = items[expected - 1].via.u64;
	out->value = NULL;
	out->value_len = 0;
	if (with_value) {
		if (items[1].type != MSGPACK_OBJECT_BIN)
			return -1;
		out->value = items[1].via.bin.ptr;
		out->value_len = items[1].via.bin.size;
	}
	return 0;
}

int store_raw_value_decode(const void *data, size_t len, uint64_t *version, const void **value,
			   size_t *value_len)
{
	struct kv_record_header header;
	const msgpack_object *body, *items;
	msgpack_unpacked unpacked;
	int rc = -1;

	msgpack_unpacked_init(&unpacked);
	if (kv_record_decode(data, len, &unpacked, &header, &body) != KV_OK ||
	    header.type != STORE_RECORD_RAW_VALUE || header.schema_version != RECORD_SCHEMA_VERSION ||
	    body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != 2)
		goto out;
	items = body->via.array.ptr;
	if (items[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || items[1].type != MSGPACK_OBJECT_BIN)
		goto out;
	/* msgpack_unpack_next() leaves bin objects pointing into data, so *value outlives unpacked. */
	*version = items[0].via.u64;
	*value = items[1].via.bin.ptr;
	*value_len = items[1].via.bin.size;
	rc = 0;
out:
	msgpack_unpacked_destroy(&unpacked);
	return rc;
}

static int set_result(struct repl_result *result, int status, uint64_t version)
{
	struct store_kv_result *data = malloc(sizeof(*data));

	result->status = status;
	if (data == NULL)
		return -1;
	data->version = version;
	result->data = data;
	result->len = sizeof(*data);
	return 0;
}

/* Reads the key's current version: 0 if absent. */
static enum kv_err current_version(struct store *store, struct kv_txn *txn, const struct kv_command *cmd,
				   uint64_t *version)
{
	struct kv_val val;
	const void *value;
	size_t value_len;
	enum kv_err err = kv_get(txn, store->raw, cmd->key, cmd->key_len, &val);

	*version = 0;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (store_raw_value_decode(val.data, val.len, version, &value, &value_len) != 0)
		return KV_BAD_RECORD;
	return KV_OK;
}

static bool version_matches(uint64_t if_version, uint64_t current)
{
	if (if_version == STORE_IF_PRESENT)
		return current != 0;
	return if_version == STORE_IF_ANY || if_version == current;
}

static enum kv_err apply_kv_put(struct store *store, struct kv_txn *txn, uint64_t index,
				const struct kv_command *cmd, struct repl_result *result)
{
	struct buf stored;
	msgpack_packer pk;
	uint64_t version;
	enum kv_err err = current_version(store, txn, cmd, &version);

	if (err != KV_OK)
		return err;
	if (!version_matches(cmd->if_version, version))
		return set_result(result, STORE_VERSION_MISMATCH, version) == 0 ? KV_OK : KV_NO_MEMORY;

	buf_init(&stored, SIZE_MAX);
	msgpack_packer_init(&pk, &stored, buf_write_cb);
	kv_record_begin(&pk, STORE_RECORD_RAW_VALUE, RECORD_SCHEMA_VERSION);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, index);
	msgpack_pack_bin_with_body(&pk, cmd->value, cmd->value_len);
	if (stored.failed) {
		buf_free(&stored);
		return KV_NO_MEMORY;
	}
	err = kv_put(txn, store->raw, cmd->key, cmd->key_len, stored.data, stored.len);
	buf_free(&stored);
	if (err == KV_OK && set_result(result, STORE_OK, index) != 0)
		return KV_NO_MEMORY;
	return err;
}

static enum kv_err apply_kv_delete(struct store *store, struct kv_txn *txn, const struct kv_command *cmd,
				   struct repl_result *result)
{
	uint64_t version;
	enum kv_err err = current_version(store, txn, cmd, &version);

	if (err != KV_OK)
		return err;
	if (version == 0)
		return set_result(result, STORE_NOT_FOUND, 0) == 0 ? KV_OK : KV_NO_MEMORY;
	if (!version_matches(cmd->if_version, version))
		return set_result(result, STORE_VERSION_MISMATCH, version) == 0 ? KV_OK : KV_NO_MEMORY;
	err = kv_del(txn, store->raw, cmd->key, cmd->key_len);
	if (err == KV_OK && set_result(result, STORE_OK, version) != 0)
		return KV_NO_MEMORY;
	return err;
}

enum kv_err store_apply(void *state_machine, struct kv_txn *txn, uint64_t index, const void *command,
			size_t command_len, struct repl_result *result)
{
	struct store *store = state_machine;
	struct kv_record_header header;
	const msgpack_object *body;
	struct kv_command cmd;
	msgpack_unpacked unpacked;
	enum kv_err err = KV_OK;

	msgpack_unpacked_init(&unpacked);
	if (kv_record_decode(command, command_len, &unpacked, &header, &body) != KV_OK ||
	    header.schema_version != COMMAND_SCHEMA_VERSION) {
		result->status = STORE_BAD_COMMAND;
		goto out;
	}
	switch (header.type) {
	case STORE_COMMAND_KV_PUT:
		if (decode_kv_command(body, true, &cmd) != 0 || cmd.key_len == 0)
			result->status = STORE_BAD_COMMAND;
		else
			err = apply_kv_put(store, txn, index, &cmd, result);
		break;
	case STORE_COMMAND_KV_DELETE:
		if (decode_kv_command(body, false, &cmd) != 0 || cmd.key_len == 0)
			result->status = STORE_BAD_COMMAND;
		else
			err = apply_kv_delete(store, txn, &cmd, result);
		break;
	default:
		result->status = STORE_BAD_COMMAND;
		break;
	}
out:
	msgpack_unpacked_destroy(&unpacked);
	return err;
}

enum kv_err store_open(struct kv_env *env, struct store *out)
{
	memset(out, 0, sizeof(*out));
	out->env = env;
	return kv_table_open(env, "raw", &out->raw);
}
