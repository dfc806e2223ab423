/*
 * Record encoding: every stored value and every command is a msgpack array
 * [type, schema_version, body], where type and schema_version are unsigned
 * integers and body is any msgpack object the owner of the type defines.
 * The type identifies what the body is; the schema version lets a newer build read
 * records written by an older one.
 */
#ifndef JKD_KV_RECORD_H
#define JKD_KV_RECORD_H

#include <msgpack.h>
#include <stdint.h>

#include "kv/kv.h"

struct kv_record_header {
	uint32_t type;
	uint32_t schema_version;
};

/*
 * Starts a record in pk: packs the array header and the two integers. The
 * caller packs exactly one more object, the body.
 */
int kv_record_begin(msgpack_packer *pk, uint32_t type, uint32_t schema_version);

/*
 * Decodes the record in data[0..len) into result (initialised by the
 * caller with msgpack_unpacked_init() and destroyed by it). On KV_OK,
 * *header contains type and version and *body points into result. Strings,
 * binaries and extension payloads in *body point into data, so data must
 * outlive *body as well.
 * Returns KV_BAD_RECORD if data is not exactly one well-formed record.
 */
enum kv_err kv_record_decode(const void *data, size_t len, msgpack_unpacked *result,
			     struct kv_record_header *header, const msgpack_object **body);

#endif
