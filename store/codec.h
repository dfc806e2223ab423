/*
 * Shop records: a kv record whose body is a msgpack map from short field
 * names to values. Named fields let a newer schema version add fields that
 * an older reader skips, and let a reader default the fields an older writer
 * did not have.
 *
 * Writing: rec_begin() declares how many fields follow; rec_end() checks the
 * count in debug builds and reports whether the buffer failed.
 * Reading: rec_decode() then the rec_get_* accessors. Strings and binaries
 * returned by the accessors point into the decoded bytes, so they stay valid
 * as long as those bytes (for a value from kv_get, until its transaction
 * ends).
 */
#ifndef JKD_STORE_CODEC_H
#define JKD_STORE_CODEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "kv/record.h"

struct rec_writer {
	struct buf *out;
	msgpack_packer pk;
	uint32_t fields_declared;
	uint32_t fields_written;
};

void rec_begin(struct rec_writer *w, struct buf *out, uint32_t type, uint32_t schema_version,
	       uint32_t field_count);
void rec_put_str(struct rec_writer *w, const char *name, const char *value, size_t len);
void rec_put_cstr(struct rec_writer *w, const char *name, const char *value); /* NULL packs nil */
void rec_put_u64(struct rec_writer *w, const char *name, uint64_t value);
void rec_put_i64(struct rec_writer *w, const char *name, int64_t value);
void rec_put_bool(struct rec_writer *w, const char *name, bool value);
void rec_put_bin(struct rec_writer *w, const char *name, const void *value, size_t len);
/* Packs the field name; the caller then packs exactly one value with w->pk. */
void rec_put_name(struct rec_writer *w, const char *name);
/* Returns 0, or -1 if the buffer failed (size limit or memory). */
int rec_end(struct rec_writer *w);

struct rec {
	msgpack_unpacked unpacked;
	struct kv_record_header header;
	const msgpack_object *body;
};

/*
 * Decodes data as a record of expected_type whose body is a map. Returns
 * KV_OK, or KV_BAD_RECORD (also for another type or a non-map body). Call
 * rec_free() whatever it returns.
 */
enum kv_err rec_decode(struct rec *r, const void *data, size_t len, uint32_t expected_type);
void rec_free(struct rec *r);

/* Returns the field's value object, or NULL if absent. */
const msgpack_object *rec_get(const struct rec *r, const char *name);
/* Each accessor returns false (and leaves *out alone) if the field is absent or of another type. */
bool rec_get_str(const struct rec *r, const char *name, const char **out, size_t *len);
bool rec_get_u64(const struct rec *r, const char *name, uint64_t *out);
bool rec_get_i64(const struct rec *r, const char *name, int64_t *out);
bool rec_get_bool(const struct rec *r, const char *name, bool *out);
bool rec_get_bin(const struct rec *r, const char *name, const void **out, size_t *len);
/* Copies a string field and a NUL into out; false if absent, of another type, or not shorter than out_size. */
bool rec_get_str_copy(const struct rec *r, const char *name, char *out, size_t out_size);

/* Big-endian u64 helpers for keys, so numeric ids sort in key order. */
void key_put_u64(unsigned char *out, uint64_t value);
uint64_t key_get_u64(const unsigned char *in);

/* The msgpack write callback for a struct buf. */
int codec_buf_write(void *data, const char *bytes, size_t len);

#endif
