/*
 * HTTP side of listing and search:
 *
 *   GET /api/v1/products        filters, sorting and pagination; see
 *                               docs/ARCHITECTURE.md, "Listing and search"
 *   GET /api/v1/search/suggest  up to 8 product names for the search box
 *
 * Every parameter is validated before any read, and an invalid one gets a
 * 400 problem naming it. Each request reads one LMDB snapshot: the query
 * engine (search_query.c) picks the page from table catalog_index, and
 * the stored list cards are copied into the response as bytes, never
 * parsed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/api.h"
#include "store/catalog.h"
#include "store/catalog_internal.h" /* catalog_category_get() */
#include "store/search.h"
#include "store/search_query.h"

#define PAGE_SIZE_DEFAULT 24
#define PAGE_MAX 10000
#define QUERY_MAX_CHARS 200
#define PARAM_MAX_BYTES 512      /* one decoded parameter value */
#define CATEGORIES_SCANNED_MAX 10000 /* categories read to resolve a slug */
#define SUGGESTIONS_MAX 8
#define RESPONSE_MAX_BYTES (16u << 20)

static struct node *node_of(struct http_request *req)
{
	return ((struct node_worker *)req->worker_data)->node;
}

/*
 * Calls visit with each decoded value of query parameter name, in order.
 * Returns false after responding 400 if a value is malformed or too long,
 * or if visit returns false (having responded).
 */
static bool query_each(struct http_request *req, const char *name,
		       bool (*visit)(struct http_request *req, const char *value, size_t len, void *ctx), void *ctx)
{
	const char *p = req->query, *end = req->query + req->query_len;
	char value[PARAM_MAX_BYTES + 1];

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pair_end = amp != NULL ? amp : end;
		/* http_query_get() decodes the one pair p..pair_end when it has this name. */
		struct http_request pair = *req;
		int len;

		pair.query = p;
		pair.query_len = (size_t)(pair_end - p);
		len = http_query_get(&pair, name, value, sizeof(value));
		if (len == -2) {
			http_respond_problem(req, 400, "invalid_parameter", name,
					     "The parameter %s is badly encoded or longer than %zu bytes.", name,
					     (size_t)PARAM_MAX_BYTES);
			return false;
		}
		if (len >= 0 && !visit(req, value, (size_t)len, ctx))
			return false;
		p = pair_end + 1;
	}
	return true;
}

/* Reads the first value of name into out. Returns 1 if present, 0 if absent, -1 after responding 400. */
static int query_one(struct http_request *req, const char *name, char *out, size_t out_size)
{
	int len = http_query_get(req, name, out, out_size);

	if (len == -1)
		return 0;
	if (len < 0 || strlen(out) != (size_t)len) {
		http_respond_problem(req, 400, "invalid_parameter", name,
				     "The parameter %s is badly encoded or longer than %zu bytes.", name, out_size - 1);
		return -1;
	}
	return 1;
}

/* Reads a whole number from min to max; returns 1, 0 if absent, -1 after responding 400. */
static int query_integer(struct http_request *req, const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
	char text[32];
	int present = query_one(req, name, text, sizeof(text));
	char *end;

	if (present <= 0)
		return present;
	errno = 0;
	*out = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || *out < min || *out > max) {
		http_respond_problem(req, 400, "invalid_parameter", name,
				     "The parameter %s must be a whole number from %llu to %llu.", name,
				     (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 1;
}

/* Folded values of a repeatable, comma-separated parameter (talla, color). */
struct value_list {
	const char *name;
	char (*values)[SEARCH_FACET_MAX_BYTES + 1];
	size_t count;
};

static bool value_list_add(struct http_request *req, const char *value, size_t len, void *ctx)
{
	struct value_list *list = ctx;
	const char *piece = value, *end = value + len;

	while (piece <= end) {
		const char *comma = memchr(piece, ',', (size_t)(end - piece));
		const char *piece_end = comma != NULL ? comma : end;
		char *out = list->values[list->count];

		if (list->count == SEARCH_VALUES_MAX) {
			http_respond_problem(req, 400, "invalid_parameter", list->name,
					     "The parameter %s takes at most %d values.", list->name, SEARCH_VALUES_MAX);
			return false;
		}
		if (api_utf8_chars(piece, (size_t)(piece_end - piece), false) < 0 ||
		    search_fold(piece, (size_t)(piece_end - piece), out, SEARCH_FACET_MAX_BYTES + 1) == 0) {
			http_respond_problem(req, 400, "invalid_parameter", list->name,
					     "The parameter %s has an empty or invalid value. Send names separated by commas.",
					     list->name);
			return false;
		}
		list->count++;
		piece = piece_end + 1;
	}
	return true;
}

static bool gender_parse(struct http_request *req, struct search_request *request)
{
	char text[32], folded[32], name[32];
	int present = query_one(req, "gender", text, sizeof(text));

	if (present <= 0)
		return present == 0;
	search_fold(text, strlen(text), folded, sizeof(folded));
	for (unsigned g = CATALOG_GENDER_MUJER; g <= CATALOG_GENDER_UNISEX; g++) {
		const char *api_name = catalog_gender_name((enum catalog_gender)g);

		search_fold(api_name, strlen(api_name), name, sizeof(name));
		if (strcmp(folded, name) == 0) {
			request->gender = g;
			return true;
		}
	}
	http_respond_problem(req, 400, "invalid_parameter", "gender",
			     "The parameter gender must be mujer, hombre, ninos or unisex.");
	return false;
}

static bool sort_parse(struct http_request *req, struct search_request *request)
{
	static const struct {
		const char *name;
		enum search_order order;
	} orders[] = {
		{"price_asc", SEARCH_ORDER_PRICE_ASC}, {"price_desc", SEARCH_ORDER_PRICE_DESC},
		{"newest", SEARCH_ORDER_NEWEST},       {"name", SEARCH_ORDER_NAME},
		{"relevance", SEARCH_ORDER_RELEVANCE},
	};
	char text[32];
	int present = query_one(req, "sort", text, sizeof(text));

	request->order = request->q != NULL ? SEARCH_ORDER_RELEVANCE : SEARCH_ORDER_NEWEST;
	if (present <= 0)
		return present == 0;
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		if (strcmp(text, orders[i].name) == 0) {
			request->order = orders[i].order;
			return true;
		}
	}
	http_respond_problem(req, 400, "invalid_parameter", "sort",
			     "The parameter sort must be price_asc, price_desc, newest, name or relevance.");
	return false;
}

static bool in_stock_parse(struct http_request *req, struct search_request *request)
{
	char text[16];
	int present = query_one(req, "in_stock", text, sizeof(text));

	if (present <= 0)
		return present == 0;
	if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		request->in_stock = true;
		return true;
	}
	if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
		return true;
	http_respond_problem(req, 400, "invalid_parameter", "in_stock", "The parameter in_stock must be true or false.");
	return false;
}

static bool price_parse(struct http_request *req, struct search_request *request)
{
	uint64_t min = 0, max = 0;
	int has_min = query_integer(req, "price_min", 0, CATALOG_PRICE_MAX_MINOR, &min);
	int has_max = has_min < 0 ? -1 : query_integer(req, "price_max", 0, CATALOG_PRICE_MAX_MINOR, &max);

	if (has_min < 0 || has_max < 0)
		return false;
	if (has_min && has_max && min > max) {
		http_respond_problem(req, 400, "invalid_parameter", "price_max",
				     "The parameter price_max must not be below price_min.");
		return false;
	}
	request->has_price_min = has_min == 1;
	request->has_price_max = has_max == 1;
	request->price_min_minor = (int64_t)min;
	request->price_max_minor = (int64_t)max;
	return true;
}

/* Reads q into text; an empty q, or one of punctuation only, means no search. */
static bool q_parse(struct http_request *req, bool required, char *text, size_t text_size,
		    struct search_request *request)
{
	int present = query_one(req, "q", text, text_size);
	long chars = present == 1 ? api_utf8_chars(text, strlen(text), false) : 0;

	if (present < 0)
		return false;
	if (chars < 0 || chars > QUERY_MAX_CHARS) {
		http_respond_problem(req, 400, "invalid_parameter", "q",
				     "The parameter q must be text of at most %d characters.", QUERY_MAX_CHARS);
		return false;
	}
	if (present == 1 && search_query_word_count(text, strlen(text)) > SEARCH_QUERY_WORDS_MAX) {
		http_respond_problem(req, 400, "invalid_parameter", "q", "The parameter q takes at most %d words.",
				     SEARCH_QUERY_WORDS_MAX);
		return false;
	}
	if (present == 1 && search_query_has_words(text, strlen(text))) {
		request->q = text;
		request->q_len = strlen(text);
	} else if (required) {
		http_respond_problem(req, 400, "missing_parameter", "q",
				     "The parameter q is required: send the words typed so far.");
		return false;
	}
	return true;
}

/* A parsed listing request and the texts its fields point to. */
struct listing {
	struct search_request request;
	char q[SEARCH_QUERY_MAX_BYTES + 1];
	char category[CATALOG_SLUG_MAX_CHARS + 1]; /* "" for none */
};

static bool category_parse(struct http_request *req, struct listing *listing)
{
	int present = query_one(req, "category", listing->category, sizeof(listing->category));

	if (present < 0)
		return false;
	if (present == 1 && listing->category[0] == '\0') {
		http_respond_problem(req, 400, "invalid_parameter", "category",
				     "The parameter category must be a category id or slug.");
		return false;
	}
	return true;
}

static bool listing_parse(struct http_request *req, struct listing *listing)
{
	struct search_request *request = &listing->request;
	struct value_list tallas = {"talla", request->tallas, 0}, colors = {"color", request->colors, 0};
	uint64_t page = 1, page_size = PAGE_SIZE_DEFAULT;

	memset(listing, 0, sizeof(*listing));
	if (!category_parse(req, listing) || !gender_parse(req, request) ||
	    !query_each(req, "talla", value_list_add, &tallas) || !query_each(req, "color", value_list_add, &colors) ||
	    !price_parse(req, request) || !in_stock_parse(req, request) ||
	    !q_parse(req, false, listing->q, sizeof(listing->q), request) || !sort_parse(req, request) ||
	    query_integer(req, "page", 1, PAGE_MAX, &page) < 0 ||
	    query_integer(req, "page_size", 1, SEARCH_PAGE_SIZE_MAX, &page_size) < 0)
		return false;
	request->talla_count = tallas.count;
	request->color_count = colors.count;
	request->page = page;
	request->page_size = page_size;
	return true;
}

/* Finds the category by id (all digits) or slug. Returns KV_NOT_FOUND if there is none. */
static enum kv_err category_resolve(struct store *store, struct kv_txn *txn, const char *text, uint64_t *id)
{
	struct catalog_category category;
	struct kv_cursor *cursor;
	struct kv_val key, value;
	size_t scanned = 0;
	char *end;
	enum kv_err err;

	if (text[0] >= '1' && text[0] <= '9') {
		errno = 0;
		*id = strtoull(text, &end, 10);
		err = *end == '\0' && errno == 0 ? catalog_category_get(store, txn, *id, &category) : KV_NOT_FOUND;
		if (err != KV_NOT_FOUND)
			return err;
	}
	err = kv_scan_begin(txn, store->categories, NULL, 0, NULL, 0, &cursor);
	while (err == KV_OK && (err = kv_scan_next(cursor, &key, &value)) == KV_OK) {
		if (key.len != 8 || ++scanned > CATEGORIES_SCANNED_MAX) {
			err = KV_NOT_FOUND;
			break;
		}
		*id = key_get_u64(key.data);
		err = catalog_category_get(store, txn, *id, &category);
		if (err == KV_OK && strcmp(category.slug, text) == 0)
			break;
	}
	kv_scan_end(cursor);
	return err;
}

/* Appends the page's list cards and the counts as the listing's JSON. */
static enum kv_err listing_render(struct store *store, struct kv_txn *txn, const struct search_request *request,
				  const struct search_result *result, struct buf *out)
{
	uint64_t pages = result->total / request->page_size + (result->total % request->page_size != 0);

	buf_append_str(out, "{\"items\":[");
	for (size_t i = 0; i < result->count; i++) {
		struct kv_val card;
		enum kv_err err = catalog_card_get(store, txn, result->product_ids[i], &card);

		if (err != KV_OK)
			return err == KV_NOT_FOUND ? KV_BAD_RECORD : err;
		if (i > 0)
			buf_append(out, ",", 1);
		buf_append(out, card.data, card.len);
	}
	buf_printf(out, "],\"total\":%" PRIu64 ",\"total_exact\":%s,\"page\":%" PRIu64 ",\"page_size\":%" PRIu64
		   ",\"pages\":%" PRIu64 "}",
		   result->total, result->total_exact ? "true" : "false", request->page, request->page_size, pages);
	return out->failed ? KV_NO_MEMORY : KV_OK;
}

static void respond_read_failure(struct http_request *req, enum kv_err err)
{
	log_error("search_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
	if (err == KV_BAD_RECORD || err == KV_UNSUPPORTED || err == KV_CORRUPT) {
		http_respond_problem(req, 500, "internal", NULL, "The search index could not be read. The node's log has the cause.");
		return;
	}
	http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "unavailable", NULL,
				     "The node cannot read right now. Retry in a moment.");
}

/* Runs the listing in one read transaction and renders it into out. */
static enum kv_err listing_read(struct node *node, struct listing *listing, struct buf *out)
{
	struct search_result *result = malloc(sizeof(*result));
	struct kv_txn *txn = NULL;
	enum kv_err err = result == NULL ? KV_NO_MEMORY : kv_read_begin(node->env, &txn);

	if (err == KV_OK && listing->category[0] != '\0') {
		listing->request.has_category = true;
		err = category_resolve(&node->store, txn, listing->category, &listing->request.category_id);
		/* An unknown category matches nothing: id 0 is never assigned. */
		if (err == KV_NOT_FOUND) {
			listing->request.category_id = 0;
			err = KV_OK;
		}
	}
	if (err == KV_OK)
		err = search_run(&node->store, txn, &listing->request, result);
	if (err == KV_OK)
		err = listing_render(&node->store, txn, &listing->request, result, out);
	if (txn != NULL)
		kv_read_end(txn);
	free(result);
	return err;
}

static void handle_products(struct http_request *req)
{
	struct listing *listing = malloc(sizeof(*listing));
	struct buf out;
	enum kv_err err;

	if (listing == NULL) {
		respond_read_failure(req, KV_NO_MEMORY);
		return;
	}
	buf_init(&out, RESPONSE_MAX_BYTES);
	if (listing_parse(req, listing)) {
		err = listing_read(node_of(req), listing, &out);
		if (err != KV_OK) {
			respond_read_failure(req, err);
		} else {
			api_respond_cacheable(req, out.data, out.len, "public, no-cache");
		}
	}
	buf_free(&out);
	free(listing);
}

/* Appends {"name": ..., "slug": ...} of each product to suggestions. */
static enum kv_err suggestions_add(struct store *store, struct kv_txn *txn, const struct search_result *result,
				   json_t *suggestions)
{
	for (size_t i = 0; i < result->count; i++) {
		struct catalog_product product;
		enum kv_err err = catalog_product_get(store, txn, result->product_ids[i], &product);

		if (err != KV_OK)
			return err == KV_NOT_FOUND ? KV_BAD_RECORD : err;
		json_array_append_new(suggestions, json_pack("{s:s%, s:s%}", "name", product.name.ptr, product.name.len,
							     "slug", product.slug.ptr, product.slug.len));
		catalog_product_release(&product);
	}
	return KV_OK;
}

static void handle_suggest(struct http_request *req)
{
	struct node *node = node_of(req);
	struct listing *listing = calloc(1, sizeof(*listing));
	struct search_result *result = malloc(sizeof(*result));
	json_t *suggestions = json_array();
	struct kv_txn *txn;
	enum kv_err err = KV_NO_MEMORY;

	if (listing == NULL || result == NULL || suggestions == NULL)
		goto fail;
	if (!q_parse(req, true, listing->q, sizeof(listing->q), &listing->request))
		goto out;
	listing->request.order = SEARCH_ORDER_RELEVANCE;
	listing->request.page = 1;
	listing->request.page_size = SUGGESTIONS_MAX;
	err = kv_read_begin(node->env, &txn);
	if (err != KV_OK)
		goto fail;
	err = search_run(&node->store, txn, &listing->request, result);
	if (err == KV_OK)
		err = suggestions_add(&node->store, txn, result, suggestions);
	kv_read_end(txn);
	if (err != KV_OK)
		goto fail;
	api_respond_json_cacheable(req, json_pack("{s:O}", "suggestions", suggestions), "public, no-cache");
	goto out;
fail:
	respond_read_failure(req, err);
out:
	json_decref(suggestions);
	free(result);
	free(listing);
}

int search_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_GET, "/api/v1/products", handle_products, node, 0},
		{HTTP_METHOD_GET, "/api/v1/search/suggest", handle_suggest, node, 0},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
