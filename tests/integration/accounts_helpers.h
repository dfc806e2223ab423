/*
 * Account helpers for integration tests: create an administrator through
 * the operator API, register customers and log in, returning the session
 * token and CSRF token.
 */
#ifndef JKD_TESTS_ACCOUNTS_HELPERS_H
#define JKD_TESTS_ACCOUNTS_HELPERS_H

#include "tests/integration/harness.h"

struct test_session {
	char token[128];  /* 43 characters, or 88 for a signed session */
	char csrf[64];
	char cookie[192]; /* "Cookie: jkd_session=...\r\n" */
	char bearer[192]; /* "Authorization: Bearer ...\r\n" */
};

/* Flags that make Argon2id cheap enough for tests (it is still Argon2id). */
#define TEST_AUTH_FLAGS "--auth-hash-memory-mb", "8", "--auth-hash-ops", "1"

/* Posts JSON to the public port; body is a NUL-terminated JSON text. */
void api_post(struct jkd_node *node, const char *path, const char *headers, const char *json,
	      struct http_reply *reply);

/* Registers a customer; fails the test unless it returns 201. Fills session. */
void register_customer(struct jkd_node *node, const char *email, const char *password,
		       struct test_session *session);

/* Creates an administrator through the operator API and logs in. */
void create_admin(struct jkd_node *node, const char *email, const char *password,
		  struct test_session *session);

/* Logs in; returns the HTTP status and fills session on 200. */
int login(struct jkd_node *node, const char *email, const char *password, struct test_session *session);

/* Copies the string member name of a JSON body into out; fails the test if absent. */
void json_member(const char *body, const char *name, char *out, size_t out_size);

#endif
