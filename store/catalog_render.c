/*
 * Pre-rendering: the public JSON of a product and its list card, made at
 * apply time and stored in product_views, so a product GET copies bytes
 * and a listing concatenates cards. Each is stored behind a header:
 *
 *   byte 0       flags (bit 0: the product is active)
 *   bytes 1-34   the ETag: a quoted hex BLAKE2b-128 of the JSON
 *   bytes 35-    the JSON text
 *
 * The hash is of the stored bytes, so equal content gives an equal ETag on
 * every replica. Rendering reads only the transaction, like all of apply.
 * The admin JSON of a product is made here too, from the same pieces.
 *
 * The public JSON lists every variant, out-of-stock ones with "available":
 * false. Its "colors" and "tallas", like the card's, are those of
 * available variants, and "price_from" is the lowest price among them
 * (among all variants when none is available).
 */
#include "store/catalog_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_FLAG_ACTIVE 0x01
#define VIEW_HASH_BYTES 16
#define VIEW_ETAG_BYTES (2 * VIEW_HASH_BYTES + 2)
#define VIEW_HEADER_BYTES (1 + VIEW_ETAG_BYTES)
#define VIEW_KEY_PUBLIC 'v'
#define VIEW_KEY_CARD 'c'
#define VIEW_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

/*
 * Size guides by product type. Ropa: chest and waist girth in cm, each
 * talla from its lower bound up to the next one's. Calzado: EU (Paris point)
 * sizes, where size = 1.5 x (foot length in cm + 1.5), so the foot length
 * is size / 1.5 - 1.5, rounded to a millimetre.
 */
static const char size_guide_ropa[] =
	"{\"system\":\"letras\",\"unit\":\"cm\",\"sizes\":["
	"{\"talla\":\"XS\",\"chest_cm\":[78,86],\"waist_cm\":[62,70]},"
	"{\"talla\":\"S\",\"chest_cm\":[86,94],\"waist_cm\":[70,78]},"
	"{\"talla\":\"M\",\"chest_cm\":[94,102],\"waist_cm\":[78,86]},"
	"{\"talla\":\"L\",\"chest_cm\":[102,110],\"waist_cm\":[86,94]},"
	"{\"talla\":\"XL\",\"chest_cm\":[110,118],\"waist_cm\":[94,102]},"
	"{\"talla\":\"XXL\",\"chest_cm\":[118,126],\"waist_cm\":[102,110]}]}";

static const char size_guide_calzado[] =
	"{\"system\":\"EU\",\"unit\":\"cm\",\"sizes\":["
	"{\"talla\":\"35\",\"foot_length_cm\":21.8},{\"talla\":\"36\",\"foot_length_cm\":22.5},"
	"{\"talla\":\"37\",\"foot_length_cm\":23.2},{\"talla\":\"38\",\"foot_length_cm\":23.8},"
	"{\"talla\":\"39\",\"foot_length_cm\":24.5},{\"talla\":\"40\",\"foot_length_cm\":25.2},"
	"{\"talla\":\"41\",\"foot_length_cm\":25.8},{\"talla\":\"42\",\"foot_length_cm\":26.5},"
	"{\"talla\":\"43\",\"foot_length_cm\":27.2},{\"talla\":\"44\",\"foot_length_cm\":27.8},"
	"{\"talla\":\"45\",\"foot_length_cm\":28.5},{\"talla\":\"46\",\"foot_length_cm\":29.2},"
	"{\"talla\":\"47\",\"foot_length_cm\":29.8}]}";

static json_t *size_guide_json(enum catalog_type type)
{
	if (type == CATALOG_TYPE_ROPA)
		return json_loads(size_guide_ropa, 0, NULL);
	if (type == CATALOG_TYPE_CALZADO)
		return json_loads(size_guide_calzado, 0, NULL);
	return json_null();
}

static json_t *text_json(struct catalog_text text)
{
	return json_stringn(text.ptr, text.len);
}

static json_t *optional_price(int64_t minor)
{
	return minor != 0 ? json_integer((json_int_t)minor) : json_null();
}

json_t *catalog_variant_json(const struct catalog_variant *variant, bool admin)
{
	json_t *json = json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:b}", "id", (json_int_t)variant->id, "sku",
				 variant->sku, "talla", variant->size, "color", variant->color, "price",
				 (json_int_t)variant->price_minor, "compare_at_price",
				 optional_price(variant->compare_at_minor), "available", variant->stock > 0);

	if (json != NULL && admin) {
		json_object_set_new(json, "product_id", json_integer((json_int_t)variant->product_id));
		json_object_set_new(json, "stock", json_integer((json_int_t)variant->stock));
		json_object_set_new(json, "version", json_integer((json_int_t)variant->version));
	}
	return json;
}

json_t *catalog_image_json(const struct catalog_image *image)
{
	char url[64];

	snprintf(url, sizeof(url), "/api/v1/images/%llu", (unsigned long long)image->id);
	return json_pack("{s:I, s:I, s:s, s:o, s:s, s:I, s:I, s:I}", "id", (json_int_t)image->id, "product_id",
			 (json_int_t)image->product_id, "url", url, "color",
			 image->color[0] != '\0' ? json_string(image->color) : json_null(), "content_type",
			 image->content_type, "width", (json_int_t)image->width, "height", (json_int_t)image->height,
			 "size", (json_int_t)image->len);
}

/* The fields admins and shoppers both see. */
static json_t *product_base_json(const struct catalog_product *product)
{
	json_t *tags = json_array();
	json_t *json;

	for (uint32_t i = 0; product->tags != NULL && i < product->tags->via.array.size; i++) {
		const msgpack_object *tag = &product->tags->via.array.ptr[i];

		if (tag->type == MSGPACK_OBJECT_STR)
			json_array_append_new(tags, json_stringn(tag->via.str.ptr, tag->via.str.size));
	}
	json = json_pack("{s:I, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:I}", "id",
			 (json_int_t)product->id, "slug", text_json(product->slug), "name", text_json(product->name),
			 "description", text_json(product->description), "brand", text_json(product->brand), "gender",
			 catalog_gender_name(product->gender), "type", catalog_type_name(product->type), "material",
			 text_json(product->material), "care", text_json(product->care), "tags", tags, "currency",
			 CATALOG_CURRENCY, "created_at", (json_int_t)product->created_at_ms, "updated_at",
			 (json_int_t)product->updated_at_ms);
	return json;
}

/* {"id", "path": [{id, slug, name}, ...]} from the root down, or null without a category. */
static json_t *category_json(struct store *store, struct kv_txn *txn, uint64_t category_id, enum kv_err *err)
{
	uint64_t ids[CATALOG_CATEGORY_DEPTH_MAX];
	struct catalog_category category;
	json_t *path;
	size_t count;

	*err = KV_OK;
	if (category_id == 0)
		return json_null();
	*err = catalog_category_path(store, txn, category_id, ids, CATALOG_CATEGORY_DEPTH_MAX, &count);
	/* Category delete is rejected while products remain, so a missing one means damage; render without it. */
	if (*err == KV_NOT_FOUND)
		*err = KV_OK;
	path = json_array();
	for (size_t i = count; i > 0 && *err == KV_OK; i--) {
		*err = catalog_category_get(store, txn, ids[i - 1], &category);
		if (*err == KV_OK)
			json_array_append_new(path, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)category.id, "slug",
							      category.slug, "name", category.name));
	}
	return json_pack("{s:I, s:o}", "id", (json_int_t)category_id, "path", path);
}

/* Totals over a product's variants, for the list card. */
struct variant_summary {
	json_t *variants;
	json_t *colors;           /* of available variants */
	json_t *tallas;           /* of available variants */
	int64_t price_min;        /* over available variants, else over all */
	int64_t compare_at;       /* of the variant giving price_min */
	bool in_stock;
	bool on_sale;             /* some variant has a compare-at price */
	bool admin;
};

static void append_unique(json_t *array, const char *text)
{
	size_t i;
	json_t *item;

	json_array_foreach(array, i, item) {
		if (strcmp(json_string_value(item), text) == 0)
			return;
	}
	json_array_append_new(array, json_string(text));
}

static enum kv_err variant_visit(const struct catalog_variant *variant, void *ctx)
{
	struct variant_summary *summary = ctx;
	bool available = variant->stock > 0;

	/* Prices of available variants win: the first one drops a minimum taken from unavailable ones. */
	if (available && !summary->in_stock)
		summary->price_min = 0;
	if ((available || !summary->in_stock) &&
	    (summary->price_min == 0 || variant->price_minor < summary->price_min)) {
		summary->price_min = variant->price_minor;
		summary->compare_at = variant->compare_at_minor;
	}
	if (available) {
		summary->in_stock = true;
		append_unique(summary->colors, variant->color);
		append_unique(summary->tallas, variant->size);
	}
	summary->on_sale = summary->on_sale || variant->compare_at_minor != 0;
	return json_array_append_new(summary->variants, catalog_variant_json(variant, summary->admin)) == 0
		       ? KV_OK
		       : KV_NO_MEMORY;
}

static json_t *images_json(struct store *store, struct kv_txn *txn, uint64_t product_id, enum kv_err *err)
{
	uint64_t ids[CATALOG_IMAGES_MAX];
	struct catalog_image image;
	json_t *images = json_array();
	size_t count;

	*err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_IMAGE, product_id, 0, ids, CATALOG_IMAGES_MAX,
				    &count);
	for (size_t i = 0; i < count && *err == KV_OK; i++) {
		*err = catalog_image_get(store, txn, ids[i], &image);
		if (*err == KV_OK)
			json_array_append_new(images, catalog_image_json(&image));
	}
	return images;
}

static void summary_free(struct variant_summary *summary)
{
	json_decref(summary->colors);
	json_decref(summary->tallas);
}

/* Adds the variants, what they add up to and the images of product_id to json. */
static enum kv_err product_parts_add(struct store *store, struct kv_txn *txn, uint64_t product_id, json_t *json,
				     struct variant_summary *summary)
{
	enum kv_err err;

	summary->variants = json_array();
	summary->colors = json_array();
	summary->tallas = json_array();
	/* json owns the variants from here on, even when setting fails. */
	if (json_object_set_new(json, "variants", summary->variants) != 0 || summary->colors == NULL ||
	    summary->tallas == NULL)
		return KV_NO_MEMORY;
	err = catalog_variants_each(store, txn, product_id, variant_visit, summary);
	if (err != KV_OK)
		return err;
	json_object_set(json, "colors", summary->colors);
	json_object_set(json, "tallas", summary->tallas);
	json_object_set_new(json, "in_stock", json_boolean(summary->in_stock));
	json_object_set_new(json, "price_from", optional_price(summary->price_min));
	json_object_set_new(json, "images", images_json(store, txn, product_id, &err));
	return err;
}

/*
 * Builds the public (admin false) or admin JSON of product_id, and leaves
 * what the variants add up to in *summary (release with summary_free()).
 * Returns NULL with *err set.
 */
static json_t *product_json(struct store *store, struct kv_txn *txn, uint64_t product_id, bool admin,
			    struct variant_summary *summary, bool *active, enum kv_err *err)
{
	struct catalog_product product;
	json_t *json;

	memset(summary, 0, sizeof(*summary));
	summary->admin = admin;
	*err = catalog_product_get(store, txn, product_id, &product);
	if (*err != KV_OK)
		return NULL;
	*active = product.active;
	json = product_base_json(&product);
	if (json != NULL && admin) {
		json_object_set_new(json, "active", json_boolean(product.active));
		json_object_set_new(json, "category_id", json_integer((json_int_t)product.category_id));
		json_object_set_new(json, "version", json_integer((json_int_t)product.version));
	}
	if (json != NULL) {
		json_object_set_new(json, "category", category_json(store, txn, product.category_id, err));
		json_object_set_new(json, "size_guide", size_guide_json(product.type));
	}
	catalog_product_release(&product);
	if (json != NULL && *err == KV_OK)
		*err = product_parts_add(store, txn, product_id, json, summary);
	if (json == NULL || *err != KV_OK) {
		json_decref(json);
		summary_free(summary);
		*err = *err == KV_OK ? KV_NO_MEMORY : *err;
		return NULL;
	}
	return json;
}

json_t *catalog_product_admin_json(struct store *store, struct kv_txn *txn, uint64_t product_id, enum kv_err *err)
{
	struct variant_summary summary;
	bool active;
	json_t *json = product_json(store, txn, product_id, true, &summary, &active, err);

	if (json != NULL)
		summary_free(&summary);
	return json;
}

/* The list card: what a listing shows of a product. */
static json_t *card_json(json_t *view, const struct variant_summary *summary)
{
	json_t *images = json_object_get(view, "images");
	json_t *first = json_array_get(images, 0);
	json_t *card = json_pack("{s:O, s:O, s:O, s:O, s:s, s:o, s:o, s:b, s:O, s:O, s:O, s:b}", "id",
				 json_object_get(view, "id"), "slug", json_object_get(view, "slug"), "name",
				 json_object_get(view, "name"), "brand", json_object_get(view, "brand"), "currency",
				 CATALOG_CURRENCY, "price", optional_price(summary->price_min), "compare_at_price",
				 optional_price(summary->compare_at), "on_sale", summary->on_sale, "image",
				 first != NULL ? json_object_get(first, "url") : json_null(), "colors", summary->colors,
				 "tallas", summary->tallas, "in_stock", summary->in_stock);

	return card;
}

static void view_key(unsigned char key[9], uint64_t product_id, char kind)
{
	key_put_u64(key, product_id);
	key[8] = (unsigned char)kind;
}

/* Stores json (stolen) as the view kind of product_id, behind its header. */
static enum kv_err view_put(struct store *store, struct kv_txn *txn, uint64_t product_id, char kind, bool active,
			    json_t *json)
{
	unsigned char key[9], hash[VIEW_HASH_BYTES];
	char *text = json != NULL ? json_dumps(json, VIEW_DUMP_FLAGS) : NULL;
	size_t len = text != NULL ? strlen(text) : 0;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	json_decref(json);
	if (text == NULL)
		return KV_NO_MEMORY;
	buf_init(&value, SIZE_MAX);
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)text, len, NULL, 0);
	if (buf_append(&value, active ? "\x01" : "\x00", 1) && buf_append(&value, "\"", 1) &&
	    buf_append(&value, "00000000000000000000000000000000", 2 * VIEW_HASH_BYTES) &&
	    buf_append(&value, "\"", 1) && buf_append(&value, text, len)) {
		sodium_bin2hex(value.data + 2, 2 * VIEW_HASH_BYTES + 1, hash, sizeof(hash));
		value.data[1 + VIEW_ETAG_BYTES - 1] = '"';
		view_key(key, product_id, kind);
		err = kv_put(txn, store->product_views, key, sizeof(key), value.data, value.len);
	}
	free(text);
	buf_free(&value);
	return err;
}

static enum kv_err views_delete(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	unsigned char key[9];
	enum kv_err err;

	view_key(key, product_id, VIEW_KEY_PUBLIC);
	err = kv_del(txn, store->product_views, key, sizeof(key));
	view_key(key, product_id, VIEW_KEY_CARD);
	if (err == KV_OK || err == KV_NOT_FOUND)
		err = kv_del(txn, store->product_views, key, sizeof(key));
	return err == KV_NOT_FOUND ? KV_OK : err;
}

enum kv_err catalog_render(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	struct variant_summary summary;
	bool active = false;
	enum kv_err err;
	json_t *view = product_json(store, txn, product_id, false, &summary, &active, &err);
	json_t *card;

	if (err == KV_NOT_FOUND)
		return views_delete(store, txn, product_id);
	if (view == NULL)
		return err;
	card = card_json(view, &summary);
	summary_free(&summary);
	err = view_put(store, txn, product_id, VIEW_KEY_PUBLIC, active, view);
	if (err == KV_OK)
		err = view_put(store, txn, product_id, VIEW_KEY_CARD, active, card);
	else
		json_decref(card);
	return err;
}

enum kv_err catalog_product_refresh(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	enum kv_err err = catalog_render(store, txn, product_id);

	if (err == KV_OK && store->product_changed != NULL)
		err = store->product_changed(store, txn, product_id);
	return err;
}

static enum kv_err view_read(struct store *store, struct kv_txn *txn, uint64_t product_id, char kind,
			     struct catalog_view *out)
{
	unsigned char key[9];
	struct kv_val val;
	enum kv_err err;

	view_key(key, product_id, kind);
	err = kv_get(txn, store->product_views, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	if (val.len < VIEW_HEADER_BYTES)
		return KV_BAD_RECORD;
	out->active = (((const unsigned char *)val.data)[0] & VIEW_FLAG_ACTIVE) != 0;
	out->etag = (const char *)val.data + 1;
	out->etag_len = VIEW_ETAG_BYTES;
	out->json = (const char *)val.data + VIEW_HEADER_BYTES;
	out->json_len = val.len - VIEW_HEADER_BYTES;
	return KV_OK;
}

enum kv_err catalog_view_get(struct store *store, struct kv_txn *txn, uint64_t product_id, struct catalog_view *out)
{
	return view_read(store, txn, product_id, VIEW_KEY_PUBLIC, out);
}

enum kv_err catalog_card_view_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  struct catalog_view *out)
{
	return view_read(store, txn, product_id, VIEW_KEY_CARD, out);
}

enum kv_err catalog_card_get(struct store *store, struct kv_txn *txn, uint64_t product_id, struct kv_val *out)
{
	struct catalog_view view;
	enum kv_err err = view_read(store, txn, product_id, VIEW_KEY_CARD, &view);

	if (err == KV_OK) {
		out->data = view.json;
		out->len = view.json_len;
	}
	return err;
}
