/*
 * A node: the LMDB environment, the log writer, the state machine and the
 * HTTP listeners, assembled from one configuration and torn down in reverse.
 */
#ifndef JKD_STORE_NODE_H
#define JKD_STORE_NODE_H

#include <stddef.h>

#include "common/config.h"
#include "common/i18n.h"
#include "kv/kv.h"
#include "replication/repl.h"
#include "store/apply.h"
#include "store/ratelimit.h"
#include "store/http/http.h"

struct node_config {
	char *data_dir;
	char *listen;
	char *operator_listen;
	char *operator_token_file;
	char *log_level;
	unsigned workers;
	unsigned max_connections;
	unsigned header_max_bytes;
	unsigned body_max_bytes;
	unsigned kv_value_max_bytes;
	unsigned header_timeout_ms;
	unsigned body_timeout_ms;
	unsigned idle_timeout_ms;
	unsigned shutdown_timeout_ms;
	unsigned batch_max;
	unsigned queue_max;
	size_t map_size_bytes;
	size_t map_size_max_bytes;
	unsigned session_ttl_hours;
	unsigned hash_memory_mb;
	unsigned hash_ops;
	unsigned hash_jobs_max;
	unsigned login_account_attempts;
	unsigned login_address_attempts;
	unsigned cookie_secure;
	unsigned node_id;
	char *cluster_listen;
	char *cluster_peers;
	char *cluster_bootstrap;
	char *cluster_key_file;
	char *cluster_origins;
	unsigned tick_ms;
	unsigned election_ticks;
	unsigned write_timeout_ms;
	unsigned compact_entries;
};

extern const struct config_option node_config_options[];
extern const size_t node_config_option_count;

#define OPERATOR_TOKEN_BYTES 32     /* random bytes; a created token is their hex form */
#define OPERATOR_TOKEN_MIN_CHARS 16
#define OPERATOR_TOKEN_MAX_CHARS 128 /* longer tokens in a token file are rejected */

#define NODE_WORKERS_MAX 256 /* the largest --http-workers */
#define NODE_ORIGINS_MAX 9    /* http.cluster_origins entries, one per node at most */
#define NODE_ORIGIN_MAX_CHARS 255

struct node_worker;

struct node {
	struct node_config config;
	struct kv_env *env;
	struct store store;
	struct repl *repl;
	struct http_router *public_router;
	struct http_router *operator_router;
	struct http_server *server;
	char operator_token[OPERATOR_TOKEN_MAX_CHARS + 1];
	struct ratelimit login_by_account; /* failed logins per email */
	struct ratelimit login_by_address; /* login and register attempts per client address */
	_Atomic unsigned hash_jobs;        /* Argon2id jobs queued or running */
	int lock_fd;                       /* holds the exclusive lock on <data_dir>/jkd.lock */
	struct node_worker *workers[NODE_WORKERS_MAX]; /* freed by node_stop(), see worker_stop() */
	char **argv;                       /* the command line, to restart after a snapshot install */
	unsigned char session_key[32];     /* signs sessions made without a majority, from the cluster key */
	bool has_session_key;              /* only a node with a cluster key has one */
	char *origins[NODE_ORIGINS_MAX];   /* the cluster's public origins (http.cluster_origins), parsed */
	size_t origin_count;
	char *security_headers;            /* the HTTP server's security headers, with those origins in the CSP */
};

/* State of one HTTP worker thread. */
struct node_worker {
	struct node *node;
	struct repl_inbox *inbox;
	uv_loop_t *loop;
};

/*
 * Checks the cluster settings that flags and the file cannot check one by
 * one (the peer and bootstrap lists, and that peers need a listen
 * address). Returns 0, or -1 with a message in lang in err.
 */
int node_cluster_config_check(const struct node_config *config, enum i18n_lang lang, char *err, size_t size);

/* Opens storage, starts the log writer and the HTTP server. Returns 0 or -1 (logged). */
int node_start(struct node *node);

/* Stops serving (gracefully), stops the writer and closes storage. */
void node_stop(struct node *node);

/*
 * Creates the public and operator routers with every route of the node.
 * Needs only node->config; node_start() calls it.
 */
int node_routes_register(struct node *node);

/* Registers the operator raw KV routes (/kv/v1/...). */
int kv_api_register(struct http_router *router, struct node *node);

/* Registers the operator's cluster routes (/ops/v1/cluster...). */
int cluster_routes_register(struct http_router *router, struct node *node);
/* Registers GET /api/v1/nodes, the cluster's public origins, on the shop's router. */
int cluster_public_routes_register(struct http_router *router, struct node *node);

/*
 * The HTTP server's before_handler: defers a request that requires
 * read-your-writes (X-Jkd-Min-Index) or a linearizable read
 * (X-Jkd-Consistency) until this node has applied enough.
 */
bool node_before_handler(struct http_request *req, void *ctx);

/* Checks "Authorization: Bearer <operator token>"; on failure responds 401 and returns false. */
bool node_require_operator(struct http_request *req);

#endif
