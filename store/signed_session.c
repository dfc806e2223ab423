/*
 * Signed session tokens; see signed_session.h.
 *
 * Token: "s." then base64url (no padding) of user id, created at, expires
 * at and password changed at (8 bytes each, big-endian), then a 32-byte
 * keyed BLAKE2b of those 32 bytes. The CSRF token is a keyed BLAKE2b of
 * the whole token under a different context, so it needs no storage.
 */
#include "store/signed_session.h"

#include <sodium.h>
#include <string.h>

#include "store/codec.h"

#define FIELDS_BYTES 32
#define MAC_BYTES 32
#define RAW_BYTES (FIELDS_BYTES + MAC_BYTES)
#define PREFIX_CHARS (sizeof(SIGNED_SESSION_PREFIX) - 1)

void signed_session_key_derive(const unsigned char *cluster_key, size_t len,
			       unsigned char key[SIGNED_SESSION_KEY_BYTES])
{
	static const char context[] = "jkd signed session key v1";

	crypto_generichash(key, SIGNED_SESSION_KEY_BYTES, (const unsigned char *)context, sizeof(context) - 1,
			   cluster_key, len);
}

static void mac(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const char *context, const void *data,
		size_t len, unsigned char out[MAC_BYTES])
{
	crypto_generichash_state state;

	crypto_generichash_init(&state, key, SIGNED_SESSION_KEY_BYTES, MAC_BYTES);
	crypto_generichash_update(&state, (const unsigned char *)context, strlen(context) + 1);
	crypto_generichash_update(&state, data, len);
	crypto_generichash_final(&state, out, MAC_BYTES);
}

static void csrf_of(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const char *token, size_t len,
		    char csrf[ACCOUNTS_CSRF_CHARS + 1])
{
	unsigned char raw[MAC_BYTES];

	mac(key, "csrf", token, len, raw);
	sodium_bin2base64(csrf, ACCOUNTS_CSRF_CHARS + 1, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void signed_session_make(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const struct signed_session *s,
			 char token[SIGNED_SESSION_TOKEN_CHARS + 1], char csrf[ACCOUNTS_CSRF_CHARS + 1])
{
	unsigned char raw[RAW_BYTES];

	key_put_u64(raw, s->user_id);
	key_put_u64(raw + 8, s->created_at_ms);
	key_put_u64(raw + 16, s->expires_at_ms);
	key_put_u64(raw + 24, s->password_changed_at_ms);
	mac(key, "session", raw, FIELDS_BYTES, raw + FIELDS_BYTES);
	memcpy(token, SIGNED_SESSION_PREFIX, PREFIX_CHARS);
	sodium_bin2base64(token + PREFIX_CHARS, SIGNED_SESSION_TOKEN_CHARS + 1 - PREFIX_CHARS, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	csrf_of(key, token, SIGNED_SESSION_TOKEN_CHARS, csrf);
}

bool signed_session_is_signed(const char *token, size_t len)
{
	return len == SIGNED_SESSION_TOKEN_CHARS && memcmp(token, SIGNED_SESSION_PREFIX, PREFIX_CHARS) == 0;
}

bool signed_session_open(const unsigned char key[SIGNED_SESSION_KEY_BYTES], const char *token, size_t len,
			 struct signed_session *out, char csrf[ACCOUNTS_CSRF_CHARS + 1])
{
	unsigned char raw[RAW_BYTES], expected[MAC_BYTES];
	size_t raw_len;

	if (!signed_session_is_signed(token, len) ||
	    sodium_base642bin(raw, sizeof(raw), token + PREFIX_CHARS, len - PREFIX_CHARS, NULL, &raw_len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    raw_len != RAW_BYTES)
		return false;
	mac(key, "session", raw, FIELDS_BYTES, expected);
	if (sodium_memcmp(expected, raw + FIELDS_BYTES, MAC_BYTES) != 0)
		return false;
	out->user_id = key_get_u64(raw);
	out->created_at_ms = key_get_u64(raw + 8);
	out->expires_at_ms = key_get_u64(raw + 16);
	out->password_changed_at_ms = key_get_u64(raw + 24);
	csrf_of(key, token, len, csrf);
	return true;
}
