/*
 * Record encoding declared in record.h: a msgpack array [type,
 * schema_version, body].
 *
 * kv_record_decode() accepts any byte string without crashing and without
 * allocating more than a small multiple of its length, because records
 * arrive from disk and from replication peers.
 */
#include "kv/record.h"

#include <stdbool.h>
#include <stdint.h>

int kv_record_begin(msgpack_packer *pk, uint32_t type, uint32_t schema_version)
{
	int rc;

	rc = msgpack_pack_array(pk, 3);
	if (rc == 0)
		rc = msgpack_pack_uint32(pk, type);
	if (rc == 0)
		rc = msgpack_pack_uint32(pk, schema_version);
	return rc;
}

enum format_kind {
	KIND_INVALID = 0,
	KIND_SCALAR,    /* a length field (maybe none), then that many bytes */
	KIND_ARRAY,     /* a count field, then that many objects */
	KIND_MAP,       /* a count field, then twice that many objects */
};

struct format {
	enum format_kind kind;
	unsigned char count_width; /* bytes of the big-endian length or count */
	unsigned char fixed_bytes; /* payload bytes beyond the length: ext type, numbers */
};

#define FIRST_TABLE_FORMAT 0xc0

/* Layout of the msgpack formats 0xc0 to 0xdf, from the msgpack specification. */
static const struct format formats[] = {
	[0xc0 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 0 },  /* nil */
	[0xc1 - FIRST_TABLE_FORMAT] = { KIND_INVALID, 0, 0 }, /* never used */
	[0xc2 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 0 },  /* false */
	[0xc3 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 0 },  /* true */
	[0xc4 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 1, 0 },  /* bin 8 */
	[0xc5 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 2, 0 },  /* bin 16 */
	[0xc6 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 4, 0 },  /* bin 32 */
	[0xc7 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 1, 1 },  /* ext 8 */
	[0xc8 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 2, 1 },  /* ext 16 */
	[0xc9 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 4, 1 },  /* ext 32 */
	[0xca - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 4 },  /* float 32 */
	[0xcb - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 8 },  /* float 64 */
	[0xcc - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 1 },  /* uint 8 */
	[0xcd - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 2 },  /* uint 16 */
	[0xce - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 4 },  /* uint 32 */
	[0xcf - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 8 },  /* uint 64 */
	[0xd0 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 1 },  /* int 8 */
	[0xd1 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 2 },  /* int 16 */
	[0xd2 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 4 },  /* int 32 */
	[0xd3 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 8 },  /* int 64 */
	[0xd4 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 2 },  /* fixext 1 */
	[0xd5 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 3 },  /* fixext 2 */
	[0xd6 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 5 },  /* fixext 4 */
	[0xd7 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 9 },  /* fixext 8 */
	[0xd8 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 0, 17 }, /* fixext 16 */
	[0xd9 - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 1, 0 },  /* str 8 */
	[0xda - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 2, 0 },  /* str 16 */
	[0xdb - FIRST_TABLE_FORMAT] = { KIND_SCALAR, 4, 0 },  /* str 32 */
	[0xdc - FIRST_TABLE_FORMAT] = { KIND_ARRAY, 2, 0 },   /* array 16 */
	[0xdd - FIRST_TABLE_FORMAT] = { KIND_ARRAY, 4, 0 },   /* array 32 */
	[0xde - FIRST_TABLE_FORMAT] = { KIND_MAP, 2, 0 },     /* map 16 */
	[0xdf - FIRST_TABLE_FORMAT] = { KIND_MAP, 4, 0 },     /* map 32 */
};

/* Returns the format of a first byte, folding the fix* ranges into the table's kinds. */
static struct format format_of(unsigned char byte, uint64_t *inline_count)
{
	*inline_count = 0;
	if (byte <= 0x7f || byte >= 0xe0)               /* positive and negative fixint */
		return (struct format){ KIND_SCALAR, 0, 0 };
	if (byte >= FIRST_TABLE_FORMAT)
		return formats[byte - FIRST_TABLE_FORMAT];
	if (byte >= 0xa0) {                             /* fixstr */
		*inline_count = byte & 0x1f;
		return (struct format){ KIND_SCALAR, 0, 0 };
	}
	*inline_count = byte & 0x0f;
	if (byte >= 0x90)                               /* fixarray */
		return (struct format){ KIND_ARRAY, 0, 0 };
	return (struct format){ KIND_MAP, 0, 0 };       /* fixmap */
}

static bool read_big_endian(const unsigned char *data, size_t len, size_t *off, unsigned width,
			    uint64_t *out)
{
	uint64_t value = 0;
	unsigned i;

	if (width > len - *off)
		return false;
	for (i = 0; i < width; i++)
		value = value << 8 | data[*off + i];
	*off += width;
	*out = value;
	return true;
}

/*
 * Reads one object's header at *off and moves *off past its header and its
 * scalar payload. *children is how many objects follow as its elements.
 */
static bool skip_header(const unsigned char *data, size_t len, size_t *off, uint64_t *children)
{
	struct format format;
	uint64_t count;
	uint64_t payload = 0;

	if (*off >= len)
		return false;
	format = format_of(data[(*off)++], &count);
	if (format.kind == KIND_INVALID)
		return false;
	if (format.count_width > 0 && !read_big_endian(data, len, off, format.count_width, &count))
		return false;

	*children = 0;
	if (format.kind == KIND_ARRAY)
		*children = count;
	else if (format.kind == KIND_MAP)
		*children = 2 * count;
	else
		payload = count + format.fixed_bytes;
	if (payload > len - *off)
		return false;
	*off += payload;
	return true;
}

/*
 * Checks that data contains exactly one complete msgpack object, without
 * allocating. msgpack_unpack_next() (msgpack-c 4.0) allocates room for all
 * the elements an array or map header declares before it reads them, so
 * the five bytes dd ff ff ff ff alone make it request over 100 GiB. Once
 * this check passes, every declared element is present in data, which
 * bounds what the unpacker allocates by a multiple of len.
 */
static bool is_one_complete_object(const unsigned char *data, size_t len)
{
	uint64_t pending = 1;   /* objects announced but not yet read */
	uint64_t children;
	size_t off = 0;

	while (pending > 0) {
		if (!skip_header(data, len, &off, &children))
			return false;
		pending = pending - 1 + children;
		/* Each pending object takes at least one byte. */
		if (pending > len - off)
			return false;
	}
	return off == len;
}

static bool uint32_of(const msgpack_object *object, uint32_t *out)
{
	if (object->type != MSGPACK_OBJECT_POSITIVE_INTEGER || object->via.u64 > UINT32_MAX)
		return false;
	*out = (uint32_t)object->via.u64;
	return true;
}

enum kv_err kv_record_decode(const void *data, size_t len, msgpack_unpacked *result,
			     struct kv_record_header *header, const msgpack_object **body)
{
	const msgpack_object *items;
	size_t off = 0;

	if (data == NULL || !is_one_complete_object(data, len))
		return KV_BAD_RECORD;
	if (msgpack_unpack_next(result, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		return KV_BAD_RECORD;
	if (result->data.type != MSGPACK_OBJECT_ARRAY || result->data.via.array.size != 3)
		return KV_BAD_RECORD;

	items = result->data.via.array.ptr;
	if (!uint32_of(&items[0], &header->type) || !uint32_of(&items[1], &header->schema_version))
		return KV_BAD_RECORD;
	*body = &items[2];
	return KV_OK;
}
