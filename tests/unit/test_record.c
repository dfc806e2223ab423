/* Unit tests of kv/record.c: encoding round trips and rejection of malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kv/record.h"

#define RANDOM_SEED 0x5eed1234u
#define RANDOM_ITERATIONS 10000
#define RANDOM_MAX_LEN 64

struct encoder {
	msgpack_sbuffer buffer;
	msgpack_packer packer;
};

struct bytes {
	const char *data;
	size_t len;
};

/* A byte string from a literal that may contain NUL bytes. */
#define BYTES(literal) ((struct bytes){ (literal), sizeof(literal) - 1 })
#define ARRAY_LEN(array) (sizeof(array) / sizeof((array)[0]))

static void encoder_init(struct encoder *e)
{
	msgpack_sbuffer_init(&e->buffer);
	msgpack_packer_init(&e->packer, &e->buffer, msgpack_sbuffer_write);
}

static void encoder_destroy(struct encoder *e)
{
	msgpack_sbuffer_destroy(&e->buffer);
}

static void pack_string(msgpack_packer *pk, const char *s)
{
	assert_int_equal(msgpack_pack_str(pk, strlen(s)), 0);
	assert_int_equal(msgpack_pack_str_body(pk, s, strlen(s)), 0);
}

/* Packs a body that uses most msgpack formats: map, array, str, bin, ext, float, ints. */
static void pack_rich_body(msgpack_packer *pk)
{
	assert_int_equal(msgpack_pack_map(pk, 3), 0);
	pack_string(pk, "sku");
	pack_string(pk, "shirt-red-m");
	pack_string(pk, "prices");
	assert_int_equal(msgpack_pack_array(pk, 4), 0);
	assert_int_equal(msgpack_pack_uint64(pk, UINT64_MAX), 0);
	assert_int_equal(msgpack_pack_int32(pk, -70000), 0);
	assert_int_equal(msgpack_pack_double(pk, 19.99), 0);
	assert_int_equal(msgpack_pack_nil(pk), 0);
	pack_string(pk, "blob");
	assert_int_equal(msgpack_pack_ext(pk, 3, 7), 0);
	assert_int_equal(msgpack_pack_ext_body(pk, "abc", 3), 0);
}

static void encode_rich_record(struct encoder *e, uint32_t type, uint32_t version)
{
	encoder_init(e);
	assert_int_equal(kv_record_begin(&e->packer, type, version), 0);
	pack_rich_body(&e->packer);
}

static enum kv_err decode(const void *data, size_t len)
{
	struct kv_record_header header;
	const msgpack_object *body;
	msgpack_unpacked result;
	enum kv_err err;

	msgpack_unpacked_init(&result);
	err = kv_record_decode(data, len, &result, &header, &body);
	msgpack_unpacked_destroy(&result);
	return err;
}

static void assert_all_rejected(const struct bytes *cases, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (decode(cases[i].data, cases[i].len) != KV_BAD_RECORD)
			fail_msg("case %zu was not rejected", i);
	}
}

static void round_trip_keeps_header_and_body(void **state)
{
	struct kv_record_header header;
	const msgpack_object *body;
	msgpack_unpacked result;
	struct encoder e;

	(void)state;
	encode_rich_record(&e, 7, 2);
	msgpack_unpacked_init(&result);
	assert_int_equal(kv_record_decode(e.buffer.data, e.buffer.size, &result, &header, &body),
			 KV_OK);
	assert_int_equal(header.type, 7);
	assert_int_equal(header.schema_version, 2);
	assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(body->via.map.size, 3);
	assert_int_equal(body->via.map.ptr[0].val.type, MSGPACK_OBJECT_STR);
	assert_int_equal(body->via.map.ptr[0].val.via.str.size, strlen("shirt-red-m"));
	assert_memory_equal(body->via.map.ptr[0].val.via.str.ptr, "shirt-red-m",
			    strlen("shirt-red-m"));
	assert_int_equal(body->via.map.ptr[1].val.via.array.ptr[0].via.u64, UINT64_MAX);
	msgpack_unpacked_destroy(&result);
	encoder_destroy(&e);
}

static void round_trip_keeps_uint32_extremes(void **state)
{
	struct kv_record_header header;
	const msgpack_object *body;
	msgpack_unpacked result;
	struct encoder e;

	(void)state;
	encoder_init(&e);
	assert_int_equal(kv_record_begin(&e.packer, UINT32_MAX, 0), 0);
	assert_int_equal(msgpack_pack_nil(&e.packer), 0);
	msgpack_unpacked_init(&result);
	assert_int_equal(kv_record_decode(e.buffer.data, e.buffer.size, &result, &header, &body),
			 KV_OK);
	assert_int_equal(header.type, UINT32_MAX);
	assert_int_equal(header.schema_version, 0);
	assert_int_equal(body->type, MSGPACK_OBJECT_NIL);
	msgpack_unpacked_destroy(&result);
	encoder_destroy(&e);
}

static void decode_accepts_array16_header(void **state)
{
	/* Not the shortest encoding of an array of 3, but valid msgpack. */
	const struct bytes record = BYTES("\xdc\x00\x03\x01\x02\xc0");

	(void)state;
	assert_int_equal(decode(record.data, record.len), KV_OK);
}

static void decode_rejects_every_truncated_prefix(void **state)
{
	struct encoder e;
	size_t len;

	(void)state;
	encode_rich_record(&e, 7, 2);
	for (len = 0; len < e.buffer.size; len++) {
		if (decode(e.buffer.data, len) != KV_BAD_RECORD)
			fail_msg("prefix of %zu of %zu bytes was not rejected", len, e.buffer.size);
	}
	assert_int_equal(decode(e.buffer.data, e.buffer.size), KV_OK);
	encoder_destroy(&e);
}

static void decode_rejects_trailing_bytes(void **state)
{
	struct encoder e;

	(void)state;
	encode_rich_record(&e, 7, 2);
	assert_int_equal(msgpack_pack_nil(&e.packer), 0);
	assert_int_equal(decode(e.buffer.data, e.buffer.size), KV_BAD_RECORD);
	assert_int_equal(decode(e.buffer.data, e.buffer.size - 1), KV_OK);
	encoder_destroy(&e);
}

static void decode_rejects_wrong_array_length(void **state)
{
	const struct bytes cases[] = {
		BYTES("\x90"),
		BYTES("\x91\x01"),
		BYTES("\x92\x01\x02"),
		BYTES("\x94\x01\x02\xc0\xc0"),
		BYTES("\xdc\x00\x02\x01\x02"),
	};

	(void)state;
	assert_all_rejected(cases, ARRAY_LEN(cases));
}

static void decode_rejects_non_array(void **state)
{
	const struct bytes cases[] = {
		BYTES("\x01"),
		BYTES("\xc0"),
		BYTES("\xa3" "abc"),
		BYTES("\x83\x01\x01\x02\x02\x03\x03"),
	};

	(void)state;
	assert_all_rejected(cases, ARRAY_LEN(cases));
}

static void decode_rejects_non_uint32_header(void **state)
{
	const struct bytes cases[] = {
		BYTES("\x93\xff\x01\xc0"),                             /* type -1 */
		BYTES("\x93\x01\xd0\xfe\xc0"),                         /* version -2 */
		BYTES("\x93\xcf\x00\x00\x00\x01\x00\x00\x00\x00\x01\xc0"), /* type 2^32 */
		BYTES("\x93\x01\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xc0"), /* version 2^64-1 */
		BYTES("\x93\xa1" "a\x01\xc0"),                         /* type "a" */
		BYTES("\x93\x01\xca\x3f\x80\x00\x00\xc0"),             /* version 1.0f */
		BYTES("\x93\xc3\x01\xc0"),                             /* type true */
		BYTES("\x93\xc0\x01\xc0"),                             /* type nil */
	};

	(void)state;
	assert_all_rejected(cases, ARRAY_LEN(cases));
}

static void decode_rejects_never_used_format_byte(void **state)
{
	const struct bytes cases[] = {
		BYTES("\xc1"),
		BYTES("\x93\x01\x01\xc1"),
		BYTES("\x93\x01\x01\x91\xc1"),
	};

	(void)state;
	assert_all_rejected(cases, ARRAY_LEN(cases));
}

/*
 * A header may declare up to 2^32 - 1 elements or bytes. Without a check
 * against the buffer length, msgpack-c would try to allocate for all of
 * them, which fails (or aborts under ASan) long before it finds that the
 * input is short.
 */
static void decode_rejects_oversized_declared_lengths(void **state)
{
	const struct bytes cases[] = {
		BYTES("\xdd\xff\xff\xff\xff"),
		BYTES("\xdf\xff\xff\xff\xff"),
		BYTES("\x93\x01\x01\xdd\xff\xff\xff\xff"),
		BYTES("\x93\x01\x01\xdf\xff\xff\xff\xff\xc0\xc0"),
		BYTES("\x93\x01\x01\xdc\xff\xff\xc0"),
		BYTES("\x93\x01\x01\xdb\xff\xff\xff\xff" "abc"),
		BYTES("\x93\x01\x01\xc6\xff\xff\xff\xff" "abc"),
		BYTES("\x93\x01\x01\xc9\xff\xff\xff\xff\x01" "abc"),
	};

	(void)state;
	assert_all_rejected(cases, ARRAY_LEN(cases));
}

static void decode_rejects_nesting_past_unpacker_limit(void **state)
{
	/* msgpack-c 4.0 unpacks at most MSGPACK_EMBED_STACK_SIZE (32) levels. */
	char deep[3 + 1000 + 1] = "\x93\x01\x01";
	char shallow[3 + 10 + 1] = "\x93\x01\x01";

	(void)state;
	memset(deep + 3, 0x91, 1000);
	deep[sizeof(deep) - 1] = (char)0xc0;
	assert_int_equal(decode(deep, sizeof(deep)), KV_BAD_RECORD);

	memset(shallow + 3, 0x91, 10);
	shallow[sizeof(shallow) - 1] = (char)0xc0;
	assert_int_equal(decode(shallow, sizeof(shallow)), KV_OK);
}

static uint32_t xorshift32(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* Fills data with either random bytes or a valid record with a few bytes changed. */
static size_t random_input(uint32_t *rng, const struct encoder *valid, unsigned char *data)
{
	size_t len, flips, i;

	if (xorshift32(rng) % 2 == 0) {
		len = xorshift32(rng) % (RANDOM_MAX_LEN + 1);
		for (i = 0; i < len; i++)
			data[i] = (unsigned char)xorshift32(rng);
		return len;
	}
	len = valid->buffer.size;
	memcpy(data, valid->buffer.data, len);
	flips = 1 + xorshift32(rng) % 3;
	for (i = 0; i < flips; i++)
		data[xorshift32(rng) % len] = (unsigned char)xorshift32(rng);
	return len - xorshift32(rng) % 2;
}

static void decode_survives_random_bytes(void **state)
{
	unsigned char data[RANDOM_MAX_LEN + 256];
	struct kv_record_header header;
	const msgpack_object *body;
	msgpack_unpacked result;
	uint32_t rng = RANDOM_SEED;
	struct encoder valid;
	enum kv_err err;
	size_t len;
	int i;

	(void)state;
	encode_rich_record(&valid, 7, 2);
	assert_true(valid.buffer.size <= sizeof(data));
	/* One result for all iterations also checks that decoding into a used result does not leak. */
	msgpack_unpacked_init(&result);
	for (i = 0; i < RANDOM_ITERATIONS; i++) {
		len = random_input(&rng, &valid, data);
		err = kv_record_decode(data, len, &result, &header, &body);
		if (err != KV_OK && err != KV_BAD_RECORD)
			fail_msg("seed 0x%08x, iteration %d: unexpected error %d", RANDOM_SEED, i, err);
		if (err == KV_OK && body == NULL)
			fail_msg("seed 0x%08x, iteration %d: KV_OK without a body", RANDOM_SEED, i);
	}
	msgpack_unpacked_destroy(&result);
	encoder_destroy(&valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_keeps_header_and_body),
		cmocka_unit_test(round_trip_keeps_uint32_extremes),
		cmocka_unit_test(decode_accepts_array16_header),
		cmocka_unit_test(decode_rejects_every_truncated_prefix),
		cmocka_unit_test(decode_rejects_trailing_bytes),
		cmocka_unit_test(decode_rejects_wrong_array_length),
		cmocka_unit_test(decode_rejects_non_array),
		cmocka_unit_test(decode_rejects_non_uint32_header),
		cmocka_unit_test(decode_rejects_never_used_format_byte),
		cmocka_unit_test(decode_rejects_oversized_declared_lengths),
		cmocka_unit_test(decode_rejects_nesting_past_unpacker_limit),
		cmocka_unit_test(decode_survives_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
