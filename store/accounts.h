/*
 * Accounts: users, roles and sessions.
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str) on the
 * libuv thread pool by the node that took the request, never in apply and
 * never on an event loop. A session is a random 32-byte token given to the
 * client once. The state keeps only its SHA-256, so every node can verify a
 * token from its own LMDB and a copy of the state reveals no usable token.
 * Logout deletes the session; a password change deletes every session of
 * the user. Both are commands, so they take effect on every replica.
 *
 * Records:
 *   user    {email, name, role ("customer"|"admin"), hash, created_at, password_changed_at}
 *   session {user, csrf, created_at, expires_at}
 * Register and login commands may carry guest_cart, the SHA-256 of a guest
 * cart token: apply then merges that cart into the user's (cart.h).
 * Times are milliseconds since the Unix epoch, stamped by the proposing node.
 */
#ifndef JKD_STORE_ACCOUNTS_H
#define JKD_STORE_ACCOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/http/http.h"

enum accounts_command {
	ACCOUNTS_REGISTER = STORE_COMMANDS_ACCOUNTS, /* new user, optionally with a first session */
	ACCOUNTS_SESSION_CREATE,                     /* login */
	ACCOUNTS_SESSION_DELETE,                     /* logout */
	ACCOUNTS_PASSWORD_CHANGE,                    /* new hash, every session revoked, one new session */
};

#define ACCOUNTS_EMAIL_MAX 254
#define ACCOUNTS_NAME_MAX_CHARS 100
#define ACCOUNTS_CSRF_CHARS 43 /* base64url of 32 random bytes */
#define ACCOUNTS_TOKEN_CHARS 43

enum accounts_role {
	ACCOUNTS_ROLE_CUSTOMER = 1,
	ACCOUNTS_ROLE_ADMIN = 2,
};

struct accounts_user {
	uint64_t id;
	enum accounts_role role;
	char email[ACCOUNTS_EMAIL_MAX + 1];
	char name[4 * ACCOUNTS_NAME_MAX_CHARS + 1];
	uint64_t created_at_ms;
	uint64_t password_changed_at_ms;
};

struct accounts_session {
	uint64_t user_id;
	uint64_t created_at_ms;
	uint64_t expires_at_ms;
	char csrf[ACCOUNTS_CSRF_CHARS + 1];
};

/* Reads user id. Returns KV_OK, KV_NOT_FOUND or a kv error. */
enum kv_err accounts_user_get(struct store *store, struct kv_txn *txn, uint64_t user_id,
			      struct accounts_user *out);

/*
 * Reads the session whose token hashes to token_hash, and its user.
 * Expiry is not checked here (apply has no clock); the caller compares
 * expires_at_ms with its own time.
 */
enum kv_err accounts_session_get(struct store *store, struct kv_txn *txn,
				 const unsigned char token_hash[32], struct accounts_session *session,
				 struct accounts_user *user);

/* Reads the stored Argon2id hash string of user_id into out. */
enum kv_err accounts_user_hash(struct store *store, struct kv_txn *txn, uint64_t user_id, char *out,
			       size_t out_size);

/* Finds the user id of a normalised email. Returns KV_OK or KV_NOT_FOUND. */
enum kv_err accounts_user_by_email(struct store *store, struct kv_txn *txn, const char *email, uint64_t *user_id);

/*
 * Normalises an email (trimmed, ASCII letters in lower case) into out and
 * checks its form. Returns false if it is not an address.
 */
bool accounts_email_normalise(const char *in, char *out, size_t out_size);

/* Returns {"id", "email", "name", "role"} of user (new reference). */
json_t *accounts_user_json(const struct accounts_user *user);

/* The store_domain_apply_fn of the accounts commands. */
enum kv_err accounts_apply(struct store *store, struct kv_txn *txn, uint64_t index, uint32_t type,
			   const struct rec *command, struct repl_result *result);

/* Registers /api/v1/auth/..., /api/v1/me... on the public router and /ops/v1/admins on the operator router. */
int accounts_routes_register(struct http_router *public_router, struct http_router *operator_router,
			     void *node);

#endif
