/*
 * Hostile frames sent with nanomsg NN_PUSH to a node's cluster port: a
 * forged sender, a wrong version, a flipped bit, a truncated frame and a
 * frame sealed with another key. Each is dropped and counted in
 * jkd_transport_frames_dropped_total{reason=...}; the node stays healthy
 * and its digest does not change. Frames follow replication/transport.h.
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

/* Builds a frame of payload from sender, sealed with key; returns its length. */
static size_t frame_seal(unsigned char *frame, uint8_t version, uint32_t sender, const unsigned char *key,
			 const char *payload)
{
	unsigned long long sealed_len;
	size_t len = strlen(payload);

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

static void frame_send(const unsigned char *frame, size_t len)
{
	int sock = nn_socket(AF_SP, NN_PUSH);
	int timeout_ms = TIMEOUT_MS, linger_ms = 1000;

	assert_true(sock >= 0);
	assert_int_equal(nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)), 0);
	assert_int_equal(nn_setsockopt(sock, NN_SOL_SOCKET, NN_LINGER, &linger_ms, sizeof(linger_ms)), 0);
	assert_true(nn_connect(sock, cluster.members[target].address) >= 0);
	if (nn_send(sock, frame, len, 0) != (int)len)
		fail_msg("nn_send to %s failed: %s", cluster.members[target].address, nn_strerror(nn_errno()));
	nn_close(sock);
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
	};

	return cmocka_run_group_tests(tests, cluster_setup, cluster_teardown);
}
