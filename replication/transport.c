/*
 * Encrypted nanomsg transport; see transport.h for the frame layout.
 *
 * Ownership: transport_send() seals a frame into a malloc'ed block that sits
 * in the peer's ring queue until nn_send() copies it, then it is freed.
 * transport_close() closes every uv_poll_t handle, and the last close
 * callback closes the nanomsg sockets and frees everything. The sockets close
 * last because their descriptors belong to nanomsg and must stay open while
 * libuv still watches them.
 */
#include "replication/transport.h"

#include <inttypes.h>
#include <stddef.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

/* Frames received per poll callback, so a flood cannot starve the other handles. */
#define RECV_BATCH_MAX 256
#define DROP_LOG_INTERVAL_MS 1000

struct frame {
	size_t len;
	unsigned char bytes[];
};

struct peer {
	struct transport *t;
	uint32_t id;
	char *address;
	int sock;
	int endpoint; /* nn_connect()'s endpoint id, to move the peer to another address */
	uv_poll_t poll;
	bool poll_open;
	bool polling;
	struct frame **queue; /* ring of send_queue_max slots */
	size_t head;
	size_t count;
	_Atomic uint64_t frames_sent;
	_Atomic uint64_t queue_dropped;
	_Atomic uint64_t queue_rejected;
};

struct drop_log {
	uint64_t last_ms;
	uint64_t suppressed;
	bool logged;
};

struct transport {
	uv_loop_t *loop;
	uint32_t node_id;
	unsigned char key[TRANSPORT_KEY_BYTES];
	size_t payload_max;
	size_t send_queue_max;
	enum transport_overflow overflow;
	transport_frame_fn on_frame;
	void *ctx;

	int pull_sock;
	uv_poll_t recv_poll;
	bool recv_poll_open;
	unsigned char *plaintext; /* payload_max bytes */

	struct peer *peers;
	size_t peer_count;

	bool closing;
	size_t handles_open;
	transport_closed_fn on_closed;
	void *closed_ctx;

	_Atomic uint64_t frames_received;
	_Atomic uint64_t frames_dropped[TRANSPORT_DROP_REASON_COUNT];
	struct drop_log drop_logs[TRANSPORT_DROP_REASON_COUNT];
};

static const char *const drop_reason_names[TRANSPORT_DROP_REASON_COUNT] = {
	[TRANSPORT_DROP_TOO_SHORT] = "too_short",
	[TRANSPORT_DROP_TOO_LARGE] = "too_large",
	[TRANSPORT_DROP_VERSION] = "version",
	[TRANSPORT_DROP_UNKNOWN_SENDER] = "unknown_sender",
	[TRANSPORT_DROP_AUTH] = "auth",
};

const char *transport_drop_reason_name(enum transport_drop_reason reason)
{
	if ((unsigned)reason >= TRANSPORT_DROP_REASON_COUNT)
		return "unknown";
	return drop_reason_names[reason];
}

const char *transport_strerror(enum transport_err err)
{
	switch (err) {
	case TRANSPORT_OK:
		return "success";
	case TRANSPORT_INVALID_CONFIG:
		return "invalid transport configuration";
	case TRANSPORT_NO_MEMORY:
		return "out of memory";
	case TRANSPORT_CRYPTO_INIT_FAILED:
		return "libsodium initialisation failed";
	case TRANSPORT_SOCKET_FAILED:
		return "nanomsg socket setup failed; see the log";
	case TRANSPORT_LOOP_FAILED:
		return "libuv poll handle setup failed";
	case TRANSPORT_UNKNOWN_PEER:
		return "unknown peer id";
	case TRANSPORT_TOO_LARGE:
		return "payload larger than payload_max_bytes";
	case TRANSPORT_QUEUE_FULL:
		return "send queue of the peer is full";
	case TRANSPORT_CLOSING:
		return "transport is closing";
	case TRANSPORT_KEY_FILE_UNREADABLE:
		return "key file cannot be read";
	case TRANSPORT_KEY_FILE_PERMISSIONS:
		return "key file is accessible by group or others; set its mode to 0600";
	case TRANSPORT_KEY_FILE_INVALID:
		return "key file must contain exactly 64 hex digits";
	case TRANSPORT_KEY_FILE_EXISTS:
		return "key file already exists";
	case TRANSPORT_KEY_FILE_WRITE_FAILED:
		return "key file cannot be written";
	}
	return "unknown transport error";
}

static void store_u32_be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t load_u32_be(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static size_t frame_max_bytes(const struct transport *t)
{
	return TRANSPORT_HEADER_BYTES + t->payload_max + TRANSPORT_TAG_BYTES;
}

static struct peer *find_peer(struct transport *t, uint32_t id)
{
	for (size_t i = 0; i < t->peer_count; i++) {
		if (t->peers[i].id == id)
			return &t->peers[i];
	}
	return NULL;
}

/* ---- receiving ---- */

static void count_drop(struct transport *t, enum transport_drop_reason reason, size_t len, uint32_t sender)
{
	struct drop_log *dl = &t->drop_logs[reason];
	uint64_t now = uv_now(t->loop);

	atomic_fetch_add_explicit(&t->frames_dropped[reason], 1, memory_order_relaxed);
	if (dl->logged && now - dl->last_ms < DROP_LOG_INTERVAL_MS) {
		dl->suppressed++;
		return;
	}
	/* sender is whatever the frame claims and is 0 for frames too short to name one. */
	log_warn("transport_frame_dropped", "reason=%s len=%zu claimed_sender=%" PRIu32 " suppressed=%" PRIu64,
		 drop_reason_names[reason], len, sender, dl->suppressed);
	dl->logged = true;
	dl->last_ms = now;
	dl->suppressed = 0;
}

/* Checks, decrypts and delivers one received frame, or counts why it was dropped. */
static void handle_frame(struct transport *t, const unsigned char *frame, size_t len)
{
	unsigned long long plain_len;
	uint32_t sender;

	if (len < TRANSPORT_HEADER_BYTES + TRANSPORT_TAG_BYTES) {
		count_drop(t, TRANSPORT_DROP_TOO_SHORT, len, len >= 5 ? load_u32_be(frame + 1) : 0);
		return;
	}
	sender = load_u32_be(frame + 1);
	if (len > frame_max_bytes(t)) {
		count_drop(t, TRANSPORT_DROP_TOO_LARGE, len, sender);
		return;
	}
	if (frame[0] != TRANSPORT_FRAME_VERSION) {
		count_drop(t, TRANSPORT_DROP_VERSION, len, sender);
		return;
	}
	if (!find_peer(t, sender)) {
		count_drop(t, TRANSPORT_DROP_UNKNOWN_SENDER, len, sender);
		return;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(t->plaintext, &plain_len, NULL,
						       frame + TRANSPORT_HEADER_BYTES,
						       len - TRANSPORT_HEADER_BYTES, frame,
						       TRANSPORT_HEADER_BYTES, frame + 5, t->key) != 0) {
		count_drop(t, TRANSPORT_DROP_AUTH, len, sender);
		return;
	}
	atomic_fetch_add_explicit(&t->frames_received, 1, memory_order_relaxed);
	t->on_frame(t->ctx, sender, t->plaintext, (size_t)plain_len);
}

static void on_recv_ready(uv_poll_t *handle, int status, int events)
{
	struct transport *t = handle->data;

	(void)events;
	if (status < 0) {
		log_error("transport_poll_failed", "socket=pull error=%s", uv_strerror(status));
		return;
	}
	/* The callback may close the transport, so re-check closing each time. */
	for (int i = 0; i < RECV_BATCH_MAX && !t->closing; i++) {
		void *msg = NULL;
		int n = nn_recv(t->pull_sock, &msg, NN_MSG, NN_DONTWAIT);

		if (n < 0) {
			if (nn_errno() != EAGAIN)
				log_error("transport_recv_failed", "error=%s", nn_strerror(nn_errno()));
			return;
		}
		handle_frame(t, msg, (size_t)n);
		nn_freemsg(msg);
	}
}

/* ---- sending ---- */

static struct frame *seal_frame(const struct transport *t, const void *payload, size_t len)
{
	struct frame *f = malloc(sizeof(*f) + TRANSPORT_HEADER_BYTES + len + TRANSPORT_TAG_BYTES);
	unsigned long long cipher_len;

	if (!f)
		return NULL;
	f->bytes[0] = TRANSPORT_FRAME_VERSION;
	store_u32_be(f->bytes + 1, t->node_id);
	randombytes_buf(f->bytes + 5, TRANSPORT_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(f->bytes + TRANSPORT_HEADER_BYTES, &cipher_len, payload, len,
						   f->bytes, TRANSPORT_HEADER_BYTES, NULL, f->bytes + 5,
						   t->key);
	f->len = TRANSPORT_HEADER_BYTES + (size_t)cipher_len;
	return f;
}

static struct frame *queue_pop(struct peer *p)
{
	struct frame *f = p->queue[p->head];

	p->queue[p->head] = NULL;
	p->head = (p->head + 1) % p->t->send_queue_max;
	p->count--;
	return f;
}

static void queue_push(struct peer *p, struct frame *f)
{
	p->queue[(p->head + p->count) % p->t->send_queue_max] = f;
	p->count++;
}

static void on_send_ready(uv_poll_t *handle, int status, int events);

/*
 * Watches NN_SNDFD only while frames wait: nanomsg keeps it readable as long
 * as a send would succeed, so an idle watch would spin the loop.
 */
static void set_send_watch(struct peer *p, bool on)
{
	int rc;

	if (on == p->polling)
		return;
	rc = on ? uv_poll_start(&p->poll, UV_READABLE, on_send_ready) : uv_poll_stop(&p->poll);
	if (rc < 0) {
		log_error("transport_poll_failed", "socket=push peer=%" PRIu32 " error=%s", p->id, uv_strerror(rc));
		return;
	}
	p->polling = on;
}

/* Hands queued frames to nanomsg until it would block, then waits for NN_SNDFD. */
static void flush_queue(struct peer *p)
{
	while (p->count > 0) {
		struct frame *f = p->queue[p->head];

		if (nn_send(p->sock, f->bytes, f->len, NN_DONTWAIT) < 0) {
			/*
			 * NOTE: other errors (ETERM after nn_term(), EBADF) are logged on
			 * every retry and the frame stays queued, because nanomsg 1.1.5
			 * returns them only when the library is being shut down.
			 */
			if (nn_errno() != EAGAIN)
				log_error("transport_send_failed", "peer=%" PRIu32 " error=%s", p->id,
					  nn_strerror(nn_errno()));
			break;
		}
		free(queue_pop(p));
		atomic_fetch_add_explicit(&p->frames_sent, 1, memory_order_relaxed);
	}
	set_send_watch(p, p->count > 0);
}

static void on_send_ready(uv_poll_t *handle, int status, int events)
{
	struct peer *p = handle->data;

	(void)events;
	if (status < 0) {
		log_error("transport_poll_failed", "socket=push peer=%" PRIu32 " error=%s", p->id, uv_strerror(status));
		return;
	}
	flush_queue(p);
}

/* Makes room for one frame, or returns false when the policy rejects the send. */
static bool make_room(struct peer *p)
{
	if (p->count < p->t->send_queue_max)
		return true;
	if (p->t->overflow == TRANSPORT_OVERFLOW_REJECT) {
		atomic_fetch_add_explicit(&p->queue_rejected, 1, memory_order_relaxed);
		return false;
	}
	free(queue_pop(p));
	atomic_fetch_add_explicit(&p->queue_dropped, 1, memory_order_relaxed);
	return true;
}

enum transport_err transport_send(struct transport *t, uint32_t peer_id, const void *payload, size_t len)
{
	struct peer *p;
	struct frame *f;

	if (t->closing)
		return TRANSPORT_CLOSING;
	p = find_peer(t, peer_id);
	if (!p)
		return TRANSPORT_UNKNOWN_PEER;
	if (len > t->payload_max)
		return TRANSPORT_TOO_LARGE;
	if (!make_room(p))
		return TRANSPORT_QUEUE_FULL;
	f = seal_frame(t, payload, len);
	if (!f)
		return TRANSPORT_NO_MEMORY;
	queue_push(p, f);
	flush_queue(p);
	return TRANSPORT_OK;
}

/* ---- closing ---- */

static void free_transport(struct transport *t)
{
	if (t->pull_sock >= 0)
		nn_close(t->pull_sock);
	for (size_t i = 0; i < t->peer_count; i++) {
		struct peer *p = &t->peers[i];

		while (p->queue && p->count > 0)
			free(queue_pop(p));
		free(p->queue);
		free(p->address);
		if (p->sock >= 0)
			nn_close(p->sock);
	}
	free(t->peers);
	free(t->plaintext);
	sodium_memzero(t->key, sizeof(t->key));
	free(t);
}

static void finish_close(struct transport *t)
{
	transport_closed_fn on_closed = t->on_closed;
	void *ctx = t->closed_ctx;

	free_transport(t);
	if (on_closed)
		on_closed(ctx);
}

static void release_handle(struct transport *t)
{
	if (--t->handles_open == 0)
		finish_close(t);
}

static void on_recv_poll_closed(uv_handle_t *handle)
{
	release_handle(handle->data);
}

static void on_send_poll_closed(uv_handle_t *handle)
{
	struct peer *p = handle->data;

	release_handle(p->t);
}

/* Closes the poll handles that exist; frees at once if there are none. */
static void close_handles(struct transport *t)
{
	t->closing = true;
	t->handles_open = 0;
	if (t->recv_poll_open) {
		t->handles_open++;
		uv_close((uv_handle_t *)&t->recv_poll, on_recv_poll_closed);
	}
	for (size_t i = 0; i < t->peer_count; i++) {
		if (t->peers[i].poll_open) {
			t->handles_open++;
			uv_close((uv_handle_t *)&t->peers[i].poll, on_send_poll_closed);
		}
	}
	if (t->handles_open == 0)
		finish_close(t);
}

void transport_close(struct transport *t, transport_closed_fn on_closed, void *ctx)
{
	size_t queued = 0;

	for (size_t i = 0; i < t->peer_count; i++)
		queued += t->peers[i].count;
	log_info("transport_closing", "node=%" PRIu32 " queued_frames_dropped=%zu", t->node_id, queued);
	t->on_closed = on_closed;
	t->closed_ctx = ctx;
	close_handles(t);
}

/* ---- opening ---- */

static bool config_valid(const struct transport_config *c)
{
	if (!c->loop || !c->listen_address || !c->on_frame || (c->peer_count > 0 && !c->peers))
		return false;
	if (c->payload_max_bytes == 0 || c->send_queue_max == 0 || c->peer_count > TRANSPORT_PEERS_MAX)
		return false;
	/* nanomsg takes message sizes as int. */
	if (c->payload_max_bytes > (size_t)INT32_MAX / 2 - TRANSPORT_HEADER_BYTES - TRANSPORT_TAG_BYTES)
		return false;
	for (size_t i = 0; i < c->peer_count; i++) {
		if (!c->peers[i].address || c->peers[i].id == c->node_id)
			return false;
		for (size_t j = 0; j < i; j++) {
			if (c->peers[j].id == c->peers[i].id)
				return false;
		}
	}
	return true;
}

static int get_fd(int sock, int option)
{
	int fd = -1;
	size_t size = sizeof(fd);

	if (nn_getsockopt(sock, NN_SOL_SOCKET, option, &fd, &size) < 0)
		return -1;
	return fd;
}

static enum transport_err socket_failed(const char *step, const char *address)
{
	char quoted[256];

	log_error("transport_socket_failed", "step=%s address=%s error=%s", step,
		  log_quote(quoted, sizeof(quoted), address, strlen(address)), nn_strerror(nn_errno()));
	return TRANSPORT_SOCKET_FAILED;
}

/*
 * Binds the NN_PULL listener. NN_RCVMAXSIZE is twice the largest valid frame
 * so that moderately oversized frames arrive and are counted as too_large;
 * nanomsg itself drops the connection of a sender whose frame exceeds even
 * that, and such frames are not counted.
 */
static enum transport_err open_listener(struct transport *t, const char *address)
{
	int max_size = (int)(2 * frame_max_bytes(t));

	t->pull_sock = nn_socket(AF_SP, NN_PULL);
	if (t->pull_sock < 0)
		return socket_failed("socket", address);
	if (nn_setsockopt(t->pull_sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max_size, sizeof(max_size)) < 0)
		return socket_failed("rcvmaxsize", address);
	if (nn_bind(t->pull_sock, address) < 0)
		return socket_failed("bind", address);
	return TRANSPORT_OK;
}

static enum transport_err open_peer(struct transport *t, struct peer *p, const struct transport_peer *cfg)
{
	p->t = t;
	p->id = cfg->id;
	p->sock = -1;
	p->address = strdup(cfg->address);
	p->queue = calloc(t->send_queue_max, sizeof(*p->queue));
	if (!p->address || !p->queue)
		return TRANSPORT_NO_MEMORY;
	p->sock = nn_socket(AF_SP, NN_PUSH);
	if (p->sock < 0)
		return socket_failed("socket", cfg->address);
	p->endpoint = nn_connect(p->sock, cfg->address);
	if (p->endpoint < 0)
		return socket_failed("connect", cfg->address);
	return TRANSPORT_OK;
}

static enum transport_err init_polls(struct transport *t)
{
	int rc = uv_poll_init(t->loop, &t->recv_poll, get_fd(t->pull_sock, NN_RCVFD));

	if (rc < 0)
		return TRANSPORT_LOOP_FAILED;
	t->recv_poll.data = t;
	t->recv_poll_open = true;
	for (size_t i = 0; i < t->peer_count; i++) {
		struct peer *p = &t->peers[i];

		if (uv_poll_init(t->loop, &p->poll, get_fd(p->sock, NN_SNDFD)) < 0)
			return TRANSPORT_LOOP_FAILED;
		p->poll.data = p;
		p->poll_open = true;
	}
	if (uv_poll_start(&t->recv_poll, UV_READABLE, on_recv_ready) < 0)
		return TRANSPORT_LOOP_FAILED;
	return TRANSPORT_OK;
}

static struct transport *alloc_transport(const struct transport_config *c)
{
	struct transport *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = c->loop;
	t->node_id = c->node_id;
	memcpy(t->key, c->key, sizeof(t->key));
	t->payload_max = c->payload_max_bytes;
	t->send_queue_max = c->send_queue_max;
	t->overflow = c->overflow;
	t->on_frame = c->on_frame;
	t->ctx = c->ctx;
	t->pull_sock = -1;
	/* Fixed capacity: the poll handles live inside the array, so it never moves. */
	t->peers = calloc(TRANSPORT_PEERS_MAX, sizeof(*t->peers));
	t->plaintext = malloc(c->payload_max_bytes);
	if (!t->peers || !t->plaintext) {
		free_transport(t);
		return NULL;
	}
	for (size_t i = 0; i < TRANSPORT_PEERS_MAX; i++)
		t->peers[i].sock = -1;
	return t;
}

static enum transport_err open_sockets(struct transport *t, const struct transport_config *c)
{
	enum transport_err err = open_listener(t, c->listen_address);

	for (size_t i = 0; err == TRANSPORT_OK && i < c->peer_count; i++) {
		err = open_peer(t, &t->peers[i], &c->peers[i]);
		t->peer_count = i + 1;
	}
	return err;
}

enum transport_err transport_open(const struct transport_config *config, struct transport **out)
{
	struct transport *t;
	enum transport_err err;

	*out = NULL;
	if (!config_valid(config))
		return TRANSPORT_INVALID_CONFIG;
	if (sodium_init() < 0)
		return TRANSPORT_CRYPTO_INIT_FAILED;
	t = alloc_transport(config);
	if (!t)
		return TRANSPORT_NO_MEMORY;
	err = open_sockets(t, config);
	if (err == TRANSPORT_OK)
		err = init_polls(t);
	if (err != TRANSPORT_OK) {
		close_handles(t);
		return err;
	}
	log_info("transport_opened", "node=%" PRIu32 " peers=%zu", t->node_id, t->peer_count);
	*out = t;
	return TRANSPORT_OK;
}

/*
 * Points a known peer at a new address (a node that was removed and added
 * back elsewhere): the socket connects there and drops its old endpoint,
 * so its file descriptors and poll handle stay as they are.
 */
static enum transport_err peer_move(struct transport *t, struct peer *p, const char *address)
{
	char *copy;
	int endpoint;

	if (strcmp(p->address, address) == 0)
		return TRANSPORT_OK;
	copy = strdup(address);
	if (copy == NULL)
		return TRANSPORT_NO_MEMORY;
	endpoint = nn_connect(p->sock, address);
	if (endpoint < 0) {
		free(copy);
		return socket_failed("connect", address);
	}
	if (p->endpoint >= 0)
		nn_shutdown(p->sock, p->endpoint);
	log_info("transport_peer_moved", "node=%" PRIu32 " peer=%" PRIu32 " from=%s to=%s", t->node_id, p->id,
		 p->address, address);
	free(p->address);
	p->address = copy;
	p->endpoint = endpoint;
	return TRANSPORT_OK;
}

enum transport_err transport_add_peer(struct transport *t, const struct transport_peer *peer)
{
	struct peer *p;
	enum transport_err err;

	if (t->closing)
		return TRANSPORT_CLOSING;
	if (peer->id == t->node_id || peer->address == NULL)
		return TRANSPORT_INVALID_CONFIG;
	p = find_peer(t, peer->id);
	if (p != NULL)
		return peer_move(t, p, peer->address);
	if (t->peer_count == TRANSPORT_PEERS_MAX)
		return TRANSPORT_TOO_LARGE;
	p = &t->peers[t->peer_count];
	err = open_peer(t, p, peer);
	/* Counted even on failure, so free_transport() releases what open_peer() made. */
	t->peer_count++;
	if (err != TRANSPORT_OK)
		return err;
	if (uv_poll_init(t->loop, &p->poll, get_fd(p->sock, NN_SNDFD)) < 0)
		return TRANSPORT_LOOP_FAILED;
	p->poll.data = p;
	p->poll_open = true;
	log_info("transport_peer_added", "node=%" PRIu32 " peer=%" PRIu32 " address=%s", t->node_id, p->id,
		 p->address);
	return TRANSPORT_OK;
}

/* ---- statistics ---- */

void transport_get_stats(const struct transport *t, struct transport_stats *out)
{
	out->frames_received = atomic_load_explicit(&t->frames_received, memory_order_relaxed);
	for (int i = 0; i < TRANSPORT_DROP_REASON_COUNT; i++)
		out->frames_dropped[i] = atomic_load_explicit(&t->frames_dropped[i], memory_order_relaxed);
}

enum transport_err transport_get_peer_stats(const struct transport *t, uint32_t peer_id,
					    struct transport_peer_stats *out)
{
	const struct peer *p = find_peer((struct transport *)t, peer_id);

	if (!p)
		return TRANSPORT_UNKNOWN_PEER;
	out->frames_sent = atomic_load_explicit(&p->frames_sent, memory_order_relaxed);
	out->queue_dropped = atomic_load_explicit(&p->queue_dropped, memory_order_relaxed);
	out->queue_rejected = atomic_load_explicit(&p->queue_rejected, memory_order_relaxed);
	out->queued = p->count;
	return TRANSPORT_OK;
}

static void write_peer_counter(const struct transport *t, struct buf *out, const char *name, const char *help,
			       size_t field_offset)
{
	metrics_write_header(out, name, "counter", help);
	for (size_t i = 0; i < t->peer_count; i++) {
		const _Atomic uint64_t *v = (const _Atomic uint64_t *)((const char *)&t->peers[i] + field_offset);

		buf_printf(out, "%s{peer=\"%" PRIu32 "\"} %" PRIu64 "\n", name, t->peers[i].id,
			   atomic_load_explicit(v, memory_order_relaxed));
	}
}

void transport_write_metrics(const struct transport *t, struct buf *out)
{
	metrics_write_header(out, "jkd_transport_frames_received_total", "counter",
			     "Authenticated frames delivered to the replication layer.");
	buf_printf(out, "jkd_transport_frames_received_total %" PRIu64 "\n",
		   atomic_load_explicit(&t->frames_received, memory_order_relaxed));
	metrics_write_header(out, "jkd_transport_frames_dropped_total", "counter",
			     "Received frames dropped without delivery, by reason.");
	for (int i = 0; i < TRANSPORT_DROP_REASON_COUNT; i++)
		buf_printf(out, "jkd_transport_frames_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			   drop_reason_names[i], atomic_load_explicit(&t->frames_dropped[i], memory_order_relaxed));
	write_peer_counter(t, out, "jkd_transport_frames_sent_total", "Frames handed to nanomsg, by peer.",
			   offsetof(struct peer, frames_sent));
	write_peer_counter(t, out, "jkd_transport_send_queue_dropped_total",
			   "Oldest queued frames dropped because the peer's send queue was full.",
			   offsetof(struct peer, queue_dropped));
	write_peer_counter(t, out, "jkd_transport_send_queue_rejected_total",
			   "Sends rejected because the peer's send queue was full.",
			   offsetof(struct peer, queue_rejected));
}
