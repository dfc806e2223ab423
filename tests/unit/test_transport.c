/*
 * Transport tests over real nanomsg sockets on 127.0.0.1 and a real libuv
 * loop. Ports come from harness_free_port(). Each
 * wait runs the loop until a condition holds or a uv_timer deadline fires,
 * so a lost frame fails the test instead of hanging it.
 *
 * Bad frames are built here with libsodium, following the layout in
 * transport.h, and sent through a plain NN_PUSH socket.
 */
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "replication/transport.h"
#include "tests/integration/harness.h"

#define WAIT_MS 10000
#define PAYLOAD_MAX 1024
#define ORDERED_FRAMES 1000
#define PEERS_MAX 4
#define ADDRESS_MAX 64

struct received {
	size_t count;
	uint32_t last_peer;
	char last_payload[PAYLOAD_MAX];
	size_t last_len;
	uint32_t next_seq[PEERS_MAX]; /* by peer id */
	size_t order_errors;
};

struct node {
	struct transport *t;
	struct received rx;
	char address[ADDRESS_MAX];
	bool close_on_frame; /* on_frame closes the transport after the first frame */
	bool closed;
};

static unsigned char cluster_key[TRANSPORT_KEY_BYTES];

static void make_address(char *out)
{
	snprintf(out, ADDRESS_MAX, "tcp://127.0.0.1:%d", harness_free_port());
}

/* ---- running the loop ---- */

typedef bool (*condition_fn)(void *ctx);

static void on_deadline(uv_timer_t *timer)
{
	*(bool *)timer->data = true;
}

/* Runs loop until cond(ctx) holds or WAIT_MS pass; returns whether cond holds. */
static bool run_until(uv_loop_t *loop, condition_fn cond, void *ctx)
{
	uv_timer_t timer;
	bool expired = false;

	uv_timer_init(loop, &timer);
	timer.data = &expired;
	uv_timer_start(&timer, on_deadline, WAIT_MS, 0);
	while (!cond(ctx) && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return cond(ctx);
}

struct count_wait {
	const struct received *rx;
	size_t count;
};

static bool received_enough(void *ctx)
{
	struct count_wait *w = ctx;

	return w->rx->count >= w->count;
}

static bool wait_received(uv_loop_t *loop, const struct node *n, size_t count)
{
	struct count_wait w = { .rx = &n->rx, .count = count };

	return run_until(loop, received_enough, &w);
}

/* ---- transports ---- */

static void on_closed(void *ctx)
{
	((struct node *)ctx)->closed = true;
}

static void on_frame(void *ctx, uint32_t peer_id, const void *payload, size_t len)
{
	struct node *n = ctx;
	struct received *rx = &n->rx;
	uint32_t seq;

	if (n->close_on_frame)
		transport_close(n->t, on_closed, n);

	rx->count++;
	rx->last_peer = peer_id;
	rx->last_len = len;
	memcpy(rx->last_payload, payload, len);
	if (len == sizeof(seq) && peer_id < PEERS_MAX) {
		memcpy(&seq, payload, sizeof(seq));
		if (seq != rx->next_seq[peer_id])
			rx->order_errors++;
		rx->next_seq[peer_id] = seq + 1;
	}
}

static void open_node(uv_loop_t *loop, struct node *n, uint32_t id, const struct transport_peer *peers,
		      size_t peer_count, size_t queue_max, enum transport_overflow overflow)
{
	struct transport_config config = {
		.loop = loop,
		.node_id = id,
		.listen_address = n->address,
		.peers = peers,
		.peer_count = peer_count,
		.payload_max_bytes = PAYLOAD_MAX,
		.send_queue_max = queue_max,
		.overflow = overflow,
		.on_frame = on_frame,
		.ctx = n,
	};
	enum transport_err err;

	memcpy(config.key, cluster_key, sizeof(config.key));
	err = transport_open(&config, &n->t);
	if (err != TRANSPORT_OK)
		fail_msg("transport_open: %s", transport_strerror(err));
}

static bool node_closed(void *ctx)
{
	return ((struct node *)ctx)->closed;
}

static void close_node(uv_loop_t *loop, struct node *n)
{
	transport_close(n->t, on_closed, n);
	assert_true(run_until(loop, node_closed, n));
}

static void close_loop(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_NOWAIT);
	/* UV_EBUSY here means a handle of the transport was left open. */
	assert_int_equal(uv_loop_close(loop), 0);
}

/* Nodes 1 and 2 list each other as peers, and node 3 lists node 2. */
struct cluster {
	uv_loop_t loop;
	struct node nodes[PEERS_MAX]; /* by id, 0 unused */
};

static void open_cluster(struct cluster *c, size_t queue_max)
{
	struct transport_peer peers1[] = { { 2, c->nodes[2].address } };
	struct transport_peer peers2[] = { { 1, c->nodes[1].address }, { 3, c->nodes[3].address } };
	struct transport_peer peers3[] = { { 2, c->nodes[2].address } };

	memset(c, 0, sizeof(*c));
	assert_int_equal(uv_loop_init(&c->loop), 0);
	for (int i = 1; i < PEERS_MAX; i++)
		make_address(c->nodes[i].address);
	open_node(&c->loop, &c->nodes[1], 1, peers1, 1, queue_max, TRANSPORT_OVERFLOW_REJECT);
	open_node(&c->loop, &c->nodes[2], 2, peers2, 2, queue_max, TRANSPORT_OVERFLOW_REJECT);
	open_node(&c->loop, &c->nodes[3], 3, peers3, 1, queue_max, TRANSPORT_OVERFLOW_REJECT);
}

static void close_cluster(struct cluster *c)
{
	for (int i = 1; i < PEERS_MAX; i++)
		close_node(&c->loop, &c->nodes[i]);
	close_loop(&c->loop);
}

static int setup_key(void **state)
{
	(void)state;
	return transport_key_generate(cluster_key) == TRANSPORT_OK ? 0 : -1;
}

/* ---- exchange ---- */

static void test_frames_both_ways(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));

	(void)state;
	assert_non_null(c);
	open_cluster(c, 16);
	assert_int_equal(transport_send(c->nodes[1].t, 2, "ping", 4), TRANSPORT_OK);
	assert_int_equal(transport_send(c->nodes[2].t, 1, "pong", 4), TRANSPORT_OK);
	assert_true(wait_received(&c->loop, &c->nodes[2], 1));
	assert_true(wait_received(&c->loop, &c->nodes[1], 1));

	assert_int_equal(c->nodes[2].rx.last_peer, 1);
	assert_int_equal(c->nodes[2].rx.last_len, 4);
	assert_memory_equal(c->nodes[2].rx.last_payload, "ping", 4);
	assert_int_equal(c->nodes[1].rx.last_peer, 2);
	assert_int_equal(c->nodes[1].rx.last_len, 4);
	assert_memory_equal(c->nodes[1].rx.last_payload, "pong", 4);
	close_cluster(c);
	free(c);
}

/* Nodes 1 and 3 each send ORDERED_FRAMES sequence numbers to node 2 at once. */
static void test_frames_in_order_per_peer(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct transport_peer_stats stats;

	(void)state;
	assert_non_null(c);
	open_cluster(c, ORDERED_FRAMES);
	for (uint32_t seq = 0; seq < ORDERED_FRAMES; seq++) {
		assert_int_equal(transport_send(c->nodes[1].t, 2, &seq, sizeof(seq)), TRANSPORT_OK);
		assert_int_equal(transport_send(c->nodes[3].t, 2, &seq, sizeof(seq)), TRANSPORT_OK);
	}
	assert_true(wait_received(&c->loop, &c->nodes[2], 2 * ORDERED_FRAMES));

	assert_int_equal(c->nodes[2].rx.count, 2 * ORDERED_FRAMES);
	assert_int_equal(c->nodes[2].rx.order_errors, 0);
	assert_int_equal(c->nodes[2].rx.next_seq[1], ORDERED_FRAMES);
	assert_int_equal(c->nodes[2].rx.next_seq[3], ORDERED_FRAMES);
	assert_int_equal(transport_get_peer_stats(c->nodes[1].t, 2, &stats), TRANSPORT_OK);
	assert_int_equal(stats.frames_sent, ORDERED_FRAMES);
	assert_int_equal(stats.queued, 0);
	close_cluster(c);
	free(c);
}

/* ---- bad frames ---- */

/* Builds a frame as transport.h lays it out; returns its length. */
static size_t build_frame(unsigned char *out, uint8_t version, uint32_t sender, const unsigned char *key,
			  const void *payload, size_t len)
{
	unsigned long long cipher_len;

	out[0] = version;
	out[1] = (unsigned char)(sender >> 24);
	out[2] = (unsigned char)(sender >> 16);
	out[3] = (unsigned char)(sender >> 8);
	out[4] = (unsigned char)sender;
	randombytes_buf(out + 5, TRANSPORT_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + TRANSPORT_HEADER_BYTES, &cipher_len, payload, len, out,
						   TRANSPORT_HEADER_BYTES, NULL, out + 5, key);
	return TRANSPORT_HEADER_BYTES + (size_t)cipher_len;
}

/*
 * Builds a forgery: a valid version and a known sender (1) followed by random
 * bytes, so only authentication can reject it.
 */
static size_t build_forgery(unsigned char *out, size_t len)
{
	randombytes_buf(out, len);
	out[0] = TRANSPORT_FRAME_VERSION;
	out[1] = 0;
	out[2] = 0;
	out[3] = 0;
	out[4] = 1;
	return len;
}

enum bad_kind {
	BAD_FORGERY,
	BAD_FLIPPED_BIT,
	BAD_TRUNCATED,
	BAD_WRONG_KEY,
	BAD_VERSION,
	BAD_SENDER,
	BAD_OVERSIZED,
};

#define BAD_FRAME_MAX (2 * (TRANSPORT_HEADER_BYTES + PAYLOAD_MAX + TRANSPORT_TAG_BYTES))

static size_t build_bad_frame(unsigned char *out, enum bad_kind kind)
{
	static unsigned char big[PAYLOAD_MAX + 100];
	unsigned char other_key[TRANSPORT_KEY_BYTES];
	size_t len;

	switch (kind) {
	case BAD_FORGERY:
		return build_forgery(out, 100);
	case BAD_FLIPPED_BIT:
		len = build_frame(out, TRANSPORT_FRAME_VERSION, 1, cluster_key, "forged", 6);
		out[TRANSPORT_HEADER_BYTES + 2] ^= 0x08;
		return len;
	case BAD_TRUNCATED:
		build_frame(out, TRANSPORT_FRAME_VERSION, 1, cluster_key, "forged", 6);
		return TRANSPORT_HEADER_BYTES + 10;
	case BAD_WRONG_KEY:
		randombytes_buf(other_key, sizeof(other_key));
		return build_frame(out, TRANSPORT_FRAME_VERSION, 1, other_key, "forged", 6);
	case BAD_VERSION:
		return build_frame(out, TRANSPORT_FRAME_VERSION + 1, 1, cluster_key, "forged", 6);
	case BAD_SENDER:
		return build_frame(out, TRANSPORT_FRAME_VERSION, 99, cluster_key, "forged", 6);
	case BAD_OVERSIZED:
		return build_frame(out, TRANSPORT_FRAME_VERSION, 1, cluster_key, big, sizeof(big));
	}
	return 0;
}

static void send_raw(int sock, const void *frame, size_t len)
{
	assert_int_equal(nn_send(sock, frame, len, 0), (int)len);
}

static int open_raw_push(const char *address)
{
	int timeout_ms = WAIT_MS;
	int sock = nn_socket(AF_SP, NN_PUSH);

	assert_true(sock >= 0);
	assert_int_equal(nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)), 0);
	assert_true(nn_connect(sock, address) >= 0);
	return sock;
}

/*
 * Sends one bad frame, then a good one, through the same raw socket. nanomsg
 * keeps their order, so once the good frame arrives the bad one was handled.
 */
static void check_bad_frame(enum bad_kind kind, enum transport_drop_reason reason)
{
	static unsigned char frame[BAD_FRAME_MAX];
	struct cluster *c = calloc(1, sizeof(*c));
	struct transport_stats stats;
	size_t len;
	int raw;

	assert_non_null(c);
	open_cluster(c, 16);
	raw = open_raw_push(c->nodes[2].address);
	len = build_bad_frame(frame, kind);
	send_raw(raw, frame, len);
	len = build_frame(frame, TRANSPORT_FRAME_VERSION, 1, cluster_key, "good", 4);
	send_raw(raw, frame, len);
	assert_true(wait_received(&c->loop, &c->nodes[2], 1));

	transport_get_stats(c->nodes[2].t, &stats);
	assert_int_equal(c->nodes[2].rx.count, 1);
	assert_int_equal(c->nodes[2].rx.last_len, 4);
	assert_memory_equal(c->nodes[2].rx.last_payload, "good", 4);
	assert_int_equal(stats.frames_received, 1);
	for (int i = 0; i < TRANSPORT_DROP_REASON_COUNT; i++)
		assert_int_equal(stats.frames_dropped[i], i == (int)reason ? 1 : 0);
	nn_close(raw);
	close_cluster(c);
	free(c);
}

struct bad_case {
	enum bad_kind kind;
	enum transport_drop_reason reason;
};

static void test_bad_frame_dropped(void **state)
{
	const struct bad_case *bad = *state;

	check_bad_frame(bad->kind, bad->reason);
}

static const struct bad_case bad_cases[] = {
	[BAD_FORGERY] = { BAD_FORGERY, TRANSPORT_DROP_AUTH },
	[BAD_FLIPPED_BIT] = { BAD_FLIPPED_BIT, TRANSPORT_DROP_AUTH },
	[BAD_TRUNCATED] = { BAD_TRUNCATED, TRANSPORT_DROP_TOO_SHORT },
	[BAD_WRONG_KEY] = { BAD_WRONG_KEY, TRANSPORT_DROP_AUTH },
	[BAD_VERSION] = { BAD_VERSION, TRANSPORT_DROP_VERSION },
	[BAD_SENDER] = { BAD_SENDER, TRANSPORT_DROP_UNKNOWN_SENDER },
	[BAD_OVERSIZED] = { BAD_OVERSIZED, TRANSPORT_DROP_TOO_LARGE },
};

#define BAD_FRAME_TEST(name, kind) \
	{ name, test_bad_frame_dropped, NULL, NULL, (void *)&bad_cases[kind] }

/* ---- send queue ---- */

struct down_peer {
	uv_loop_t loop;
	struct node sender;
	struct node receiver;
};

/* Opens node 1 with peer 2 at an address where nothing listens yet. */
static struct down_peer *open_down_peer(size_t queue_max, enum transport_overflow overflow)
{
	struct down_peer *d = calloc(1, sizeof(*d));
	struct transport_peer peers[] = { { 2, d->receiver.address } };

	assert_non_null(d);
	assert_int_equal(uv_loop_init(&d->loop), 0);
	make_address(d->sender.address);
	make_address(d->receiver.address);
	open_node(&d->loop, &d->sender, 1, peers, 1, queue_max, overflow);
	return d;
}

static void test_queue_drops_oldest_when_down(void **state)
{
	struct down_peer *d = open_down_peer(4, TRANSPORT_OVERFLOW_DROP_OLDEST);
	struct transport_peer peers[] = { { 1, d->sender.address } };
	struct transport_peer_stats stats;

	(void)state;
	for (uint32_t seq = 0; seq < 10; seq++)
		assert_int_equal(transport_send(d->sender.t, 2, &seq, sizeof(seq)), TRANSPORT_OK);
	assert_int_equal(transport_get_peer_stats(d->sender.t, 2, &stats), TRANSPORT_OK);
	assert_int_equal(stats.queued, 4);
	assert_int_equal(stats.queue_dropped, 6);
	assert_int_equal(stats.frames_sent, 0);

	/* The receiver starts expecting sequence 6, the oldest frame still queued. */
	d->receiver.rx.next_seq[1] = 6;
	open_node(&d->loop, &d->receiver, 2, peers, 1, 4, TRANSPORT_OVERFLOW_DROP_OLDEST);
	assert_true(wait_received(&d->loop, &d->receiver, 4));
	assert_int_equal(d->receiver.rx.order_errors, 0);
	assert_int_equal(d->receiver.rx.next_seq[1], 10);

	close_node(&d->loop, &d->sender);
	close_node(&d->loop, &d->receiver);
	close_loop(&d->loop);
	free(d);
}

/* Closing with queued frames must free them; ASan reports any leak. */
static void test_queue_rejects_when_down(void **state)
{
	struct down_peer *d = open_down_peer(4, TRANSPORT_OVERFLOW_REJECT);
	struct transport_peer_stats stats;

	(void)state;
	for (uint32_t seq = 0; seq < 4; seq++)
		assert_int_equal(transport_send(d->sender.t, 2, &seq, sizeof(seq)), TRANSPORT_OK);
	assert_int_equal(transport_send(d->sender.t, 2, "x", 1), TRANSPORT_QUEUE_FULL);
	assert_int_equal(transport_send(d->sender.t, 2, "y", 1), TRANSPORT_QUEUE_FULL);
	assert_int_equal(transport_get_peer_stats(d->sender.t, 2, &stats), TRANSPORT_OK);
	assert_int_equal(stats.queued, 4);
	assert_int_equal(stats.queue_rejected, 2);

	close_node(&d->loop, &d->sender);
	close_loop(&d->loop);
	free(d);
}

/* Closing right after queueing many frames to a connected peer frees them all. */
static void test_close_with_pending_sends(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct transport_peer_stats stats;

	(void)state;
	assert_non_null(c);
	open_cluster(c, ORDERED_FRAMES);
	for (uint32_t seq = 0; seq < ORDERED_FRAMES; seq++)
		assert_int_equal(transport_send(c->nodes[1].t, 2, &seq, sizeof(seq)), TRANSPORT_OK);
	assert_int_equal(transport_get_peer_stats(c->nodes[1].t, 2, &stats), TRANSPORT_OK);
	assert_int_equal(stats.frames_sent + stats.queued, ORDERED_FRAMES);
	close_cluster(c);
	free(c);
}

struct resend {
	struct transport *t;
	uint32_t seq;
};

static void on_resend(uv_timer_t *timer)
{
	struct resend *r = timer->data;

	assert_int_equal(transport_send(r->t, 2, &r->seq, sizeof(r->seq)), TRANSPORT_OK);
	r->seq++;
}

/*
 * Node 2 closes and opens again on the same address, and node 1 reaches it
 * again without being reopened. Frames sent while node 2 was going down may
 * be lost inside nanomsg, so node 1 sends one frame every 10 ms until one
 * arrives.
 */
static void test_peer_restart_reconnects(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct transport_peer peers2[] = { { 1, c->nodes[1].address }, { 3, c->nodes[3].address } };
	struct resend resend;
	uv_timer_t timer;

	(void)state;
	assert_non_null(c);
	open_cluster(c, 16);
	assert_int_equal(transport_send(c->nodes[1].t, 2, "a", 1), TRANSPORT_OK);
	assert_true(wait_received(&c->loop, &c->nodes[2], 1));
	close_node(&c->loop, &c->nodes[2]);

	memset(&c->nodes[2].rx, 0, sizeof(c->nodes[2].rx));
	c->nodes[2].closed = false;
	open_node(&c->loop, &c->nodes[2], 2, peers2, 2, 16, TRANSPORT_OVERFLOW_REJECT);
	resend = (struct resend){ .t = c->nodes[1].t, .seq = 0 };
	uv_timer_init(&c->loop, &timer);
	timer.data = &resend;
	uv_timer_start(&timer, on_resend, 0, 10);
	assert_true(wait_received(&c->loop, &c->nodes[2], 1));
	uv_close((uv_handle_t *)&timer, NULL);

	assert_int_equal(c->nodes[2].rx.last_peer, 1);
	assert_int_equal(c->nodes[2].rx.last_len, sizeof(uint32_t));
	close_cluster(c);
	free(c);
}

/* ---- errors, metrics, keys ---- */

static void test_send_rejects_bad_arguments(void **state)
{
	struct down_peer *d = open_down_peer(4, TRANSPORT_OVERFLOW_REJECT);
	static unsigned char big[PAYLOAD_MAX + 1];

	(void)state;
	assert_int_equal(transport_send(d->sender.t, 7, "x", 1), TRANSPORT_UNKNOWN_PEER);
	assert_int_equal(transport_send(d->sender.t, 2, big, sizeof(big)), TRANSPORT_TOO_LARGE);
	assert_int_equal(transport_send(d->sender.t, 2, big, PAYLOAD_MAX), TRANSPORT_OK);
	close_node(&d->loop, &d->sender);
	close_loop(&d->loop);
	free(d);
}

static void test_open_rejects_bad_config(void **state)
{
	uv_loop_t loop;
	struct transport *t = NULL;
	struct transport_peer self[] = { { 1, "tcp://127.0.0.1:1" } };
	struct transport_peer twice[] = { { 2, "tcp://127.0.0.1:1" }, { 2, "tcp://127.0.0.1:2" } };
	struct transport_config config = {
		.loop = &loop,
		.node_id = 1,
		.listen_address = "tcp://127.0.0.1:1",
		.payload_max_bytes = PAYLOAD_MAX,
		.send_queue_max = 4,
		.on_frame = on_frame,
	};

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	config.peers = self;
	config.peer_count = 1;
	assert_int_equal(transport_open(&config, &t), TRANSPORT_INVALID_CONFIG);
	config.peers = twice;
	config.peer_count = 2;
	assert_int_equal(transport_open(&config, &t), TRANSPORT_INVALID_CONFIG);
	config.peer_count = 0;
	config.send_queue_max = 0;
	assert_int_equal(transport_open(&config, &t), TRANSPORT_INVALID_CONFIG);
	config.send_queue_max = 4;
	config.listen_address = "nonsense://";
	assert_int_equal(transport_open(&config, &t), TRANSPORT_SOCKET_FAILED);
	assert_null(t);
	close_loop(&loop);
}

static void test_metrics_name_drop_reasons(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	unsigned char frame[64];
	struct buf out;
	int raw;

	(void)state;
	assert_non_null(c);
	open_cluster(c, 16);
	raw = open_raw_push(c->nodes[2].address);
	send_raw(raw, frame, build_forgery(frame, sizeof(frame)));
	send_raw(raw, frame, build_frame(frame, TRANSPORT_FRAME_VERSION, 3, cluster_key, "ok", 2));
	assert_true(wait_received(&c->loop, &c->nodes[2], 1));

	buf_init(&out, 1 << 16);
	transport_write_metrics(c->nodes[2].t, &out);
	assert_false(out.failed);
	assert_true(buf_append(&out, "", 1));
	assert_non_null(strstr(out.data, "jkd_transport_frames_dropped_total{reason=\"auth\"} 1\n"));
	assert_non_null(strstr(out.data, "jkd_transport_frames_dropped_total{reason=\"too_short\"} 0\n"));
	assert_non_null(strstr(out.data, "jkd_transport_frames_received_total 1\n"));
	assert_non_null(strstr(out.data, "jkd_transport_frames_sent_total{peer=\"3\"} 0\n"));
	assert_non_null(strstr(out.data, "# TYPE jkd_transport_send_queue_dropped_total counter\n"));
	buf_free(&out);
	nn_close(raw);
	close_cluster(c);
	free(c);
}

static void temp_file_path(char *out, size_t size, const char *name)
{
	const char *dir = getenv("JKD_TEST_TMP");

	snprintf(out, size, "%s/%s-%d", dir ? dir : "/tmp", name, (int)getpid());
	unlink(out);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_key_file_round_trip(void **state)
{
	unsigned char key[TRANSPORT_KEY_BYTES], loaded[TRANSPORT_KEY_BYTES];
	char path[512];
	struct stat st;

	(void)state;
	temp_file_path(path, sizeof(path), "transport-key");
	assert_int_equal(transport_key_generate(key), TRANSPORT_OK);
	assert_int_equal(transport_key_save(path, key), TRANSPORT_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(transport_key_load(path, loaded), TRANSPORT_OK);
	assert_memory_equal(key, loaded, sizeof(key));
	assert_int_equal(transport_key_save(path, key), TRANSPORT_KEY_FILE_EXISTS);

	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(transport_key_load(path, loaded), TRANSPORT_KEY_FILE_PERMISSIONS);
	unlink(path);
}

static void test_key_file_rejects_bad_text(void **state)
{
	unsigned char key[TRANSPORT_KEY_BYTES];
	char path[512];
	char hex65[66];

	(void)state;
	temp_file_path(path, sizeof(path), "transport-bad-key");
	assert_int_equal(transport_key_load(path, key), TRANSPORT_KEY_FILE_UNREADABLE);

	write_file(path, "abcd\n", 0600);
	assert_int_equal(transport_key_load(path, key), TRANSPORT_KEY_FILE_INVALID);
	memset(hex65, 'a', 65);
	hex65[65] = '\0';
	write_file(path, hex65, 0600);
	assert_int_equal(transport_key_load(path, key), TRANSPORT_KEY_FILE_INVALID);
	hex65[10] = 'z';
	hex65[64] = '\n';
	write_file(path, hex65, 0600);
	assert_int_equal(transport_key_load(path, key), TRANSPORT_KEY_FILE_INVALID);
	hex65[10] = 'a';
	write_file(path, hex65, 0600);
	assert_int_equal(transport_key_load(path, key), TRANSPORT_OK);
	unlink(path);
}

/*
 * The frame callback may close the transport, and no frame is delivered
 * after that. The frames are sent before the loop runs, so several may be
 * ready in one poll callback.
 */
static void test_close_inside_frame_callback(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	unsigned char frame[64];
	int raw;

	(void)state;
	assert_non_null(c);
	open_cluster(c, 16);
	c->nodes[2].close_on_frame = true;
	raw = open_raw_push(c->nodes[2].address);
	for (uint32_t seq = 0; seq < 20; seq++)
		send_raw(raw, frame, build_frame(frame, TRANSPORT_FRAME_VERSION, 1, cluster_key, &seq, sizeof(seq)));
	assert_true(run_until(&c->loop, node_closed, &c->nodes[2]));
	assert_int_equal(c->nodes[2].rx.count, 1);
	nn_close(raw);

	close_node(&c->loop, &c->nodes[1]);
	close_node(&c->loop, &c->nodes[3]);
	close_loop(&c->loop);
	free(c);
}

static size_t count_occurrences(const char *path, const char *needle)
{
	static char text[1 << 16];
	size_t count = 0;
	ssize_t len;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(len >= 0);
	text[len] = '\0';
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		count++;
	return count;
}

/*
 * Twenty forgeries in a burst are all counted but logged once, because the
 * log allows one line per reason per second. stderr goes to a file meanwhile.
 */
static void test_drop_log_rate_limited(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	unsigned char frame[64];
	struct transport_stats stats;
	char path[512];
	int saved_stderr, log_fd, raw;
	bool delivered;

	(void)state;
	assert_non_null(c);
	open_cluster(c, 16);
	raw = open_raw_push(c->nodes[2].address);
	for (int i = 0; i < 20; i++)
		send_raw(raw, frame, build_forgery(frame, sizeof(frame)));
	send_raw(raw, frame, build_frame(frame, TRANSPORT_FRAME_VERSION, 1, cluster_key, "ok", 2));

	temp_file_path(path, sizeof(path), "transport-log");
	log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(log_fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);
	delivered = wait_received(&c->loop, &c->nodes[2], 1);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	close(log_fd);

	assert_true(delivered);
	transport_get_stats(c->nodes[2].t, &stats);
	assert_int_equal(stats.frames_dropped[TRANSPORT_DROP_AUTH], 20);
	assert_int_equal(count_occurrences(path, "msg=transport_frame_dropped reason=auth"), 1);
	unlink(path);
	nn_close(raw);
	close_cluster(c);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_both_ways),
		cmocka_unit_test(test_frames_in_order_per_peer),
		BAD_FRAME_TEST("test_forged_frame_dropped", BAD_FORGERY),
		BAD_FRAME_TEST("test_flipped_bit_dropped", BAD_FLIPPED_BIT),
		BAD_FRAME_TEST("test_truncated_frame_dropped", BAD_TRUNCATED),
		BAD_FRAME_TEST("test_wrong_key_dropped", BAD_WRONG_KEY),
		BAD_FRAME_TEST("test_unknown_version_dropped", BAD_VERSION),
		BAD_FRAME_TEST("test_unknown_sender_dropped", BAD_SENDER),
		BAD_FRAME_TEST("test_oversized_frame_dropped", BAD_OVERSIZED),
		cmocka_unit_test(test_queue_drops_oldest_when_down),
		cmocka_unit_test(test_queue_rejects_when_down),
		cmocka_unit_test(test_close_with_pending_sends),
		cmocka_unit_test(test_peer_restart_reconnects),
		cmocka_unit_test(test_send_rejects_bad_arguments),
		cmocka_unit_test(test_open_rejects_bad_config),
		cmocka_unit_test(test_metrics_name_drop_reasons),
		cmocka_unit_test(test_close_inside_frame_callback),
		cmocka_unit_test(test_drop_log_rate_limited),
		cmocka_unit_test(test_key_file_round_trip),
		cmocka_unit_test(test_key_file_rejects_bad_text),
	};

	return cmocka_run_group_tests(tests, setup_key, NULL);
}
