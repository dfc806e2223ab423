/*
 * Node assembly: configuration table, start-up in dependency order
 * (storage, state machine, log writer, HTTP) and shutdown in reverse.
 */
#include "store/node.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "replication/raft.h"
#include "replication/transport.h"
#include "store/accounts.h"
#include "store/catalog.h"
#include "store/search.h"
#include "store/cart.h"
#include "store/orders.h"
#include "store/signed_session.h"
#include "store/ops_api.h"
#include "store/web.h"

#define OPTION(section, key, type, field, def, min, max, unit, help) \
	{section, key, type, offsetof(struct node_config, field), def, min, max, unit, help}

const struct config_option node_config_options[] = {
	OPTION("node", "data_dir", CONFIG_STRING, data_dir, "./data", 0, 0, N_("path"),
	       N_("Directory of the node's LMDB files and operator token.")),
	OPTION("http", "listen", CONFIG_ENDPOINT, listen, "127.0.0.1:8080", 0, 0, N_("host:port"),
	       N_("Address of the shop's HTTP listener.")),
	OPTION("http", "cluster_origins", CONFIG_STRING, cluster_origins, "", 0, 0, N_("origin,..."),
	       N_("Public origins of every node, e.g. http://10.0.0.1:8080,http://10.0.0.2:8080: pages served by one node may call the others when it fails.")),
	OPTION("http", "workers", CONFIG_UINT, workers, "0", 0, 256, N_("threads"),
	       N_("HTTP worker threads, each with its own event loop; 0 means one per CPU core.")),
	OPTION("http", "max_connections", CONFIG_UINT, max_connections, "4096", 1, 1000000, N_("connections"),
	       N_("Open connections per listener; more are answered 503 and closed.")),
	OPTION("http", "header_max_bytes", CONFIG_UINT, header_max_bytes, "16384", 1024, 1048576, N_("bytes"),
	       N_("Maximum size of a request line plus headers; larger requests get 431.")),
	OPTION("http", "body_max_bytes", CONFIG_UINT, body_max_bytes, "1048576", 1, 268435456, N_("bytes"),
	       N_("Maximum request body for routes without their own limit; larger bodies get 413.")),
	OPTION("http", "header_timeout_ms", CONFIG_UINT, header_timeout_ms, "10000", 100, 600000,
	       N_("milliseconds"), N_("Time allowed from a request's first byte to the end of its headers.")),
	OPTION("http", "body_timeout_ms", CONFIG_UINT, body_timeout_ms, "30000", 100, 3600000, N_("milliseconds"),
	       N_("Time allowed to receive a request body after its headers.")),
	OPTION("http", "idle_timeout_ms", CONFIG_UINT, idle_timeout_ms, "60000", 100, 3600000, N_("milliseconds"),
	       N_("Time an idle keep-alive connection stays open.")),
	OPTION("http", "shutdown_timeout_ms", CONFIG_UINT, shutdown_timeout_ms, "10000", 0, 600000,
	       N_("milliseconds"), N_("Time requests in progress get to finish on shutdown.")),
	OPTION("operator", "listen", CONFIG_ENDPOINT, operator_listen, "127.0.0.1:9080", 0, 0, N_("host:port"),
	       N_("Address of the operator listener (raw KV API, metrics); keep it on loopback.")),
	OPTION("operator", "token_file", CONFIG_STRING, operator_token_file, "", 0, 0, N_("path"),
	       N_("File holding the operator token; empty means <data_dir>/operator.token, created if missing.")),
	OPTION("operator", "kv_value_max_bytes", CONFIG_UINT, kv_value_max_bytes, "1048576", 1, 67108864,
	       N_("bytes"), N_("Maximum size of one raw KV value.")),
	OPTION("storage", "map_size_mb", CONFIG_SIZE_MB, map_size_bytes, "64", 1, 1048576, N_("MiB"),
	       N_("Initial LMDB map size; it doubles when full.")),
	OPTION("storage", "map_size_max_mb", CONFIG_SIZE_MB, map_size_max_bytes, "16384", 1, 1048576, N_("MiB"),
	       N_("Largest LMDB map size; writes beyond it get 507.")),
	OPTION("log", "level", CONFIG_STRING, log_level, "info", 0, 0, N_("level"),
	       N_("Lowest log level written: debug, info, warn or error.")),
	OPTION("write", "batch_max", CONFIG_UINT, batch_max, "512", 1, 65536, N_("commands"),
	       N_("Maximum new commands taken into one LMDB commit (one fsync).")),
	OPTION("auth", "session_ttl_hours", CONFIG_UINT, session_ttl_hours, "336", 1, 8760, N_("hours"),
	       N_("Lifetime of a login session.")),
	OPTION("auth", "hash_memory_mb", CONFIG_UINT, hash_memory_mb, "64", 8, 1024, N_("MiB"),
	       N_("Memory used by one Argon2id password hash.")),
	OPTION("auth", "hash_ops", CONFIG_UINT, hash_ops, "2", 1, 10, N_("passes"),
	       N_("Argon2id passes over that memory per password hash.")),
	OPTION("auth", "hash_jobs_max", CONFIG_UINT, hash_jobs_max, "32", 1, 1024, N_("jobs"),
	       N_("Password hashes queued or running at once; more get 503.")),
	OPTION("auth", "login_account_attempts", CONFIG_UINT, login_account_attempts, "5", 1, 1000,
	       N_("attempts per 15 minutes"), N_("Failed logins allowed per account before 429.")),
	OPTION("auth", "login_address_attempts", CONFIG_UINT, login_address_attempts, "30", 1, 100000,
	       N_("attempts per minute"), N_("Logins and registrations allowed per client address before 429.")),
	OPTION("auth", "cookie_secure", CONFIG_UINT, cookie_secure, "0", 0, 1, N_("0 or 1"),
	       N_("Mark the session cookie Secure; set 1 when clients reach the shop over HTTPS.")),
	OPTION("write", "queue_max", CONFIG_UINT, queue_max, "16384", 1, 1048576, N_("commands"),
	       N_("Commands waiting for the writer; beyond that writes get 503.")),
	OPTION("cluster", "node_id", CONFIG_UINT, node_id, "1", 1, REPL_NODE_ID_MAX, N_("id"),
	       N_("This node's id in the cluster, unique per node.")),
	OPTION("cluster", "listen", CONFIG_STRING, cluster_listen, "", 0, 0, N_("address"),
	       N_("nanomsg address for traffic between nodes, e.g. tcp://127.0.0.1:7401; empty for a single node.")),
	OPTION("cluster", "peers", CONFIG_STRING, cluster_peers, "", 0, 0, N_("id=address,..."),
	       N_("The other nodes, e.g. 2=tcp://127.0.0.1:7402,3=tcp://127.0.0.1:7403.")),
	OPTION("cluster", "bootstrap", CONFIG_STRING, cluster_bootstrap, "", 0, 0, N_("id,..."),
	       N_("Voters of the cluster's first configuration, the same on every node; empty means this node and its peers. A node joining later gets the original list.")),
	OPTION("cluster", "key_file", CONFIG_STRING, cluster_key_file, "", 0, 0, N_("path"),
	       N_("Cluster key (64 hex digits, mode 0600) made by \"jkdctl cluster keygen\"; empty means <data_dir>/cluster.key.")),
	OPTION("cluster", "tick_ms", CONFIG_UINT, tick_ms, "50", 5, 10000, N_("milliseconds"),
	       N_("Raft clock tick; heartbeats go out every tick.")),
	OPTION("cluster", "election_ticks", CONFIG_UINT, election_ticks, "10", 3, 1000, N_("ticks"),
	       N_("Election timeout in ticks; each node randomises it up to twice this.")),
	OPTION("cluster", "compact_entries", CONFIG_UINT, compact_entries, "10000", 8, 100000000, N_("entries"),
	       N_("Compact the Raft log once this many entries are applied past the last compaction; a node further behind gets a snapshot.")),
	OPTION("cluster", "write_timeout_ms", CONFIG_UINT, write_timeout_ms, "5000", 100, 600000, N_("milliseconds"),
	       N_("A write or consistent read not done in this time gets 503.")),
};

const size_t node_config_option_count = sizeof(node_config_options) / sizeof(node_config_options[0]);

/*
 * Takes an exclusive lock on <data_dir>/jkd.lock for the life of the
 * process, so a second node on the same directory refuses to start instead
 * of writing the same LMDB file with its own log index.
 */
static int data_dir_lock(struct node *node)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/jkd.lock", node->config.data_dir);
	node->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (node->lock_fd < 0) {
		log_error("data_dir_lock_failed", "path=%s err=\"%s\"", path, strerror(errno));
		return -1;
	}
	if (flock(node->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		log_error("data_dir_locked", "path=%s err=\"%s\" hint=\"another jkd uses this data directory\"", path,
			  strerror(errno));
		close(node->lock_fd);
		node->lock_fd = -1;
		return -1;
	}
	return 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	log_error("data_dir_failed", "path=%s err=\"%s\"", path, strerror(errno));
	return -1;
}

/*
 * Reads the token from path, trimming trailing white space. Returns 0, -1
 * if the file cannot be read, or -2 if the token is shorter than
 * OPERATOR_TOKEN_MIN_CHARS or longer than out_size - 1.
 */
static int token_read(const char *path, char *out, size_t out_size)
{
	char text[OPERATOR_TOKEN_MAX_CHARS + 8];
	FILE *f = fopen(path, "r");
	size_t len;

	if (f == NULL)
		return -1;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len < OPERATOR_TOKEN_MIN_CHARS || len >= out_size)
		return -2;
	memcpy(out, text, len);
	out[len] = '\0';
	sodium_memzero(text, sizeof(text));
	return 0;
}

static int token_create(const char *path, char *out, size_t out_size)
{
	unsigned char raw[OPERATOR_TOKEN_BYTES];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	size_t len;

	if (fd < 0)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, out_size, raw, sizeof(raw));
	len = strlen(out);
	if (write(fd, out, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int operator_token_load(struct node *node)
{
	char path[4096];
	int rc;

	if (node->config.operator_token_file[0] != '\0')
		snprintf(path, sizeof(path), "%s", node->config.operator_token_file);
	else
		snprintf(path, sizeof(path), "%s/operator.token", node->config.data_dir);

	rc = token_read(path, node->operator_token, sizeof(node->operator_token));
	if (rc == -1 && errno == ENOENT && node->config.operator_token_file[0] == '\0') {
		rc = token_create(path, node->operator_token, sizeof(node->operator_token));
		if (rc == 0)
			log_info("operator_token_created", "path=%s", path);
	}
	if (rc == -2)
		log_error("operator_token_invalid", "path=%s reason=length_not_16_to_128_chars", path);
	else if (rc != 0)
		log_error("operator_token_failed", "path=%s err=\"%s\"", path, strerror(errno));
	return rc == 0 ? 0 : -1;
}

bool node_require_operator(struct http_request *req)
{
	struct node *node = req->route_ctx;
	size_t len, token_len = strlen(node->operator_token);
	const char *auth = http_header_get(req, "Authorization", &len);
	static const char prefix[] = "Bearer ";

	if (auth != NULL && len == sizeof(prefix) - 1 + token_len &&
	    strncasecmp(auth, prefix, sizeof(prefix) - 1) == 0 &&
	    sodium_memcmp(auth + sizeof(prefix) - 1, node->operator_token, token_len) == 0)
		return true;
	http_respond_problem_headers(req, 401, "WWW-Authenticate: Bearer realm=\"jkd-operator\"\r\n",
				     "unauthorized", "Authorization",
				     "Missing or invalid operator token. Send \"Authorization: Bearer <token>\".");
	return false;
}

static void handle_healthz(struct http_request *req)
{
	struct node *node = req->route_ctx;
	struct repl_status status;
	json_t *body;

	repl_get_status(node->repl, &status);
	if (repl_is_stalled(node->repl)) {
		/* Reads still work, but a load balancer should prefer the other nodes. */
		body = json_pack("{s:s, s:I}", "status", "stalled", "applied_index",
				 (json_int_t)repl_applied_index(node->repl));
		http_respond_json(req, 503, body, "Cache-Control: no-store\r\nRetry-After: 5\r\n");
		return;
	}
	body = json_pack("{s:s, s:I, s:s, s:i, s:I}", "status", "ok", "applied_index",
			 (json_int_t)repl_applied_index(node->repl), "role", status.role, "leader", (int)status.leader,
			 "term", (json_int_t)status.term);

	http_respond_json(req, 200, body, "Cache-Control: no-store\r\n");
}

static void write_kv_metrics(struct node *node, struct buf *out)
{
	struct kv_stats stats;

	if (kv_stats(node->env, &stats) != KV_OK)
		return;
	metrics_write_header(out, "jkd_kv_map_size_bytes", "gauge", "Current LMDB map size.");
	buf_printf(out, "jkd_kv_map_size_bytes %zu\n", stats.map_size_bytes);
	metrics_write_header(out, "jkd_kv_map_used_bytes", "gauge", "LMDB pages in use, in bytes.");
	buf_printf(out, "jkd_kv_map_used_bytes %zu\n", stats.map_used_bytes);
	metrics_write_header(out, "jkd_kv_map_size_max_bytes", "gauge", "Largest map size the node may grow to.");
	buf_printf(out, "jkd_kv_map_size_max_bytes %zu\n", stats.map_size_max_bytes);
}

static void handle_metrics(struct http_request *req)
{
	struct node *node = req->route_ctx;
	struct http_response res = {.status = 200, .content_type = "text/plain; version=0.0.4"};
	const struct http_router *routers[] = {node->public_router, node->operator_router};
	struct buf out;

	if (!node_require_operator(req))
		return;
	buf_init(&out, 16u << 20);
	http_server_write_metrics(node->server, &out);
	http_routers_write_metrics(routers, 2, &out);
	repl_write_metrics(node->repl, &out);
	write_kv_metrics(node, &out);
	if (out.failed) {
		buf_free(&out);
		log_error("metrics_render_failed", "rid=%s", req->request_id);
		http_respond_problem(req, 500, "internal", NULL, "The metrics could not be rendered.");
		return;
	}
	res.headers = "Cache-Control: no-store\r\n";
	res.body = out.data;
	res.body_len = out.len;
	http_respond(req, &res);
	buf_free(&out);
}

int node_routes_register(struct node *node)
{
	struct http_route_def health = {HTTP_METHOD_GET, "/healthz", handle_healthz, node, 0};
	struct http_route_def metrics = {HTTP_METHOD_GET, "/metrics", handle_metrics, node, 0};

	node->public_router = http_router_new();
	node->operator_router = http_router_new();
	if (node->public_router == NULL || node->operator_router == NULL)
		return -1;
	if (http_router_add(node->public_router, &health) != 0 ||
	    http_router_add(node->operator_router, &health) != 0 ||
	    http_router_add(node->operator_router, &metrics) != 0 ||
	    kv_api_register(node->operator_router, node) != 0 ||
	    accounts_routes_register(node->public_router, node->operator_router, node) != 0 ||
	    catalog_routes_register(node->public_router, node) != 0 ||
	    search_routes_register(node->public_router, node) != 0 ||
	    cart_routes_register(node->public_router, node) != 0 ||
	    orders_routes_register(node->public_router, node) != 0 ||
	    web_routes_register(node->public_router) != 0 ||
	    cluster_routes_register(node->operator_router, node) != 0 ||
	    cluster_public_routes_register(node->public_router, node) != 0)
		return -1;
	/* Cluster operator routes (store/ops_api.c). */
	if (ops_api_register(node->operator_router, node) != 0)
		return -1;
	return 0;
}

static void *worker_start(uv_loop_t *loop, unsigned worker_index, void *ctx)
{
	struct node *node = ctx;
	struct node_worker *worker = calloc(1, sizeof(*worker));

	if (worker == NULL || repl_inbox_open(node->repl, loop, &worker->inbox) != REPL_OK) {
		log_error("worker_start_failed", "worker=%u err=no_memory", worker_index);
		abort();
	}
	worker->node = node;
	worker->loop = loop;
	assert(worker_index < NODE_WORKERS_MAX);
	node->workers[worker_index] = worker;
	return worker;
}

/*
 * Closes the worker's inbox. The worker itself stays allocated until
 * node_stop(), because password-hash jobs queued on the loop may still run
 * their callbacks, which read it and then find the inbox gone (REPL_STOPPED).
 */
static void worker_stop(void *worker_data, void *ctx)
{
	struct node_worker *worker = worker_data;

	(void)ctx;
	repl_inbox_close(worker->inbox);
	worker->inbox = NULL;
}

static void listener_fill(struct http_listener_config *listener, const struct node_config *config,
			  const char *name, const char *endpoint, struct http_router *router, char *host,
			  size_t host_size)
{
	config_parse_endpoint(endpoint, host, host_size, &listener->port);
	listener->name = name;
	listener->host = host;
	listener->router = router;
	listener->header_max_bytes = config->header_max_bytes;
	listener->body_max_bytes = config->body_max_bytes;
	listener->max_connections = config->max_connections;
	listener->header_timeout_ms = config->header_timeout_ms;
	listener->body_timeout_ms = config->body_timeout_ms;
	listener->idle_timeout_ms = config->idle_timeout_ms;
}

/* Returns the length of the comma-separated item at *p and moves *p past it and its comma. */
static size_t list_next(const char **p)
{
	const char *end = strchr(*p, ',');
	size_t len = end != NULL ? (size_t)(end - *p) : strlen(*p);

	*p += len;
	if (**p == ',')
		(*p)++;
	return len;
}

/* Length of the "http://" or "https://" that starts p, or 0. */
static size_t origin_scheme_len(const char *p)
{
	if (strncmp(p, "https://", 8) == 0)
		return 8;
	if (strncmp(p, "http://", 7) == 0)
		return 7;
	return 0;
}

/*
 * Splits "http://a:8080,http://b:8080" into origins (malloc'ed). Each must
 * be an http or https origin without a path. Returns the count, or -1.
 */
static int parse_origins(const char *text, char **out, size_t max)
{
	size_t count = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *item = p;
		size_t len = list_next(&p);
		size_t scheme = origin_scheme_len(item);

		if (scheme == 0 || len <= scheme || len > NODE_ORIGIN_MAX_CHARS || count == max ||
		    memchr(item + scheme, '/', len - scheme) != NULL || memchr(item, ' ', len) != NULL ||
		    memchr(item, '\'', len) != NULL || memchr(item, ';', len) != NULL) {
			while (out != NULL && count > 0)
				free(out[--count]);
			return -1;
		}
		if (out != NULL) {
			out[count] = strndup(item, len);
			if (out[count] == NULL) {
				while (count > 0)
					free(out[--count]);
				return -1;
			}
		}
		count++;
	}
	return (int)count;
}

/*
 * Parses the cluster's origins and builds the security headers with them
 * in the CSP's connect-src, so pages may call the other nodes.
 */
static int origins_load(struct node *node)
{
	int count = parse_origins(node->config.cluster_origins, node->origins, NODE_ORIGINS_MAX);

	if (count < 0)
		return -1;
	node->origin_count = (size_t)count;
	node->security_headers =
		http_security_headers_with_origins((const char *const *)node->origins, node->origin_count);
	return node->security_headers != NULL ? 0 : -1;
}

static void origins_free(struct node *node)
{
	for (size_t i = 0; i < node->origin_count; i++)
		free(node->origins[i]);
	node->origin_count = 0;
	free(node->security_headers);
	node->security_headers = NULL;
}

static int server_start(struct node *node)
{
	static char public_host[256], operator_host[256];
	struct http_server_config server = {
		.workers = node->config.workers,
		.listener_count = 2,
		.shutdown_timeout_ms = node->config.shutdown_timeout_ms,
		.worker_start = worker_start,
		.worker_stop = worker_stop,
		.before_handler = node_before_handler,
		.security_headers = node->origin_count > 0 ? node->security_headers : NULL,
		.ctx = node,
	};
	int rc;

	if (server.workers == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		server.workers = cores > 0 ? (unsigned)cores : 1;
	}
	listener_fill(&server.listeners[0], &node->config, "public", node->config.listen, node->public_router,
		      public_host, sizeof(public_host));
	listener_fill(&server.listeners[1], &node->config, "operator", node->config.operator_listen,
		      node->operator_router, operator_host, sizeof(operator_host));
	/* Only the shop's listener serves other nodes' pages. */
	server.listeners[0].cors_origins = (const char *const *)node->origins;
	server.listeners[0].cors_origin_count = node->origin_count;
	rc = http_server_start(&server, &node->server);
	if (rc != 0) {
		log_error("http_start_failed", "listen=%s operator_listen=%s err=\"%s\"", node->config.listen,
			  node->config.operator_listen, uv_strerror(rc));
		return -1;
	}
	log_info("node_started", "listen=%s:%d operator_listen=%s:%d workers=%u data_dir=%s", public_host,
		 http_server_port(node->server, 0), operator_host, http_server_port(node->server, 1),
		 server.workers, node->config.data_dir);
	return 0;
}

static int storage_open(struct node *node)
{
	struct kv_options options = {
		.path = node->config.data_dir,
		.map_size_bytes = node->config.map_size_bytes,
		.map_size_max_bytes = node->config.map_size_max_bytes,
		.max_tables = 32,
		.max_readers = 512,
	};
	enum kv_err err;

	if (options.map_size_max_bytes < options.map_size_bytes)
		options.map_size_max_bytes = options.map_size_bytes;
	err = kv_open(&options, &node->env);
	if (err == KV_OK)
		err = store_open(node->env, &node->store);
	if (err != KV_OK) {
		log_error("storage_open_failed", "path=%s err=\"%s\"", options.path, kv_strerror(err));
		return -1;
	}
	return 0;
}

/* Parses "2=tcp://host:port,3=..." into peers. Returns the count, or -1. */
static int parse_peers(const char *text, uint32_t self, struct repl_peer *peers, size_t max)
{
	size_t count = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *item = p;
		size_t len = list_next(&p);
		char *eq = memchr(item, '=', len);
		char *id_end;
		unsigned long id = strtoul(item, &id_end, 10);
		size_t address_len = eq != NULL ? len - (size_t)(eq + 1 - item) : 0;

		if (eq == NULL || id_end != eq || id == 0 || id > REPL_NODE_ID_MAX || id == self ||
		    address_len == 0 || address_len >= REPL_ADDRESS_MAX || count == max)
			return -1;
		peers[count].id = (uint32_t)id;
		memcpy(peers[count].address, eq + 1, address_len);
		peers[count].address[address_len] = '\0';
		count++;
	}
	return (int)count;
}

/* Parses "1,2,3"; empty means self plus every peer. Returns the count, or -1. */
static int parse_bootstrap(const char *text, uint32_t self, const struct repl_peer *peers, size_t peer_count,
			   uint32_t *ids, size_t max)
{
	size_t count = 0;
	const char *p = text;

	if (*p == '\0') {
		ids[count++] = self;
		for (size_t i = 0; i < peer_count && count < max; i++)
			ids[count++] = peers[i].id;
		return (int)count;
	}
	while (*p != '\0') {
		const char *item = p;
		size_t len = list_next(&p);
		char *end;
		unsigned long id = strtoul(item, &end, 10);

		if (end != item + len || id == 0 || id > REPL_NODE_ID_MAX || count == max)
			return -1;
		ids[count++] = (uint32_t)id;
	}
	return (int)count;
}

int node_cluster_config_check(const struct node_config *config, enum i18n_lang lang, char *err, size_t size)
{
	if (parse_origins(config->cluster_origins, NULL, NODE_ORIGINS_MAX) < 0) {
		snprintf(err, size, i18n_text(lang, "invalid --http-cluster-origins \"%s\": write at most 9 origins such as http://10.0.0.1:8080, separated by commas"),
			 config->cluster_origins);
		return -1;
	}
	struct repl_peer peers[RAFT_MAX_NODES];
	uint32_t bootstrap[RAFT_MAX_NODES];
	int peer_count = parse_peers(config->cluster_peers, config->node_id, peers, RAFT_MAX_NODES);

	if (peer_count < 0) {
		snprintf(err, size, i18n_text(lang, "invalid --cluster-peers \"%s\": write id=address pairs separated by commas, with ids from 1 to 255 other than this node's"),
			 config->cluster_peers);
		return -1;
	}
	if (parse_bootstrap(config->cluster_bootstrap, config->node_id, peers, (size_t)peer_count, bootstrap,
			    RAFT_MAX_NODES) < 0) {
		snprintf(err, size, i18n_text(lang, "invalid --cluster-bootstrap \"%s\": write node ids from 1 to 255 separated by commas"),
			 config->cluster_bootstrap);
		return -1;
	}
	if (peer_count > 0 && config->cluster_listen[0] == '\0') {
		snprintf(err, size, "%s", i18n_text(lang, "--cluster-peers needs --cluster-listen, the address other nodes reach this one at"));
		return -1;
	}
	return 0;
}

static int cluster_key_load(struct node *node, unsigned char key[32])
{
	char path[4096];
	enum transport_err err;

	if (node->config.cluster_key_file[0] != '\0')
		snprintf(path, sizeof(path), "%s", node->config.cluster_key_file);
	else
		snprintf(path, sizeof(path), "%s/cluster.key", node->config.data_dir);
	err = transport_key_load(path, key);
	if (err != TRANSPORT_OK) {
		log_error("cluster_key_failed", "path=%s err=\"%s\" hint=\"make one with: jkdctl cluster keygen %s\"", path,
			  transport_strerror(err), path);
		return -1;
	}
	return 0;
}

/*
 * Runs on the replica thread once a snapshot replaced the data file: the
 * process starts again with the same arguments. Open descriptors are
 * close-on-exec, so the new process binds the same ports.
 */
static void node_restart(void *ctx)
{
	struct node *node = ctx;

	log_info("node_restarting", "reason=snapshot_installed");
	if (node->argv != NULL)
		execv("/proc/self/exe", node->argv);
	log_error("node_restart_failed", "err=\"%s\"", strerror(errno));
	_exit(EXIT_FAILURE);
}

static int writer_start(struct node *node)
{
	struct repl_peer peers[RAFT_MAX_NODES];
	uint32_t bootstrap[RAFT_MAX_NODES];
	int peer_count = parse_peers(node->config.cluster_peers, node->config.node_id, peers, RAFT_MAX_NODES);
	int bootstrap_count = peer_count < 0 ? -1
					     : parse_bootstrap(node->config.cluster_bootstrap, node->config.node_id,
							       peers, (size_t)peer_count, bootstrap, RAFT_MAX_NODES);
	size_t largest = (size_t)node->config.kv_value_max_bytes > CATALOG_IMAGE_MAX_BYTES
				 ? (size_t)node->config.kv_value_max_bytes
				 : CATALOG_IMAGE_MAX_BYTES;
	struct repl_config config = {
		.env = node->env,
		.apply = store_apply,
		.state_machine = &node->store,
		.batch_max = node->config.batch_max,
		.queue_max = node->config.queue_max,
		/* Large enough for a raw KV value, a product image and a catalog import, whichever is largest. */
		.command_max_bytes = (largest > CATALOG_IMPORT_COMMAND_MAX_BYTES ? largest : CATALOG_IMPORT_COMMAND_MAX_BYTES) +
				     64 * 1024,
		.node_id = node->config.node_id,
		.listen_address = node->config.cluster_listen,
		.peers = peers,
		.bootstrap = bootstrap,
		.tick_ms = node->config.tick_ms,
		.election_ticks = node->config.election_ticks,
		.write_timeout_ms = node->config.write_timeout_ms,
		.data_dir = node->config.data_dir,
		.compact_entries = node->config.compact_entries,
		.map_size_max_bytes = node->config.map_size_max_bytes,
		.restart = node_restart,
		.restart_ctx = node,
	};
	enum repl_err err;

	/* main() checked the settings with node_cluster_config_check(). */
	if (peer_count < 0 || bootstrap_count < 0)
		return -1;
	config.peer_count = (size_t)peer_count;
	config.bootstrap_count = (size_t)bootstrap_count;
	if (node->config.cluster_listen[0] != '\0') {
		if (cluster_key_load(node, config.key) != 0)
			return -1;
		signed_session_key_derive(config.key, sizeof(config.key), node->session_key);
		node->has_session_key = true;
	}
	err = repl_start(&config, &node->repl);
	sodium_memzero(config.key, sizeof(config.key));

	if (err != REPL_OK) {
		log_error("writer_start_failed", "err=\"%s\"", repl_strerror(err));
		return -1;
	}
	return 0;
}

int node_start(struct node *node)
{
	if (sodium_init() < 0) {
		log_error("sodium_init_failed", "");
		return -1;
	}
	if (make_dir(node->config.data_dir) != 0 || data_dir_lock(node) != 0)
		return -1;
	if (operator_token_load(node) != 0 || origins_load(node) != 0)
		goto fail_lock;
	if (storage_open(node) != 0)
		goto fail_lock;
	if (writer_start(node) != 0)
		goto fail_env;
	if (node_routes_register(node) != 0) {
		log_error("routes_failed", "err=no_memory");
		goto fail_routes;
	}
	if (server_start(node) != 0)
		goto fail_routes;
	return 0;

fail_routes:
	http_router_free(node->operator_router);
	http_router_free(node->public_router);
	repl_stop(node->repl);
fail_env:
	kv_close(node->env);
fail_lock:
	origins_free(node);
	close(node->lock_fd);
	return -1;
}

void node_stop(struct node *node)
{
	log_info("node_stopping", "applied_index=%" PRIu64, repl_applied_index(node->repl));
	http_server_stop(node->server);
	for (size_t i = 0; i < NODE_WORKERS_MAX; i++) {
		free(node->workers[i]);
		node->workers[i] = NULL;
	}
	repl_stop(node->repl);
	http_router_free(node->operator_router);
	http_router_free(node->public_router);
	ratelimit_destroy(&node->login_by_account);
	ratelimit_destroy(&node->login_by_address);
	origins_free(node);
	kv_close(node->env);
	close(node->lock_fd);
	sodium_memzero(node->operator_token, sizeof(node->operator_token));
	sodium_memzero(node->session_key, sizeof(node->session_key));
	log_info("node_stopped", "");
}
