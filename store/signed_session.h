/*
 * Signed sessions: login tokens that any node can check without the
 * replicated session table, made when a node cannot reach a majority.
 *
 * A node cut off from the majority cannot append the session to the Raft
 * log, yet shoppers should still be able to log in there. It then issues a
 * token that carries the user id, creation and expiry times and the time
 * of the user's last password change, sealed with a keyed BLAKE2b MAC
 * under a key derived from the cluster key. Every node has that key, so
 * the session survives a failover. A password change invalidates the token
 * (the time no longer matches) and a logout records its hash as revoked,
 * both through the log.
 */
#ifndef JKD_STORE_SIGNED_SESSION_H
#define JKD_STORE_SIGNED_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/accounts.h"

#define SIGNED_SESSION_KEY_BYTES 32
#define SIGNED_SESSION_PREFIX "s."
#define SIGNED_SESSION_TOKEN_CHARS 88 /* the prefix plus base64url of 64 bytes */

struct signed_session {
	uint64_t user_id;
	uint64_t created_at_ms;
	uint64_t expires_at_ms;
	uint64_t password_changed_at_ms;
};

/* Derives the signing key from the cluster key. */
void signed_session_key_derive(const unsigned char *cluster_key, size_t len,
			       unsigned char key[SIGNED_SESSION_KEY_BYTES]);

/* Writes the token of s and its CSRF token. */
void signed_session_make(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const struct signed_session *s,
			 char token[SIGNED_SESSION_TOKEN_CHARS + 1], char csrf[ACCOUNTS_CSRF_CHARS + 1]);

/* True if token has the signed form (it may still be forged). */
bool signed_session_is_signed(const char *token, size_t len);

/*
 * Checks token's MAC and decodes it into *out, with its CSRF token.
 * Returns false for a malformed or forged token. Expiry, the user and
 * revocation are the caller's to check.
 */
bool signed_session_open(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const char *token, size_t len,
			 struct signed_session *out, char csrf[ACCOUNTS_CSRF_CHARS + 1]);

#endif
