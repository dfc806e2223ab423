/*
 * wire: the byte layout of what replication writes to disk and sends to
 * peers. Raft messages and log entries are encoded here, and so are the
 * replica's own frames (forwarded proposals and read requests).
 *
 * All integers are big-endian. Decoders check every length against the
 * bytes present and fail instead of reading past the end, so a frame that
 * authenticated but was built by a buggy or hostile peer is dropped.
 */
#ifndef JKD_REPLICATION_WIRE_H
#define JKD_REPLICATION_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "replication/raft.h"

/* A read cursor over received bytes. failed is set by the first short read. */
struct wire_reader {
	const unsigned char *p;
	size_t left;
	bool failed;
};

void wire_reader_init(struct wire_reader *r, const void *data, size_t len);
uint8_t wire_get_u8(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
uint64_t wire_get_u64(struct wire_reader *r);
/* Returns a pointer to the next len bytes, or NULL (and sets failed). */
const void *wire_get_bytes(struct wire_reader *r, size_t len);

void wire_put_u8(struct buf *b, uint8_t v);
void wire_put_u32(struct buf *b, uint32_t v);
void wire_put_u64(struct buf *b, uint64_t v);
void wire_store_u64(unsigned char *p, uint64_t v);
uint64_t wire_load_u64(const unsigned char *p);

/* Appends a Raft message, entries included. */
void wire_put_raft_msg(struct buf *b, const struct raft_msg *m);

/*
 * Decodes a Raft message from r into m; entry data is copied (malloc), so m
 * owns it and raft_msg_clear() frees it. At most max_entries entries are
 * accepted. Returns false (m cleared) on malformed input.
 */
bool wire_get_raft_msg(struct wire_reader *r, struct raft_msg *m, size_t max_entries);

/* A log entry as stored: term, type, then the data. */
void wire_put_entry_value(struct buf *b, const struct raft_entry *e);
/* Decodes a stored entry; data points into the input. */
bool wire_get_entry_value(const void *data, size_t len, uint64_t index, struct raft_entry *e);

#endif
