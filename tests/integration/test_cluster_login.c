/*
 * Login on a node that cannot reach a majority: the node issues a signed
 * session (store/signed_session.h) instead of a replicated one. The
 * session works on that node, on the other nodes once they are back, and a
 * logout revokes it on every node.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/accounts_helpers.h"
#include "tests/integration/cluster.h"

#define TIMEOUT_MS 15000
#define EMAIL "lucia@example.es"
#define PASSWORD "una-clave-larga-7"

static const char *const auth_flags[] = {TEST_AUTH_FLAGS, NULL};
static struct cluster cluster;

static int cluster_setup(void **state)
{
	(void)state;
	cluster_start(&cluster, 3, auth_flags);
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	return 0;
}

static int me_status(size_t member, const struct test_session *session)
{
	struct http_reply reply;
	int status;

	http_request(cluster.members[member].node->port, "GET", "/api/v1/me", session->bearer, NULL, 0, &reply);
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

/*
 * Registers the customer, kills every node but one follower and logs in
 * there. Returns the survivor's index; *session gets the signed session.
 */
static size_t login_cut_off(struct test_session *session)
{
	size_t leader = cluster_wait_leader(&cluster, TIMEOUT_MS);
	size_t survivor = cluster_follower(&cluster, leader);
	struct test_session registered;
	int status;

	register_customer(cluster.members[leader].node, EMAIL, PASSWORD, &registered);
	cluster_wait_applied(&cluster, cluster_applied_max(&cluster), TIMEOUT_MS);
	for (size_t i = 0; i < cluster.count; i++)
		if (i != survivor)
			cluster_node_kill(&cluster, i);
	status = login(cluster.members[survivor].node, EMAIL, PASSWORD, session);
	if (status != 200)
		fail_msg("login without a majority returned %d; log: %s", status,
			 cluster.members[survivor].node->log_path);
	return survivor;
}

static void restart_others(size_t survivor)
{
	for (size_t i = 0; i < cluster.count; i++)
		if (i != survivor)
			cluster_node_start(&cluster, i);
	cluster_wait_leader(&cluster, TIMEOUT_MS);
}

static void login_without_majority_succeeds(void **state)
{
	struct test_session session;
	size_t survivor = login_cut_off(&session);

	(void)state;
	assert_int_equal(strncmp(session.token, "s.", 2), 0);
	assert_int_equal(me_status(survivor, &session), 200);
}

static void signed_session_works_on_other_nodes(void **state)
{
	struct test_session session;
	size_t survivor = login_cut_off(&session);

	(void)state;
	restart_others(survivor);
	for (size_t i = 0; i < cluster.count; i++)
		assert_int_equal(me_status(i, &session), 200);
}

static void logout_revokes_signed_session_everywhere(void **state)
{
	struct test_session session;
	size_t survivor = login_cut_off(&session), other;
	struct http_reply reply;

	(void)state;
	restart_others(survivor);
	other = (survivor + 1) % cluster.count;
	api_post(cluster.members[other].node, "/api/v1/auth/logout", session.bearer, "{}", &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	cluster_wait_applied(&cluster, cluster_applied_max(&cluster), TIMEOUT_MS);
	for (size_t i = 0; i < cluster.count; i++)
		assert_int_equal(me_status(i, &session), 401);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(login_without_majority_succeeds, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(signed_session_works_on_other_nodes, cluster_setup, cluster_teardown),
		cmocka_unit_test_setup_teardown(logout_revokes_signed_session_everywhere, cluster_setup,
						cluster_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
