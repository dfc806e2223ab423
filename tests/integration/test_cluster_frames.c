/*
 * Hostile frames sent with nanomsg NN_PUSH to a node's cluster port: a
 * forged sender, a wrong version, a flipped bit, a truncated frame and a
 * frame sealed with another key. Each is dropped and counted in
 * jkd_transport_frames_dropped_total{reason=...}; the node stays healthy
 * and its digest does not change. Frames follow replication/transport.h.
 *
 * Frames sealed with the right key can still carry Raft messages that no
 * correct node sends (replication/wire.h). They are dropped and counted in
 * jkd_repl_frames_invalid_total, and the node keeps applying writes.
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
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <sodium.h>

#include "replication/transport.h"
#include "tests/integration/cluster.h"

#define TIMEOUT_MS 10000
#define FRAME_MAX 256

static struct cluster cluster;
static size_t target;            /* the member that receives the frames */
static char digest_before[65];
static unsigned char cluster_key[TRANSPORT_KEY_BYTES];

static void key_read(const char *path, unsigned char key[TRANSPORT_KEY_BYTES])
{
	char hex[2 * TRANSPORT_KEY_BYTES + 2];
	FILE *f = fopen(path, "r");
	size_t len;

	assert_non_null(f);
	len = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	hex[len] = '\0';
	assert_int_equal(sodium_hex2bin(key, TRANSPORT_KEY_BYTES, hex, len, "\n", NULL, NULL), 0);
}

static int cluster_setup(void **state)
{
	uint64_t applied;

	(void)state;
	assert_true(sodium_init() >= 0);
	target = cluster_start(&cluster, 3, NULL);
	key_read(cluster.key_path, cluster_key);
	assert_true(cluster_digest_read(cluster.members[target].node, digest_before, &applied));
	return 0;
}

static int cluster_teardown(void **state)
{
	(void)state;
	cluster_stop(&cluster);
	return 0;
}

/* Builds a frame of len payload bytes from sender, sealed with key; returns its length. */
static size_t frame_seal_bytes(unsigned char *frame, uint8_t version, uint32_t sender, const unsigned char *key,
			       const void *payload, size_t len)
{
	unsigned long long sealed_len;

	assert_true(TRANSPORT_HEADER_BYTES + len + TRANSPORT_TAG_BYTES <= FRAME_MAX);
	frame[0] = version;
	frame[1] = (unsigned char)(sender >> 24);
	frame[2] = (unsigned char)(sender >> 16);
	frame[3] = (unsigned char)(sender >> 8);
	frame[4] = (unsigned char)sender;
	randombytes_buf(frame + 5, TRANSPORT_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(frame + TRANSPORT_HEADER_BYTES, &sealed_len,
						   (const unsigned char *)payload, len, frame,
						   TRANSPORT_HEADER_BYTES, NULL, frame + 5, key);
	return TRANSPORT_HEADER_BYTES + (size_t)sealed_len;
}

static size_t frame_seal(unsigned char *frame, uint8_t version, uint32_t sender, const unsigned char *key,
			 const char *payload)
{
	return frame_seal_bytes(frame, version, sender, key, payload, strlen(payload));
}

static void frame_send_to(size_t member, const unsigned char *frame, size_t len)
{
	int sock = nn_socket(AF_SP, NN_PUSH);
	int timeout_ms = TIMEOUT_MS, linger_ms = 1000;

	assert_true(sock >= 0);
	assert_int_equal(nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)), 0);
	assert_int_equal(nn_setsockopt(sock, NN_SOL_SOCKET, NN_LINGER, &linger_ms, sizeof(linger_ms)), 0);
	assert_true(nn_connect(sock, cluster.members[member].address) >= 0);
	if (nn_send(sock, frame, len, 0) != (int)len)
		fail_msg("nn_send to %s failed: %s", cluster.members[member].address, nn_strerror(nn_errno()));
	nn_close(sock);
}

static void frame_send(const unsigned char *frame, size_t len)
{
	frame_send_to(target, frame, len);
}

static double dropped(const char *reason)
{
	char series[128];
	double value;

	snprintf(series, sizeof(series), "jkd_transport_frames_dropped_total{reason=\"%s\"}", reason);
	value = cluster_metric(cluster.members[target].node, series);
	if (value < 0)
		fail_msg("metric %s is missing on node %" PRIu32, series, cluster.members[target].id);
	return value;
}

/* Sends the frame and fails the test unless the drop counter of reason grows. */
static void assert_dropped(const unsigned char *frame, size_t len, const char *reason)
{
	double before = dropped(reason);
	int64_t deadline;

	frame_send(frame, len);
	deadline = cluster_now_ms() + TIMEOUT_MS;
	while (dropped(reason) <= before) {
		if (cluster_now_ms() > deadline)
			fail_msg("the %s drop counter stayed at %.0f; log: %s", reason, before,
				 cluster.members[target].node->log_path);
		cluster_poll_pause();
	}
}

/* The node is still healthy and its shop tables did not change. */
static void assert_node_unchanged(void)
{
	char digest[65];
	uint64_t applied;

	assert_node_healthy(cluster.members[target].node);
	assert_true(cluster_digest_read(cluster.members[target].node, digest, &applied));
	assert_string_equal(digest, digest_before);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
}

/* A member other than the target, as the claimed sender of sealed frames. */
static uint32_t peer_id(void)
{
	return cluster.members[(target + 1) % cluster.count].id;
}

static void unknown_sender_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];
	size_t len = frame_seal(frame, TRANSPORT_FRAME_VERSION, 99, cluster_key, "forged");

	(void)state;
	assert_dropped(frame, len, "unknown_sender");
	assert_node_unchanged();
}

static void unknown_version_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];
	size_t len = frame_seal(frame, TRANSPORT_FRAME_VERSION + 1, peer_id(), cluster_key, "future");

	(void)state;
	assert_dropped(frame, len, "version");
	assert_node_unchanged();
}

static void flipped_bit_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];
	size_t len = frame_seal(frame, TRANSPORT_FRAME_VERSION, peer_id(), cluster_key, "flipped payload");

	(void)state;
	frame[TRANSPORT_HEADER_BYTES + 3] ^= 0x10;
	assert_dropped(frame, len, "auth");
	assert_node_unchanged();
}

static void flipped_nonce_bit_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];
	size_t len = frame_seal(frame, TRANSPORT_FRAME_VERSION, peer_id(), cluster_key, "flipped nonce");

	(void)state;
	frame[5] ^= 0x01;
	assert_dropped(frame, len, "auth");
	assert_node_unchanged();
}

static void truncated_header_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];

	(void)state;
	frame_seal(frame, TRANSPORT_FRAME_VERSION, peer_id(), cluster_key, "cut short");
	assert_dropped(frame, TRANSPORT_HEADER_BYTES + TRANSPORT_TAG_BYTES - 1, "too_short");
	assert_node_unchanged();
}

static void truncated_tag_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX];
	size_t len = frame_seal(frame, TRANSPORT_FRAME_VERSION, peer_id(), cluster_key, "tag cut off");

	(void)state;
	assert_dropped(frame, len - 1, "auth");
	assert_node_unchanged();
}

static void wrong_key_frame_dropped(void **state)
{
	unsigned char frame[FRAME_MAX], other_key[TRANSPORT_KEY_BYTES];
	size_t len;

	(void)state;
	randombytes_buf(other_key, sizeof(other_key));
	len = frame_seal(frame, TRANSPORT_FRAME_VERSION, peer_id(), other_key, "other cluster");
	assert_dropped(frame, len, "auth");
	assert_node_unchanged();
}

/* Raft messages as replication/wire.h encodes them, inside a FRAME_RAFT (1) frame. */
enum { FRAME_RAFT = 1, MSG_APPEND = 0, MSG_APPEND_RESP = 1, RAFT_PAYLOAD_BYTES = 1 + 1 + 8 * 8 + 1 + 4 };

struct raft_fields {
	uint8_t type;
	uint64_t from, to, term, log_term, index, commit;
};

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* Encodes a Raft message without entries; returns the payload length. */
static size_t raft_payload(unsigned char *p, const struct raft_fields *f)
{
	const uint64_t fields[8] = {f->from, f->to, f->term, f->log_term, f->index, f->commit, 0, 0};

	p[0] = FRAME_RAFT;
	p[1] = f->type;
	for (size_t i = 0; i < 8; i++)
		put_u64(p + 2 + 8 * i, fields[i]);
	memset(p + 2 + 64, 0, 1 + 4); /* reject, entry count */
	return RAFT_PAYLOAD_BYTES;
}

static double frames_invalid(size_t member)
{
	double value = cluster_metric(cluster.members[member].node, "jkd_repl_frames_invalid_total");

	if (value < 0)
		fail_msg("jkd_repl_frames_invalid_total is missing on node %" PRIu32, cluster.members[member].id);
	return value;
}

/* Seals a Raft message from the member it names and waits until member counts it as invalid. */
static void assert_raft_msg_invalid(size_t member, const struct raft_fields *f)
{
	unsigned char payload[RAFT_PAYLOAD_BYTES], frame[FRAME_MAX];
	size_t len = raft_payload(payload, f);
	double before = frames_invalid(member);
	int64_t deadline;

	len = frame_seal_bytes(frame, TRANSPORT_FRAME_VERSION, (uint32_t)f->from, cluster_key, payload, len);
	frame_send_to(member, frame, len);
	deadline = cluster_now_ms() + TIMEOUT_MS;
	while (frames_invalid(member) <= before) {
		if (cluster_now_ms() > deadline)
			fail_msg("node %" PRIu32 " did not count the message as invalid; log: %s",
				 cluster.members[member].id, cluster.members[member].node->log_path);
		cluster_poll_pause();
	}
}

/* The member is healthy and applies a new write; digest_before follows the write. */
static void assert_member_applies_writes(size_t member)
{
	uint64_t applied, index;
	int status;

	assert_node_healthy(cluster.members[member].node);
	status = cluster_kv_put(cluster.members[target].node, "frames-probe", "after", &index);
	assert_true(status == 200 || status == 201);
	cluster_wait_applied(&cluster, index, TIMEOUT_MS);
	cluster_assert_digests_equal(&cluster, TIMEOUT_MS);
	assert_true(cluster_digest_read(cluster.members[target].node, digest_before, &applied));
}

static uint64_t term_of(size_t member)
{
	struct cluster_state st;

	assert_true(cluster_state_read(cluster.members[member].node, &st));
	return st.term;
}

/*
 * An AppendEntries past the follower's log with log_term 0, the term that
 * raft_term_at() returns for a missing entry. Before the fix it moved the
 * commit index past the log, so the follower read entries it did not have.
 */
static void append_past_log_frame_dropped(void **state)
{
	size_t follower = cluster_follower(&cluster, target);
	struct raft_fields f = {
		.type = MSG_APPEND, .from = cluster.members[target].id, .to = cluster.members[follower].id,
		.term = term_of(follower), .index = 50000, .commit = 50000,
	};

	(void)state;
	assert_raft_msg_invalid(follower, &f);
	assert_member_applies_writes(follower);
}

/* A reply that acknowledges an index past the leader's log, which broke the leader's follower progress. */
static void append_reply_past_log_frame_dropped(void **state)
{
	size_t follower = cluster_follower(&cluster, target);
	struct raft_fields f = {
		.type = MSG_APPEND_RESP, .from = cluster.members[follower].id, .to = cluster.members[target].id,
		.term = term_of(target), .index = 50000,
	};

	(void)state;
	assert_raft_msg_invalid(target, &f);
	assert_member_applies_writes(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unknown_sender_frame_dropped),
		cmocka_unit_test(unknown_version_frame_dropped),
		cmocka_unit_test(flipped_bit_frame_dropped),
		cmocka_unit_test(flipped_nonce_bit_frame_dropped),
		cmocka_unit_test(truncated_header_frame_dropped),
		cmocka_unit_test(truncated_tag_frame_dropped),
		cmocka_unit_test(wrong_key_frame_dropped),
		cmocka_unit_test(append_past_log_frame_dropped),
		cmocka_unit_test(append_reply_past_log_frame_dropped),
	};

	return cmocka_run_group_tests(tests, cluster_setup, cluster_teardown);
}
