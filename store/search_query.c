/*
 * The query engine; see search_query.h and the key layouts in search.c.
 *
 * A request becomes a plan: a list of filters, each a set of alternative
 * posting prefixes of which a product must have one (talla=M,L is one
 * filter with two alternatives; every word of q is its own filter, the last
 * one matched as a prefix), plus an optional price range. Then:
 *
 * - Collect mode, when some filter has at most SEARCH_CANDIDATES_MAX
 *   postings (known from the N counts without reading the lists): that
 *   filter drives. Its posting lists give the candidates; each candidate's
 *   manifest (one read) is checked against the other filters and the price
 *   range and gives its sort key and relevance. The matches are sorted and
 *   counted, so the total and the order are exact.
 * - Walk mode otherwise (no filter at all, or only filters with more
 *   postings than the cap): the sort index of the requested order is read
 *   from the start, each product checked against its manifest. With no
 *   filter, or a single one-value filter, the total is that list's N count
 *   and the walk stops once the page is full. Otherwise the walk counts
 *   matches until the index ends (exact) or until it has examined
 *   SEARCH_CANDIDATES_MAX products (then total_exact is false).
 *
 * Relevance needs every match scored, so in walk mode it falls back to
 * newest first.
 */
#include "store/search_query.h"

#include <stdlib.h>
#include <string.h>

#define FILTERS_MAX (5 + SEARCH_QUERY_WORDS_MAX)
#define PREFIX_COUNTS_MAX 10000 /* count entries summed to estimate a word prefix */
#define MATCH_KEY_MAX_BYTES 80  /* the longest sort key: the name order's */

struct alternative {
	unsigned char bytes[SEARCH_KEY_MAX_BYTES];
	size_t len;
	bool is_prefix; /* the last word of q: any posting key starting with bytes */
};

struct filter {
	struct alternative alternatives[SEARCH_VALUES_MAX];
	size_t count;
	bool is_word;
	bool word_enye;    /* the query word was written with ñ */
	uint64_t estimate; /* postings under it (more than the union when alternatives overlap) */
};

struct plan {
	struct filter filters[FILTERS_MAX];
	size_t count;
	bool has_price;
	uint64_t price_low, price_high; /* search_price_asc_value() bounds, inclusive */
	char order;                     /* enum search_order; never relevance without words */
	bool relevance;
};

struct match {
	uint64_t product_id;
	uint32_t score;
	uint8_t key_len;
	unsigned char key[MATCH_KEY_MAX_BYTES];
};

static struct filter *filter_add(struct plan *plan)
{
	struct filter *f = &plan->filters[plan->count++];

	memset(f, 0, sizeof(*f));
	return f;
}

static void alternative_add(struct filter *f, char tag, const void *bytes, size_t len, bool terminated,
			    bool is_prefix)
{
	struct alternative *a = &f->alternatives[f->count++];

	a->bytes[0] = (unsigned char)tag;
	if (len > 0)
		memcpy(a->bytes + 1, bytes, len);
	a->len = 1 + len;
	if (terminated)
		a->bytes[a->len++] = 0;
	a->is_prefix = is_prefix;
}

static void facet_filter_add(struct plan *plan, char tag, const char values[][SEARCH_FACET_MAX_BYTES + 1],
			     size_t count)
{
	struct filter *f;

	if (count == 0)
		return;
	f = filter_add(plan);
	for (size_t i = 0; i < count; i++)
		alternative_add(f, tag, values[i], strlen(values[i]), true, false);
}

/* The words of q to search for: stopwords are left out unless q has nothing else. */
static size_t query_words(const char *folded, size_t len, struct search_word *words, size_t max)
{
	struct search_word word;
	size_t pos = 0, count = 0, stopwords = 0;

	while (count < max && search_word_next(folded, len, &pos, &word)) {
		if (search_stopword(word.ptr, word.len))
			stopwords++;
		words[count++] = word;
	}
	if (stopwords == count)
		return count;
	for (size_t i = 0, kept = 0; i < count; i++) {
		if (!search_stopword(words[i].ptr, words[i].len))
			words[kept++] = words[i];
	}
	return count - stopwords;
}

static void word_filters_add(struct plan *plan, const char *q, size_t q_len)
{
	char folded[SEARCH_QUERY_MAX_BYTES + 1], with_enye[SEARCH_QUERY_MAX_BYTES + 1];
	struct search_word words[SEARCH_QUERY_WORDS_MAX], enye_words[SEARCH_QUERY_WORDS_MAX];
	size_t folded_len = search_fold(q, q_len, folded, sizeof(folded));
	size_t enye_len = search_fold_enye(q, q_len, with_enye, sizeof(with_enye));
	size_t count = query_words(folded, folded_len, words, SEARCH_QUERY_WORDS_MAX);
	size_t enye_count = query_words(with_enye, enye_len, enye_words, SEARCH_QUERY_WORDS_MAX);

	for (size_t i = 0; i < count; i++) {
		struct filter *f = filter_add(plan);
		bool last = i + 1 == count;

		f->is_word = true;
		f->word_enye = i < enye_count && memmem(enye_words[i].ptr, enye_words[i].len, "\xc3\xb1", 2) != NULL;
		alternative_add(f, SEARCH_TAG_WORD, words[i].ptr, words[i].len, !last, last);
	}
}

static void plan_build(const struct search_request *request, struct plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	if (request->has_category) {
		unsigned char id[8];

		key_put_u64(id, request->category_id);
		alternative_add(filter_add(plan), SEARCH_TAG_CATEGORY, id, sizeof(id), false, false);
	}
	if (request->gender != 0) {
		unsigned char gender = (unsigned char)request->gender;

		alternative_add(filter_add(plan), SEARCH_TAG_GENDER, &gender, 1, false, false);
	}
	facet_filter_add(plan, request->in_stock ? SEARCH_TAG_TALLA_IN_STOCK : SEARCH_TAG_TALLA, request->tallas,
			 request->talla_count);
	facet_filter_add(plan, SEARCH_TAG_COLOR, request->colors, request->color_count);
	if (request->in_stock)
		alternative_add(filter_add(plan), SEARCH_TAG_IN_STOCK, NULL, 0, false, false);
	if (request->q != NULL)
		word_filters_add(plan, request->q, request->q_len);

	plan->has_price = request->has_price_min || request->has_price_max;
	plan->price_low = search_price_asc_value(true, request->has_price_min ? request->price_min_minor : INT64_MIN);
	plan->price_high = search_price_asc_value(true, request->has_price_max ? request->price_max_minor : INT64_MAX);
	plan->relevance = request->order == SEARCH_ORDER_RELEVANCE && plan->count > 0 && plan->filters[plan->count - 1].is_word;
	plan->order = request->order == SEARCH_ORDER_RELEVANCE ? SEARCH_ORDER_NEWEST : (char)request->order;
}

/* Sums the counts of every word starting with a prefix; UINT64_MAX if there are too many words to sum. */
static enum kv_err prefix_estimate(struct store *store, struct kv_txn *txn, const struct alternative *a,
				   uint64_t *estimate)
{
	unsigned char prefix[SEARCH_KEY_MAX_BYTES + 1] = {SEARCH_TAG_COUNT};
	struct kv_cursor *cursor;
	struct kv_val key, value;
	size_t seen = 0;
	enum kv_err err;

	*estimate = 0;
	memcpy(prefix + 1, a->bytes, a->len);
	err = kv_scan_begin(txn, store->catalog_index, prefix, a->len + 1, NULL, 0, &cursor);
	if (err != KV_OK)
		return err;
	while ((err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
		if (++seen > PREFIX_COUNTS_MAX) {
			*estimate = UINT64_MAX;
			break;
		}
		if (value.len != 8) {
			err = KV_BAD_RECORD;
			break;
		}
		*estimate += key_get_u64(value.data);
	}
	kv_scan_end(cursor);
	return err == KV_NOT_FOUND ? KV_OK : err;
}

static enum kv_err filter_estimate(struct store *store, struct kv_txn *txn, struct filter *f)
{
	enum kv_err err = KV_OK;

	f->estimate = 0;
	for (size_t i = 0; i < f->count && err == KV_OK; i++) {
		const struct alternative *a = &f->alternatives[i];
		uint64_t count = 0;

		if (a->is_prefix)
			err = prefix_estimate(store, txn, a, &count);
		else
			err = search_count_get(store, txn, a->bytes, a->len, &count);
		f->estimate = count > UINT64_MAX - f->estimate ? UINT64_MAX : f->estimate + count;
	}
	return err;
}

/* Field weights for relevance: a word in the name counts most, one in the description least. */
static uint32_t field_weight(uint8_t flags)
{
	if (flags & SEARCH_FIELD_NAME)
		return 8;
	if (flags & SEARCH_FIELD_BRAND)
		return 6;
	if (flags & SEARCH_FIELD_TAGS)
		return 4;
	if (flags & (SEARCH_FIELD_CATEGORY | SEARCH_FIELD_COLOR))
		return 3;
	return 1;
}

static bool alternative_matches(const struct alternative *a, const unsigned char *key, size_t key_len)
{
	if (key_len < a->len + 8 || memcmp(key, a->bytes, a->len) != 0)
		return false;
	return a->is_prefix || key_len == a->len + 8;
}

/*
 * The relevance of a word posting: its field weight, doubled for the
 * whole word (not only a prefix), plus one when the query word and the
 * indexed word were both written with ñ.
 */
static uint32_t word_score(const struct filter *f, size_t key_len, const unsigned char *value, size_t value_len)
{
	const struct alternative *a = &f->alternatives[0];
	uint8_t flags = value_len == 1 ? value[0] : 0;
	bool whole_word = !a->is_prefix || key_len == a->len + 9;
	uint32_t score = field_weight(flags) * (whole_word ? 2 : 1);

	if (f->word_enye && (flags & SEARCH_FIELD_ENYE))
		score++;
	return score;
}

/* The result of checking one product's manifest against a plan. */
struct evaluation {
	bool satisfied[FILTERS_MAX];
	uint32_t best[FILTERS_MAX];
	uint64_t price_value;
	bool has_sort_key;
};

static void entry_evaluate(const struct plan *plan, const unsigned char *key, size_t key_len,
			   const unsigned char *value, size_t value_len, struct evaluation *ev, struct match *out)
{
	if (key[0] == SEARCH_TAG_SORT && key_len >= 10) {
		if (key[1] == SEARCH_ORDER_PRICE_ASC && key_len == 18)
			ev->price_value = key_get_u64(key + 2);
		if (key[1] == plan->order && key_len <= MATCH_KEY_MAX_BYTES) {
			memcpy(out->key, key, key_len);
			out->key_len = (uint8_t)key_len;
			ev->has_sort_key = true;
		}
		return;
	}
	for (size_t i = 0; i < plan->count; i++) {
		const struct filter *f = &plan->filters[i];

		for (size_t j = 0; j < f->count; j++) {
			if (!alternative_matches(&f->alternatives[j], key, key_len))
				continue;
			ev->satisfied[i] = true;
			if (f->is_word) {
				uint32_t score = word_score(f, key_len, value, value_len);

				ev->best[i] = score > ev->best[i] ? score : ev->best[i];
			}
		}
	}
}

/* Checks product_id against every filter of plan; on a match fills out. */
static enum kv_err candidate_evaluate(struct store *store, struct kv_txn *txn, const struct plan *plan,
				      uint64_t product_id, struct match *out, bool *matched)
{
	struct evaluation ev = {.price_value = UINT64_MAX};
	struct search_manifest manifest;
	const unsigned char *key, *value;
	size_t key_len, value_len, pos = 0;
	enum kv_err err = search_manifest_get(store, txn, product_id, &manifest);

	*matched = false;
	if (err == KV_NOT_FOUND)
		return KV_BAD_RECORD; /* a posting without its manifest: the index is damaged */
	if (err != KV_OK)
		return err;
	while (search_manifest_next(&manifest, &pos, &key, &key_len, &value, &value_len))
		entry_evaluate(plan, key, key_len, value, value_len, &ev, out);
	if (pos != manifest.len || !ev.has_sort_key)
		return KV_BAD_RECORD;

	out->product_id = product_id;
	out->score = 0;
	for (size_t i = 0; i < plan->count; i++) {
		if (!ev.satisfied[i])
			return KV_OK;
		out->score += ev.best[i];
	}
	if (plan->has_price &&
	    (ev.price_value == UINT64_MAX || ev.price_value < plan->price_low || ev.price_value > plan->price_high))
		return KV_OK;
	*matched = true;
	return KV_OK;
}

static int id_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads the product ids of the driver's posting lists into ids (at most max), sorted and unique. */
static enum kv_err candidates_read(struct store *store, struct kv_txn *txn, const struct filter *driver,
				   uint64_t *ids, size_t max, size_t *count)
{
	enum kv_err err = KV_OK;
	size_t n = 0, unique = 0;

	for (size_t i = 0; i < driver->count && err == KV_OK; i++) {
		const struct alternative *a = &driver->alternatives[i];
		struct kv_cursor *cursor;
		struct kv_val key, value;

		err = kv_scan_begin(txn, store->catalog_index, a->bytes, a->len, NULL, 0, &cursor);
		while (err == KV_OK && (err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
			if (!alternative_matches(a, key.data, key.len))
				continue;
			if (n == max) {
				err = KV_BAD_RECORD; /* more postings than the N counts record */
				break;
			}
			ids[n++] = search_key_product(key.data, key.len);
		}
		if (err == KV_NOT_FOUND)
			err = KV_OK;
		kv_scan_end(cursor);
	}
	qsort(ids, n, sizeof(ids[0]), id_compare);
	for (size_t i = 0; i < n; i++) {
		if (unique == 0 || ids[unique - 1] != ids[i])
			ids[unique++] = ids[i];
	}
	*count = unique;
	return err;
}

static int match_compare_key(const struct match *x, const struct match *y)
{
	size_t common = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, common);

	return c != 0 ? c : (int)x->key_len - (int)y->key_len;
}

static int match_compare(const void *a, const void *b)
{
	return match_compare_key(a, b);
}

static int match_compare_relevance(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return match_compare_key(x, y);
}

static void page_fill(const struct search_request *request, const struct match *matches, size_t count,
		      struct search_result *result)
{
	uint64_t offset = (request->page - 1) * request->page_size;

	for (uint64_t i = offset; i < count && result->count < request->page_size; i++)
		result->product_ids[result->count++] = matches[i].product_id;
}

static enum kv_err collect_run(struct store *store, struct kv_txn *txn, const struct plan *plan,
			       const struct filter *driver, const struct search_request *request,
			       struct search_result *result)
{
	size_t max = (size_t)driver->estimate, id_count = 0, match_count = 0;
	uint64_t *ids = malloc((max > 0 ? max : 1) * sizeof(*ids));
	struct match *matches = NULL;
	enum kv_err err = KV_NO_MEMORY;

	if (ids == NULL)
		goto out;
	err = candidates_read(store, txn, driver, ids, max, &id_count);
	if (err != KV_OK)
		goto out;
	matches = malloc((id_count > 0 ? id_count : 1) * sizeof(*matches));
	if (matches == NULL) {
		err = KV_NO_MEMORY;
		goto out;
	}
	for (size_t i = 0; i < id_count && err == KV_OK; i++) {
		bool matched;

		err = candidate_evaluate(store, txn, plan, ids[i], &matches[match_count], &matched);
		match_count += matched ? 1 : 0;
	}
	if (err != KV_OK)
		goto out;
	qsort(matches, match_count, sizeof(*matches), plan->relevance ? match_compare_relevance : match_compare);
	result->total = match_count;
	result->total_exact = true;
	page_fill(request, matches, match_count, result);
out:
	free(matches);
	free(ids);
	return err;
}

/*
 * For the price orders with a price range, writes into after the key just
 * before the range's first sort value, so the walk starts at the range.
 * Returns the key's length, or 0 to walk from the start.
 */
static size_t walk_start(const struct plan *plan, unsigned char after[18])
{
	uint64_t first;

	if (!plan->has_price)
		return 0;
	if (plan->order == SEARCH_ORDER_PRICE_ASC)
		first = plan->price_low;
	else if (plan->order == SEARCH_ORDER_PRICE_DESC && plan->price_high != UINT64_MAX)
		first = ~plan->price_high - 1;
	else
		return 0;
	if (first == 0)
		return 0;
	after[0] = SEARCH_TAG_SORT;
	after[1] = (unsigned char)plan->order;
	key_put_u64(after + 2, first - 1);
	memset(after + 10, 0xff, 8);
	return 18;
}

/* Returns true once a price-ordered walk has passed the end of the price range. */
static bool walk_past_range(const struct plan *plan, const unsigned char *key, size_t key_len)
{
	uint64_t value;

	if (!plan->has_price || key_len != 18)
		return false;
	value = key_get_u64(key + 2);
	if (plan->order == SEARCH_ORDER_PRICE_ASC)
		return value > plan->price_high;
	if (plan->order == SEARCH_ORDER_PRICE_DESC)
		return value > ~plan->price_low - 1;
	return false;
}

/*
 * Walks the sort index; known_total is the exact total when has_known_total.
 * NOTE: without a known total, a walk cut off by SEARCH_CANDIDATES_MAX
 * returns the matches counted so far with total_exact false, and pages
 * past them come back empty. Only catalogs of more than 100000 active
 * products can reach that, and no test covers it.
 */
static enum kv_err walk_run(struct store *store, struct kv_txn *txn, const struct plan *plan,
			    const struct search_request *request, bool has_known_total, uint64_t known_total,
			    struct search_result *result)
{
	unsigned char prefix[2] = {SEARCH_TAG_SORT, (unsigned char)plan->order}, after[18];
	size_t after_len = walk_start(plan, after);
	uint64_t offset = (request->page - 1) * request->page_size, matched = 0, examined = 0;
	bool complete = false;
	struct kv_cursor *cursor;
	struct kv_val key, value;
	enum kv_err err = kv_scan_begin(txn, store->catalog_index, prefix, sizeof(prefix), after, after_len, &cursor);

	while (err == KV_OK && examined < SEARCH_CANDIDATES_MAX) {
		struct match m;
		bool is_match = true;

		err = kv_scan_next(cursor, &key, &value);
		if (err == KV_OK && key.len < 10)
			err = KV_BAD_RECORD;
		if (err == KV_OK && walk_past_range(plan, key.data, key.len))
			err = KV_NOT_FOUND;
		if (err != KV_OK)
			break;
		examined++;
		if (plan->count > 0 || plan->has_price)
			err = candidate_evaluate(store, txn, plan, search_key_product(key.data, key.len), &m, &is_match);
		if (err != KV_OK || !is_match)
			continue;
		if (matched++ >= offset && result->count < request->page_size)
			result->product_ids[result->count++] = search_key_product(key.data, key.len);
		if (has_known_total && result->count == request->page_size)
			break;
	}
	if (err == KV_NOT_FOUND) {
		complete = true;
		err = KV_OK;
	}
	kv_scan_end(cursor);
	result->total = has_known_total ? known_total : matched;
	result->total_exact = has_known_total || complete;
	return err;
}

enum kv_err search_run(struct store *store, struct kv_txn *txn, const struct search_request *request,
		       struct search_result *result)
{
	struct plan *plan = malloc(sizeof(*plan));
	struct filter *driver = NULL;
	enum kv_err err = KV_OK;
	uint64_t known_total = 0;
	bool has_known_total;

	memset(result, 0, sizeof(*result));
	if (plan == NULL)
		return KV_NO_MEMORY;
	plan_build(request, plan);
	for (size_t i = 0; i < plan->count && err == KV_OK; i++) {
		err = filter_estimate(store, txn, &plan->filters[i]);
		if (driver == NULL || plan->filters[i].estimate < driver->estimate)
			driver = &plan->filters[i];
	}
	if (err != KV_OK)
		goto out;
	if (driver != NULL && driver->estimate <= SEARCH_CANDIDATES_MAX) {
		err = collect_run(store, txn, plan, driver, request, result);
		goto out;
	}
	has_known_total = !plan->has_price && (plan->count == 0 || (plan->count == 1 && plan->filters[0].count == 1 &&
								    !plan->filters[0].alternatives[0].is_prefix));
	if (has_known_total && plan->count == 0)
		err = search_count_get(store, txn, (const unsigned char[]){SEARCH_TAG_ACTIVE}, 1, &known_total);
	else if (has_known_total)
		known_total = plan->filters[0].estimate;
	if (err == KV_OK)
		err = walk_run(store, txn, plan, request, has_known_total, known_total, result);
out:
	free(plan);
	return err;
}

bool search_query_has_words(const char *q, size_t q_len)
{
	return search_query_word_count(q, q_len) > 0;
}

size_t search_query_word_count(const char *q, size_t q_len)
{
	char folded[SEARCH_QUERY_MAX_BYTES + 1];
	size_t len = search_fold(q, q_len, folded, sizeof(folded)), pos = 0, count = 0;
	struct search_word word;

	while (search_word_next(folded, len, &pos, &word))
		count++;
	return count;
}
