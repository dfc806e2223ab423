/*
 * Server lifecycle: listening sockets, worker threads, graceful shutdown and
 * server-wide metrics. The connection state machine is drawn in http.h and
 * implemented in conn.c.
 *
 * Each worker has its own socket per listener, all bound to one address with
 * SO_REUSEPORT, so the kernel spreads new connections over the workers and
 * accepting needs no lock. Every socket is created and bound before any
 * thread starts, so a bind error returns from http_server_start() with
 * nothing left running.
 */
#include "store/http/internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define LISTEN_BACKLOG 511

static const char *const timeout_phase_names[HTTP_TIMEOUT_PHASES] = {
	[HTTP_TIMEOUT_HEADER] = "header",
	[HTTP_TIMEOUT_BODY] = "body",
	[HTTP_TIMEOUT_WRITE] = "write",
};

static bool listener_name_valid(const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len == 0 || len >= HTTP_LISTENER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Returns the name of the first invalid field of l, or NULL if l is valid. */
static const char *listener_config_error(const struct http_listener_config *l)
{
	if (!listener_name_valid(l->name))
		return "name (1 to 31 of [A-Za-z0-9_-])";
	if (l->host == NULL)
		return "host";
	if (l->port < 0 || l->port > 65535)
		return "port";
	if (l->router == NULL)
		return "router";
	if (l->header_max_bytes == 0)
		return "header_max_bytes";
	if (l->body_max_bytes == 0)
		return "body_max_bytes";
	if (l->max_connections == 0)
		return "max_connections";
	if (l->header_timeout_ms == 0 || l->body_timeout_ms == 0 || l->idle_timeout_ms == 0)
		return "timeouts (each must be above 0 ms)";
	return NULL;
}

static int check_config(const struct http_server_config *cfg)
{
	if (cfg->workers == 0 || cfg->workers > HTTP_WORKERS_MAX) {
		log_error("http_config_invalid", "field=workers value=%u max=%d", cfg->workers,
			  HTTP_WORKERS_MAX);
		return UV_EINVAL;
	}
	if (cfg->listener_count == 0 || cfg->listener_count > HTTP_LISTENERS_MAX) {
		log_error("http_config_invalid", "field=listener_count value=%u max=%d",
			  cfg->listener_count, HTTP_LISTENERS_MAX);
		return UV_EINVAL;
	}
	for (unsigned i = 0; i < cfg->listener_count; i++) {
		const char *error = listener_config_error(&cfg->listeners[i]);

		if (error != NULL) {
			log_error("http_config_invalid", "listener=%u field=\"%s\"", i, error);
			return UV_EINVAL;
		}
	}
	return 0;
}

static int parse_address(const char *host, int port, struct sockaddr_storage *addr, socklen_t *len)
{
	memset(addr, 0, sizeof(*addr));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0) {
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) == 0) {
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return UV_EINVAL;
}

static void set_port(struct sockaddr_storage *addr, int port)
{
	if (addr->ss_family == AF_INET)
		((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
}

/* Creates a socket bound to addr; returns 0 or a libuv error (-errno on Linux). */
static int bind_socket(const struct sockaddr_storage *addr, socklen_t len, bool reuse_port,
		       int *fd_out)
{
	int one = 1;
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    (addr->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)addr, len) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

/*
 * SO_REUSEPORT would let our sockets join another process's listening
 * sockets on the same port silently. A probe bound without it fails with
 * EADDRINUSE in that case, as a plain bind would.
 */
static int check_port_free(const struct sockaddr_storage *addr, socklen_t len)
{
	int fd;
	int err = bind_socket(addr, len, false, &fd);

	if (err == 0)
		close(fd);
	return err;
}

static int worker_listen(struct http_worker *w, struct http_listener_state *l, unsigned index,
			 const struct sockaddr_storage *addr, socklen_t len)
{
	struct http_worker_listener *wl = &w->listeners[index];
	int fd, err;

	err = bind_socket(addr, len, true, &fd);
	if (err != 0)
		return err;
	err = uv_tcp_init(&w->loop, &wl->tcp);
	if (err != 0) {
		close(fd);
		return err;
	}
	wl->open = true;
	wl->worker = w;
	wl->listener = l;
	err = uv_tcp_open(&wl->tcp, fd);
	if (err != 0) {
		close(fd);
		return err;
	}
	return uv_listen((uv_stream_t *)&wl->tcp, LISTEN_BACKLOG, http_conn_on_connection);
}

static int bound_port(const struct http_worker_listener *wl)
{
	struct sockaddr_storage addr;
	int len = sizeof(addr);

	if (uv_tcp_getsockname(&wl->tcp, (struct sockaddr *)&addr, &len) != 0)
		return -1;
	if (addr.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&addr)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

static int listener_start(struct http_server *s, unsigned index)
{
	struct http_listener_state *l = &s->listeners[index];
	char host[80];
	struct sockaddr_storage addr;
	socklen_t len;
	int err;

	log_quote(host, sizeof(host), l->config.host, strlen(l->config.host));
	err = parse_address(l->config.host, l->config.port, &addr, &len);
	if (err != 0) {
		log_error("http_listen_failed", "listener=%s host=%s error=\"not an IPv4 or IPv6 literal\"",
			  l->name, host);
		return err;
	}
	if (l->config.port != 0)
		err = check_port_free(&addr, len);
	for (unsigned w = 0; err == 0 && w < s->worker_count; w++) {
		err = worker_listen(&s->workers[w], l, index, &addr, len);
		/* With port 0 the kernel picked one; the other workers join it. */
		if (err == 0 && w == 0) {
			l->port = bound_port(&s->workers[0].listeners[index]);
			set_port(&addr, l->port);
		}
	}
	if (err != 0) {
		log_error("http_listen_failed", "listener=%s host=%s port=%d error=%s", l->name, host,
			  l->config.port, uv_err_name(err));
		return err;
	}
	http_router_attach_listener(l->config.router, l->name);
	log_info("http_listening", "listener=%s host=%s port=%d workers=%u", l->name, host, l->port,
		 s->worker_count);
	return 0;
}

static void on_shutdown_timeout(uv_timer_t *timer)
{
	struct http_worker *w = timer->data;

	w->forced = true;
	if (w->conn_count > 0 || w->pending_handlers > 0)
		log_warn("http_shutdown_forced", "worker=%u connections=%u pending_requests=%u",
			 w->index, w->conn_count, w->pending_handlers);
	for (struct http_conn *c = w->conns; c != NULL; c = c->next)
		http_conn_close(c);
	http_worker_check_finished(w);
}

static void on_stop_requested(uv_async_t *async)
{
	struct http_worker *w = async->data;
	const struct http_server_config *cfg = &w->server->config;

	if (w->stopping)
		return;
	w->stopping = true;
	for (unsigned i = 0; i < cfg->listener_count; i++) {
		if (w->listeners[i].open) {
			uv_close((uv_handle_t *)&w->listeners[i].tcp, NULL);
			w->listeners[i].open = false;
		}
	}
	/* Closing only marks a connection; it leaves the list in on_handle_closed. */
	for (struct http_conn *c = w->conns; c != NULL; c = c->next)
		http_conn_begin_shutdown(c);
	uv_timer_start(&w->shutdown_timer, on_shutdown_timeout, cfg->shutdown_timeout_ms, 0);
	http_worker_check_finished(w);
}

static int worker_init(struct http_server *s, unsigned index)
{
	struct http_worker *w = &s->workers[index];
	int err;

	w->server = s;
	w->index = index;
	err = uv_loop_init(&w->loop);
	if (err != 0)
		return err;
	w->loop_ready = true;
	err = uv_async_init(&w->loop, &w->stop_async, on_stop_requested);
	if (err != 0)
		return err;
	w->stop_async.data = w;
	uv_timer_init(&w->loop, &w->shutdown_timer);
	w->shutdown_timer.data = w;
	return 0;
}

static void block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/*
 * Frees the requests a handler still held when the worker's loop ended.
 * Only a forced shutdown leaves any: their connections are closed, and
 * worker_stop has promised that no http_respond() comes for them any more.
 */
static void worker_free_unanswered(struct http_worker *w)
{
	unsigned count = w->pending_handlers;

	while (w->handled != NULL) {
		struct http_exchange *ex = w->handled;

		assert(ex->req.conn == NULL);
		http_exchange_handler_end(ex);
		if (ex->req.user_data_free != NULL && ex->req.user_data != NULL)
			ex->req.user_data_free(ex->req.user_data);
		http_exchange_free(ex);
	}
	if (count > 0)
		log_warn("http_requests_unanswered", "worker=%u count=%u reason=shutdown_forced", w->index,
			 count);
}

static void worker_main(void *arg)
{
	struct http_worker *w = arg;
	const struct http_server_config *cfg = &w->server->config;

	/*
	 * The main thread takes SIGINT and SIGTERM with sigwait(). A blocked
	 * SIGPIPE turns a write to a closed socket into EPIPE.
	 */
	block_signals(NULL);
	if (cfg->worker_start != NULL)
		w->worker_data = cfg->worker_start(&w->loop, w->index, cfg->ctx);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	worker_free_unanswered(w);
}

static int start_threads(struct http_server *s)
{
	sigset_t old;
	int err = 0;

	/* Threads start with the creator's mask, so none runs even briefly with them unblocked. */
	block_signals(&old);
	for (unsigned i = 0; i < s->worker_count && err == 0; i++) {
		err = uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
		if (err == 0)
			s->workers[i].thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void join_workers(struct http_server *s)
{
	for (unsigned i = 0; i < s->worker_count; i++) {
		if (s->workers[i].thread_started)
			uv_async_send(&s->workers[i].stop_async);
	}
	for (unsigned i = 0; i < s->worker_count; i++) {
		if (s->workers[i].thread_started)
			uv_thread_join(&s->workers[i].thread);
	}
}

static void close_handle(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (!uv_is_closing(handle))
		uv_close(handle, NULL);
}

/*
 * Closes the loop of a worker whose thread has ended or never started. A
 * worker that never ran still has its listeners and async handle open.
 */
static void worker_release(struct http_worker *w)
{
	if (!w->loop_ready)
		return;
	if (uv_loop_close(&w->loop) == UV_EBUSY) {
		if (w->thread_started)
			log_warn("http_worker_handles_left", "worker=%u", w->index);
		uv_walk(&w->loop, close_handle, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
	}
	w->loop_ready = false;
}

static void server_free(struct http_server *s)
{
	for (unsigned i = 0; i < s->worker_count; i++)
		worker_release(&s->workers[i]);
	free(s->workers);
	free(s);
}

static int server_setup(struct http_server *s)
{
	int err;

	for (unsigned i = 0; i < s->worker_count; i++) {
		err = worker_init(s, i);
		if (err != 0)
			return err;
	}
	for (unsigned i = 0; i < s->config.listener_count; i++) {
		err = listener_start(s, i);
		if (err != 0)
			return err;
	}
	err = start_threads(s);
	if (err != 0) {
		log_error("http_thread_start_failed", "error=%s", uv_err_name(err));
		join_workers(s);
	}
	return err;
}

void http_worker_check_finished(struct http_worker *w)
{
	const struct http_server_config *cfg = &w->server->config;

	if (!w->stopping || w->finished || w->conn_count > 0)
		return;
	if (w->pending_handlers > 0 && !w->forced)
		return;
	w->finished = true;
	uv_close((uv_handle_t *)&w->shutdown_timer, NULL);
	uv_close((uv_handle_t *)&w->stop_async, NULL);
	if (cfg->worker_stop != NULL)
		cfg->worker_stop(w->worker_data, cfg->ctx);
}

int http_server_start(const struct http_server_config *config, struct http_server **out)
{
	struct http_server *s;
	int err;

	*out = NULL;
	err = check_config(config);
	if (err != 0)
		return err;
	if (sodium_init() < 0) {
		log_error("http_start_failed", "error=\"libsodium initialisation failed\"");
		return UV_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return UV_ENOMEM;
	s->config = *config;
	s->worker_count = config->workers;
	s->workers = calloc(config->workers, sizeof(*s->workers));
	if (s->workers == NULL) {
		free(s);
		return UV_ENOMEM;
	}
	randombytes_buf(&s->request_id_key, sizeof(s->request_id_key));
	for (unsigned i = 0; i < config->listener_count; i++) {
		s->listeners[i].config = config->listeners[i];
		snprintf(s->listeners[i].name, sizeof(s->listeners[i].name), "%s",
			 config->listeners[i].name);
	}
	err = server_setup(s);
	if (err != 0) {
		server_free(s);
		return err;
	}
	*out = s;
	return 0;
}

int http_server_port(const struct http_server *server, unsigned listener_index)
{
	if (listener_index >= server->config.listener_count)
		return UV_EINVAL;
	return server->listeners[listener_index].port;
}

void http_server_stop(struct http_server *server)
{
	if (server == NULL)
		return;
	join_workers(server);
	log_info("http_stopped", "workers=%u", server->worker_count);
	server_free(server);
}

void http_server_write_metrics(const struct http_server *server, struct buf *out)
{
	unsigned n = server->config.listener_count;
	const struct http_listener_state *l = server->listeners;

	metrics_write_header(out, "jkd_http_connections_open", "gauge",
			     "Client connections open now, within max_connections.");
	for (unsigned i = 0; i < n; i++)
		buf_printf(out, "jkd_http_connections_open{listener=\"%s\"} %u\n", l[i].name,
			   atomic_load(&l[i].open_connections));
	metrics_write_header(out, "jkd_http_connections_rejected_total", "counter",
			     "Connections answered with 503 because max_connections was reached.");
	for (unsigned i = 0; i < n; i++)
		buf_printf(out, "jkd_http_connections_rejected_total{listener=\"%s\"} %" PRIu64 "\n",
			   l[i].name, atomic_load(&l[i].rejected_connections));
	metrics_write_header(out, "jkd_http_parse_errors_total", "counter",
			     "Malformed requests answered with 400.");
	for (unsigned i = 0; i < n; i++)
		buf_printf(out, "jkd_http_parse_errors_total{listener=\"%s\"} %" PRIu64 "\n",
			   l[i].name, atomic_load(&l[i].parse_errors));
	metrics_write_header(out, "jkd_http_timeouts_total", "counter",
			     "Requests whose headers or body timed out (408), and responses "
			     "the client did not take in time.");
	for (unsigned i = 0; i < n; i++) {
		for (unsigned p = 0; p < HTTP_TIMEOUT_PHASES; p++)
			buf_printf(out, "jkd_http_timeouts_total{listener=\"%s\",phase=\"%s\"} %" PRIu64
				   "\n",
				   l[i].name, timeout_phase_names[p], atomic_load(&l[i].timeouts[p]));
	}
}
