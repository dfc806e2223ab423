/*
 * The query engine of listing and search: runs one listing request
 * against table catalog_index inside a read transaction and returns the
 * product ids of one page with the total. It reads only the index (posting
 * lists, counts, sort keys and manifests), never the products table.
 */
#ifndef JKD_STORE_SEARCH_QUERY_H
#define JKD_STORE_SEARCH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/search_internal.h"

#define SEARCH_VALUES_MAX 20       /* tallas or colours in one request */
#define SEARCH_QUERY_WORDS_MAX 8   /* words of q, all required */
#define SEARCH_QUERY_MAX_BYTES 400 /* of q, before folding */
#define SEARCH_PAGE_SIZE_MAX 100

struct search_request {
	bool has_category;
	uint64_t category_id;
	unsigned gender;            /* enum catalog_gender, 0 for any */
	char tallas[SEARCH_VALUES_MAX][SEARCH_FACET_MAX_BYTES + 1]; /* folded */
	size_t talla_count;
	char colors[SEARCH_VALUES_MAX][SEARCH_FACET_MAX_BYTES + 1]; /* folded */
	size_t color_count;
	bool has_price_min, has_price_max;
	int64_t price_min_minor, price_max_minor;
	bool in_stock;
	const char *q;              /* NULL or the raw search text */
	size_t q_len;
	enum search_order order;
	uint64_t page;              /* 1-based */
	uint64_t page_size;
};

struct search_result {
	uint64_t total;
	bool total_exact;           /* false only when the work cap cut the count short */
	uint64_t product_ids[SEARCH_PAGE_SIZE_MAX];
	size_t count;
};

/*
 * Runs request in txn. Returns KV_OK or a kv error (KV_NO_MEMORY,
 * KV_BAD_RECORD for a damaged index).
 */
enum kv_err search_run(struct store *store, struct kv_txn *txn, const struct search_request *request,
		       struct search_result *result);

/* Returns true if folded q has at least one word to search for. */
bool search_query_has_words(const char *q, size_t q_len);

/* Counts the words of q after folding, stopwords included, for validation. */
size_t search_query_word_count(const char *q, size_t q_len);

#endif
