/*
 * Apply functions of the stock and bulk price commands, and
 * catalog_stock_add() for other domains (orders); see catalog.h.
 *
 * Stock is never written by saving a product or a variant page, only by
 * these adjustments and by orders, so a save can never overwrite units sold
 * meanwhile. Every stock change (a sale, a cancel, an adjustment) and every
 * bulk price change also bumps the product's version, so an admin who
 * saves a page opened before it gets 412 and can reload to see what changed. A bulk
 * price change bumps each variant's version too, because a price is edited
 * on the variant.
 *
 * The bulk commands are all or nothing: they write as they go and, if any
 * entry fails, return an error status, which makes the writer discard the
 * command's nested transaction (see repl_apply_fn). The error lists every
 * entry that failed, not only the first.
 */
#include "store/catalog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/i18n.h"

#define PERCENT_BP_ONE 10000 /* basis points in 100 % */

/* One stock adjustment: add delta, or set the value if the stock still is expected. */
struct stock_change {
	uint64_t variant_id;
	bool is_set;
	int64_t delta;
	int64_t set;
	int64_t expected;
};

enum stock_error {
	STOCK_OK,
	STOCK_CHANGED,      /* set with an expected value that is not the current one */
	STOCK_INSUFFICIENT, /* the delta would take the stock below zero */
	STOCK_TOO_LARGE,    /* the result would pass CATALOG_STOCK_MAX */
};

static const char *const stock_error_codes[] = {
	[STOCK_OK] = "ok",
	[STOCK_CHANGED] = "stock_changed",
	[STOCK_INSUFFICIENT] = "insufficient_stock",
	[STOCK_TOO_LARGE] = "stock_too_large",
};

static enum stock_error stock_next(int64_t stock, const struct stock_change *change, int64_t *next)
{
	if (change->is_set) {
		if (stock != change->expected)
			return STOCK_CHANGED;
		*next = change->set;
		return change->set > CATALOG_STOCK_MAX ? STOCK_TOO_LARGE : STOCK_OK;
	}
	/* stock is within [0, CATALOG_STOCK_MAX], so these comparisons cannot overflow. */
	if (change->delta < -stock)
		return STOCK_INSUFFICIENT;
	if (change->delta > CATALOG_STOCK_MAX - stock)
		return STOCK_TOO_LARGE;
	*next = stock + change->delta;
	return STOCK_OK;
}

/* Reads a stock change from a map: {variant, delta} or {variant, set, expected}. */
static bool stock_change_read(const struct rec *map, struct stock_change *out)
{
	memset(out, 0, sizeof(*out));
	if (!rec_get_u64(map, "variant", &out->variant_id))
		return false;
	if (rec_get_i64(map, "delta", &out->delta))
		return true;
	out->is_set = true;
	return rec_get_i64(map, "set", &out->set) && rec_get_i64(map, "expected", &out->expected) && out->set >= 0;
}

enum kv_err catalog_stock_add(struct store *store, struct kv_txn *txn, uint64_t variant_id, int64_t delta,
			      int64_t *new_stock)
{
	struct stock_change change = {.variant_id = variant_id, .delta = delta};
	struct catalog_variant variant;
	enum kv_err err = catalog_variant_get(store, txn, variant_id, &variant);

	if (err != KV_OK)
		return err;
	if (stock_next(variant.stock, &change, &variant.stock) != STOCK_OK)
		return KV_INVALID;
	err = catalog_variant_put(store, txn, &variant);
	if (err == KV_OK)
		err = catalog_product_touch(store, txn, variant.product_id);
	if (err == KV_OK && new_stock != NULL)
		*new_stock = variant.stock;
	return err;
}

static json_t *stock_json(const struct catalog_variant *variant)
{
	return json_pack("{s:I, s:I, s:s, s:I, s:b}", "variant_id", (json_int_t)variant->id, "product_id",
			 (json_int_t)variant->product_id, "sku", variant->sku, "stock", (json_int_t)variant->stock,
			 "available", variant->stock > 0);
}

static enum kv_err stock_error_result(struct repl_result *result, enum stock_error error,
				      const struct catalog_variant *variant)
{
	json_t *details = json_pack("{s:I, s:I}", "variant_id", (json_int_t)variant->id, "stock",
				    (json_int_t)variant->stock);

	switch (error) {
	case STOCK_CHANGED:
		return store_result_error_json(result, STORE_CONFLICT, "stock_changed", "expected",
					       N_("The stock changed meanwhile. The current value is in \"stock\": check it and send the adjustment again."),
					       details);
	case STOCK_INSUFFICIENT:
		return store_result_error_json(result, STORE_CONFLICT, "insufficient_stock", "delta",
					       N_("The stock cannot go below zero. The current value is in \"stock\"."),
					       details);
	default:
		return store_result_error_json(result, STORE_INVALID, "stock_too_large", "delta",
					       N_("The stock cannot exceed 1000000000 units."), details);
	}
}

enum kv_err catalog_apply_stock_adjust(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result)
{
	struct stock_change change;
	struct catalog_variant variant;
	struct audit_actor actor;
	enum stock_error error;
	int64_t before, next = 0;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!stock_change_read(command, &change) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_variant_get(store, txn, change.variant_id, &variant);
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_NOT_FOUND, "variant_not_found", "id",
					  N_("This variant does not exist. It may have been deleted."));
	if (err != KV_OK)
		return err;
	error = stock_next(variant.stock, &change, &next);
	if (error != STOCK_OK)
		return stock_error_result(result, error, &variant);

	before = variant.stock;
	variant.stock = next;
	err = catalog_variant_put(store, txn, &variant);
	if (err == KV_OK)
		err = catalog_product_touch(store, txn, variant.product_id);
	snprintf(summary, sizeof(summary), "sku=%s stock=%lld->%lld", variant.sku, (long long)before, (long long)next);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_STOCK_ADJUST, "stock.adjust", variant.id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, stock_json(&variant));
}

/* Product ids touched by a bulk command, each refreshed once at the end. */
struct touched {
	uint64_t ids[CATALOG_BULK_MAX];
	size_t count;
};

static int id_order(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts ids and drops repeats; returns the new count. */
static size_t ids_unique(uint64_t *ids, size_t count)
{
	size_t kept = 0;

	qsort(ids, count, sizeof(ids[0]), id_order);
	for (size_t i = 0; i < count; i++) {
		if (kept == 0 || ids[i] != ids[kept - 1])
			ids[kept++] = ids[i];
	}
	return kept;
}

static enum kv_err touched_refresh(struct store *store, struct kv_txn *txn, struct touched *touched)
{
	enum kv_err err = KV_OK;

	touched->count = ids_unique(touched->ids, touched->count);
	for (size_t i = 0; i < touched->count && err == KV_OK; i++)
		err = catalog_product_touch(store, txn, touched->ids[i]);
	return err;
}

/* Appends {"variant_id", "code", "stock"?} to errors. */
static void entry_error(json_t *errors, uint64_t variant_id, const char *code, const struct catalog_variant *variant)
{
	json_t *entry = json_pack("{s:I, s:s}", "variant_id", (json_int_t)variant_id, "code", code);

	if (entry != NULL && variant != NULL)
		json_object_set_new(entry, "stock", json_integer((json_int_t)variant->stock));
	json_array_append_new(errors, entry);
}

/* The shared end of a bulk command: the error list if any, else refresh, audit and the result. */
static enum kv_err bulk_finish(struct store *store, struct kv_txn *txn, const struct rec *command, uint32_t type,
			       struct touched *touched, json_t *errors, json_t *changed, struct repl_result *result)
{
	struct audit_actor actor;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (json_array_size(errors) > 0) {
		json_decref(changed);
		return store_result_error_json(result, STORE_CONFLICT,
					       type == CATALOG_BULK_STOCK ? "bulk_stock_rejected" : "bulk_price_rejected",
					       type == CATALOG_BULK_STOCK ? "adjustments" : "variants",
					       N_("Nothing was changed, because some entries failed. \"errors\" lists each failing variant with its reason."),
					       json_pack("{s:o}", "errors", errors));
	}
	json_decref(errors);
	err = audit_actor_read(command, &actor) ? touched_refresh(store, txn, touched) : KV_BAD_RECORD;
	snprintf(summary, sizeof(summary), "variants=%zu products=%zu", json_array_size(changed), touched->count);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, type, type == CATALOG_BULK_STOCK ? "stock.bulk" : "price.bulk", 0,
				   summary);
	if (err != KV_OK) {
		json_decref(changed);
		return err;
	}
	return store_result_json(result, STORE_OK, json_pack("{s:o}", "variants", changed));
}

/* Applies one bulk stock entry; appends to errors or changed. */
static enum kv_err bulk_stock_entry(struct store *store, struct kv_txn *txn, const msgpack_object *entry,
				    struct touched *touched, json_t *errors, json_t *changed)
{
	struct rec map = {.body = entry};
	struct stock_change change;
	struct catalog_variant variant;
	enum stock_error error;
	int64_t next = 0;
	enum kv_err err;

	if (entry->type != MSGPACK_OBJECT_MAP || !stock_change_read(&map, &change))
		return KV_BAD_RECORD;
	err = catalog_variant_get(store, txn, change.variant_id, &variant);
	if (err == KV_NOT_FOUND) {
		entry_error(errors, change.variant_id, "variant_not_found", NULL);
		return KV_OK;
	}
	if (err != KV_OK)
		return err;
	error = stock_next(variant.stock, &change, &next);
	if (error != STOCK_OK) {
		entry_error(errors, change.variant_id, stock_error_codes[error], &variant);
		return KV_OK;
	}
	variant.stock = next;
	touched->ids[touched->count++] = variant.product_id;
	json_array_append_new(changed, stock_json(&variant));
	return catalog_variant_put(store, txn, &variant);
}

enum kv_err catalog_apply_bulk_stock(struct store *store, struct kv_txn *txn, const struct rec *command,
				     struct repl_result *result)
{
	const msgpack_object *list = rec_get(command, "adjustments");
	struct touched *touched = calloc(1, sizeof(*touched));
	json_t *errors = json_array(), *changed = json_array();
	enum kv_err err = touched == NULL || errors == NULL || changed == NULL ? KV_NO_MEMORY : KV_OK;

	if (err == KV_OK && (list == NULL || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0 ||
			     list->via.array.size > CATALOG_BULK_MAX))
		err = KV_BAD_RECORD;
	for (uint32_t i = 0; err == KV_OK && i < list->via.array.size; i++)
		err = bulk_stock_entry(store, txn, &list->via.array.ptr[i], touched, errors, changed);
	if (err == KV_OK) {
		err = bulk_finish(store, txn, command, CATALOG_BULK_STOCK, touched, errors, changed, result);
		errors = changed = NULL;
	}
	free(touched);
	json_decref(errors);
	json_decref(changed);
	return err == KV_BAD_RECORD ? catalog_bad_command(result) : err;
}

/*
 * The price after a change of percent_bp basis points (-1500 is -15 %):
 * rounded to the nearest minor unit, halves up, and never below 1. The
 * product cannot overflow: price <= 1e9 and the factor <= 110000.
 */
int64_t catalog_price_scaled(int64_t price_minor, int64_t percent_bp)
{
	int64_t scaled = price_minor * (PERCENT_BP_ONE + percent_bp);
	int64_t next = (scaled + PERCENT_BP_ONE / 2) / PERCENT_BP_ONE;

	return next < 1 ? 1 : next;
}

/* A bulk price command, decoded. */
struct bulk_price {
	const msgpack_object *prices; /* list mode: [{variant, price, compare_at}], or NULL */
	int64_t percent_bp;           /* percentage mode */
	uint64_t rule;                /* percentage mode: enum catalog_compare_at_rule */
};

/* Computes a variant's new price and compare-at price; returns an error code or NULL. */
static const char *price_next(struct catalog_variant *variant, int64_t price, int64_t compare_at)
{
	if (price < 1 || price > CATALOG_PRICE_MAX_MINOR)
		return "price_out_of_range";
	if (compare_at != 0 && compare_at <= price)
		return "compare_at_not_above_price";
	variant->price_minor = price;
	variant->compare_at_minor = compare_at;
	variant->version++;
	return NULL;
}

static const char *price_by_percent(struct catalog_variant *variant, const struct bulk_price *bulk)
{
	int64_t price = catalog_price_scaled(variant->price_minor, bulk->percent_bp);
	int64_t compare_at = variant->compare_at_minor;

	if (bulk->rule == CATALOG_COMPARE_AT_CLEAR)
		compare_at = 0;
	else if (bulk->rule == CATALOG_COMPARE_AT_PREVIOUS)
		compare_at = variant->price_minor;
	return price_next(variant, price, compare_at);
}

static json_t *price_json(const struct catalog_variant *variant)
{
	json_t *json = json_pack("{s:I, s:I, s:s, s:I, s:I}", "variant_id", (json_int_t)variant->id, "product_id",
				 (json_int_t)variant->product_id, "sku", variant->sku, "price",
				 (json_int_t)variant->price_minor, "version", (json_int_t)variant->version);

	json_object_set_new(json, "compare_at_price", variant->compare_at_minor != 0
							      ? json_integer((json_int_t)variant->compare_at_minor)
							      : json_null());
	return json;
}

/* Changes the price of one variant: from list entry (NULL in percentage mode). */
static enum kv_err bulk_price_entry(struct store *store, struct kv_txn *txn, uint64_t variant_id,
				    const struct rec *entry, const struct bulk_price *bulk, struct touched *touched,
				    json_t *errors, json_t *changed)
{
	struct catalog_variant variant;
	int64_t price = 0, compare_at = CATALOG_COMPARE_AT_UNCHANGED;
	const char *code;
	enum kv_err err = catalog_variant_get(store, txn, variant_id, &variant);

	if (err == KV_NOT_FOUND) {
		entry_error(errors, variant_id, "variant_not_found", NULL);
		return KV_OK;
	}
	if (err != KV_OK)
		return err;
	if (entry != NULL) {
		if (!rec_get_i64(entry, "price", &price) || !rec_get_i64(entry, "compare_at", &compare_at))
			return KV_BAD_RECORD;
		code = price_next(&variant, price,
				  compare_at == CATALOG_COMPARE_AT_UNCHANGED ? variant.compare_at_minor : compare_at);
	} else {
		code = price_by_percent(&variant, bulk);
	}
	if (code != NULL) {
		entry_error(errors, variant_id, code, NULL);
		return KV_OK;
	}
	touched->ids[touched->count++] = variant.product_id;
	json_array_append_new(changed, price_json(&variant));
	return catalog_variant_put(store, txn, &variant);
}

/*
 * Collects the variant ids of the percentage mode: variant_ids plus every
 * variant of product_ids. ids has room for CATALOG_BULK_MAX plus one
 * product's variants, so *too_many is set once the count passes the limit.
 */
static enum kv_err percent_targets(struct store *store, struct kv_txn *txn, const struct rec *command, uint64_t *ids,
				   size_t *count, bool *too_many)
{
	const msgpack_object *variant_ids = rec_get(command, "variant_ids"), *product_ids = rec_get(command, "product_ids");
	enum kv_err err = KV_OK;
	size_t found;

	*count = 0;
	if (variant_ids == NULL || variant_ids->type != MSGPACK_OBJECT_ARRAY || product_ids == NULL ||
	    product_ids->type != MSGPACK_OBJECT_ARRAY)
		return KV_BAD_RECORD;
	for (uint32_t i = 0; i < variant_ids->via.array.size && *count <= CATALOG_BULK_MAX; i++) {
		if (variant_ids->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return KV_BAD_RECORD;
		ids[(*count)++] = variant_ids->via.array.ptr[i].via.u64;
	}
	for (uint32_t i = 0; i < product_ids->via.array.size && *count <= CATALOG_BULK_MAX && err == KV_OK; i++) {
		if (product_ids->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return KV_BAD_RECORD;
		err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_VARIANT, product_ids->via.array.ptr[i].via.u64,
					   0, ids + *count, CATALOG_VARIANTS_MAX, &found);
		*count += found;
	}
	*too_many = *count > CATALOG_BULK_MAX;
	return err;
}

static enum kv_err bulk_price_list(struct store *store, struct kv_txn *txn, const struct bulk_price *bulk,
				   struct touched *touched, json_t *errors, json_t *changed)
{
	enum kv_err err = KV_OK;

	if (bulk->prices->via.array.size == 0 || bulk->prices->via.array.size > CATALOG_BULK_MAX)
		return KV_BAD_RECORD;
	for (uint32_t i = 0; i < bulk->prices->via.array.size && err == KV_OK; i++) {
		struct rec entry = {.body = &bulk->prices->via.array.ptr[i]};
		uint64_t variant_id;

		if (entry.body->type != MSGPACK_OBJECT_MAP || !rec_get_u64(&entry, "variant", &variant_id))
			return KV_BAD_RECORD;
		err = bulk_price_entry(store, txn, variant_id, &entry, bulk, touched, errors, changed);
	}
	return err;
}

enum kv_err catalog_apply_bulk_price(struct store *store, struct kv_txn *txn, const struct rec *command,
				     struct repl_result *result)
{
	struct bulk_price bulk = {.prices = rec_get(command, "prices")};
	struct touched *touched = calloc(1, sizeof(*touched));
	uint64_t *ids = calloc(CATALOG_BULK_MAX + CATALOG_VARIANTS_MAX, sizeof(*ids));
	json_t *errors = json_array(), *changed = json_array();
	size_t count = 0;
	bool too_many = false;
	enum kv_err err = touched == NULL || ids == NULL || errors == NULL || changed == NULL ? KV_NO_MEMORY : KV_OK;

	if (err == KV_OK && bulk.prices != NULL && bulk.prices->type == MSGPACK_OBJECT_ARRAY)
		err = bulk_price_list(store, txn, &bulk, touched, errors, changed);
	else if (err == KV_OK && (!rec_get_i64(command, "percent_bp", &bulk.percent_bp) ||
				  !rec_get_u64(command, "rule", &bulk.rule) || bulk.percent_bp <= -PERCENT_BP_ONE))
		err = KV_BAD_RECORD;
	else if (err == KV_OK)
		err = percent_targets(store, txn, command, ids, &count, &too_many);
	/* A variant named twice, or also reached through its product, changes once. */
	count = ids_unique(ids, count);
	if (err == KV_OK && too_many) {
		err = store_result_error(result, STORE_INVALID, "too_many_variants", "variant_ids",
					 N_("One bulk change may cover at most 1000 variants. Split it into smaller ones."));
		goto out;
	}
	for (size_t i = 0; i < count && err == KV_OK; i++)
		err = bulk_price_entry(store, txn, ids[i], NULL, &bulk, touched, errors, changed);
	if (err == KV_OK) {
		err = bulk_finish(store, txn, command, CATALOG_BULK_PRICE, touched, errors, changed, result);
		errors = changed = NULL;
	}
out:
	free(touched);
	free(ids);
	json_decref(errors);
	json_decref(changed);
	return err == KV_BAD_RECORD ? catalog_bad_command(result) : err;
}
