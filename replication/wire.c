/*
 * Byte layout of replication messages and stored log entries; see wire.h.
 */
#include "replication/wire.h"

#include <stdlib.h>
#include <string.h>

void wire_reader_init(struct wire_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->left = len;
	r->failed = false;
}

const void *wire_get_bytes(struct wire_reader *r, size_t len)
{
	const void *p = r->p;

	if (r->failed || len > r->left) {
		r->failed = true;
		return NULL;
	}
	r->p += len;
	r->left -= len;
	return p;
}

uint8_t wire_get_u8(struct wire_reader *r)
{
	const unsigned char *p = wire_get_bytes(r, 1);

	return p != NULL ? p[0] : 0;
}

uint32_t wire_get_u32(struct wire_reader *r)
{
	const unsigned char *p = wire_get_bytes(r, 4);

	if (p == NULL)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t wire_load_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void wire_store_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

uint64_t wire_get_u64(struct wire_reader *r)
{
	const unsigned char *p = wire_get_bytes(r, 8);

	return p != NULL ? wire_load_u64(p) : 0;
}

void wire_put_u8(struct buf *b, uint8_t v)
{
	buf_append(b, &v, 1);
}

void wire_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			      (unsigned char)v};

	buf_append(b, p, sizeof(p));
}

void wire_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	wire_store_u64(p, v);
	buf_append(b, p, sizeof(p));
}

void wire_put_raft_msg(struct buf *b, const struct raft_msg *m)
{
	wire_put_u8(b, (uint8_t)m->type);
	wire_put_u64(b, m->from);
	wire_put_u64(b, m->to);
	wire_put_u64(b, m->term);
	wire_put_u64(b, m->log_term);
	wire_put_u64(b, m->index);
	wire_put_u64(b, m->commit);
	wire_put_u64(b, m->hint);
	wire_put_u64(b, m->context);
	wire_put_u8(b, m->reject ? 1 : 0);
	wire_put_u32(b, (uint32_t)m->n_entries);
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];

		wire_put_u8(b, (uint8_t)e->type);
		wire_put_u64(b, e->term);
		wire_put_u64(b, e->index);
		wire_put_u32(b, (uint32_t)e->len);
		if (e->len > 0)
			buf_append(b, e->data, e->len);
	}
}

bool wire_get_raft_msg(struct wire_reader *r, struct raft_msg *m, size_t max_entries)
{
	uint8_t type = wire_get_u8(r);
	uint32_t n;

	memset(m, 0, sizeof(*m));
	m->type = (enum raft_msg_type)type;
	m->from = wire_get_u64(r);
	m->to = wire_get_u64(r);
	m->term = wire_get_u64(r);
	m->log_term = wire_get_u64(r);
	m->index = wire_get_u64(r);
	m->commit = wire_get_u64(r);
	m->hint = wire_get_u64(r);
	m->context = wire_get_u64(r);
	m->reject = wire_get_u8(r) != 0;
	n = wire_get_u32(r);
	if (r->failed || type >= RAFT_MSG_TYPE_COUNT || n > max_entries)
		return false;
	if (n == 0)
		return true;
	m->entries = calloc(n, sizeof(*m->entries));
	if (m->entries == NULL)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct raft_entry *e = &m->entries[i];
		uint8_t entry_type = wire_get_u8(r);
		const void *data;

		e->term = wire_get_u64(r);
		e->index = wire_get_u64(r);
		e->len = wire_get_u32(r);
		data = wire_get_bytes(r, e->len);
		m->n_entries = i + 1;
		if (data == NULL || entry_type > RAFT_ENTRY_CONF_CHANGE) {
			e->len = 0;
			raft_msg_clear(m);
			return false;
		}
		e->type = (enum raft_entry_type)entry_type;
		if (e->len > 0) {
			e->data = malloc(e->len);
			if (e->data == NULL) {
				e->len = 0;
				raft_msg_clear(m);
				return false;
			}
			memcpy(e->data, data, e->len);
		}
	}
	return true;
}

void wire_put_entry_value(struct buf *b, const struct raft_entry *e)
{
	wire_put_u64(b, e->term);
	wire_put_u8(b, (uint8_t)e->type);
	if (e->len > 0)
		buf_append(b, e->data, e->len);
}

bool wire_get_entry_value(const void *data, size_t len, uint64_t index, struct raft_entry *e)
{
	struct wire_reader r;
	uint8_t type;

	wire_reader_init(&r, data, len);
	e->index = index;
	e->term = wire_get_u64(&r);
	type = wire_get_u8(&r);
	if (r.failed || type > RAFT_ENTRY_CONF_CHANGE)
		return false;
	e->type = (enum raft_entry_type)type;
	e->len = r.left;
	e->data = r.left > 0 ? (void *)r.p : NULL;
	return true;
}
