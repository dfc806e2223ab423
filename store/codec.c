/* Shop record encoding; see codec.h. */
#include "store/codec.h"

#include <assert.h>
#include <string.h>

int codec_buf_write(void *data, const char *bytes, size_t len)
{
	return buf_append(data, bytes, len) ? 0 : -1;
}

void rec_begin(struct rec_writer *w, struct buf *out, uint32_t type, uint32_t schema_version,
	       uint32_t field_count)
{
	w->out = out;
	w->fields_declared = field_count;
	w->fields_written = 0;
	msgpack_packer_init(&w->pk, out, codec_buf_write);
	kv_record_begin(&w->pk, type, schema_version);
	msgpack_pack_map(&w->pk, field_count);
}

void rec_put_name(struct rec_writer *w, const char *name)
{
	size_t len = strlen(name);

	w->fields_written++;
	msgpack_pack_str_with_body(&w->pk, name, len);
}

void rec_put_str(struct rec_writer *w, const char *name, const char *value, size_t len)
{
	rec_put_name(w, name);
	msgpack_pack_str_with_body(&w->pk, value, len);
}

void rec_put_cstr(struct rec_writer *w, const char *name, const char *value)
{
	if (value == NULL) {
		rec_put_name(w, name);
		msgpack_pack_nil(&w->pk);
		return;
	}
	rec_put_str(w, name, value, strlen(value));
}

void rec_put_u64(struct rec_writer *w, const char *name, uint64_t value)
{
	rec_put_name(w, name);
	msgpack_pack_uint64(&w->pk, value);
}

void rec_put_i64(struct rec_writer *w, const char *name, int64_t value)
{
	rec_put_name(w, name);
	msgpack_pack_int64(&w->pk, value);
}

void rec_put_bool(struct rec_writer *w, const char *name, bool value)
{
	rec_put_name(w, name);
	if (value)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

void rec_put_bin(struct rec_writer *w, const char *name, const void *value, size_t len)
{
	rec_put_name(w, name);
	msgpack_pack_bin_with_body(&w->pk, value, len);
}

int rec_end(struct rec_writer *w)
{
	assert(w->fields_written == w->fields_declared);
	return w->out->failed ? -1 : 0;
}

enum kv_err rec_decode(struct rec *r, const void *data, size_t len, uint32_t expected_type)
{
	enum kv_err err;

	msgpack_unpacked_init(&r->unpacked);
	r->body = NULL;
	err = kv_record_decode(data, len, &r->unpacked, &r->header, &r->body);
	if (err != KV_OK)
		return err;
	if (r->header.type != expected_type || r->body->type != MSGPACK_OBJECT_MAP)
		return KV_BAD_RECORD;
	return KV_OK;
}

void rec_free(struct rec *r)
{
	msgpack_unpacked_destroy(&r->unpacked);
}

const msgpack_object *rec_get(const struct rec *r, const char *name)
{
	size_t name_len = strlen(name);

	if (r->body == NULL || r->body->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < r->body->via.map.size; i++) {
		const msgpack_object_kv *kv = &r->body->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == name_len &&
		    memcmp(kv->key.via.str.ptr, name, name_len) == 0)
			return &kv->val;
	}
	return NULL;
}

bool rec_get_str(const struct rec *r, const char *name, const char **out, size_t *len)
{
	const msgpack_object *o = rec_get(r, name);

	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return false;
	*out = o->via.str.ptr;
	*len = o->via.str.size;
	return true;
}

bool rec_get_str_copy(const struct rec *r, const char *name, char *out, size_t out_size)
{
	const char *s;
	size_t len;

	if (!rec_get_str(r, name, &s, &len) || len >= out_size)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

bool rec_get_u64(const struct rec *r, const char *name, uint64_t *out)
{
	const msgpack_object *o = rec_get(r, name);

	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = o->via.u64;
	return true;
}

bool rec_get_i64(const struct rec *r, const char *name, int64_t *out)
{
	const msgpack_object *o = rec_get(r, name);

	if (o == NULL)
		return false;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return true;
	}
	return false;
}

bool rec_get_bool(const struct rec *r, const char *name, bool *out)
{
	const msgpack_object *o = rec_get(r, name);

	if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	*out = o->via.boolean;
	return true;
}

bool rec_get_bin(const struct rec *r, const char *name, const void **out, size_t *len)
{
	const msgpack_object *o = rec_get(r, name);

	if (o == NULL || o->type != MSGPACK_OBJECT_BIN)
		return false;
	*out = o->via.bin.ptr;
	*len = o->via.bin.size;
	return true;
}

void key_put_u64(unsigned char *out, uint64_t value)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(value & 0xff);
		value >>= 8;
	}
}

uint64_t key_get_u64(const unsigned char *in)
{
	uint64_t value = 0;

	for (int i = 0; i < 8; i++)
		value = (value << 8) | in[i];
	return value;
}
