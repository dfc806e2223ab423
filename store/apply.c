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
#include "store/accounts.h"
#include "store/catalog.h"
#include "store/cart.h"
#include "store/codec.h"
#include "store/search.h"
#include "store/orders.h"

#define COMMAND_SCHEMA_VERSION 1
#define RECORD_SCHEMA_VERSION 1

struct kv_command {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	struct store_kv_condition condition;
};

static int buf_write_cb(void *data, const char *bytes, size_t len)
{
	return buf_append(data, bytes, len) ? 0 : -1;
}

/* Packs a condition: a STORE_IF_* integer, or an array of versions (empty: never matches). */
static void condition_pack(msgpack_packer *pk, const struct store_kv_condition *c)
{
	if (c->count == 0 && !c->never) {
		msgpack_pack_uint64(pk, c->if_version);
		return;
	}
	msgpack_pack_array(pk, (uint32_t)c->count);
	for (size_t i = 0; i < c->count; i++)
		msgpack_pack_uint64(pk, c->versions[i]);
}

static int condition_unpack(const msgpack_object *o, struct store_kv_condition *c)
{
	memset(c, 0, sizeof(*c));
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		c->if_version = o->via.u64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > STORE_IF_VERSIONS_MAX)
		return -1;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -1;
		c->versions[c->count++] = o->via.array.ptr[i].via.u64;
	}
	c->never = c->count == 0;
	return 0;
}

int store_command_kv_put(struct buf *out, const void *key, size_t key_len, const void *value,
			 size_t value_len, const struct store_kv_condition *condition)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, buf_write_cb);
	kv_record_begin(&pk, STORE_COMMAND_KV_PUT, COMMAND_SCHEMA_VERSION);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin_with_body(&pk, key, key_len);
	msgpack_pack_bin_with_body(&pk, value, value_len);
	condition_pack(&pk, condition);
	return out->failed ? -1 : 0;
}

int store_command_kv_delete(struct buf *out, const void *key, size_t key_len,
			    const struct store_kv_condition *condition)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, buf_write_cb);
	kv_record_begin(&pk, STORE_COMMAND_KV_DELETE, COMMAND_SCHEMA_VERSION);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, key, key_len);
	condition_pack(&pk, condition);
	return out->failed ? -1 : 0;
}

static int decode_kv_command(const msgpack_object *body, bool with_value, struct kv_command *out)
{
	const msgpack_object *items = body->via.array.ptr;
	size_t expected = with_value ? 3 : 2;

	if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != expected)
		return -1;
	if (items[0].type != MSGPACK_OBJECT_BIN || condition_unpack(&items[expected - 1], &out->condition) != 0)
		return -1;
	out->key = items[0].via.bin.ptr;
	out->key_len = items[0].via.bin.size;
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

static int set_result(struct repl_result *result, int status, uint64_t version, uint64_t previous)
{
	struct store_kv_result *data = malloc(sizeof(*data));

	result->status = status;
	if (data == NULL)
		return -1;
	data->version = version;
	data->previous = previous;
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

static bool version_matches(const struct store_kv_condition *c, uint64_t current)
{
	if (c->never)
		return false;
	if (c->count > 0) {
		for (size_t i = 0; i < c->count; i++) {
			if (current != 0 && c->versions[i] == current)
				return true;
		}
		return false;
	}
	if (c->if_version == STORE_IF_PRESENT)
		return current != 0;
	return c->if_version == STORE_IF_ANY || c->if_version == current;
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
	if (!version_matches(&cmd->condition, version))
		return set_result(result, STORE_VERSION_MISMATCH, version, version) == 0 ? KV_OK : KV_NO_MEMORY;

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
	if (err == KV_OK && set_result(result, STORE_OK, index, version) != 0)
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
	/* A conditional delete of a missing key fails its condition (412), an unconditional one is 404. */
	if (version == 0 && cmd->condition.if_version == STORE_IF_ANY && cmd->condition.count == 0 &&
	    !cmd->condition.never)
		return set_result(result, STORE_NOT_FOUND, 0, 0) == 0 ? KV_OK : KV_NO_MEMORY;
	if (!version_matches(&cmd->condition, version))
		return set_result(result, STORE_VERSION_MISMATCH, version, version) == 0 ? KV_OK : KV_NO_MEMORY;
	err = kv_del(txn, store->raw, cmd->key, cmd->key_len);
	if (err == KV_OK && set_result(result, STORE_OK, version, version) != 0)
		return KV_NO_MEMORY;
	return err;
}

/* Domains and the command types each applies. */
static const struct {
	uint32_t first;
	uint32_t end;
	store_domain_apply_fn apply;
} domains[] = {
	{STORE_COMMANDS_ACCOUNTS, STORE_COMMANDS_CATALOG, accounts_apply},
	{STORE_COMMANDS_CATALOG, STORE_COMMANDS_CART, catalog_apply},
	{STORE_COMMANDS_CART, STORE_COMMANDS_ORDERS, cart_apply},
	{STORE_COMMANDS_ORDERS, STORE_COMMANDS_END, orders_apply},
};

static enum kv_err apply_shop_command(struct store *store, struct kv_txn *txn, uint64_t index,
				      const void *command, size_t command_len, uint32_t type,
				      struct repl_result *result)
{
	struct rec rec;
	enum kv_err err = KV_OK;
	size_t i;

	for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		if (type >= domains[i].first && type < domains[i].end)
			break;
	}
	if (i == sizeof(domains) / sizeof(domains[0]) ||
	    rec_decode(&rec, command, command_len, type) != KV_OK ||
	    rec.header.schema_version != COMMAND_SCHEMA_VERSION)
		result->status = STORE_BAD_COMMAND;
	else
		err = domains[i].apply(store, txn, index, type, &rec, result);
	rec_free(&rec);
	return err;
}

static enum kv_err apply_raw_command(struct store *store, struct kv_txn *txn, uint64_t index,
				     const struct kv_record_header *header, const msgpack_object *body,
				     struct repl_result *result)
{
	struct kv_command cmd;
	bool with_value = header->type == STORE_COMMAND_KV_PUT;

	if (header->schema_version != COMMAND_SCHEMA_VERSION || decode_kv_command(body, with_value, &cmd) != 0 ||
	    cmd.key_len == 0) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	if (with_value)
		return apply_kv_put(store, txn, index, &cmd, result);
	return apply_kv_delete(store, txn, &cmd, result);
}

enum kv_err store_apply(void *state_machine, struct kv_txn *txn, uint64_t index, const void *command,
			size_t command_len, struct repl_result *result)
{
	struct store *store = state_machine;
	struct kv_record_header header;
	const msgpack_object *body;
	msgpack_unpacked unpacked;
	enum kv_err err = KV_OK;

	msgpack_unpacked_init(&unpacked);
	if (kv_record_decode(command, command_len, &unpacked, &header, &body) != KV_OK) {
		result->status = STORE_BAD_COMMAND;
	} else if (header.type == STORE_COMMAND_KV_PUT || header.type == STORE_COMMAND_KV_DELETE) {
		err = apply_raw_command(store, txn, index, &header, body, result);
	} else {
		msgpack_unpacked_destroy(&unpacked);
		msgpack_unpacked_init(&unpacked);
		err = apply_shop_command(store, txn, index, command, command_len, header.type, result);
	}
	msgpack_unpacked_destroy(&unpacked);
	return err;
}

enum kv_err store_next_id(struct store *store, struct kv_txn *txn, const char *name, uint64_t *out)
{
	struct kv_val val;
	unsigned char bytes[8];
	uint64_t value = 0;
	enum kv_err err = kv_get(txn, store->counters, name, strlen(name), &val);

	if (err == KV_OK && val.len == sizeof(bytes))
		value = key_get_u64(val.data);
	else if (err == KV_OK)
		return KV_BAD_RECORD;
	else if (err != KV_NOT_FOUND)
		return err;
	key_put_u64(bytes, ++value);
	err = kv_put(txn, store->counters, name, strlen(name), bytes, sizeof(bytes));
	if (err == KV_OK)
		*out = value;
	return err;
}

enum kv_err store_counter_get(struct store *store, struct kv_txn *txn, const char *name, uint64_t *out)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, store->counters, name, strlen(name), &val);

	*out = 0;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err == KV_OK && val.len != 8)
		return KV_BAD_RECORD;
	if (err == KV_OK)
		*out = key_get_u64(val.data);
	return err;
}

enum kv_err store_result_json(struct repl_result *result, int status, json_t *json)
{
	char *text = NULL;

	result->status = status;
	result->data = NULL;
	result->len = 0;
	if (json == NULL)
		return KV_OK;
	text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(json);
	if (text == NULL)
		return KV_NO_MEMORY;
	result->data = text;
	result->len = strlen(text);
	return KV_OK;
}

enum kv_err store_result_error_json(struct repl_result *result, int status, const char *code,
				    const char *field, const char *message, json_t *details)
{
	json_t *json = details != NULL ? details : json_object();

	if (json == NULL)
		return KV_NO_MEMORY;
	json_object_set_new(json, "code", json_string(code));
	json_object_set_new(json, "message", json_string(message));
	if (field != NULL)
		json_object_set_new(json, "field", json_string(field));
	return store_result_json(result, status, json);
}

enum kv_err store_result_error(struct repl_result *result, int status, const char *code, const char *field,
			       const char *message)
{
	return store_result_error_json(result, status, code, field, message, NULL);
}

enum kv_err store_open(struct kv_env *env, struct store *out)
{
	const struct {
		const char *name;
		kv_table *table;
	} tables[] = {
		{"raw", &out->raw},
		{"counters", &out->counters},
		{"users", &out->users},
		{"users_by_email", &out->users_by_email},
		{"sessions", &out->sessions},
		{"sessions_by_user", &out->sessions_by_user},
		{"categories", &out->categories},
		{"products", &out->products},
		{"products_by_slug", &out->products_by_slug},
		{"variants", &out->variants},
		{"variants_by_sku", &out->variants_by_sku},
		{"product_views", &out->product_views},
		{"images", &out->images},
		{"catalog_links", &out->catalog_links},
		{"catalog_index", &out->catalog_index},
		{"carts", &out->carts},
		{"orders", &out->orders},
		{"orders_index", &out->orders_index},
		{"audit", &out->audit},
	};
	enum kv_err err = KV_OK;

	memset(out, 0, sizeof(*out));
	out->env = env;
	out->product_changed = search_reindex_product;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && err == KV_OK; i++)
		err = kv_table_open(env, tables[i].name, tables[i].table);
	return err;
}
