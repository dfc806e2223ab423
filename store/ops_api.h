/*
 * Operator routes about the node's replicated state (/ops/v1/digest).
 */
#ifndef JKD_STORE_OPS_API_H
#define JKD_STORE_OPS_API_H

#include "store/http/http.h"

struct node;

/*
 * Name prefixes of the tables that hold a node's own replication state
 * (the Raft log, term and vote, the applied index). Their content differs
 * between nodes that hold the same shop, so the digest leaves them out.
 */
#define OPS_NODE_LOCAL_TABLE_PREFIXES {"raft_", "repl_"}

/* Registers GET /ops/v1/digest on the operator router. Returns 0 or -1. */
int ops_api_register(struct http_router *router, struct node *node);

#endif
