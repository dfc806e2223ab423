/*
 * Audit log of admin changes: table audit, sequence number -> {user, email,
 * command, action, target, summary, at}. Each admin command carries its
 * actor (user id and email) and the time the proposing node stamped. Its
 * apply appends the entry in the same transaction as the change, so the log
 * contains exactly the changes that happened, the same on every replica.
 *
 * Sequence numbers come from the counter "audit" and have no gaps: a
 * command that fails is rolled back together with its counter increment.
 */
#ifndef JKD_STORE_AUDIT_H
#define JKD_STORE_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/apply.h"
#include "store/codec.h"

#define AUDIT_ACTOR_FIELDS 3 /* "by", "by_email", "at" */
#define AUDIT_SUMMARY_MAX_BYTES 256
#define AUDIT_PAGE_MAX 200

/* The admin who proposed a command and when, as the proposing node stamped it. */
struct audit_actor {
	uint64_t user_id;
	const char *email; /* points into the command */
	size_t email_len;
	uint64_t at_ms;
};

/* Packs the AUDIT_ACTOR_FIELDS actor fields into a command being written. */
void audit_actor_pack(struct rec_writer *w, uint64_t user_id, const char *email, uint64_t at_ms);

/* Reads the actor fields of a command; returns false if one is missing. */
bool audit_actor_read(const struct rec *command, struct audit_actor *out);

/*
 * Appends an entry: action is a dotted name such as "product.update",
 * target the id of the changed resource, summary a short text of data
 * (slugs, SKUs, field names), cut to AUDIT_SUMMARY_MAX_BYTES.
 */
enum kv_err audit_append(struct store *store, struct kv_txn *txn, const struct audit_actor *actor,
			 uint32_t command_type, const char *action, uint64_t target_id, const char *summary);

/*
 * Returns {"entries": [...], "total": N, "next_before": seq or null}: at
 * most limit entries with a sequence below before (0: from the newest),
 * newest first. NULL with *err set on a storage error.
 */
json_t *audit_page_json(struct store *store, struct kv_txn *txn, uint64_t before, size_t limit, enum kv_err *err);

#endif
