/*
 * Operator route GET /ops/v1/digest: a BLAKE2b-256 digest of every shop
 * table with the applied index it belongs to, read from one snapshot. Two
 * nodes that report the same applied index must report the same digest;
 * operators and tests compare them to find a diverged replica.
 */
#include "store/ops_api.h"

#include <sodium.h>
#include <string.h>

#include "common/log.h"
#include "kv/kv.h"
#include "store/node.h"

/*
 * Table and key of the replica's last applied index: 8 bytes, host byte
 * order. This mirrors REPL_META_TABLE and REPL_APPLIED_KEY in
 * replication/replica.c, which does not export them.
 */
#define APPLIED_INDEX_TABLE "repl_meta"
#define APPLIED_INDEX_KEY "applied_index"

/*
 * Handle of APPLIED_INDEX_TABLE, opened by ops_api_register(). Route
 * handlers get the node as their context (node_require_operator() needs
 * it), so the handle lives here.
 * NOTE: this assumes one node per process, as jkd runs.
 */
static kv_table applied_index_table;

/* Reads the applied index of txn's snapshot; 0 before the first command is applied. */
static enum kv_err applied_index_read(struct kv_txn *txn, kv_table table, uint64_t *index)
{
	struct kv_val val;
	enum kv_err err = kv_get(txn, table, APPLIED_INDEX_KEY, strlen(APPLIED_INDEX_KEY), &val);

	*index = 0;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (val.len != sizeof(*index))
		return KV_CORRUPT;
	memcpy(index, val.data, sizeof(*index));
	return KV_OK;
}

/* Computes the digest and the applied index from one read transaction, so that they match. */
static enum kv_err digest_read(struct kv_env *env, uint64_t *index, unsigned char digest[KV_DIGEST_BYTES])
{
	static const char *const excluded[] = OPS_NODE_LOCAL_TABLE_PREFIXES;
	struct kv_txn *txn;
	enum kv_err err = kv_read_begin(env, &txn);

	if (err != KV_OK)
		return err;
	err = applied_index_read(txn, applied_index_table, index);
	if (err == KV_OK)
		err = kv_digest(txn, excluded, sizeof(excluded) / sizeof(excluded[0]), digest);
	kv_read_end(txn);
	return err;
}

static void handle_digest(struct http_request *req)
{
	struct node *node = req->route_ctx;
	unsigned char digest[KV_DIGEST_BYTES];
	char hex[2 * KV_DIGEST_BYTES + 1];
	uint64_t index;
	enum kv_err err;

	if (!node_require_operator(req))
		return;
	err = digest_read(node->env, &index, digest);
	if (err != KV_OK) {
		log_error("digest_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 500, "internal", NULL, "The read failed. The node's log has the cause.");
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	http_respond_json(req, 200, json_pack("{s:I, s:s}", "applied_index", (json_int_t)index, "digest", hex),
			  "Cache-Control: no-store\r\n");
}

int ops_api_register(struct http_router *router, struct node *node)
{
	struct http_route_def digest = {HTTP_METHOD_GET, "/ops/v1/digest", handle_digest, node, 0};

	/* The OpenAPI test registers routes without storage. */
	if (node->env != NULL && kv_table_open(node->env, APPLIED_INDEX_TABLE, &applied_index_table) != KV_OK)
		return -1;
	return http_router_add(router, &digest);
}
