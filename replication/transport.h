/*
 * transport: encrypted, authenticated frames between cluster nodes over
 * nanomsg, driven by one libuv loop.
 *
 * Each node binds one NN_PULL socket on its listen address and connects one
 * NN_PUSH socket per peer. The sockets' NN_RCVFD and NN_SNDFD descriptors are
 * watched with uv_poll_t, and every nanomsg call uses NN_DONTWAIT, so the loop
 * never blocks on the network.
 *
 * Frame layout (all integers big-endian):
 *
 *   version (1 byte, TRANSPORT_FRAME_VERSION)
 *   sender node id (4 bytes)
 *   nonce (24 bytes, random per frame)
 *   XChaCha20-Poly1305 IETF ciphertext of the payload plus its 16-byte tag
 *
 * The 29 header bytes are the associated data, so a changed version or
 * sender fails authentication. Every node of a cluster shares one 32-byte
 * key. Frames that are too short, too large, of an unknown version, from an
 * unknown sender, or that fail authentication are dropped, counted per
 * reason and logged at most once per second per reason.
 *
 * NOTE: the transport does not detect replayed frames. A frame recorded on
 * the network can be delivered again, so the protocol above it (Raft terms
 * and indexes) must tolerate duplicates.
 *
 * All functions except transport_write_metrics() must run on the loop's
 * thread. transport_write_metrics() reads atomic counters only and may run
 * on any thread while the transport is open.
 */
#ifndef JKD_REPLICATION_TRANSPORT_H
#define JKD_REPLICATION_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

#define TRANSPORT_KEY_BYTES 32
#define TRANSPORT_FRAME_VERSION 1
#define TRANSPORT_NONCE_BYTES 24
#define TRANSPORT_HEADER_BYTES (1 + 4 + TRANSPORT_NONCE_BYTES)
#define TRANSPORT_TAG_BYTES 16
#define TRANSPORT_PEERS_MAX 16

enum transport_err {
	TRANSPORT_OK = 0,
	TRANSPORT_INVALID_CONFIG,
	TRANSPORT_NO_MEMORY,
	TRANSPORT_CRYPTO_INIT_FAILED,
	TRANSPORT_SOCKET_FAILED,
	TRANSPORT_LOOP_FAILED,
	TRANSPORT_UNKNOWN_PEER,
	TRANSPORT_TOO_LARGE,
	TRANSPORT_QUEUE_FULL,
	TRANSPORT_CLOSING,
	TRANSPORT_KEY_FILE_UNREADABLE,
	TRANSPORT_KEY_FILE_PERMISSIONS,
	TRANSPORT_KEY_FILE_INVALID,
	TRANSPORT_KEY_FILE_EXISTS,
	TRANSPORT_KEY_FILE_WRITE_FAILED,
};

const char *transport_strerror(enum transport_err err);

/* Reasons a received frame is dropped; the metric label is transport_drop_reason_name(). */
enum transport_drop_reason {
	TRANSPORT_DROP_TOO_SHORT,
	TRANSPORT_DROP_TOO_LARGE,
	TRANSPORT_DROP_VERSION,
	TRANSPORT_DROP_UNKNOWN_SENDER,
	TRANSPORT_DROP_AUTH,
	TRANSPORT_DROP_REASON_COUNT,
};

const char *transport_drop_reason_name(enum transport_drop_reason reason);

/* Behaviour of transport_send() when a peer's send queue is full. */
enum transport_overflow {
	TRANSPORT_OVERFLOW_REJECT,      /* return TRANSPORT_QUEUE_FULL and keep the queued frames */
	TRANSPORT_OVERFLOW_DROP_OLDEST, /* drop the oldest queued frame to make room */
};

struct transport_peer {
	uint32_t id;
	const char *address; /* nanomsg address of the peer's listener, e.g. "tcp://127.0.0.1:7401" */
};

/*
 * Called on the loop thread for each authenticated frame. payload is valid
 * only during the call.
 */
typedef void (*transport_frame_fn)(void *ctx, uint32_t peer_id, const void *payload, size_t len);

struct transport_config {
	uv_loop_t *loop;
	uint32_t node_id;
	const char *listen_address; /* nanomsg address to bind, e.g. "tcp://127.0.0.1:7400" */
	const struct transport_peer *peers;
	size_t peer_count;          /* peer ids must be distinct and differ from node_id */
	unsigned char key[TRANSPORT_KEY_BYTES];
	size_t payload_max_bytes;   /* larger sends are rejected and larger frames dropped */
	size_t send_queue_max;      /* frames waiting per peer, at least 1 */
	enum transport_overflow overflow;
	transport_frame_fn on_frame;
	void *ctx;
};

struct transport;

/* Counters of one peer, for tests and metrics. */
struct transport_peer_stats {
	uint64_t frames_sent;      /* handed to nanomsg */
	uint64_t queue_dropped;    /* oldest frames dropped by TRANSPORT_OVERFLOW_DROP_OLDEST */
	uint64_t queue_rejected;   /* sends rejected by TRANSPORT_OVERFLOW_REJECT */
	size_t queued;             /* frames waiting now */
};

struct transport_stats {
	uint64_t frames_received;  /* authenticated and delivered */
	uint64_t frames_dropped[TRANSPORT_DROP_REASON_COUNT];
};

/*
 * Binds the listener, connects to the peers and starts receiving. The
 * config's strings and peer array are copied, and the key too.
 * Connections are made in the background by nanomsg, so a peer that is down
 * is not an error. On TRANSPORT_LOOP_FAILED the handles already created are
 * released the next time the loop runs.
 */
enum transport_err transport_open(const struct transport_config *config, struct transport **out);

/*
 * Encrypts payload and queues it for peer_id. The frame leaves as soon as
 * nanomsg accepts it, in order per peer. Returns TRANSPORT_QUEUE_FULL only
 * with TRANSPORT_OVERFLOW_REJECT.
 */
enum transport_err transport_send(struct transport *t, uint32_t peer_id, const void *payload, size_t len);

/*
 * Connects to one more peer (a node that joined the cluster). For a known
 * id it moves the connection to the given address if that differs (a node
 * added back elsewhere). At most TRANSPORT_PEERS_MAX peers.
 */
enum transport_err transport_add_peer(struct transport *t, const struct transport_peer *peer);

typedef void (*transport_closed_fn)(void *ctx);

/*
 * Stops receiving, drops queued frames and closes the sockets. Like
 * uv_close(), the memory is released from the loop: on_closed (may be NULL)
 * runs once everything is freed, and t must not be used after this call.
 */
void transport_close(struct transport *t, transport_closed_fn on_closed, void *ctx);

void transport_get_stats(const struct transport *t, struct transport_stats *out);
enum transport_err transport_get_peer_stats(const struct transport *t, uint32_t peer_id,
					    struct transport_peer_stats *out);

/*
 * Appends Prometheus counters: jkd_transport_frames_received_total,
 * jkd_transport_frames_dropped_total{reason=...}, and per peer
 * jkd_transport_frames_sent_total, jkd_transport_send_queue_dropped_total
 * and jkd_transport_send_queue_rejected_total.
 */
void transport_write_metrics(const struct transport *t, struct buf *out);

/* Fills key with random bytes from libsodium's CSPRNG. */
enum transport_err transport_key_generate(unsigned char key[TRANSPORT_KEY_BYTES]);

/*
 * Reads a key file: 64 hex digits, optionally followed by one newline.
 * A file that its group or others may read or write is rejected with
 * TRANSPORT_KEY_FILE_PERMISSIONS, because the key authenticates cluster
 * traffic.
 */
enum transport_err transport_key_load(const char *path, unsigned char key[TRANSPORT_KEY_BYTES]);

/* Writes key as a new file with mode 0600; an existing file is not replaced. */
enum transport_err transport_key_save(const char *path, const unsigned char key[TRANSPORT_KEY_BYTES]);

#endif
