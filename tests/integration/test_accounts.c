/*
 * Accounts against the real jkd binary: registration rules, login and its
 * throttling, sessions by bearer token and by cookie with CSRF, logout and
 * password change revoking sessions, and administrators created by the
 * operator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/accounts_helpers.h"

static struct jkd_node node;

static int node_setup(void **state)
{
	static const char *const flags[] = {TEST_AUTH_FLAGS, "--auth-login-account-attempts", "3",
					    "--auth-login-address-attempts", "100000", NULL};

	(void)state;
	jkd_start(&node, false, flags);
	return 0;
}

static int node_teardown(void **state)
{
	(void)state;
	assert_int_equal(jkd_stop(&node), 0);
	jkd_cleanup(&node);
	return 0;
}

static void assert_field(const struct http_reply *reply, int status, const char *field)
{
	char expected[128];

	assert_int_equal(reply->status, status);
	snprintf(expected, sizeof(expected), "\"field\":\"%s\"", field);
	if (strstr(reply->body, expected) == NULL)
		fail_msg("expected a problem naming %s, got: %s", field, reply->body);
}

static int me_status(const char *headers)
{
	struct http_reply reply;
	int status;

	http_request(node.port, "GET", "/api/v1/me", headers, NULL, 0, &reply);
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

static void register_returns_session(void **state)
{
	struct test_session session;
	struct http_reply reply;

	(void)state;
	register_customer(&node, "lucia@example.es", "camiseta2024", &session);
	http_request(node.port, "GET", "/api/v1/me", session.bearer, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "\"email\":\"lucia@example.es\""));
	assert_non_null(strstr(reply.body, "\"role\":\"customer\""));
	http_reply_free(&reply);
}

static void email_is_normalised(void **state)
{
	struct test_session session;
	struct http_reply reply;

	(void)state;
	register_customer(&node, "  Pablo.Ruiz@Example.ES ", "zapatillas42", &session);
	assert_int_equal(login(&node, "pablo.ruiz@example.es", "zapatillas42", &session), 200);
	api_post(&node, "/api/v1/auth/register", NULL,
		 "{\"email\":\"PABLO.RUIZ@example.es\",\"password\":\"zapatillas42\",\"name\":\"Otro\"}", &reply);
	assert_field(&reply, 409, "email");
	http_reply_free(&reply);
}

static void weak_password_states_rules(void **state)
{
	struct http_reply reply;

	(void)state;
	api_post(&node, "/api/v1/auth/register", NULL,
		 "{\"email\":\"corto@example.es\",\"password\":\"abc\",\"name\":\"Corto\"}", &reply);
	assert_field(&reply, 400, "password");
	assert_non_null(strstr(reply.body, "10"));
	assert_non_null(strstr(reply.body, "letra"));
	http_reply_free(&reply);

	api_post(&node, "/api/v1/auth/register", NULL,
		 "{\"email\":\"corto@example.es\",\"password\":\"solamenteletras\",\"name\":\"Corto\"}", &reply);
	assert_field(&reply, 400, "password");
	http_reply_free(&reply);
}

static void invalid_email_names_field(void **state)
{
	static const char *const emails[] = {"sin-arroba", "a@b", "@example.es", "dos@@example.es",
					     "espacio en@example.es"};
	struct http_reply reply;
	char body[256];

	(void)state;
	for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
		snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"valida12345\",\"name\":\"X\"}",
			 emails[i]);
		api_post(&node, "/api/v1/auth/register", NULL, body, &reply);
		if (reply.status != 400 || strstr(reply.body, "\"field\":\"email\"") == NULL)
			fail_msg("email \"%s\" got %d: %s", emails[i], reply.status, reply.body);
		http_reply_free(&reply);
	}
}

static void missing_fields_are_named(void **state)
{
	struct http_reply reply;

	(void)state;
	api_post(&node, "/api/v1/auth/register", NULL, "{\"email\":\"x@example.es\",\"password\":\"valida12345\"}",
		 &reply);
	assert_field(&reply, 400, "name");
	http_reply_free(&reply);
	api_post(&node, "/api/v1/auth/login", NULL, "{\"email\":\"x@example.es\"}", &reply);
	assert_field(&reply, 400, "password");
	http_reply_free(&reply);
}

static void non_json_body_gets_415(void **state)
{
	struct http_reply reply;
	static const char body[] = "email=x@example.es";

	(void)state;
	http_request(node.port, "POST", "/api/v1/auth/login", "Content-Type: application/x-www-form-urlencoded\r\n",
		     body, strlen(body), &reply);
	assert_int_equal(reply.status, 415);
	http_reply_free(&reply);
}

static void wrong_password_gets_401(void **state)
{
	struct test_session session;

	(void)state;
	register_customer(&node, "marta@example.es", "vestidorojo1", &session);
	assert_int_equal(login(&node, "marta@example.es", "vestidoazul1", &session), 401);
	assert_int_equal(login(&node, "nadie@example.es", "vestidorojo1", &session), 401);
}

static void repeated_failures_get_429(void **state)
{
	struct test_session session;
	struct http_reply reply;
	char retry[32];

	(void)state;
	register_customer(&node, "bloqueo@example.es", "abrigolargo9", &session);
	for (int i = 0; i < 3; i++)
		assert_int_equal(login(&node, "bloqueo@example.es", "incorrecta99", &session), 401);
	api_post(&node, "/api/v1/auth/login", NULL,
		 "{\"email\":\"bloqueo@example.es\",\"password\":\"abrigolargo9\"}", &reply);
	assert_int_equal(reply.status, 429);
	assert_true(http_reply_header(&reply, "Retry-After", retry, sizeof(retry)));
	assert_true(atoi(retry) > 0);
	http_reply_free(&reply);
}

static void login_issues_new_token(void **state)
{
	struct test_session first, second;

	(void)state;
	register_customer(&node, "fijacion@example.es", "chaqueta2025", &first);
	assert_int_equal(login(&node, "fijacion@example.es", "chaqueta2025", &second), 200);
	assert_string_not_equal(first.token, second.token);
	assert_string_not_equal(first.csrf, second.csrf);
}

static void unknown_token_gets_401(void **state)
{
	(void)state;
	assert_int_equal(me_status("Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"), 401);
	assert_int_equal(me_status("Authorization: Bearer short\r\n"), 401);
	assert_int_equal(me_status(NULL), 401);
}

static void cookie_session_needs_csrf(void **state)
{
	struct test_session session;
	struct http_reply reply;
	char headers[512];

	(void)state;
	register_customer(&node, "cookie@example.es", "sudadera2024", &session);
	assert_int_equal(me_status(session.cookie), 200);

	api_post(&node, "/api/v1/auth/logout", session.cookie, "{}", &reply);
	assert_field(&reply, 403, "X-CSRF-Token");
	http_reply_free(&reply);
	assert_int_equal(me_status(session.cookie), 200);

	snprintf(headers, sizeof(headers), "%sX-CSRF-Token: %s\r\n", session.cookie, session.csrf);
	api_post(&node, "/api/v1/auth/logout", headers, "{}", &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	assert_int_equal(me_status(session.cookie), 401);
}

static void me_returns_csrf_to_cookie_session(void **state)
{
	struct test_session session;
	struct http_reply reply;
	char expected[96];

	(void)state;
	register_customer(&node, "pestana@example.es", "chaqueta2024", &session);
	snprintf(expected, sizeof(expected), "\"csrf_token\":\"%s\"", session.csrf);

	http_request(node.port, "GET", "/api/v1/me", session.cookie, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, expected));
	http_reply_free(&reply);

	/* A bearer client never needs the CSRF token. */
	http_request(node.port, "GET", "/api/v1/me", session.bearer, NULL, 0, &reply);
	assert_int_equal(reply.status, 200);
	assert_null(strstr(reply.body, "csrf_token"));
	http_reply_free(&reply);
}

static void logout_revokes_only_that_session(void **state)
{
	struct test_session phone, laptop;
	struct http_reply reply;

	(void)state;
	register_customer(&node, "dos@example.es", "pantalones22", &phone);
	assert_int_equal(login(&node, "dos@example.es", "pantalones22", &laptop), 200);
	api_post(&node, "/api/v1/auth/logout", phone.bearer, "{}", &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	assert_int_equal(me_status(phone.bearer), 401);
	assert_int_equal(me_status(laptop.bearer), 200);
}

static void password_change_revokes_all_sessions(void **state)
{
	struct test_session phone, laptop, fresh;
	struct http_reply reply;
	char token[64];

	(void)state;
	register_customer(&node, "cambio@example.es", "bufanda12345", &phone);
	assert_int_equal(login(&node, "cambio@example.es", "bufanda12345", &laptop), 200);
	api_post(&node, "/api/v1/me/password", phone.bearer,
		 "{\"current_password\":\"bufanda12345\",\"new_password\":\"guantes67890\"}", &reply);
	assert_int_equal(reply.status, 200);
	json_member(reply.body, "token", token, sizeof(token));
	http_reply_free(&reply);

	assert_int_equal(me_status(phone.bearer), 401);
	assert_int_equal(me_status(laptop.bearer), 401);
	snprintf(fresh.bearer, sizeof(fresh.bearer), "Authorization: Bearer %s\r\n", token);
	assert_int_equal(me_status(fresh.bearer), 200);
	assert_int_equal(login(&node, "cambio@example.es", "bufanda12345", &fresh), 401);
	assert_int_equal(login(&node, "cambio@example.es", "guantes67890", &fresh), 200);
}

static void password_change_checks_current(void **state)
{
	struct test_session session;
	struct http_reply reply;

	(void)state;
	register_customer(&node, "actual@example.es", "calcetines11", &session);
	api_post(&node, "/api/v1/me/password", session.bearer,
		 "{\"current_password\":\"equivocada11\",\"new_password\":\"gorrolana123\"}", &reply);
	assert_field(&reply, 403, "current_password");
	http_reply_free(&reply);
	api_post(&node, "/api/v1/me/password", session.bearer,
		 "{\"current_password\":\"calcetines11\",\"new_password\":\"corta\"}", &reply);
	assert_field(&reply, 400, "new_password");
	http_reply_free(&reply);
	assert_int_equal(me_status(session.bearer), 200);
}

static void operator_creates_admin(void **state)
{
	struct test_session admin;
	struct http_reply reply;

	(void)state;
	create_admin(&node, "jefa@jkd.es", "tiendajkd2026", &admin);
	http_request(node.port, "GET", "/api/v1/me", admin.bearer, NULL, 0, &reply);
	assert_non_null(strstr(reply.body, "\"role\":\"admin\""));
	http_reply_free(&reply);
}

static void admin_route_needs_operator_token(void **state)
{
	static const char body[] = "{\"email\":\"intruso@jkd.es\",\"password\":\"tiendajkd2026\",\"name\":\"X\"}";
	struct http_reply reply;

	(void)state;
	http_request(node.operator_port, "POST", "/ops/v1/admins", "Content-Type: application/json\r\n", body,
		     strlen(body), &reply);
	assert_int_equal(reply.status, 401);
	http_reply_free(&reply);
	http_request(node.port, "POST", "/ops/v1/admins", "Content-Type: application/json\r\n", body, strlen(body),
		     &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void bearer_token_buys_node_cookie(void **state)
{
	struct test_session session;
	struct http_reply reply;
	char cookie[256], headers[320], csrf[64];

	(void)state;
	register_customer(&node, "otro-nodo@example.es", "cazadora2026", &session);
	api_post(&node, "/api/v1/auth/cookie", session.bearer, "{}", &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "Set-Cookie", cookie, sizeof(cookie)));
	assert_non_null(strstr(cookie, session.token));
	assert_non_null(strstr(cookie, "HttpOnly"));
	json_member(reply.body, "csrf_token", csrf, sizeof(csrf));
	assert_string_equal(csrf, session.csrf);
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "%sX-CSRF-Token: %s\r\n", session.cookie, session.csrf);
	api_post(&node, "/api/v1/auth/cookie", headers, "{}", &reply);
	assert_field(&reply, 400, "Authorization");
	http_reply_free(&reply);
}

static void sessions_survive_restart(void **state)
{
	struct test_session session;

	(void)state;
	register_customer(&node, "reinicio@example.es", "cinturon2024", &session);
	assert_int_equal(jkd_stop(&node), 0);
	jkd_start(&node, true, (const char *const[]){TEST_AUTH_FLAGS, "--auth-login-address-attempts", "100000", NULL});
	assert_int_equal(me_status(session.bearer), 200);
}

static void address_limit_gets_429(void **state)
{
	static const char *const flags[] = {TEST_AUTH_FLAGS, "--auth-login-address-attempts", "4", NULL};
	struct test_session session;
	struct jkd_node limited;
	char email[64];

	(void)state;
	jkd_start(&limited, false, flags);
	/* Four attempts on different accounts pass the account limit but use up the address's. */
	for (int i = 0; i < 4; i++) {
		snprintf(email, sizeof(email), "cliente%d@example.es", i);
		assert_int_equal(login(&limited, email, "cualquiera123", &session), 401);
	}
	assert_int_equal(login(&limited, "otro@example.es", "cualquiera123", &session), 429);
	assert_int_equal(jkd_stop(&limited), 0);
	jkd_cleanup(&limited);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_returns_session),
		cmocka_unit_test(email_is_normalised),
		cmocka_unit_test(weak_password_states_rules),
		cmocka_unit_test(invalid_email_names_field),
		cmocka_unit_test(missing_fields_are_named),
		cmocka_unit_test(non_json_body_gets_415),
		cmocka_unit_test(wrong_password_gets_401),
		cmocka_unit_test(repeated_failures_get_429),
		cmocka_unit_test(login_issues_new_token),
		cmocka_unit_test(unknown_token_gets_401),
		cmocka_unit_test(cookie_session_needs_csrf),
		cmocka_unit_test(me_returns_csrf_to_cookie_session),
		cmocka_unit_test(logout_revokes_only_that_session),
		cmocka_unit_test(password_change_revokes_all_sessions),
		cmocka_unit_test(password_change_checks_current),
		cmocka_unit_test(operator_creates_admin),
		cmocka_unit_test(admin_route_needs_operator_token),
		cmocka_unit_test(bearer_token_buys_node_cookie),
		cmocka_unit_test(sessions_survive_restart),
		cmocka_unit_test(address_limit_gets_429),
	};

	return cmocka_run_group_tests(tests, node_setup, node_teardown);
}
