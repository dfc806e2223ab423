/*
 * Apply functions of the accounts commands and the record readers; see
 * accounts.h. The HTTP side is in api_accounts.c.
 */
#include "store/accounts.h"

#include <stdlib.h>
#include <string.h>

#include "common/i18n.h"
#include "store/cart.h"
#include "store/codec.h"

#define SCHEMA_VERSION 1
#define TOKEN_HASH_BYTES 32
#define SESSIONS_PER_USER_MAX 1024 /* revoked in one password change */

static const char *role_name(enum accounts_role role)
{
	return role == ACCOUNTS_ROLE_ADMIN ? "admin" : "customer";
}

static enum kv_err user_decode(const void *data, size_t len, uint64_t id, struct accounts_user *out)
{
	struct rec r;
	uint64_t role = 0;
	enum kv_err err = rec_decode(&r, data, len, STORE_RECORD_USER);

	memset(out, 0, sizeof(*out));
	out->id = id;
	if (err == KV_OK && (!rec_get_str_copy(&r, "email", out->email, sizeof(out->email)) ||
			     !rec_get_str_copy(&r, "name", out->name, sizeof(out->name)) || !rec_get_u64(&r, "role", &role) ||
			     !rec_get_u64(&r, "created_at", &out->created_at_ms) ||
			     !rec_get_u64(&r, "password_changed_at", &out->password_changed_at_ms)))
		err = KV_BAD_RECORD;
	out->role = role == ACCOUNTS_ROLE_ADMIN ? ACCOUNTS_ROLE_ADMIN : ACCOUNTS_ROLE_CUSTOMER;
	rec_free(&r);
	return err;
}

enum kv_err accounts_user_get(struct store *store, struct kv_txn *txn, uint64_t user_id, struct accounts_user *out)
{
	unsigned char key[8];
	struct kv_val val;
	enum kv_err err;

	key_put_u64(key, user_id);
	err = kv_get(txn, store->users, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	return user_decode(val.data, val.len, user_id, out);
}

/* Reads the stored password hash of user_id into out (crypto_pwhash_STRBYTES). */
enum kv_err accounts_user_hash(struct store *store, struct kv_txn *txn, uint64_t user_id, char *out, size_t out_size)
{
	unsigned char key[8];
	struct kv_val val;
	struct rec r;
	enum kv_err err;

	key_put_u64(key, user_id);
	err = kv_get(txn, store->users, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	err = rec_decode(&r, val.data, val.len, STORE_RECORD_USER);
	if (err == KV_OK && !rec_get_str_copy(&r, "hash", out, out_size))
		err = KV_BAD_RECORD;
	rec_free(&r);
	return err;
}

enum kv_err accounts_user_by_email(struct store *store, struct kv_txn *txn, const char *email, uint64_t *user_id)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, store->users_by_email, email, strlen(email), &val);

	if (err != KV_OK)
		return err;
	if (val.len != 8)
		return KV_BAD_RECORD;
	*user_id = key_get_u64(val.data);
	return KV_OK;
}

enum kv_err accounts_session_get(struct store *store, struct kv_txn *txn, const unsigned char token_hash[32],
				 struct accounts_session *session, struct accounts_user *user)
{
	struct kv_val val;
	struct rec r;
	enum kv_err err = kv_get(txn, store->sessions, token_hash, TOKEN_HASH_BYTES, &val);

	if (err != KV_OK)
		return err;
	memset(session, 0, sizeof(*session));
	err = rec_decode(&r, val.data, val.len, STORE_RECORD_SESSION);
	if (err == KV_OK && (!rec_get_u64(&r, "user", &session->user_id) ||
			     !rec_get_u64(&r, "created_at", &session->created_at_ms) ||
			     !rec_get_u64(&r, "expires_at", &session->expires_at_ms) ||
			     !rec_get_str_copy(&r, "csrf", session->csrf, sizeof(session->csrf))))
		err = KV_BAD_RECORD;
	rec_free(&r);
	if (err != KV_OK)
		return err;
	return accounts_user_get(store, txn, session->user_id, user);
}

json_t *accounts_user_json(const struct accounts_user *user)
{
	return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)user->id, "email", user->email, "name", user->name,
			 "role", role_name(user->role));
}

static enum kv_err user_put(struct store *store, struct kv_txn *txn, const struct accounts_user *user,
			    const char *hash, size_t hash_len)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, 64 * 1024);
	rec_begin(&w, &value, STORE_RECORD_USER, SCHEMA_VERSION, 6);
	rec_put_cstr(&w, "email", user->email);
	rec_put_cstr(&w, "name", user->name);
	rec_put_u64(&w, "role", user->role);
	rec_put_str(&w, "hash", hash, hash_len);
	rec_put_u64(&w, "created_at", user->created_at_ms);
	rec_put_u64(&w, "password_changed_at", user->password_changed_at_ms);
	if (rec_end(&w) == 0) {
		key_put_u64(key, user->id);
		err = kv_put(txn, store->users, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

/* Session fields of a command: {token_hash, csrf, created_at, expires_at}, or absent. */
static enum kv_err session_put(struct store *store, struct kv_txn *txn, uint64_t user_id, const msgpack_object *map)
{
	struct rec r = {.body = map};
	const void *token_hash;
	size_t hash_len, csrf_len;
	const char *csrf;
	uint64_t created_at, expires_at;
	unsigned char index_key[8 + TOKEN_HASH_BYTES];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	if (!rec_get_bin(&r, "token_hash", &token_hash, &hash_len) || hash_len != TOKEN_HASH_BYTES ||
	    !rec_get_str(&r, "csrf", &csrf, &csrf_len) || !rec_get_u64(&r, "created_at", &created_at) ||
	    !rec_get_u64(&r, "expires_at", &expires_at))
		return KV_BAD_RECORD;

	buf_init(&value, 4096);
	rec_begin(&w, &value, STORE_RECORD_SESSION, SCHEMA_VERSION, 4);
	rec_put_u64(&w, "user", user_id);
	rec_put_str(&w, "csrf", csrf, csrf_len);
	rec_put_u64(&w, "created_at", created_at);
	rec_put_u64(&w, "expires_at", expires_at);
	if (rec_end(&w) == 0)
		err = kv_put(txn, store->sessions, token_hash, TOKEN_HASH_BYTES, value.data, value.len);
	buf_free(&value);
	if (err != KV_OK)
		return err;
	key_put_u64(index_key, user_id);
	memcpy(index_key + 8, token_hash, TOKEN_HASH_BYTES);
	return kv_put(txn, store->sessions_by_user, index_key, sizeof(index_key), "", 0);
}

static enum kv_err session_delete(struct store *store, struct kv_txn *txn, uint64_t user_id,
				  const unsigned char *token_hash)
{
	unsigned char index_key[8 + TOKEN_HASH_BYTES];
	enum kv_err err = kv_del(txn, store->sessions, token_hash, TOKEN_HASH_BYTES);

	if (err != KV_OK && err != KV_NOT_FOUND)
		return err;
	key_put_u64(index_key, user_id);
	memcpy(index_key + 8, token_hash, TOKEN_HASH_BYTES);
	err = kv_del(txn, store->sessions_by_user, index_key, sizeof(index_key));
	return err == KV_NOT_FOUND ? KV_OK : err;
}

/*
 * Records a signed session as revoked: an expired session record under its
 * token hash, which api_authenticate() refuses for signed tokens. It is
 * left out of the per-user index, because a password change already
 * invalidates every signed session of the user.
 */
static enum kv_err session_revoke(struct store *store, struct kv_txn *txn, uint64_t user_id,
				  const unsigned char *token_hash)
{
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, 1024);
	rec_begin(&w, &value, STORE_RECORD_SESSION, SCHEMA_VERSION, 4);
	rec_put_u64(&w, "user", user_id);
	rec_put_cstr(&w, "csrf", "");
	rec_put_u64(&w, "created_at", 0);
	rec_put_u64(&w, "expires_at", 0);
	if (rec_end(&w) == 0)
		err = kv_put(txn, store->sessions, token_hash, TOKEN_HASH_BYTES, value.data, value.len);
	buf_free(&value);
	return err;
}

/* Deletes every session of user_id. */
static enum kv_err sessions_delete_all(struct store *store, struct kv_txn *txn, uint64_t user_id)
{
	unsigned char prefix[8];
	unsigned char (*hashes)[TOKEN_HASH_BYTES] = malloc(SESSIONS_PER_USER_MAX * TOKEN_HASH_BYTES);
	struct kv_cursor *cursor;
	struct kv_val key, val;
	size_t count = 0;
	enum kv_err err;

	if (hashes == NULL)
		return KV_NO_MEMORY;
	key_put_u64(prefix, user_id);
	/* Keys are collected first because deleting under an open cursor would skip entries. */
	do {
		count = 0;
		err = kv_scan_begin(txn, store->sessions_by_user, prefix, sizeof(prefix), NULL, 0, &cursor);
		if (err != KV_OK)
			break;
		while (count < SESSIONS_PER_USER_MAX && kv_scan_next(cursor, &key, &val) == KV_OK) {
			if (key.len == sizeof(prefix) + TOKEN_HASH_BYTES)
				memcpy(hashes[count++], (const unsigned char *)key.data + sizeof(prefix), TOKEN_HASH_BYTES);
		}
		kv_scan_end(cursor);
		for (size_t i = 0; i < count && err == KV_OK; i++)
			err = session_delete(store, txn, user_id, hashes[i]);
	} while (err == KV_OK && count == SESSIONS_PER_USER_MAX);
	free(hashes);
	return err;
}

/* Merges the guest cart named by the command's guest_cart, if it has one, into user_id's cart. */
static enum kv_err guest_cart_merge(struct store *store, struct kv_txn *txn, const struct rec *cmd, uint64_t user_id)
{
	const void *hash;
	size_t len;

	if (!rec_get_bin(cmd, "guest_cart", &hash, &len) || len != TOKEN_HASH_BYTES)
		return KV_OK;
	return cart_merge_guest(store, txn, hash, user_id);
}

static enum kv_err apply_register(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				  struct repl_result *result)
{
	struct accounts_user user;
	const char *hash;
	size_t hash_len;
	uint64_t role, existing;
	unsigned char id_bytes[8];
	const msgpack_object *session = rec_get(cmd, "session");
	enum kv_err err;

	memset(&user, 0, sizeof(user));
	if (!rec_get_str_copy(cmd, "email", user.email, sizeof(user.email)) ||
	    !rec_get_str_copy(cmd, "name", user.name, sizeof(user.name)) || !rec_get_str(cmd, "hash", &hash, &hash_len) ||
	    !rec_get_u64(cmd, "role", &role) || !rec_get_u64(cmd, "created_at", &user.created_at_ms)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = accounts_user_by_email(store, txn, user.email, &existing);
	if (err == KV_OK)
		return store_result_error(result, STORE_CONFLICT, "email_taken", "email",
					  N_("An account with this email already exists. Log in or use another email."));
	if (err != KV_NOT_FOUND)
		return err;

	user.role = role == ACCOUNTS_ROLE_ADMIN ? ACCOUNTS_ROLE_ADMIN : ACCOUNTS_ROLE_CUSTOMER;
	user.password_changed_at_ms = user.created_at_ms;
	err = store_next_id(store, txn, "user", &user.id);
	if (err == KV_OK)
		err = user_put(store, txn, &user, hash, hash_len);
	key_put_u64(id_bytes, user.id);
	if (err == KV_OK)
		err = kv_put(txn, store->users_by_email, user.email, strlen(user.email), id_bytes, sizeof(id_bytes));
	if (err == KV_OK && session != NULL && session->type == MSGPACK_OBJECT_MAP)
		err = session_put(store, txn, user.id, session);
	if (err == KV_OK)
		err = guest_cart_merge(store, txn, cmd, user.id);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "user", accounts_user_json(&user)));
}

/* The user of a command, checked to exist and to have the expected password change time. */
static enum kv_err command_user(struct store *store, struct kv_txn *txn, const struct rec *cmd,
				struct accounts_user *user, struct repl_result *result, bool *found)
{
	uint64_t user_id, seen_changed_at;
	enum kv_err err;

	*found = false;
	if (!rec_get_u64(cmd, "user", &user_id) || !rec_get_u64(cmd, "password_changed_at", &seen_changed_at)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = accounts_user_get(store, txn, user_id, user);
	if (err == KV_NOT_FOUND || (err == KV_OK && user->password_changed_at_ms != seen_changed_at))
		return store_result_error(result, STORE_UNAUTHORIZED, "credentials_changed", NULL,
					  N_("The password of this account changed meanwhile. Log in again."));
	*found = err == KV_OK;
	return err;
}

static enum kv_err apply_session_create(struct store *store, struct kv_txn *txn, const struct rec *cmd,
					struct repl_result *result)
{
	struct accounts_user user;
	const msgpack_object *session = rec_get(cmd, "session");
	bool found;
	enum kv_err err = command_user(store, txn, cmd, &user, result, &found);

	if (err != KV_OK || !found)
		return err;
	if (session == NULL || session->type != MSGPACK_OBJECT_MAP) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = session_put(store, txn, user.id, session);
	if (err == KV_OK)
		err = guest_cart_merge(store, txn, cmd, user.id);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "user", accounts_user_json(&user)));
}

static enum kv_err apply_session_delete(struct store *store, struct kv_txn *txn, const struct rec *cmd,
					struct repl_result *result)
{
	const void *token_hash;
	size_t len;
	uint64_t user_id, revoke;
	enum kv_err err;

	if (!rec_get_bin(cmd, "token_hash", &token_hash, &len) || len != TOKEN_HASH_BYTES ||
	    !rec_get_u64(cmd, "user", &user_id)) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	err = session_delete(store, txn, user_id, token_hash);
	if (err == KV_OK && rec_get_u64(cmd, "revoke", &revoke) && revoke == 1)
		err = session_revoke(store, txn, user_id, token_hash);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, NULL);
}

static enum kv_err apply_password_change(struct store *store, struct kv_txn *txn, const struct rec *cmd,
					 struct repl_result *result)
{
	struct accounts_user user;
	const msgpack_object *session = rec_get(cmd, "session");
	const char *hash;
	size_t hash_len;
	uint64_t changed_at;
	bool found;
	enum kv_err err = command_user(store, txn, cmd, &user, result, &found);

	if (err != KV_OK || !found)
		return err;
	if (!rec_get_str(cmd, "hash", &hash, &hash_len) || !rec_get_u64(cmd, "changed_at", &changed_at) ||
	    session == NULL || session->type != MSGPACK_OBJECT_MAP) {
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
	/* A clock behind the previous change must not let an old hash look newer. */
	user.password_changed_at_ms = changed_at > user.password_changed_at_ms ? changed_at
									      : user.password_changed_at_ms + 1;
	err = sessions_delete_all(store, txn, user.id);
	if (err == KV_OK)
		err = user_put(store, txn, &user, hash, hash_len);
	if (err == KV_OK)
		err = session_put(store, txn, user.id, session);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "user", accounts_user_json(&user)));
}

enum kv_err accounts_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			   const struct rec *command, struct repl_result *result)
{
	(void)index;
	switch (type) {
	case ACCOUNTS_REGISTER:
		return apply_register(store, txn, command, result);
	case ACCOUNTS_SESSION_CREATE:
		return apply_session_create(store, txn, command, result);
	case ACCOUNTS_SESSION_DELETE:
		return apply_session_delete(store, txn, command, result);
	case ACCOUNTS_PASSWORD_CHANGE:
		return apply_password_change(store, txn, command, result);
	default:
		result->status = STORE_BAD_COMMAND;
		return KV_OK;
	}
}
