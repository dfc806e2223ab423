/* Account helpers for integration tests; see accounts_helpers.h. */
#include "tests/integration/accounts_helpers.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

void api_post(struct jkd_node *node, const char *path, const char *headers, const char *json,
	      struct http_reply *reply)
{
	char all[2048];

	snprintf(all, sizeof(all), "Content-Type: application/json\r\n%s", headers != NULL ? headers : "");
	http_request(node->port, "POST", path, all, json, strlen(json), reply);
}

void json_member(const char *body, const char *name, char *out, size_t out_size)
{
	json_t *root = json_loads(body, 0, NULL);
	const char *value = json_string_value(json_object_get(root, name));

	if (value == NULL)
		fail_msg("response has no string member \"%s\": %s", name, body);
	snprintf(out, out_size, "%s", value);
	json_decref(root);
}

static void session_fill(const struct http_reply *reply, struct test_session *session)
{
	json_member(reply->body, "token", session->token, sizeof(session->token));
	json_member(reply->body, "csrf_token", session->csrf, sizeof(session->csrf));
	snprintf(session->cookie, sizeof(session->cookie), "Cookie: jkd_session=%s\r\n", session->token);
	snprintf(session->bearer, sizeof(session->bearer), "Authorization: Bearer %s\r\n", session->token);
}

void register_customer(struct jkd_node *node, const char *email, const char *password,
		       struct test_session *session)
{
	char body[512];
	struct http_reply reply;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Cliente de prueba\"}",
		 email, password);
	api_post(node, "/api/v1/auth/register", NULL, body, &reply);
	if (reply.status != 201)
		fail_msg("register %s returned %d: %s", email, reply.status, reply.body != NULL ? reply.body : "");
	session_fill(&reply, session);
	http_reply_free(&reply);
}

int login(struct jkd_node *node, const char *email, const char *password, struct test_session *session)
{
	char body[512];
	struct http_reply reply;
	int status;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
	api_post(node, "/api/v1/auth/login", NULL, body, &reply);
	status = reply.status;
	if (status == 200)
		session_fill(&reply, session);
	http_reply_free(&reply);
	return status;
}

void create_admin(struct jkd_node *node, const char *email, const char *password,
		  struct test_session *session)
{
	char body[512];
	struct http_reply reply;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Administradora\"}", email,
		 password);
	http_operator(node, "POST", "/ops/v1/admins", "Content-Type: application/json\r\n", body, strlen(body),
		      &reply);
	if (reply.status != 201)
		fail_msg("admin create returned %d: %s", reply.status, reply.body != NULL ? reply.body : "");
	http_reply_free(&reply);
	assert_int_equal(login(node, email, password, session), 200);
}
