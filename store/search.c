/*
 * Index maintenance of listing and search: search_reindex_product() runs
 * inside catalog apply after every change to a product, its variants or its
 * images, and rewrites the product's entries in table catalog_index from
 * its current records. It reads only the transaction, so every replica
 * builds the same index.
 *
 * Key layouts of catalog_index ("|" joins bytes; ids are big-endian u64,
 * so keys sort numerically; texts are folded by search_fold(), contain no
 * NUL and end with one 0 byte so that "zapato" sorts apart from "zapatos"):
 *
 *   A|product                      every active product
 *   C|category id|product          the product's category and each ancestor
 *   G|gender byte|product          enum catalog_gender
 *   T|talla|0|product              a variant has that talla (size)
 *   U|talla|0|product              a variant of that talla has stock
 *   K|colour|0|product             a variant has that colour
 *   S|product                      some variant has stock
 *   W|word|0|product -> flags      a word of the name, brand, tags, category
 *                                  names, gender, colours or description;
 *                                  the value byte has enum search_field flags
 *   O|p|price|product              price ascending: the lowest price among
 *                                  variants with stock (among all when none
 *                                  has stock), biased to sort as signed; a
 *                                  product without variants sorts last
 *   O|d|price|product              price descending, same value inverted
 *   O|n|~created_at_ms|~product    newest first
 *   O|a|name|0|product             folded name (first 64 bytes), A to Z
 *   M|product -> manifest          every key above written for the product,
 *                                  with its value, in key order
 *   N|posting key w/o product -> u64  the number of postings under it
 *
 * The keys from A to W are postings: each has an N count, kept exact by
 * adding or removing one when a posting is written or deleted, so the
 * query engine knows the size of every posting list without reading it.
 *
 * Reindexing diffs the new entries against the manifest: it deletes exactly
 * the old keys that are gone and writes the new or changed ones. An
 * inactive or deleted product keeps no entry at all.
 */
#include "store/search.h"

#include <stdlib.h>
#include <string.h>

#include "store/catalog.h"
#include "store/catalog_internal.h" /* catalog_category_get() */
#include "store/search_internal.h"

#define MANIFEST_SCHEMA_VERSION 1
#define DESCRIPTION_MAX_BYTES 2048 /* of description text indexed */
#define DESCRIPTION_WORDS_MAX 64
#define DESCRIPTION_WORD_MIN_BYTES 3
#define FOLD_BUFFER_BYTES 4096      /* folding never lengthens text, so longer fields are cut here */

/* The entries being built for one product. */
struct builder {
	struct store *store;
	struct kv_txn *txn;
	uint64_t product_id;
	struct search_entry *entries;
	size_t count;
	size_t description_words;
	bool has_price;                 /* some variant exists */
	int64_t min_price_minor;        /* over all variants */
	int64_t min_available_minor;    /* over variants with stock, when in_stock */
	bool in_stock;
};

bool search_key_is_posting(const unsigned char *key, size_t len)
{
	static const char posting_tags[] = "ACGTUKSW";

	return len > 8 && memchr(posting_tags, key[0], sizeof(posting_tags) - 1) != NULL;
}

uint64_t search_key_product(const unsigned char *key, size_t len)
{
	uint64_t id = key_get_u64(key + len - 8);

	if (len >= 2 && key[0] == SEARCH_TAG_SORT && key[1] == SEARCH_ORDER_NEWEST)
		return ~id;
	return id;
}

uint64_t search_price_asc_value(bool has_price, int64_t price_minor)
{
	return has_price ? (uint64_t)price_minor ^ (UINT64_C(1) << 63) : UINT64_MAX;
}

uint64_t search_price_desc_value(bool has_price, int64_t price_minor)
{
	return has_price ? ~search_price_asc_value(true, price_minor) - 1 : UINT64_MAX;
}

static void entry_add(struct builder *b, const unsigned char *key, size_t key_len, bool has_value,
		      uint8_t value)
{
	for (size_t i = 0; i < b->count; i++) {
		struct search_entry *e = &b->entries[i];

		if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
			e->value |= value;
			return;
		}
	}
	if (b->count == SEARCH_ENTRIES_MAX || key_len > SEARCH_KEY_MAX_BYTES)
		return;
	b->entries[b->count].key_len = (uint8_t)key_len;
	b->entries[b->count].value_len = has_value ? 1 : 0;
	b->entries[b->count].value = value;
	memcpy(b->entries[b->count].key, key, key_len);
	b->count++;
}

/* Adds tag|bytes|product, or tag|bytes|0|product when text_terminated. */
static void posting_add(struct builder *b, char tag, const void *bytes, size_t len, bool text_terminated,
			bool has_value, uint8_t value)
{
	unsigned char key[SEARCH_KEY_MAX_BYTES];
	size_t key_len = 0;

	key[key_len++] = (unsigned char)tag;
	if (len > 0)
		memcpy(key + key_len, bytes, len);
	key_len += len;
	if (text_terminated)
		key[key_len++] = 0;
	key_put_u64(key + key_len, b->product_id);
	entry_add(b, key, key_len + 8, has_value, value);
}

/* Adds a posting for folded text (a talla or colour), cut to SEARCH_FACET_MAX_BYTES. */
static void facet_add(struct builder *b, char tag, const char *text, size_t len)
{
	char folded[SEARCH_FACET_MAX_BYTES + 1];
	size_t folded_len = search_fold(text, len, folded, sizeof(folded));

	if (folded_len > 0)
		posting_add(b, tag, folded, folded_len, true, false, 0);
}

/*
 * Adds a word posting for each word of text with flags. Words shorter than
 * min_bytes and stopwords are skipped; at most words_max words are taken.
 * Returns how many were taken.
 */
static size_t words_add(struct builder *b, const char *text, size_t len, uint8_t flags, size_t min_bytes,
			size_t words_max)
{
	char folded[FOLD_BUFFER_BYTES], with_enye[FOLD_BUFFER_BYTES];
	size_t folded_len = search_fold(text, len, folded, sizeof(folded));
	size_t enye_len = search_fold_enye(text, len, with_enye, sizeof(with_enye));
	size_t pos = 0, enye_pos = 0, taken = 0;
	struct search_word word, enye_word;

	while (taken < words_max && search_word_next(folded, folded_len, &pos, &word)) {
		bool has_enye_form = search_word_next(with_enye, enye_len, &enye_pos, &enye_word);
		uint8_t word_flags = flags;

		if (word.len < min_bytes || search_stopword(word.ptr, word.len))
			continue;
		if (has_enye_form && memmem(enye_word.ptr, enye_word.len, "\xc3\xb1", 2) != NULL)
			word_flags |= SEARCH_FIELD_ENYE;
		posting_add(b, SEARCH_TAG_WORD, word.ptr, word.len, true, true, word_flags);
		taken++;
	}
	return taken;
}

/* Returns the length of a character reference ("&bull;", "&#233;") at text[0..len), or 0. */
static size_t reference_length(const char *text, size_t len)
{
	for (size_t i = 1; i < len && i <= 10; i++) {
		char c = text[i];

		if (c == ';')
			return i + 1;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '#'))
			return 0;
	}
	return 0;
}

/*
 * Copies description text into out (at most out_size - 1 bytes) with HTML
 * tags and character references replaced by spaces, so that "<p>" and
 * "&bull;" do not index words like "p" and "bull". A sequence cut at the
 * end folds as a separator.
 */
static size_t strip_markup(const char *text, size_t len, char *out, size_t out_size)
{
	size_t written = 0, i = 0;

	while (i < len && written + 1 < out_size) {
		size_t skip = 0;

		if (text[i] == '<') {
			const char *close = memchr(text + i, '>', len - i);

			skip = close != NULL ? (size_t)(close - (text + i)) + 1 : len - i;
		} else if (text[i] == '&') {
			skip = reference_length(text + i, len - i);
		}
		if (skip > 0) {
			out[written++] = ' ';
			i += skip;
		} else {
			out[written++] = text[i++];
		}
	}
	out[written] = '\0';
	return written;
}

static const char *gender_word(enum catalog_gender gender)
{
	switch (gender) {
	case CATALOG_GENDER_MUJER:
		return "mujer";
	case CATALOG_GENDER_HOMBRE:
		return "hombre";
	case CATALOG_GENDER_NINOS:
		return "niños";
	case CATALOG_GENDER_UNISEX:
		return "unisex";
	}
	return NULL;
}

static enum kv_err variant_visit(const struct catalog_variant *variant, void *ctx)
{
	struct builder *b = ctx;

	facet_add(b, SEARCH_TAG_TALLA, variant->size, strlen(variant->size));
	facet_add(b, SEARCH_TAG_COLOR, variant->color, strlen(variant->color));
	words_add(b, variant->color, strlen(variant->color), SEARCH_FIELD_COLOR, 1, SEARCH_ENTRIES_MAX);
	if (variant->stock > 0) {
		facet_add(b, SEARCH_TAG_TALLA_IN_STOCK, variant->size, strlen(variant->size));
		if (!b->in_stock || variant->price_minor < b->min_available_minor)
			b->min_available_minor = variant->price_minor;
		b->in_stock = true;
	}
	if (!b->has_price || variant->price_minor < b->min_price_minor)
		b->min_price_minor = variant->price_minor;
	b->has_price = true;
	return KV_OK;
}

static void sort_value_add(struct builder *b, char order, uint64_t value, uint64_t product_id)
{
	unsigned char key[18] = {SEARCH_TAG_SORT, (unsigned char)order};

	key_put_u64(key + 2, value);
	key_put_u64(key + 10, product_id);
	entry_add(b, key, sizeof(key), false, 0);
}

/*
 * Adds the sort keys. The product's price is the one its list card shows:
 * the lowest price among variants with stock, or among all variants when
 * none has stock.
 */
static void sort_keys_add(struct builder *b, const struct catalog_product *product)
{
	unsigned char key[SEARCH_KEY_MAX_BYTES] = {SEARCH_TAG_SORT, SEARCH_ORDER_NAME};
	char name[SEARCH_NAME_SORT_MAX_BYTES + 1];
	size_t name_len = search_fold(product->name.ptr, product->name.len, name, sizeof(name));
	int64_t price = b->in_stock ? b->min_available_minor : b->min_price_minor;

	sort_value_add(b, SEARCH_ORDER_PRICE_ASC, search_price_asc_value(b->has_price, price), product->id);
	sort_value_add(b, SEARCH_ORDER_PRICE_DESC, search_price_desc_value(b->has_price, price), product->id);
	sort_value_add(b, SEARCH_ORDER_NEWEST, ~product->created_at_ms, ~product->id);
	memcpy(key + 2, name, name_len);
	key[2 + name_len] = 0;
	key_put_u64(key + 3 + name_len, product->id);
	entry_add(b, key, 11 + name_len, false, 0);
}

static void tags_add(struct builder *b, const msgpack_object *tags)
{
	if (tags == NULL || tags->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (uint32_t i = 0; i < tags->via.array.size; i++) {
		const msgpack_object *tag = &tags->via.array.ptr[i];

		if (tag->type == MSGPACK_OBJECT_STR)
			words_add(b, tag->via.str.ptr, tag->via.str.size, SEARCH_FIELD_TAGS, 1, SEARCH_ENTRIES_MAX);
	}
}

static void description_add(struct builder *b, const struct catalog_text *description)
{
	char text[DESCRIPTION_MAX_BYTES + 1];
	size_t len = strip_markup(description->ptr, description->len, text, sizeof(text));

	words_add(b, text, len, SEARCH_FIELD_DESCRIPTION, DESCRIPTION_WORD_MIN_BYTES, DESCRIPTION_WORDS_MAX);
}

static enum kv_err category_words_add(struct builder *b, uint64_t category_id)
{
	struct catalog_category category;
	enum kv_err err = catalog_category_get(b->store, b->txn, category_id, &category);

	if (err == KV_OK)
		words_add(b, category.name, strlen(category.name), SEARCH_FIELD_CATEGORY, 1, SEARCH_ENTRIES_MAX);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

/*
 * Adds the category postings and the words of each category name, nearest
 * first. Catalog apply reindexes every product below a category that is
 * renamed or moved, so these stay current.
 */
static enum kv_err categories_add(struct builder *b, uint64_t category_id)
{
	uint64_t ids[SEARCH_CATEGORY_DEPTH_MAX];
	size_t count = 0;
	enum kv_err err;

	if (category_id == 0)
		return KV_OK;
	err = catalog_category_path(b->store, b->txn, category_id, ids, SEARCH_CATEGORY_DEPTH_MAX, &count);
	if (err == KV_NOT_FOUND)
		return KV_OK;
	for (size_t i = 0; i < count && err == KV_OK; i++) {
		unsigned char id[8];

		key_put_u64(id, ids[i]);
		posting_add(b, SEARCH_TAG_CATEGORY, id, sizeof(id), false, false, 0);
		err = category_words_add(b, ids[i]);
	}
	return err;
}

/*
 * Builds the entries of an active product. Entries past SEARCH_ENTRIES_MAX
 * are dropped in the order added: variant facets and colours come first,
 * then sort keys, the name, brand, tags, gender and categories, and
 * description words last, so they are the first to go.
 */
static enum kv_err entries_build(struct builder *b, const struct catalog_product *product)
{
	const char *gender = gender_word(product->gender);
	unsigned char gender_byte = (unsigned char)product->gender;
	enum kv_err err;

	err = catalog_variants_each(b->store, b->txn, product->id, variant_visit, b);
	if (err != KV_OK)
		return err;
	posting_add(b, SEARCH_TAG_ACTIVE, NULL, 0, false, false, 0);
	posting_add(b, SEARCH_TAG_GENDER, &gender_byte, 1, false, false, 0);
	if (b->in_stock)
		posting_add(b, SEARCH_TAG_IN_STOCK, NULL, 0, false, false, 0);
	sort_keys_add(b, product);
	words_add(b, product->name.ptr, product->name.len, SEARCH_FIELD_NAME, 1, SEARCH_ENTRIES_MAX);
	words_add(b, product->brand.ptr, product->brand.len, SEARCH_FIELD_BRAND, 1, SEARCH_ENTRIES_MAX);
	tags_add(b, product->tags);
	if (gender != NULL)
		words_add(b, gender, strlen(gender), SEARCH_FIELD_CATEGORY, 1, SEARCH_ENTRIES_MAX);
	err = categories_add(b, product->category_id);
	if (err == KV_OK)
		description_add(b, &product->description);
	return err;
}

static int entry_compare(const void *a, const void *b)
{
	const struct search_entry *x = a, *y = b;
	size_t common = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, common);

	if (c != 0)
		return c;
	return (int)x->key_len - (int)y->key_len;
}

enum kv_err search_manifest_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				struct search_manifest *out)
{
	unsigned char key[9] = {SEARCH_TAG_MANIFEST};
	struct kv_val val;
	struct rec r;
	const void *entries;
	enum kv_err err;

	key_put_u64(key + 1, product_id);
	err = kv_get(txn, store->catalog_index, key, sizeof(key), &val);
	if (err != KV_OK)
		return err;
	err = rec_decode(&r, val.data, val.len, STORE_RECORD_SEARCH_MANIFEST);
	if (err == KV_OK && r.header.schema_version != MANIFEST_SCHEMA_VERSION)
		err = KV_UNSUPPORTED;
	if (err == KV_OK && !rec_get_bin(&r, "entries", &entries, &out->len))
		err = KV_BAD_RECORD;
	/* The bin points into val.data, not into the decoding, so it outlives rec_free(). */
	if (err == KV_OK)
		out->entries = entries;
	rec_free(&r);
	return err;
}

bool search_manifest_next(const struct search_manifest *manifest, size_t *pos, const unsigned char **key,
			  size_t *key_len, const unsigned char **value, size_t *value_len)
{
	const unsigned char *p = manifest->entries;
	size_t at = *pos, len = manifest->len;

	if (at >= len || len - at < 2 || p[at] == 0 || len - at - 1 < (size_t)p[at] + 1)
		return false;
	*key_len = p[at];
	*key = p + at + 1;
	at += 1 + *key_len;
	*value_len = p[at];
	if (len - at - 1 < *value_len)
		return false;
	*value = p + at + 1;
	*pos = at + 1 + *value_len;
	return true;
}

/* Encodes entries (sorted) as a manifest record into out. */
static int manifest_encode(const struct search_entry *entries, size_t count, struct buf *out)
{
	struct rec_writer w;
	struct buf blob;
	int rc;

	buf_init(&blob, SIZE_MAX);
	for (size_t i = 0; i < count; i++) {
		buf_append(&blob, &entries[i].key_len, 1);
		buf_append(&blob, entries[i].key, entries[i].key_len);
		buf_append(&blob, &entries[i].value_len, 1);
		buf_append(&blob, &entries[i].value, entries[i].value_len);
	}
	rec_begin(&w, out, STORE_RECORD_SEARCH_MANIFEST, MANIFEST_SCHEMA_VERSION, 1);
	rec_put_bin(&w, "entries", blob.data, blob.len);
	rc = rec_end(&w) == 0 && !blob.failed ? 0 : -1;
	buf_free(&blob);
	return rc;
}

/* Copies the manifest of product_id into *entries (malloc'ed); none if it has no manifest. */
static enum kv_err manifest_load(struct store *store, struct kv_txn *txn, uint64_t product_id,
				 struct search_entry **entries, size_t *count)
{
	struct search_manifest manifest;
	const unsigned char *key, *value;
	size_t key_len, value_len, pos = 0;
	enum kv_err err = search_manifest_get(store, txn, product_id, &manifest);

	*entries = NULL;
	*count = 0;
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	*entries = calloc(SEARCH_ENTRIES_MAX, sizeof(**entries));
	if (*entries == NULL)
		return KV_NO_MEMORY;
	while (*count < SEARCH_ENTRIES_MAX &&
	       search_manifest_next(&manifest, &pos, &key, &key_len, &value, &value_len)) {
		struct search_entry *e = &(*entries)[*count];

		if (key_len > SEARCH_KEY_MAX_BYTES || value_len > 1)
			return KV_BAD_RECORD;
		e->key_len = (uint8_t)key_len;
		e->value_len = (uint8_t)value_len;
		e->value = value_len == 1 ? value[0] : 0;
		memcpy(e->key, key, key_len);
		(*count)++;
	}
	return pos == manifest.len ? KV_OK : KV_BAD_RECORD;
}

enum kv_err search_count_get(struct store *store, struct kv_txn *txn, const unsigned char *prefix,
			     size_t prefix_len, uint64_t *count)
{
	unsigned char key[SEARCH_KEY_MAX_BYTES + 1] = {SEARCH_TAG_COUNT};
	struct kv_val val;
	enum kv_err err;

	*count = 0;
	if (prefix_len > SEARCH_KEY_MAX_BYTES)
		return KV_INVALID;
	memcpy(key + 1, prefix, prefix_len);
	err = kv_get(txn, store->catalog_index, key, prefix_len + 1, &val);
	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err == KV_OK && val.len != 8)
		return KV_BAD_RECORD;
	if (err == KV_OK)
		*count = key_get_u64(val.data);
	return err;
}

/* Adds delta (+1 or -1) to the count of the posting key's list; a count of 0 is deleted. */
static enum kv_err count_add(struct store *store, struct kv_txn *txn, const struct search_entry *posting,
			     int delta)
{
	unsigned char key[SEARCH_KEY_MAX_BYTES + 1] = {SEARCH_TAG_COUNT}, value[8];
	size_t prefix_len = posting->key_len - 8;
	uint64_t count;
	enum kv_err err = search_count_get(store, txn, posting->key, prefix_len, &count);

	if (err != KV_OK)
		return err;
	if (delta < 0 && count == 0)
		return KV_BAD_RECORD;
	count = delta < 0 ? count - 1 : count + 1;
	memcpy(key + 1, posting->key, prefix_len);
	if (count == 0)
		return kv_del(txn, store->catalog_index, key, prefix_len + 1);
	key_put_u64(value, count);
	return kv_put(txn, store->catalog_index, key, prefix_len + 1, value, sizeof(value));
}

static enum kv_err entry_delete(struct store *store, struct kv_txn *txn, const struct search_entry *e)
{
	enum kv_err err = kv_del(txn, store->catalog_index, e->key, e->key_len);

	if (err == KV_NOT_FOUND)
		return KV_BAD_RECORD; /* the manifest lists a key that is gone: the index is damaged */
	if (err == KV_OK && search_key_is_posting(e->key, e->key_len))
		err = count_add(store, txn, e, -1);
	return err;
}

static enum kv_err entry_put(struct store *store, struct kv_txn *txn, const struct search_entry *e, bool is_new)
{
	enum kv_err err = kv_put(txn, store->catalog_index, e->key, e->key_len, &e->value, e->value_len);

	if (err == KV_OK && is_new && search_key_is_posting(e->key, e->key_len))
		err = count_add(store, txn, e, +1);
	return err;
}

/* Deletes the old entries missing from new ones and writes the new or changed ones; both lists sorted. */
static enum kv_err entries_apply(struct store *store, struct kv_txn *txn, const struct search_entry *old,
				 size_t old_count, const struct search_entry *new, size_t new_count)
{
	size_t i = 0, j = 0;
	enum kv_err err = KV_OK;

	while (err == KV_OK && (i < old_count || j < new_count)) {
		int c;

		if (i == old_count)
			c = 1;
		else if (j == new_count)
			c = -1;
		else
			c = entry_compare(&old[i], &new[j]);
		if (c < 0) {
			err = entry_delete(store, txn, &old[i++]);
		} else if (c > 0) {
			err = entry_put(store, txn, &new[j++], true);
		} else {
			if (old[i].value_len != new[j].value_len || old[i].value != new[j].value)
				err = entry_put(store, txn, &new[j], false);
			i++;
			j++;
		}
	}
	return err;
}

static bool entries_equal(const struct search_entry *a, size_t a_count, const struct search_entry *b,
			  size_t b_count)
{
	if (a_count != b_count)
		return false;
	for (size_t i = 0; i < a_count; i++) {
		if (entry_compare(&a[i], &b[i]) != 0 || a[i].value_len != b[i].value_len || a[i].value != b[i].value)
			return false;
	}
	return true;
}

static enum kv_err manifest_store(struct store *store, struct kv_txn *txn, uint64_t product_id,
				  const struct search_entry *entries, size_t count)
{
	unsigned char key[9] = {SEARCH_TAG_MANIFEST};
	struct buf value;
	enum kv_err err;

	key_put_u64(key + 1, product_id);
	if (count == 0) {
		err = kv_del(txn, store->catalog_index, key, sizeof(key));
		return err == KV_NOT_FOUND ? KV_OK : err;
	}
	buf_init(&value, SIZE_MAX);
	err = manifest_encode(entries, count, &value) == 0 ? KV_OK : KV_NO_MEMORY;
	if (err == KV_OK)
		err = kv_put(txn, store->catalog_index, key, sizeof(key), value.data, value.len);
	buf_free(&value);
	return err;
}

/* Builds the sorted entries of product_id into b; none if it is missing or inactive. */
static enum kv_err product_entries(struct builder *b)
{
	struct catalog_product product;
	enum kv_err err = catalog_product_get(b->store, b->txn, b->product_id, &product);

	if (err == KV_NOT_FOUND)
		return KV_OK;
	if (err != KV_OK)
		return err;
	if (product.active)
		err = entries_build(b, &product);
	catalog_product_release(&product);
	if (err == KV_OK)
		qsort(b->entries, b->count, sizeof(b->entries[0]), entry_compare);
	return err;
}

enum kv_err search_reindex_product(struct store *store, struct kv_txn *txn, uint64_t product_id)
{
	struct builder b = {.store = store, .txn = txn, .product_id = product_id};
	struct search_entry *old = NULL;
	size_t old_count = 0;
	enum kv_err err;

	b.entries = calloc(SEARCH_ENTRIES_MAX, sizeof(*b.entries));
	if (b.entries == NULL)
		return KV_NO_MEMORY;
	err = product_entries(&b);
	if (err == KV_OK)
		err = manifest_load(store, txn, product_id, &old, &old_count);
	if (err == KV_OK && !entries_equal(old, old_count, b.entries, b.count)) {
		err = entries_apply(store, txn, old, old_count, b.entries, b.count);
		if (err == KV_OK)
			err = manifest_store(store, txn, product_id, b.entries, b.count);
	}
	free(old);
	free(b.entries);
	return err;
}
