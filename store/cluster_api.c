/*
 * Cluster routes and read consistency.
 *
 * Operator routes: GET /ops/v1/cluster (replication status and members),
 * POST /ops/v1/cluster/members (add a node), DELETE
 * /ops/v1/cluster/members/{id} (remove one) and POST
 * /ops/v1/cluster/transfer (hand leadership to a node).
 *
 * Read consistency applies to every routed request on both listeners.
 * "X-Jkd-Min-Index: N" makes the node wait until it has applied index N,
 * the index a write response reported (read-your-writes across nodes).
 * "X-Jkd-Consistency: linearizable" makes it first learn the leader's
 * commit index (ReadIndex) and then wait until it has applied that. Both
 * waits are bounded by cluster.write_timeout_ms and end in 503 after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "store/api.h"
#include "store/node.h"

#define MIN_INDEX_HEADER "X-Jkd-Min-Index"
#define CONSISTENCY_HEADER "X-Jkd-Consistency"

static void respond_not_consistent(struct http_request *req, enum repl_err err)
{
	log_info("consistent_read_failed", "rid=%s err=\"%s\"", req->request_id, repl_strerror(err));
	http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "not_caught_up", NULL,
				     "This node cannot confirm that it has the latest data right now. Retry in a moment.");
}

static void consistency_done(void *ctx, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct http_request *req = ctx;

	(void)index;
	(void)result;
	if (err != REPL_OK) {
		respond_not_consistent(req, err);
		return;
	}
	http_request_run_handler(req);
}

/* Parses the header as a decimal index; responds 400 naming it when malformed. */
static bool header_index(struct http_request *req, const char *value, size_t len, uint64_t *out)
{
	char text[24];
	char *end;

	if (len == 0 || len >= sizeof(text) || value[0] < '0' || value[0] > '9')
		goto bad;
	memcpy(text, value, len);
	text[len] = '\0';
	errno = 0;
	*out = strtoull(text, &end, 10);
	if (errno == 0 && *end == '\0')
		return true;
bad:
	http_respond_problem(req, 400, "invalid_header", MIN_INDEX_HEADER,
			     "X-Jkd-Min-Index must be a log index: a non-negative decimal number.");
	return false;
}

bool node_before_handler(struct http_request *req, void *ctx)
{
	struct node *node = ctx;
	struct node_worker *worker = req->worker_data;
	size_t min_len, mode_len;
	const char *min_text = http_header_get(req, MIN_INDEX_HEADER, &min_len);
	const char *mode = http_header_get(req, CONSISTENCY_HEADER, &mode_len);
	bool linearizable = false;
	uint64_t min_index = 0;
	enum repl_err err;

	if (min_text == NULL && mode == NULL)
		return true;
	if (min_text != NULL && !header_index(req, min_text, min_len, &min_index))
		return false;
	if (mode != NULL) {
		if (mode_len == strlen("linearizable") && strncasecmp(mode, "linearizable", mode_len) == 0) {
			linearizable = true;
		} else if (!(mode_len == strlen("local") && strncasecmp(mode, "local", mode_len) == 0)) {
			http_respond_problem(req, 400, "invalid_header", CONSISTENCY_HEADER,
					     "X-Jkd-Consistency must be \"linearizable\" or \"local\".");
			return false;
		}
	}
	if (!linearizable && min_index <= repl_applied_index(node->repl))
		return true;
	if (worker->inbox == NULL)
		err = REPL_STOPPED;
	else if (linearizable)
		err = repl_read_barrier(node->repl, worker->inbox, consistency_done, req);
	else
		err = repl_wait_applied(node->repl, worker->inbox, min_index, consistency_done, req);
	if (err != REPL_OK)
		respond_not_consistent(req, err);
	return false;
}

/* Operator routes */

static void handle_cluster_status(struct http_request *req)
{
	struct node *node = req->route_ctx;
	struct repl_status s;
	json_t *members, *body;

	if (!node_require_operator(req))
		return;
	repl_get_status(node->repl, &s);
	members = json_array();
	for (size_t i = 0; i < s.member_count; i++)
		json_array_append_new(members, json_pack("{s:i, s:s, s:b}", "id", (int)s.members[i].id, "address",
							 s.members[i].address, "voter", s.members[i].voter));
	body = json_pack("{s:i, s:s, s:I, s:i, s:I, s:I, s:I, s:o}", "node_id", (int)s.node_id, "role", s.role, "term",
			 (json_int_t)s.term, "leader", (int)s.leader, "commit_index", (json_int_t)s.commit_index,
			 "applied_index", (json_int_t)s.applied_index, "last_index", (json_int_t)s.last_index,
			 "members", members);
	http_respond_json(req, 200, body, "Cache-Control: no-store\r\n");
}

static void handle_transfer(struct http_request *req);

static void member_done(void *ctx, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct http_request *req = ctx;

	(void)index;
	(void)result;
	if (err == REPL_OK) {
		http_respond_json(req, 202, json_pack("{s:b}", "accepted", 1), NULL);
		return;
	}
	if (err == REPL_INVALID && req->route->def.handler == handle_transfer) {
		http_respond_problem(req, 422, "invalid_member", "id",
				     "Leadership can only go to a voting member of the cluster.");
		return;
	}
	if (err == REPL_INVALID) {
		http_respond_problem(req, 422, "invalid_member", "id",
				     "The node cannot be added or removed: it is already a member, is not one, or the cluster is full.");
		return;
	}
	if (err == REPL_BUSY) {
		http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "membership_change_pending", NULL,
					     "Another membership change is still in progress. Retry in a moment.");
		return;
	}
	if (!api_respond_repl_error(req, err)) {
		log_error("member_change_failed", "rid=%s err=\"%s\"", req->request_id, repl_strerror(err));
		http_respond_problem(req, 500, "internal", NULL, "The change failed. The node's log has the cause.");
	}
}

static void member_request(struct http_request *req, enum repl_member_op op, uint32_t id, const char *address)
{
	struct node *node = req->route_ctx;
	struct node_worker *worker = req->worker_data;
	enum repl_err err = worker->inbox != NULL
				    ? repl_member_change(node->repl, worker->inbox, op, id, address, member_done, req)
				    : REPL_STOPPED;

	if (err != REPL_OK)
		member_done(req, err, 0, NULL);
}

/* Reads {"id": N} and, when want_address, {"address": "tcp://host:port"}. */
static bool member_body(struct http_request *req, bool want_address, uint32_t *id, char *address, size_t size)
{
	json_t *body = api_json_body(req);
	int64_t value;
	const char *text = NULL;
	bool ok;

	if (body == NULL)
		return false;
	ok = api_integer(req, body, "id", true, 1, REPL_NODE_ID_MAX, &value) &&
	     (!want_address || api_string(req, body, "address", true, 7, size - 1, false, &text));
	if (ok && text != NULL && strncmp(text, "tcp://", 6) != 0) {
		http_respond_problem(req, 422, "invalid_address", "address",
				     "The address must be a nanomsg TCP address such as tcp://10.0.0.4:7401.");
		ok = false;
	}
	if (ok) {
		*id = (uint32_t)value;
		snprintf(address, size, "%s", text != NULL ? text : "");
	}
	json_decref(body);
	return ok;
}

static void handle_member_add(struct http_request *req)
{
	char address[REPL_ADDRESS_MAX];
	uint32_t id;

	if (node_require_operator(req) && member_body(req, true, &id, address, sizeof(address)))
		member_request(req, REPL_MEMBER_ADD, id, address);
}

static void handle_member_remove(struct http_request *req)
{
	uint64_t id;

	if (!node_require_operator(req) || !api_path_id(req, "id", &id))
		return;
	if (id > REPL_NODE_ID_MAX) {
		http_respond_problem(req, 422, "invalid_member", "id", "Node ids go from 1 to 255.");
		return;
	}
	member_request(req, REPL_MEMBER_REMOVE, (uint32_t)id, NULL);
}

static void handle_transfer(struct http_request *req)
{
	char address[REPL_ADDRESS_MAX];
	uint32_t id;

	if (node_require_operator(req) && member_body(req, false, &id, address, sizeof(address)))
		member_request(req, REPL_LEADER_TRANSFER, id, NULL);
}

/*
 * GET /api/v1/nodes: the public origins of the cluster's nodes, so that a
 * page served by one node can retry on another when that node fails.
 */
static void handle_nodes(struct http_request *req)
{
	struct node *node = req->route_ctx;
	json_t *origins = json_array();

	for (size_t i = 0; i < node->origin_count; i++)
		json_array_append_new(origins, json_string(node->origins[i]));
	http_respond_json(req, 200, json_pack("{s:o}", "nodes", origins), "Cache-Control: max-age=60\r\n");
}

int cluster_public_routes_register(struct http_router *router, struct node *node)
{
	const struct http_route_def route = {HTTP_METHOD_GET, "/api/v1/nodes", handle_nodes, node, 0};

	return http_router_add(router, &route);
}

int cluster_routes_register(struct http_router *router, struct node *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_GET, "/ops/v1/cluster", handle_cluster_status, node, 0},
		{HTTP_METHOD_POST, "/ops/v1/cluster/members", handle_member_add, node, 4096},
		{HTTP_METHOD_DELETE, "/ops/v1/cluster/members/{id}", handle_member_remove, node, 0},
		{HTTP_METHOD_POST, "/ops/v1/cluster/transfer", handle_transfer, node, 4096},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	return 0;
}
