/*
 * HTTP side of the catalog, admin part (API_ROLE_ADMIN, under
 * /api/v1/admin): categories, products, variants, stock, bulk changes,
 * images and the audit log.
 *
 * Handlers validate the request and name the field at fault. Then they
 * propose a command that carries the admin and the time, and apply checks
 * everything that depends on the state. Products and variants carry a version: GET sends
 * it as ETag "<version>", and PUT and PATCH require it in If-Match (428
 * without, 412 naming the current version when stale). No product or
 * variant route writes stock; stock changes only through .../stock and
 * /bulk/stock (see the stock rule in catalog.h).
 *
 * Routes, all under /api/v1/admin:
 *   POST   /categories                  {slug, name, parent_id?, position?}
 *   PUT    /categories/{id}             the same fields; moving under itself is rejected
 *   DELETE /categories/{id}             409 while it has subcategories or products
 *   GET    /products?after=&limit=      id order, with total and next_after
 *   POST   /products                    {slug, name, gender, type, description?, brand?,
 *                                        material?, care?, tags?, active?, category_id?}
 *   GET    /products/{id}               with variants (stock, version) and images
 *   PUT    /products/{id}               every field (absent optional ones reset), If-Match
 *   PATCH  /products/{id}               only the fields sent, If-Match
 *   DELETE /products/{id}               with its variants and images; If-Match optional
 *   POST   /products/{id}/variants      {sku, talla, color, price, compare_at_price?, stock?}
 *   POST   /products/{id}/images?color= the raw JPEG, PNG or WebP bytes
 *   GET    /variants/{id}
 *   PUT    /variants/{id}               {sku, talla, color, price, compare_at_price?}, If-Match
 *   PATCH  /variants/{id}               the same fields, only those sent, If-Match
 *   DELETE /variants/{id}
 *   POST   /variants/{id}/stock         {delta} or {set, expected}
 *   POST   /bulk/prices                 see handle_bulk_price()
 *   POST   /bulk/stock                  {adjustments: [{variant_id, delta} or {variant_id, set, expected}]}
 *   DELETE /images/{id}
 *   GET    /audit?before=&limit=        newest first, with total and next_before
 */
#include "store/api_catalog_internal.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/images.h"

#define PAGE_DEFAULT 50
#define PRODUCT_PAGE_MAX 100

/* Kinds of body field, each with its own check and packing into a command. */
enum field_kind {
	FIELD_TEXT,      /* one line */
	FIELD_MULTILINE, /* newlines and tabs allowed */
	FIELD_SLUG,      /* [a-z0-9-], no hyphen at either end */
	FIELD_SKU,       /* [A-Za-z0-9._-], packed in upper case */
	FIELD_GENDER,
	FIELD_TYPE,
	FIELD_TAGS,
	FIELD_BOOL,
	FIELD_ID,         /* 0 or an id */
	FIELD_PRICE,      /* 1 to CATALOG_PRICE_MAX_MINOR */
	FIELD_COMPARE_AT, /* a price, or null for none */
	FIELD_STOCK,      /* 0 to CATALOG_STOCK_MAX */
};

struct field_spec {
	const char *json_name;
	const char *command_name;
	enum field_kind kind;
	size_t max_chars;
	bool required; /* in a full body (POST, PUT) */
};

static const struct field_spec product_specs[] = {
	{"slug", "slug", FIELD_SLUG, CATALOG_SLUG_MAX_CHARS, true},
	{"name", "name", FIELD_TEXT, CATALOG_NAME_MAX_CHARS, true},
	{"description", "description", FIELD_MULTILINE, CATALOG_DESCRIPTION_MAX_CHARS, false},
	{"brand", "brand", FIELD_TEXT, CATALOG_BRAND_MAX_CHARS, false},
	{"gender", "gender", FIELD_GENDER, 0, true},
	{"type", "type", FIELD_TYPE, 0, true},
	{"material", "material", FIELD_TEXT, CATALOG_MATERIAL_MAX_CHARS, false},
	{"care", "care", FIELD_MULTILINE, CATALOG_CARE_MAX_CHARS, false},
	{"tags", "tags", FIELD_TAGS, 0, false},
	{"active", "active", FIELD_BOOL, 0, false},
	{"category_id", "category", FIELD_ID, 0, false},
};

/* A variant edit has no stock field: stock changes only through .../stock. */
static const struct field_spec variant_specs[] = {
	{"sku", "sku", FIELD_SKU, CATALOG_SKU_MAX_CHARS, true},
	{"talla", "talla", FIELD_TEXT, CATALOG_TALLA_MAX_CHARS, true},
	{"color", "color", FIELD_TEXT, CATALOG_COLOR_MAX_CHARS, true},
	{"price", "price", FIELD_PRICE, 0, true},
	{"compare_at_price", "compare_at", FIELD_COMPARE_AT, 0, false},
};

static const struct field_spec variant_create_specs[] = {
	{"sku", "sku", FIELD_SKU, CATALOG_SKU_MAX_CHARS, true},
	{"talla", "talla", FIELD_TEXT, CATALOG_TALLA_MAX_CHARS, true},
	{"color", "color", FIELD_TEXT, CATALOG_COLOR_MAX_CHARS, true},
	{"price", "price", FIELD_PRICE, 0, true},
	{"compare_at_price", "compare_at", FIELD_COMPARE_AT, 0, false},
	{"stock", "stock", FIELD_STOCK, 0, false},
};

#define SPECS(specs) specs, sizeof(specs) / sizeof(specs[0])

static bool chars_match(const char *s, const char *allowed)
{
	return s[0] != '\0' && strspn(s, allowed) == strlen(s);
}

bool catalog_slug_valid(const char *slug)
{
	size_t len = strlen(slug);

	return chars_match(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") && slug[0] != '-' && slug[len - 1] != '-';
}

bool catalog_sku_valid(const char *sku)
{
	return chars_match(sku, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
}

static bool tags_check(struct http_request *req, json_t *tags)
{
	size_t i;
	json_t *tag;

	if (!json_is_array(tags) || json_array_size(tags) > CATALOG_TAGS_MAX) {
		http_respond_problem(req, 400, "invalid_field", "tags",
				     "The field tags must be a list of at most %d texts.", CATALOG_TAGS_MAX);
		return false;
	}
	json_array_foreach(tags, i, tag) {
		long chars = json_is_string(tag) ? api_utf8_chars(json_string_value(tag), json_string_length(tag), false)
						 : -1;

		if (chars < 1 || chars > CATALOG_TAG_MAX_CHARS) {
			http_respond_problem(req, 400, "invalid_field", "tags",
					     "Each tag must be a text of 1 to %d characters.", CATALOG_TAG_MAX_CHARS);
			return false;
		}
	}
	return true;
}

/* Checks a string field's content beyond its length. */
static bool text_kind_check(struct http_request *req, const struct field_spec *spec, const char *value)
{
	if (spec->kind == FIELD_SLUG && !catalog_slug_valid(value)) {
		http_respond_problem(req, 400, "invalid_field", spec->json_name,
				     "The field %s may contain only a-z, 0-9 and hyphens, and must not start or end with a hyphen.",
				     spec->json_name);
		return false;
	}
	if (spec->kind == FIELD_SKU && !catalog_sku_valid(value)) {
		http_respond_problem(req, 400, "invalid_field", spec->json_name,
				     "The field %s may contain only letters A-Z, digits, '.', '_' and '-'.", spec->json_name);
		return false;
	}
	if ((spec->kind == FIELD_GENDER && catalog_gender_parse(value) == 0) ||
	    (spec->kind == FIELD_TYPE && catalog_type_parse(value) == 0)) {
		http_respond_problem(req, 400, "invalid_field", spec->json_name, "The field %s must be one of: %s.",
				     spec->json_name,
				     spec->kind == FIELD_GENDER ? "mujer, hombre, ninos, unisex" : "ropa, calzado, accesorios");
		return false;
	}
	return true;
}

/* Checks one present field of body. */
static bool field_check(struct http_request *req, json_t *body, const struct field_spec *spec)
{
	json_t *value = json_object_get(body, spec->json_name);
	const char *text;
	int64_t number;
	bool flag;
	size_t min_chars = spec->required ? 1 : 0;

	switch (spec->kind) {
	case FIELD_TAGS:
		return tags_check(req, value);
	case FIELD_BOOL:
		return api_boolean(req, body, spec->json_name, true, &flag);
	case FIELD_ID:
		return api_integer(req, body, spec->json_name, true, 0, INT64_MAX, &number);
	case FIELD_PRICE:
		return api_integer(req, body, spec->json_name, true, 1, CATALOG_PRICE_MAX_MINOR, &number);
	case FIELD_COMPARE_AT:
		return json_is_null(value) || api_integer(req, body, spec->json_name, true, 1, CATALOG_PRICE_MAX_MINOR, &number);
	case FIELD_STOCK:
		return api_integer(req, body, spec->json_name, true, 0, CATALOG_STOCK_MAX, &number);
	case FIELD_GENDER:
	case FIELD_TYPE:
		return api_string(req, body, spec->json_name, true, 1, 16, false, &text) && text_kind_check(req, spec, text);
	default:
		return api_string(req, body, spec->json_name, true, min_chars, spec->max_chars,
				  spec->kind == FIELD_MULTILINE, &text) &&
		       text_kind_check(req, spec, text);
	}
}

/*
 * Checks body against specs: no unknown member, every required one present
 * unless partial, each valid. *present counts the members given. Responds
 * 400 naming the field and returns false on the first problem.
 */
static bool fields_check(struct http_request *req, json_t *body, const struct field_spec *specs, size_t count,
			 bool partial, size_t *present)
{
	const char *key;
	json_t *value;

	*present = 0;
	json_object_foreach(body, key, value) {
		size_t i = 0;

		while (i < count && strcmp(specs[i].json_name, key) != 0)
			i++;
		if (i == count && strcmp(key, "stock") == 0) {
			http_respond_problem(req, 400, "stock_not_editable", "stock",
					     "Stock is not changed by editing. Use POST /api/v1/admin/variants/{id}/stock.");
			return false;
		}
		if (i == count) {
			http_respond_problem(req, 400, "unknown_field", key, "The field %s is not known here. Remove it.", key);
			return false;
		}
		if (!field_check(req, body, &specs[i]))
			return false;
		(*present)++;
	}
	for (size_t i = 0; i < count && !partial; i++) {
		if (specs[i].required && json_object_get(body, specs[i].json_name) == NULL) {
			http_respond_problem(req, 400, "missing_field", specs[i].json_name, "The field %s is required.",
					     specs[i].json_name);
			return false;
		}
	}
	if (partial && *present == 0) {
		http_respond_problem(req, 400, "missing_field", "body", "The body must contain at least one field to change.");
		return false;
	}
	return true;
}

/* Packs the value of one field, or its default if value is NULL. */
static void field_pack(msgpack_packer *pk, const struct field_spec *spec, json_t *value)
{
	const char *text = json_string_value(value);
	size_t len = text != NULL ? json_string_length(value) : 0;
	char sku[CATALOG_SKU_MAX_CHARS + 1];

	switch (spec->kind) {
	case FIELD_GENDER:
		msgpack_pack_uint64(pk, catalog_gender_parse(text));
		break;
	case FIELD_TYPE:
		msgpack_pack_uint64(pk, catalog_type_parse(text));
		break;
	case FIELD_TAGS:
		msgpack_pack_array(pk, (uint32_t)json_array_size(value));
		for (size_t i = 0; i < json_array_size(value); i++) {
			json_t *tag = json_array_get(value, i);

			msgpack_pack_str_with_body(pk, json_string_value(tag), json_string_length(tag));
		}
		break;
	case FIELD_BOOL:
		if (json_is_true(value))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case FIELD_ID:
	case FIELD_PRICE:
	case FIELD_COMPARE_AT:
	case FIELD_STOCK:
		msgpack_pack_int64(pk, json_is_integer(value) ? json_integer_value(value) : 0);
		break;
	case FIELD_SKU:
		/* SKUs are unique without regard to case, so they are stored in upper case. */
		for (size_t i = 0; i < len && i < CATALOG_SKU_MAX_CHARS; i++)
			sku[i] = (char)toupper((unsigned char)text[i]);
		msgpack_pack_str_with_body(pk, sku, len);
		break;
	default:
		msgpack_pack_str_with_body(pk, text != NULL ? text : "", len);
		break;
	}
}

/* Packs the "fields" map: the members of body, or with partial false every field with defaults. */
static void fields_pack(struct rec_writer *w, json_t *body, const struct field_spec *specs, size_t count,
			bool partial, size_t present)
{
	rec_put_name(w, "fields");
	msgpack_pack_map(&w->pk, (uint32_t)(partial ? present : count));
	for (size_t i = 0; i < count; i++) {
		json_t *value = json_object_get(body, specs[i].json_name);

		if (partial && value == NULL)
			continue;
		msgpack_pack_str_with_body(&w->pk, specs[i].command_name, strlen(specs[i].command_name));
		field_pack(&w->pk, &specs[i], value);
	}
}

/* Starts an admin command: the actor fields plus field_count more. */
static void command_begin(struct rec_writer *w, struct buf *command, uint32_t type, uint32_t field_count,
			  const struct api_principal *who)
{
	buf_init(command, CATALOG_COMMAND_MAX_BYTES);
	rec_begin(w, command, type, 1, field_count + AUDIT_ACTOR_FIELDS);
	audit_actor_pack(w, who->user_id, who->email, api_now_ms());
}

/* Ends and proposes the command; done NULL sends the result with success_status. */
static void command_propose(struct http_request *req, struct rec_writer *w, struct buf *command, int success_status,
			    api_done_fn done)
{
	if (rec_end(w) != 0)
		command->failed = true;
	api_propose(req, command, success_status, done);
	buf_free(command);
}

/* Sends a versioned resource (product or variant) with ETag "<version>". */
static void versioned_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct api_call *call = req->user_data;
	char headers[192];
	struct http_response res = {.status = call->success_status, .headers = headers,
				    .content_type = "application/json"};
	json_t *json;

	if (err != REPL_OK || result->status != STORE_OK) {
		api_respond_failure(req, err, result);
		return;
	}
	json = json_loadb(result->data, result->len, 0, NULL);
	snprintf(headers, sizeof(headers), "ETag: \"%lld\"\r\nCache-Control: no-store\r\nX-Jkd-Applied-Index: %llu\r\n",
		 (long long)json_integer_value(json_object_get(json, "version")), (unsigned long long)index);
	json_decref(json);
	res.body = result->data;
	res.body_len = result->len;
	http_respond(req, &res);
}

/*
 * Reads If-Match as a version into *version. Returns false after
 * responding: 428 if required and missing, 400 if malformed.
 */
static bool if_match_version(struct http_request *req, bool required, uint64_t *version)
{
	size_t len;
	const char *value = http_header_get(req, "If-Match", &len);
	char digits[24];

	*version = 0;
	if (value == NULL && !required)
		return true;
	if (value == NULL) {
		http_respond_problem(req, 428, "if_match_required", "If-Match",
				     "Send If-Match with the ETag from the last GET, so a change made meanwhile is not overwritten.");
		return false;
	}
	if (len >= 3 && len - 2 < sizeof(digits) && value[0] == '"' && value[len - 1] == '"') {
		memcpy(digits, value + 1, len - 2);
		digits[len - 2] = '\0';
		if (strspn(digits, "0123456789") == len - 2 && (*version = strtoull(digits, NULL, 10)) > 0)
			return true;
	}
	http_respond_problem(req, 400, "invalid_header", "If-Match",
			     "Invalid If-Match: send the ETag from the last GET, such as \"3\".");
	return false;
}

/* Authenticates an admin and parses the JSON body; responds and returns NULL on failure. */
static json_t *admin_body(struct http_request *req, struct api_principal *who)
{
	if (!api_authenticate(req, API_ROLE_ADMIN, who))
		return NULL;
	return api_json_body(req);
}

/* Categories */

static void category_propose(struct http_request *req, uint64_t id)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	const char *slug, *name;
	int64_t parent = 0, position = 0;
	json_t *body = admin_body(req, &who);

	if (body == NULL)
		return;
	if (!api_string(req, body, "slug", true, 1, CATALOG_SLUG_MAX_CHARS, false, &slug) ||
	    !api_string(req, body, "name", true, 1, CATALOG_CATEGORY_NAME_MAX_CHARS, false, &name) ||
	    !api_integer(req, body, "parent_id", false, 0, INT64_MAX, &parent) ||
	    !api_integer(req, body, "position", false, 0, 1000000, &position))
		goto out;
	if (!catalog_slug_valid(slug)) {
		http_respond_problem(req, 400, "invalid_field", "slug",
				     "The field %s may contain only a-z, 0-9 and hyphens, and must not start or end with a hyphen.",
				     "slug");
		goto out;
	}
	command_begin(&w, &command, CATALOG_CATEGORY_PUT, 5, &who);
	rec_put_u64(&w, "id", id);
	rec_put_cstr(&w, "slug", slug);
	rec_put_cstr(&w, "name", name);
	rec_put_u64(&w, "parent", (uint64_t)parent);
	rec_put_u64(&w, "position", (uint64_t)position);
	command_propose(req, &w, &command, id == 0 ? 201 : 200, NULL);
out:
	json_decref(body);
}

static void handle_category_create(struct http_request *req)
{
	category_propose(req, 0);
}

static void handle_category_update(struct http_request *req)
{
	uint64_t id;

	if (catalog_path_id(req, "id", &id))
		category_propose(req, id);
}

/* Proposes a command of type whose only field is the id in the path, after an admin check. */
static void id_command_propose(struct http_request *req, uint32_t type, int success_status)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	uint64_t id;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &id))
		return;
	command_begin(&w, &command, type, 1, &who);
	rec_put_u64(&w, "id", id);
	command_propose(req, &w, &command, success_status, NULL);
}

static void handle_category_delete(struct http_request *req)
{
	id_command_propose(req, CATALOG_CATEGORY_DELETE, 204);
}

/* Products */

/* Reads limit and a cursor (after or before) from the query; responds 400 naming the parameter. */
static bool page_query(struct http_request *req, const char *cursor_name, uint64_t *cursor, size_t max, size_t *limit)
{
	char text[24];
	const char *names[] = {cursor_name, "limit"};
	uint64_t values[] = {0, PAGE_DEFAULT};
	uint64_t maxima[] = {UINT64_MAX, max};

	for (size_t i = 0; i < 2; i++) {
		int len = http_query_get(req, names[i], text, sizeof(text));
		char *end;

		if (len == -1)
			continue;
		values[i] = len > 0 && strspn(text, "0123456789") == (size_t)len ? strtoull(text, &end, 10) : 0;
		if (values[i] == 0 || values[i] > maxima[i]) {
			http_respond_problem(req, 400, "invalid_parameter", names[i],
					     "The parameter %s must be a whole number from 1 to %llu.", names[i],
					     (unsigned long long)maxima[i]);
			return false;
		}
	}
	*cursor = values[0];
	*limit = (size_t)values[1];
	return true;
}

static json_t *product_summary_json(const struct catalog_product *product)
{
	return json_pack("{s:I, s:s%, s:s%, s:b, s:I, s:I, s:I}", "id", (json_int_t)product->id, "slug",
			 product->slug.ptr, product->slug.len, "name", product->name.ptr, product->name.len, "active",
			 product->active, "category_id", (json_int_t)product->category_id, "version",
			 (json_int_t)product->version, "updated_at", (json_int_t)product->updated_at_ms);
}

/* Lists products in id order after the id "after": {products, total, next_after}. */
static json_t *product_page_json(struct store *store, struct kv_txn *txn, uint64_t after, size_t limit, enum kv_err *err)
{
	unsigned char after_key[8];
	struct kv_cursor *cursor;
	struct kv_val key, val;
	struct catalog_product product;
	json_t *products = json_array();
	uint64_t last = 0, total;

	key_put_u64(after_key, after);
	*err = kv_scan_begin(txn, store->products, NULL, 0, after_key, after > 0 ? sizeof(after_key) : 0, &cursor);
	if (*err != KV_OK) {
		json_decref(products);
		return NULL;
	}
	while (json_array_size(products) < limit && (*err = kv_scan_next(cursor, &key, &val)) == KV_OK) {
		if (key.len != 8)
			continue;
		last = key_get_u64(key.data);
		*err = catalog_product_get(store, txn, last, &product);
		if (*err != KV_OK)
			break;
		json_array_append_new(products, product_summary_json(&product));
		catalog_product_release(&product);
	}
	kv_scan_end(cursor);
	if (*err != KV_OK && *err != KV_NOT_FOUND) {
		json_decref(products);
		return NULL;
	}
	*err = catalog_products_total(store, txn, &total);
	if (*err != KV_OK) {
		json_decref(products);
		return NULL;
	}
	return json_pack("{s:o, s:I, s:o}", "products", products, "total", (json_int_t)total, "next_after",
			 json_array_size(products) == limit ? json_integer((json_int_t)last) : json_null());
}

static void handle_product_list(struct http_request *req)
{
	struct api_principal who;
	struct kv_txn *txn;
	uint64_t after;
	size_t limit;
	enum kv_err err;
	json_t *page;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !page_query(req, "after", &after, PRODUCT_PAGE_MAX, &limit) ||
	    !catalog_read_begin(req, &txn))
		return;
	page = product_page_json(&catalog_node(req)->store, txn, after, limit, &err);
	kv_read_end(txn);
	if (page == NULL) {
		catalog_respond_read_error(req, err, NULL);
		return;
	}
	http_respond_json(req, 200, page, "Cache-Control: no-store\r\n");
}

static void handle_product_create(struct http_request *req)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	size_t present;
	json_t *body = admin_body(req, &who);

	if (body == NULL)
		return;
	if (fields_check(req, body, SPECS(product_specs), false, &present)) {
		command_begin(&w, &command, CATALOG_PRODUCT_CREATE, 1, &who);
		fields_pack(&w, body, SPECS(product_specs), false, present);
		command_propose(req, &w, &command, 201, versioned_done);
	}
	json_decref(body);
}

static void handle_product_get(struct http_request *req)
{
	struct api_principal who;
	struct kv_txn *txn;
	uint64_t id;
	enum kv_err err;
	json_t *json;
	char headers[96];

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &id) ||
	    !catalog_read_begin(req, &txn))
		return;
	json = catalog_product_admin_json(&catalog_node(req)->store, txn, id, &err);
	kv_read_end(txn);
	if (json == NULL) {
		catalog_respond_read_error(req, err, "id");
		return;
	}
	snprintf(headers, sizeof(headers), "ETag: \"%lld\"\r\nCache-Control: no-store\r\n",
		 (long long)json_integer_value(json_object_get(json, "version")));
	http_respond_json(req, 200, json, headers);
}

/*
 * Proposes an update of the product or variant at path id "id", guarded
 * by If-Match: PUT (partial false: every field, absent optional ones reset)
 * or PATCH (only the fields sent).
 */
static void versioned_update(struct http_request *req, bool partial, uint32_t type, const struct field_spec *specs,
			     size_t count)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	uint64_t id, version;
	size_t present;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &id) ||
	    !if_match_version(req, true, &version) || (body = api_json_body(req)) == NULL)
		return;
	if (fields_check(req, body, specs, count, partial, &present)) {
		command_begin(&w, &command, type, 3, &who);
		rec_put_u64(&w, "id", id);
		rec_put_u64(&w, "version", version);
		fields_pack(&w, body, specs, count, partial, present);
		command_propose(req, &w, &command, 200, versioned_done);
	}
	json_decref(body);
}

static void product_update(struct http_request *req, bool partial)
{
	versioned_update(req, partial, CATALOG_PRODUCT_UPDATE, SPECS(product_specs));
}

static void handle_product_put(struct http_request *req)
{
	product_update(req, false);
}

static void handle_product_patch(struct http_request *req)
{
	product_update(req, true);
}

static void handle_product_delete(struct http_request *req)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	uint64_t id, version;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &id) ||
	    !if_match_version(req, false, &version))
		return;
	command_begin(&w, &command, CATALOG_PRODUCT_DELETE, 2, &who);
	rec_put_u64(&w, "id", id);
	rec_put_u64(&w, "version", version);
	command_propose(req, &w, &command, 204, NULL);
}

/* Variants */

static void handle_variant_create(struct http_request *req)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	uint64_t product_id;
	size_t present;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &product_id) ||
	    (body = api_json_body(req)) == NULL)
		return;
	if (fields_check(req, body, SPECS(variant_create_specs), false, &present)) {
		command_begin(&w, &command, CATALOG_VARIANT_CREATE, 2, &who);
		rec_put_u64(&w, "product", product_id);
		fields_pack(&w, body, SPECS(variant_create_specs), false, present);
		command_propose(req, &w, &command, 201, versioned_done);
	}
	json_decref(body);
}

static void handle_variant_get(struct http_request *req)
{
	struct api_principal who;
	struct catalog_variant variant;
	struct kv_txn *txn;
	uint64_t id;
	char headers[96];
	enum kv_err err;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &id) ||
	    !catalog_read_begin(req, &txn))
		return;
	err = catalog_variant_get(&catalog_node(req)->store, txn, id, &variant);
	kv_read_end(txn);
	if (err != KV_OK) {
		catalog_respond_read_error(req, err, "id");
		return;
	}
	snprintf(headers, sizeof(headers), "ETag: \"%llu\"\r\nCache-Control: no-store\r\n",
		 (unsigned long long)variant.version);
	http_respond_json(req, 200, catalog_variant_json(&variant, true), headers);
}

static void variant_update(struct http_request *req, bool partial)
{
	versioned_update(req, partial, CATALOG_VARIANT_UPDATE, SPECS(variant_specs));
}

static void handle_variant_put(struct http_request *req)
{
	variant_update(req, false);
}

static void handle_variant_patch(struct http_request *req)
{
	variant_update(req, true);
}

static void handle_variant_delete(struct http_request *req)
{
	id_command_propose(req, CATALOG_VARIANT_DELETE, 204);
}

/* Stock and bulk changes */

/*
 * Reads integer member name of obj, which sits at prefix in the body
 * ("adjustments[2]." or ""), so a problem names the full path of the field.
 * Returns 1 if read, 0 if absent and not required, -1 after responding.
 */
static int member_integer(struct http_request *req, json_t *obj, const char *prefix, const char *name, bool required,
			  int64_t min, int64_t max, int64_t *out)
{
	json_t *value = json_object_get(obj, name);
	char field[64];

	snprintf(field, sizeof(field), "%s%s", prefix, name);
	if (value == NULL && !required)
		return 0;
	if (value == NULL) {
		http_respond_problem(req, 400, "missing_field", field, "The field %s is required.", field);
		return -1;
	}
	if (!json_is_integer(value) || json_integer_value(value) < min || json_integer_value(value) > max) {
		http_respond_problem(req, 400, "invalid_field", field, "The field %s must be a whole number from %lld to %lld.",
				     field, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(value);
	return 1;
}

/* A stock change as sent: {delta}, or {set, expected}. */
struct stock_input {
	uint64_t variant_id;
	bool is_set;
	int64_t delta;
	int64_t set;
	int64_t expected;
};

/* Checks a stock change of obj at prefix; responds 400 naming the field and returns false if invalid. */
static bool stock_input_read(struct http_request *req, json_t *obj, const char *prefix, struct stock_input *in)
{
	int has_delta = member_integer(req, obj, prefix, "delta", false, -CATALOG_STOCK_MAX, CATALOG_STOCK_MAX,
				       &in->delta);
	int has_set = has_delta == 0 ? member_integer(req, obj, prefix, "set", false, 0, CATALOG_STOCK_MAX, &in->set)
				     : 0;
	char field[64];

	if (has_delta < 0 || has_set < 0)
		return false;
	snprintf(field, sizeof(field), "%s%s", prefix, has_delta > 0 ? "set" : "delta");
	if ((has_delta > 0 && json_object_get(obj, "set") != NULL) || (has_delta == 0 && has_set == 0)) {
		http_respond_problem(req, 400, "invalid_stock_change", field,
				     "Send either delta, or set together with expected (the stock you last saw).");
		return false;
	}
	in->is_set = has_set > 0;
	return !in->is_set ||
	       member_integer(req, obj, prefix, "expected", true, 0, CATALOG_STOCK_MAX, &in->expected) > 0;
}

/* Packs the change as key-value pairs {variant, delta} or {variant, set, expected}; returns how many. */
static uint32_t stock_input_pack(msgpack_packer *pk, const struct stock_input *in)
{
	msgpack_pack_str_with_body(pk, "variant", 7);
	msgpack_pack_uint64(pk, in->variant_id);
	if (!in->is_set) {
		msgpack_pack_str_with_body(pk, "delta", 5);
		msgpack_pack_int64(pk, in->delta);
		return 2;
	}
	msgpack_pack_str_with_body(pk, "set", 3);
	msgpack_pack_int64(pk, in->set);
	msgpack_pack_str_with_body(pk, "expected", 8);
	msgpack_pack_int64(pk, in->expected);
	return 3;
}

/* Rejects members of obj not in names (NULL-terminated); responds 400 naming the first. */
static bool members_known(struct http_request *req, json_t *obj, const char *prefix, const char *const *names)
{
	const char *key;
	json_t *value;
	char field[96];

	json_object_foreach(obj, key, value) {
		size_t i = 0;

		while (names[i] != NULL && strcmp(names[i], key) != 0)
			i++;
		if (names[i] == NULL) {
			snprintf(field, sizeof(field), "%s%s", prefix, key);
			http_respond_problem(req, 400, "unknown_field", field, "The field %s is not known here. Remove it.",
					     field);
			return false;
		}
	}
	return true;
}

/* Checks that a list entry at prefix ("adjustments[2].") is an object; responds 400 if not. */
static bool entry_object(struct http_request *req, json_t *entry, const char *prefix)
{
	char field[64];

	if (json_is_object(entry))
		return true;
	snprintf(field, sizeof(field), "%.*s", (int)strlen(prefix) - 1, prefix);
	http_respond_problem(req, 400, "invalid_field", field, "The field %s must be a JSON object.", field);
	return false;
}

static const char *const stock_members[] = {"delta", "set", "expected", NULL};
static const char *const bulk_stock_members[] = {"variant_id", "delta", "set", "expected", NULL};

static void handle_stock_adjust(struct http_request *req)
{
	struct api_principal who;
	struct stock_input in;
	struct rec_writer w;
	struct buf command;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &in.variant_id) ||
	    (body = api_json_body(req)) == NULL)
		return;
	if (members_known(req, body, "", stock_members) && stock_input_read(req, body, "", &in)) {
		command_begin(&w, &command, CATALOG_STOCK_ADJUST, in.is_set ? 3 : 2, &who);
		w.fields_written += stock_input_pack(&w.pk, &in);
		command_propose(req, &w, &command, 200, NULL);
	}
	json_decref(body);
}

/* Checks that member name of body is an array of 1 to CATALOG_BULK_MAX entries. */
static json_t *bulk_list(struct http_request *req, json_t *body, const char *name, bool required)
{
	json_t *list = json_object_get(body, name);

	if (list == NULL && !required)
		return NULL;
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > CATALOG_BULK_MAX) {
		http_respond_problem(req, 400, "invalid_field", name, "The field %s must be a list of 1 to %d entries.",
				     name, CATALOG_BULK_MAX);
		return NULL;
	}
	return list;
}

static void handle_bulk_stock(struct http_request *req)
{
	static const char *const body_members[] = {"adjustments", NULL};
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	json_t *body = admin_body(req, &who), *list;
	bool ok = true;

	if (body == NULL)
		return;
	if (!members_known(req, body, "", body_members) || (list = bulk_list(req, body, "adjustments", true)) == NULL)
		goto out;
	command_begin(&w, &command, CATALOG_BULK_STOCK, 1, &who);
	rec_put_name(&w, "adjustments");
	msgpack_pack_array(&w.pk, (uint32_t)json_array_size(list));
	for (size_t i = 0; i < json_array_size(list) && ok; i++) {
		json_t *entry = json_array_get(list, i);
		struct stock_input in;
		char prefix[40];
		int64_t variant_id;

		snprintf(prefix, sizeof(prefix), "adjustments[%zu].", i);
		ok = entry_object(req, entry, prefix) && members_known(req, entry, prefix, bulk_stock_members) &&
		     member_integer(req, entry, prefix, "variant_id", true, 1, INT64_MAX, &variant_id) > 0 &&
		     stock_input_read(req, entry, prefix, &in);
		in.variant_id = (uint64_t)variant_id;
		if (ok) {
			msgpack_pack_map(&w.pk, in.is_set ? 3 : 2);
			stock_input_pack(&w.pk, &in);
		}
	}
	if (ok)
		command_propose(req, &w, &command, 200, NULL);
	else
		buf_free(&command);
out:
	json_decref(body);
}

/* Packs a list of ids from member name of body (absent: empty); responds 400 and returns false if invalid. */
static bool id_list_pack(struct http_request *req, json_t *body, const char *name, struct rec_writer *w)
{
	json_t *list = json_object_get(body, name);
	size_t i;
	json_t *id;

	if (list != NULL && (!json_is_array(list) || json_array_size(list) > CATALOG_BULK_MAX)) {
		http_respond_problem(req, 400, "invalid_field", name, "The field %s must be a list of at most %d ids.", name,
				     CATALOG_BULK_MAX);
		return false;
	}
	json_array_foreach(list, i, id) {
		if (!json_is_integer(id) || json_integer_value(id) < 1) {
			http_respond_problem(req, 400, "invalid_field", name, "The field %s must be a list of at most %d ids.",
					     name, CATALOG_BULK_MAX);
			return false;
		}
	}
	rec_put_name(w, name);
	msgpack_pack_array(&w->pk, (uint32_t)json_array_size(list));
	json_array_foreach(list, i, id)
		msgpack_pack_uint64(&w->pk, (uint64_t)json_integer_value(id));
	return true;
}

/* Reads "percent" (at most two decimals) as basis points and "compare_at" as a rule. */
static bool percent_read(struct http_request *req, json_t *body, int64_t *percent_bp, uint64_t *rule)
{
	static const char *const rules[] = {[CATALOG_COMPARE_AT_KEEP] = "keep", [CATALOG_COMPARE_AT_CLEAR] = "clear",
					    [CATALOG_COMPARE_AT_PREVIOUS] = "previous"};
	double percent = json_number_value(json_object_get(body, "percent"));
	double scaled = percent * 100, rest;
	const char *rule_name;

	*percent_bp = 0;
	if (percent > -100 && percent <= 1000)
		*percent_bp = (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
	rest = scaled - (double)*percent_bp;
	if (!json_is_number(json_object_get(body, "percent")) || *percent_bp == 0 || *percent_bp <= -10000 ||
	    rest > 1e-6 || rest < -1e-6) {
		http_respond_problem(req, 400, "invalid_field", "percent",
				     "The field percent must be a non-zero number above -100 and up to 1000, with at most two decimals.");
		return false;
	}
	if (!api_string(req, body, "compare_at", false, 1, 16, false, &rule_name))
		return false;
	*rule = CATALOG_COMPARE_AT_KEEP;
	for (uint64_t i = CATALOG_COMPARE_AT_KEEP; rule_name != NULL && i <= CATALOG_COMPARE_AT_PREVIOUS; i++) {
		if (strcmp(rule_name, rules[i]) == 0)
			*rule = i;
	}
	if (rule_name != NULL && strcmp(rule_name, rules[*rule]) != 0) {
		http_respond_problem(req, 400, "invalid_field", "compare_at", "The field %s must be one of: %s.",
				     "compare_at", "keep, clear, previous");
		return false;
	}
	return true;
}

static bool bulk_percent_pack(struct http_request *req, json_t *body, struct rec_writer *w)
{
	static const char *const members[] = {"percent", "compare_at", "variant_ids", "product_ids", NULL};
	int64_t percent_bp;
	uint64_t rule;

	if (!members_known(req, body, "", members) || !percent_read(req, body, &percent_bp, &rule))
		return false;
	if (json_array_size(json_object_get(body, "variant_ids")) == 0 &&
	    json_array_size(json_object_get(body, "product_ids")) == 0) {
		http_respond_problem(req, 400, "missing_field", "variant_ids",
				     "Name the variants to change in variant_ids, product_ids or both.");
		return false;
	}
	rec_put_i64(w, "percent_bp", percent_bp);
	rec_put_u64(w, "rule", rule);
	return id_list_pack(req, body, "variant_ids", w) && id_list_pack(req, body, "product_ids", w);
}

/* Checks and packs one entry of "prices": {variant_id, price, compare_at_price (null: none; absent: as is)}. */
static bool price_entry_pack(struct http_request *req, json_t *entry, size_t index, msgpack_packer *pk)
{
	static const char *const members[] = {"variant_id", "price", "compare_at_price", NULL};
	json_t *compare_at = json_object_get(entry, "compare_at_price");
	int64_t variant_id, price, compare_at_minor = CATALOG_COMPARE_AT_UNCHANGED;
	char prefix[40];

	snprintf(prefix, sizeof(prefix), "prices[%zu].", index);
	if (!entry_object(req, entry, prefix) || !members_known(req, entry, prefix, members) ||
	    member_integer(req, entry, prefix, "variant_id", true, 1, INT64_MAX, &variant_id) < 0 ||
	    member_integer(req, entry, prefix, "price", true, 1, CATALOG_PRICE_MAX_MINOR, &price) < 0)
		return false;
	if (json_is_null(compare_at))
		compare_at_minor = 0;
	else if (member_integer(req, entry, prefix, "compare_at_price", false, 1, CATALOG_PRICE_MAX_MINOR,
				&compare_at_minor) < 0)
		return false;
	msgpack_pack_map(pk, 3);
	msgpack_pack_str_with_body(pk, "variant", 7);
	msgpack_pack_uint64(pk, (uint64_t)variant_id);
	msgpack_pack_str_with_body(pk, "price", 5);
	msgpack_pack_int64(pk, price);
	msgpack_pack_str_with_body(pk, "compare_at", 10);
	msgpack_pack_int64(pk, compare_at_minor);
	return true;
}

static bool bulk_list_pack(struct http_request *req, json_t *body, struct rec_writer *w)
{
	static const char *const members[] = {"prices", NULL};
	json_t *list;
	bool ok = true;

	if (!members_known(req, body, "", members) || (list = bulk_list(req, body, "prices", true)) == NULL)
		return false;
	rec_put_name(w, "prices");
	msgpack_pack_array(&w->pk, (uint32_t)json_array_size(list));
	for (size_t i = 0; i < json_array_size(list) && ok; i++)
		ok = price_entry_pack(req, json_array_get(list, i), i, &w->pk);
	return ok;
}

/*
 * POST /api/v1/admin/bulk/prices, either
 *   {"percent": -15, "variant_ids": [...], "product_ids": [...], "compare_at": "keep"|"clear"|"previous"}
 *     every named variant's price changes by percent, rounded to the nearest
 *     minor unit with halves up, and never below 1 (catalog_price_scaled());
 *   {"prices": [{"variant_id": 7, "price": 1999, "compare_at_price": 2499}, ...]}
 *     explicit prices.
 * All or nothing: one failing variant leaves every price as it was.
 */
static void handle_bulk_price(struct http_request *req)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;
	bool by_percent, ok;
	json_t *body = admin_body(req, &who);

	if (body == NULL)
		return;
	by_percent = json_object_get(body, "prices") == NULL;
	command_begin(&w, &command, CATALOG_BULK_PRICE, by_percent ? 4 : 1, &who);
	ok = by_percent ? bulk_percent_pack(req, body, &w) : bulk_list_pack(req, body, &w);
	if (ok)
		command_propose(req, &w, &command, 200, NULL);
	else
		buf_free(&command);
	json_decref(body);
}

/* Images */

/* Reads the optional "color" query parameter into out ("" if absent); responds 400 if invalid. */
static bool color_query(struct http_request *req, char *out, size_t out_size)
{
	int len = http_query_get(req, "color", out, out_size);
	long chars = len >= 0 && (size_t)len == strlen(out) ? api_utf8_chars(out, (size_t)len, false) : -1;

	if (len == -1) {
		out[0] = '\0';
		return true;
	}
	if (chars < 1 || chars > CATALOG_COLOR_MAX_CHARS) {
		http_respond_problem(req, 400, "invalid_parameter", "color",
				     "The parameter color must have between 1 and %d characters.", CATALOG_COLOR_MAX_CHARS);
		return false;
	}
	return true;
}

/* Checks the upload's declared type and its content; responds 415 or 422 and returns false if they fail. */
static bool upload_check(struct http_request *req, struct image_info *info)
{
	size_t len;
	const char *type = http_header_get(req, "Content-Type", &len);
	enum image_format declared = type != NULL ? image_format_of_content_type(type, len) : IMAGE_INVALID;

	if (declared == IMAGE_INVALID) {
		http_respond_problem(req, 415, "unsupported_media_type", "Content-Type",
				     "Send the image bytes as the body with Content-Type image/jpeg, image/png or image/webp.");
		return false;
	}
	if (image_identify((const unsigned char *)req->body, req->body_len, info) == IMAGE_INVALID) {
		http_respond_problem(req, 422, "invalid_image", "body",
				     "The body is not a valid JPEG, PNG or WebP image (at most %d pixels per side).",
				     IMAGE_DIMENSION_MAX);
		return false;
	}
	if (info->format != declared) {
		http_respond_problem(req, 422, "content_type_mismatch", "Content-Type",
				     "The image is %s but was sent as another type. Send it with Content-Type %s.",
				     image_content_type(info->format), image_content_type(info->format));
		return false;
	}
	return true;
}

/* POST /api/v1/admin/products/{id}/images?color=Azul with the raw image as the body. */
static void handle_image_upload(struct http_request *req)
{
	struct api_principal who;
	struct image_info info;
	struct rec_writer w;
	struct buf command;
	uint64_t product_id;
	unsigned char hash[16];
	char hash_hex[2 * sizeof(hash) + 1], color[4 * CATALOG_COLOR_MAX_CHARS + 1];

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !catalog_path_id(req, "id", &product_id) ||
	    !color_query(req, color, sizeof(color)) || !upload_check(req, &info))
		return;
	/* The content hash is the image's ETag; it is made here so the writer thread does not spend time on it. */
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)req->body, req->body_len, NULL, 0);
	sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
	command_begin(&w, &command, CATALOG_IMAGE_ADD, 7, &who);
	rec_put_u64(&w, "product", product_id);
	rec_put_cstr(&w, "color", color);
	rec_put_cstr(&w, "content_type", image_content_type(info.format));
	rec_put_cstr(&w, "hash", hash_hex);
	rec_put_u64(&w, "width", info.width);
	rec_put_u64(&w, "height", info.height);
	rec_put_bin(&w, "bytes", req->body, req->body_len);
	command_propose(req, &w, &command, 201, NULL);
}

static void handle_image_delete(struct http_request *req)
{
	id_command_propose(req, CATALOG_IMAGE_DELETE, 204);
}

/* Audit */

static void handle_audit(struct http_request *req)
{
	struct api_principal who;
	struct kv_txn *txn;
	uint64_t before;
	size_t limit;
	enum kv_err err;
	json_t *page;

	if (!api_authenticate(req, API_ROLE_ADMIN, &who) || !page_query(req, "before", &before, AUDIT_PAGE_MAX, &limit) ||
	    !catalog_read_begin(req, &txn))
		return;
	page = audit_page_json(&catalog_node(req)->store, txn, before, limit, &err);
	kv_read_end(txn);
	if (page == NULL) {
		catalog_respond_read_error(req, err, NULL);
		return;
	}
	http_respond_json(req, 200, page, "Cache-Control: no-store\r\n");
}

int catalog_admin_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_POST, "/api/v1/admin/categories", handle_category_create, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_PUT, "/api/v1/admin/categories/{id}", handle_category_update, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_DELETE, "/api/v1/admin/categories/{id}", handle_category_delete, node, 0},
		{HTTP_METHOD_GET, "/api/v1/admin/products", handle_product_list, node, 0},
		{HTTP_METHOD_POST, "/api/v1/admin/products", handle_product_create, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/admin/products/{id}", handle_product_get, node, 0},
		{HTTP_METHOD_PUT, "/api/v1/admin/products/{id}", handle_product_put, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_PATCH, "/api/v1/admin/products/{id}", handle_product_patch, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_DELETE, "/api/v1/admin/products/{id}", handle_product_delete, node, 0},
		{HTTP_METHOD_POST, "/api/v1/admin/products/{id}/variants", handle_variant_create, node,
		 CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/admin/products/{id}/images", handle_image_upload, node,
		 CATALOG_IMAGE_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/admin/variants/{id}", handle_variant_get, node, 0},
		{HTTP_METHOD_PUT, "/api/v1/admin/variants/{id}", handle_variant_put, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_PATCH, "/api/v1/admin/variants/{id}", handle_variant_patch, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_DELETE, "/api/v1/admin/variants/{id}", handle_variant_delete, node, 0},
		{HTTP_METHOD_POST, "/api/v1/admin/variants/{id}/stock", handle_stock_adjust, node, CATALOG_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/admin/bulk/prices", handle_bulk_price, node, CATALOG_BULK_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/admin/bulk/stock", handle_bulk_stock, node, CATALOG_BULK_BODY_MAX_BYTES},
		{HTTP_METHOD_DELETE, "/api/v1/admin/images/{id}", handle_image_delete, node, 0},
		{HTTP_METHOD_GET, "/api/v1/admin/audit", handle_audit, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
