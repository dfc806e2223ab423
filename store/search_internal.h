/*
 * Internals shared by the search modules: text folding helpers (search_fold.c),
 * the key layout of table catalog_index and its manifest records
 * (search.c, which documents the layout), and the query engine over them
 * (search_query.c) that the HTTP handlers (api_search.c) call.
 */
#ifndef JKD_STORE_SEARCH_INTERNAL_H
#define JKD_STORE_SEARCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "kv/kv.h"
#include "store/apply.h"
#include "store/codec.h"
#include "store/search.h"

#define SEARCH_WORD_MAX_BYTES 32       /* longer words are cut, at a UTF-8 boundary */
#define SEARCH_FACET_MAX_BYTES 64      /* a folded talla or colour */
#define SEARCH_NAME_SORT_MAX_BYTES 64  /* the folded name in the name sort key */
#define SEARCH_KEY_MAX_BYTES 96        /* every key built here fits */
#define SEARCH_ENTRIES_MAX 512         /* index entries per product; further words are not indexed */
#define SEARCH_CATEGORY_DEPTH_MAX 16   /* ancestors indexed per product */
#define SEARCH_CANDIDATES_MAX 100000   /* products examined by one query */

/* First byte of every catalog_index key: what the key is. */
enum search_tag {
	SEARCH_TAG_ACTIVE = 'A',          /* A|product: every active product */
	SEARCH_TAG_CATEGORY = 'C',        /* C|category id|product */
	SEARCH_TAG_GENDER = 'G',          /* G|gender byte|product */
	SEARCH_TAG_TALLA = 'T',           /* T|talla|0|product */
	SEARCH_TAG_TALLA_IN_STOCK = 'U',  /* U|talla|0|product: a variant of that talla has stock */
	SEARCH_TAG_COLOR = 'K',           /* K|colour|0|product */
	SEARCH_TAG_IN_STOCK = 'S',        /* S|product: some variant has stock */
	SEARCH_TAG_WORD = 'W',            /* W|word|0|product -> field flags */
	SEARCH_TAG_SORT = 'O',            /* O|order|sort value|product */
	SEARCH_TAG_MANIFEST = 'M',        /* M|product -> the product's entries */
	SEARCH_TAG_COUNT = 'N',           /* N|posting key without product -> u64 */
};

/* Second byte of a sort key: the order it keeps. */
enum search_order {
	SEARCH_ORDER_PRICE_ASC = 'p',
	SEARCH_ORDER_PRICE_DESC = 'd',
	SEARCH_ORDER_NEWEST = 'n',
	SEARCH_ORDER_NAME = 'a',
	SEARCH_ORDER_RELEVANCE = 'r', /* not stored: computed per query */
};

/* Flags in the value byte of a word posting: where the word occurs. */
enum search_field {
	SEARCH_FIELD_NAME = 1,
	SEARCH_FIELD_BRAND = 2,
	SEARCH_FIELD_TAGS = 4,
	SEARCH_FIELD_CATEGORY = 8, /* category names and the gender */
	SEARCH_FIELD_COLOR = 16,
	SEARCH_FIELD_DESCRIPTION = 32,
	SEARCH_FIELD_ENYE = 128,   /* the word was written with ñ */
};

/* One index entry of a product: its key and a value of zero or one byte. */
struct search_entry {
	uint8_t key_len;
	uint8_t value_len;
	uint8_t value;
	unsigned char key[SEARCH_KEY_MAX_BYTES];
};

/* A word inside folded text (not NUL-terminated). */
struct search_word {
	const char *ptr;
	size_t len;
};

/* Folds like search_fold() but keeps ñ (as lower-case ñ), for ranking exact-ñ matches. */
size_t search_fold_enye(const char *text, size_t len, char *out, size_t out_size);

/*
 * Finds the next word of folded text after *pos and advances *pos past it.
 * The word is cut to SEARCH_WORD_MAX_BYTES. Returns false at the end.
 */
bool search_word_next(const char *folded, size_t len, size_t *pos, struct search_word *word);

/* Returns the largest length <= max_bytes that does not cut a UTF-8 sequence of s[0..len). */
size_t search_utf8_cut(const char *s, size_t len, size_t max_bytes);

/* Returns true for the few Spanish and English words neither indexed nor searched ("de", "y", "the"). */
bool search_stopword(const char *word, size_t len);

/* Returns true if key is a posting (tags A, C, G, T, U, K, S, W), which has a count entry. */
bool search_key_is_posting(const unsigned char *key, size_t len);

/* The product id of a posting or sort key. */
uint64_t search_key_product(const unsigned char *key, size_t len);

/* Sort values: the price key (no price sorts last in both orders) and the newest key. */
uint64_t search_price_asc_value(bool has_price, int64_t price_minor);
uint64_t search_price_desc_value(bool has_price, int64_t price_minor);

/* Reads the stored count of postings with prefix (a posting key without its product id). */
enum kv_err search_count_get(struct store *store, struct kv_txn *txn, const unsigned char *prefix,
			     size_t prefix_len, uint64_t *count);

/*
 * A product's manifest: its index entries as stored, each "key length,
 * key, value length, value", in key order. Pointers are valid like a kv_get
 * value.
 */
struct search_manifest {
	const unsigned char *entries;
	size_t len;
};

/* Reads the manifest of product_id; KV_NOT_FOUND if the product is not indexed. */
enum kv_err search_manifest_get(struct store *store, struct kv_txn *txn, uint64_t product_id,
				struct search_manifest *out);

/* Steps to the next entry after *pos; returns false at the end or on a damaged manifest. */
bool search_manifest_next(const struct search_manifest *manifest, size_t *pos, const unsigned char **key,
			  size_t *key_len, const unsigned char **value, size_t *value_len);

#endif
