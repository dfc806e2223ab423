/*
 * Signed session tokens: a token opens under its key with the same fields
 * and CSRF token, and a changed character, another key or another length
 * is rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "store/signed_session.h"

static const struct signed_session sample = {
	.user_id = 42,
	.created_at_ms = 1796000000000,
	.expires_at_ms = 1797000000000,
	.password_changed_at_ms = 1795000000000,
};

static void key_make(unsigned char key[SIGNED_SESSION_KEY_BYTES], unsigned char fill)
{
	unsigned char cluster_key[32];

	memset(cluster_key, fill, sizeof(cluster_key));
	signed_session_key_derive(cluster_key, sizeof(cluster_key), key);
}

static void token_opens_with_same_fields(void **state)
{
	unsigned char key[SIGNED_SESSION_KEY_BYTES];
	char token[SIGNED_SESSION_TOKEN_CHARS + 1], csrf[ACCOUNTS_CSRF_CHARS + 1], opened_csrf[ACCOUNTS_CSRF_CHARS + 1];
	struct signed_session opened;

	(void)state;
	key_make(key, 1);
	signed_session_make(key, &sample, token, csrf);
	assert_int_equal(strlen(token), SIGNED_SESSION_TOKEN_CHARS);
	assert_true(signed_session_open(key, token, strlen(token), &opened, opened_csrf));
	assert_memory_equal(&opened, &sample, sizeof(sample));
	assert_string_equal(opened_csrf, csrf);
}

static void changed_character_rejected(void **state)
{
	unsigned char key[SIGNED_SESSION_KEY_BYTES];
	char token[SIGNED_SESSION_TOKEN_CHARS + 1], csrf[ACCOUNTS_CSRF_CHARS + 1];
	struct signed_session opened;

	(void)state;
	key_make(key, 1);
	signed_session_make(key, &sample, token, csrf);
	for (size_t i = 2; i < SIGNED_SESSION_TOKEN_CHARS; i++) {
		char forged[SIGNED_SESSION_TOKEN_CHARS + 1];

		memcpy(forged, token, sizeof(forged));
		forged[i] = forged[i] == 'A' ? 'B' : 'A';
		assert_false(signed_session_open(key, forged, strlen(forged), &opened, csrf));
	}
}

static void other_key_rejected(void **state)
{
	unsigned char key[SIGNED_SESSION_KEY_BYTES], other[SIGNED_SESSION_KEY_BYTES];
	char token[SIGNED_SESSION_TOKEN_CHARS + 1], csrf[ACCOUNTS_CSRF_CHARS + 1];
	struct signed_session opened;

	(void)state;
	key_make(key, 1);
	key_make(other, 2);
	signed_session_make(key, &sample, token, csrf);
	assert_false(signed_session_open(other, token, strlen(token), &opened, csrf));
}

static void other_length_rejected(void **state)
{
	unsigned char key[SIGNED_SESSION_KEY_BYTES];
	char token[SIGNED_SESSION_TOKEN_CHARS + 1], csrf[ACCOUNTS_CSRF_CHARS + 1];
	struct signed_session opened;

	(void)state;
	key_make(key, 1);
	signed_session_make(key, &sample, token, csrf);
	assert_false(signed_session_is_signed(token, SIGNED_SESSION_TOKEN_CHARS - 1));
	assert_false(signed_session_open(key, token, SIGNED_SESSION_TOKEN_CHARS - 1, &opened, csrf));
	assert_false(signed_session_is_signed("mFsxHRClTtJNDo4xIyCs1MrlU4MLnkhaA5D7PYV5VMA", 43));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_opens_with_same_fields),
		cmocka_unit_test(changed_character_rejected),
		cmocka_unit_test(other_key_rejected),
		cmocka_unit_test(other_length_rejected),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
