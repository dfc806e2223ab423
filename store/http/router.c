/*
 * Route table, path matching and per-route statistics; see http.h for the
 * pattern syntax.
 *
 * Matching works on the raw path split at '/', so an encoded slash (%2F)
 * stays inside its segment and reaches the handler decoded. A literal
 * segment matches the decoded request segment. A {name} parameter matches
 * one non-empty segment. A final {name...} matches the non-empty rest of the
 * path, slashes included. When several routes match, the most specific one
 * wins: at the first segment where two patterns differ, a literal beats
 * {name}, which beats {name...}. Statistics are atomics, so every worker
 * thread records into them without a lock.
 */
#include "store/http/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTES_MAX 128
#define ROUTE_SEGMENTS_MAX 16
#define PARAM_NAME_MAX 32
#define PATTERN_MAX 256

/* Ordered by specificity: a higher value wins. */
enum segment_kind {
	SEGMENT_REST,
	SEGMENT_PARAM,
	SEGMENT_LITERAL,
};

struct route_segment {
	enum segment_kind kind;
	const char *text; /* literal bytes, or the NUL-terminated parameter name */
	size_t len;
};

struct route_entry {
	struct http_route route;
	struct http_route_stats stats;
	char *pattern;      /* intact copy, for def.pattern and metrics labels */
	char *segment_text; /* copy that segments point into, with a NUL after each name */
	struct route_segment segments[ROUTE_SEGMENTS_MAX];
	size_t segment_count;
	size_t param_count;
};

struct http_router {
	struct route_entry *routes[ROUTES_MAX];
	size_t route_count;
	struct http_route_stats unmatched;
	char listener_name[HTTP_LISTENER_NAME_MAX];
	bool listener_shared;
};

static const char *const method_names[] = {
	[HTTP_METHOD_GET] = "GET",
	[HTTP_METHOD_HEAD] = "HEAD",
	[HTTP_METHOD_POST] = "POST",
	[HTTP_METHOD_PUT] = "PUT",
	[HTTP_METHOD_PATCH] = "PATCH",
	[HTTP_METHOD_DELETE] = "DELETE",
	[HTTP_METHOD_OPTIONS] = "OPTIONS",
	[HTTP_METHOD_OTHER] = "OTHER",
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the byte at in[*i] and advances *i. Returns -1 on a malformed escape. */
static int decode_next(const char *in, size_t len, size_t *i, bool plus_is_space)
{
	char c = in[*i];

	if (c == '%') {
		int hi, lo;

		if (len - *i < 3)
			return -1;
		hi = hex_value(in[*i + 1]);
		lo = hex_value(in[*i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		*i += 3;
		return hi << 4 | lo;
	}
	*i += 1;
	if (c == '+' && plus_is_space)
		return ' ';
	return (unsigned char)c;
}

static bool is_pchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Parses one pattern segment of len bytes at text; may write a NUL inside it. */
static int parse_segment(char *text, size_t len, bool last, struct route_segment *seg)
{
	char *name;
	size_t name_len;

	if (len == 0 || text[0] != '{') {
		/* Only the final segment may be empty: "/" or a trailing slash. */
		if (len == 0 && !last)
			return -1;
		for (size_t i = 0; i < len; i++) {
			if (!is_pchar(text[i]))
				return -1;
		}
		*seg = (struct route_segment){SEGMENT_LITERAL, text, len};
		return 0;
	}
	if (len < 3 || text[len - 1] != '}')
		return -1;
	name = text + 1;
	name_len = len - 2;
	seg->kind = SEGMENT_PARAM;
	if (name_len > 3 && memcmp(name + name_len - 3, "...", 3) == 0) {
		if (!last)
			return -1;
		seg->kind = SEGMENT_REST;
		name_len -= 3;
	}
	if (name_len == 0 || name_len > PARAM_NAME_MAX)
		return -1;
	for (size_t i = 0; i < name_len; i++) {
		if (!is_name_char(name[i]))
			return -1;
	}
	name[name_len] = '\0';
	seg->text = name;
	seg->len = name_len;
	return 0;
}

static int check_param_names(const struct route_entry *e)
{
	size_t params = 0;

	for (size_t i = 0; i < e->segment_count; i++) {
		if (e->segments[i].kind == SEGMENT_LITERAL)
			continue;
		if (++params > HTTP_PARAMS_MAX)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (e->segments[j].kind != SEGMENT_LITERAL &&
			    strcmp(e->segments[i].text, e->segments[j].text) == 0)
				return -1;
		}
	}
	return 0;
}

static int compile_pattern(struct route_entry *e)
{
	char *p = e->segment_text + 1;

	for (;;) {
		char *slash = strchr(p, '/');
		size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);

		if (e->segment_count == ROUTE_SEGMENTS_MAX)
			return -1;
		if (parse_segment(p, len, slash == NULL, &e->segments[e->segment_count]) != 0)
			return -1;
		if (e->segments[e->segment_count].kind != SEGMENT_LITERAL)
			e->param_count++;
		e->segment_count++;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return check_param_names(e);
}

/* Two routes of one method with the same shape could never both be reached. */
static bool same_shape(const struct route_entry *a, const struct route_entry *b)
{
	if (a->route.def.method != b->route.def.method || a->segment_count != b->segment_count)
		return false;
	for (size_t i = 0; i < a->segment_count; i++) {
		const struct route_segment *sa = &a->segments[i], *sb = &b->segments[i];

		if (sa->kind != sb->kind)
			return false;
		if (sa->kind == SEGMENT_LITERAL &&
		    (sa->len != sb->len || memcmp(sa->text, sb->text, sa->len) != 0))
			return false;
	}
	return true;
}

static void route_entry_free(struct route_entry *e)
{
	if (e == NULL)
		return;
	free(e->pattern);
	free(e->segment_text);
	free(e);
}

static bool def_valid(const struct http_route_def *def)
{
	size_t len;

	if (def == NULL || def->pattern == NULL || def->handler == NULL)
		return false;
	if ((unsigned)def->method >= HTTP_METHOD_OTHER)
		return false;
	len = strlen(def->pattern);
	return len > 0 && len <= PATTERN_MAX && def->pattern[0] == '/';
}

/* Length of the path segment starting at pos (up to the next '/' or the end). */
static size_t segment_length(const char *path, size_t path_len, size_t pos)
{
	const char *slash = memchr(path + pos, '/', path_len - pos);

	return slash != NULL ? (size_t)(slash - (path + pos)) : path_len - pos;
}

static bool decodable(const char *raw, size_t len)
{
	size_t ignored;

	return http_percent_decode(raw, len, false, NULL, 0, &ignored);
}

/* Checks whether path has the shape of e's pattern, without decoding into memory. */
static bool path_matches(const struct route_entry *e, const char *path, size_t path_len)
{
	size_t pos = 1;

	for (size_t i = 0; i < e->segment_count; i++) {
		const struct route_segment *seg = &e->segments[i];
		size_t len;

		if (pos > path_len)
			return false;
		if (seg->kind == SEGMENT_REST)
			return pos < path_len && decodable(path + pos, path_len - pos);
		len = segment_length(path, path_len, pos);
		if (seg->kind == SEGMENT_LITERAL &&
		    !http_percent_equals(path + pos, len, false, seg->text, seg->len))
			return false;
		if (seg->kind == SEGMENT_PARAM && (len == 0 || !decodable(path + pos, len)))
			return false;
		pos += len + 1;
	}
	/* pos is one past the end exactly when the last segment ended the path. */
	return pos == path_len + 1;
}

/* Decodes e's parameters from path into scratch. Returns -1 if they do not fit. */
static int extract_params(const struct route_entry *e, const char *path, size_t path_len,
			  struct http_param *params, size_t *param_count, char *scratch,
			  size_t scratch_size)
{
	size_t pos = 1, used = 0, n = 0;

	for (size_t i = 0; i < e->segment_count; i++) {
		const struct route_segment *seg = &e->segments[i];
		size_t len = seg->kind == SEGMENT_REST ? path_len - pos
						       : segment_length(path, path_len, pos);
		size_t value_len;

		if (seg->kind != SEGMENT_LITERAL) {
			if (scratch == NULL ||
			    !http_percent_decode(path + pos, len, false, scratch + used,
						 scratch_size - used, &value_len))
				return -1;
			params[n++] = (struct http_param){seg->text, scratch + used, value_len};
			used += value_len + 1;
		}
		pos += len + 1;
	}
	*param_count = n;
	return 0;
}

/* Returns 2 for the route's own method, 1 for HEAD on a GET route, else 0. */
static int method_fit(enum http_method route_method, enum http_method method)
{
	if (route_method == method)
		return 2;
	if (route_method == HTTP_METHOD_GET && method == HTTP_METHOD_HEAD)
		return 1;
	return 0;
}

/* Compares by specificity. Returns a positive value if a is more specific than b. */
static int compare_specificity(const struct route_entry *a, const struct route_entry *b)
{
	for (size_t i = 0; i < a->segment_count && i < b->segment_count; i++) {
		if (a->segments[i].kind != b->segments[i].kind)
			return (int)a->segments[i].kind - (int)b->segments[i].kind;
	}
	return 0;
}

static void format_allow(unsigned allowed, char *allow, size_t allow_size)
{
	size_t used = 0;

	if (allow == NULL || allow_size == 0)
		return;
	allow[0] = '\0';
	for (unsigned m = 0; m < HTTP_METHOD_OTHER; m++) {
		int n;

		if (!(allowed & (1u << m)))
			continue;
		n = snprintf(allow + used, allow_size - used, "%s%s", used > 0 ? ", " : "",
			     method_names[m]);
		if (n < 0 || (size_t)n >= allow_size - used)
			return;
		used += (size_t)n;
	}
}

static void write_counters(struct buf *out, const char *listener_label, const char *route,
			   const struct http_route_stats *stats)
{
	for (size_t i = 0; i < HTTP_STATUS_SLOTS; i++) {
		uint32_t key = atomic_load_explicit(&stats->slots[i].key, memory_order_acquire);

		if (key == 0)
			continue;
		buf_printf(out,
			   "jkd_http_requests_total{%sroute=\"%s\",method=\"%s\",status=\"%u\"} %" PRIu64
			   "\n",
			   listener_label, route, http_method_name((enum http_method)((key >> 16) - 1)),
			   (unsigned)(key & 0xffff),
			   atomic_load_explicit(&stats->slots[i].count, memory_order_relaxed));
	}
	for (unsigned m = 0; m <= HTTP_METHOD_OTHER; m++) {
		uint64_t n = atomic_load_explicit(&stats->overflow[m], memory_order_relaxed);

		if (n > 0)
			buf_printf(out,
				   "jkd_http_requests_total{%sroute=\"%s\",method=\"%s\",status=\"other\"} "
				   "%" PRIu64 "\n",
				   listener_label, route, method_names[m], n);
	}
}

/*
 * Writes one latency histogram per method that served a request, and always
 * one for the route's own method (own_method < 0 for none), so every route
 * has a series from the start. Routes that share a pattern differ in method,
 * so no series repeats.
 */
static void write_histograms(struct buf *out, const char *listener_label, const char *route,
			     const struct http_route_stats *stats, int own_method)
{
	char labels[PATTERN_MAX + HTTP_LISTENER_NAME_MAX + 48];

	for (int m = 0; m <= HTTP_METHOD_OTHER; m++) {
		const struct metrics_histogram *h = &stats->latency[m];

		if (m != own_method && atomic_load_explicit(&h->count, memory_order_relaxed) == 0)
			continue;
		snprintf(labels, sizeof(labels), "%sroute=\"%s\",method=\"%s\"", listener_label, route,
			 method_names[m]);
		metrics_histogram_write(out, "jkd_http_request_duration_seconds", labels, h);
	}
}

const char *http_method_name(enum http_method method)
{
	if ((unsigned)method > HTTP_METHOD_OTHER)
		return method_names[HTTP_METHOD_OTHER];
	return method_names[method];
}

bool http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t out_size,
			 size_t *out_len)
{
	size_t i = 0, n = 0;

	while (i < len) {
		int c = decode_next(in, len, &i, plus_is_space);

		if (c < 0)
			return false;
		if (out != NULL) {
			if (n + 1 >= out_size)
				return false;
			out[n] = (char)c;
		}
		n++;
	}
	if (out != NULL) {
		if (n >= out_size)
			return false;
		out[n] = '\0';
	}
	*out_len = n;
	return true;
}

bool http_percent_equals(const char *raw, size_t raw_len, bool plus_is_space, const char *text,
			 size_t text_len)
{
	size_t i = 0, j = 0;

	while (i < raw_len) {
		int c = decode_next(raw, raw_len, &i, plus_is_space);

		if (c < 0 || j == text_len || (unsigned char)text[j] != c)
			return false;
		j++;
	}
	return j == text_len;
}

void http_route_stats_record(struct http_route_stats *stats, enum http_method method, int status,
			     uint64_t duration_us)
{
	uint32_t key = ((uint32_t)method + 1) << 16 | ((uint32_t)status & 0xffff);

	if ((unsigned)method > HTTP_METHOD_OTHER)
		method = HTTP_METHOD_OTHER;
	metrics_histogram_observe(&stats->latency[method], duration_us);
	for (size_t i = 0; i < HTTP_STATUS_SLOTS; i++) {
		struct http_status_slot *slot = &stats->slots[i];
		uint32_t current = atomic_load_explicit(&slot->key, memory_order_acquire);

		if (current == 0) {
			uint32_t expected = 0;

			/* Claim the free slot. If another thread won, use the key it stored. */
			if (atomic_compare_exchange_strong(&slot->key, &expected, key))
				current = key;
			else
				current = expected;
		}
		if (current == key) {
			atomic_fetch_add_explicit(&slot->count, 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&stats->overflow[method], 1, memory_order_relaxed);
}

struct http_route_stats *http_router_unmatched_stats(const struct http_router *router)
{
	/* The counters are atomics, and updating them leaves the route table unchanged. */
	return (struct http_route_stats *)&router->unmatched;
}

void http_router_attach_listener(struct http_router *router, const char *listener_name)
{
	if (router->listener_name[0] == '\0' && !router->listener_shared) {
		snprintf(router->listener_name, sizeof(router->listener_name), "%s", listener_name);
		return;
	}
	if (strcmp(router->listener_name, listener_name) != 0) {
		router->listener_shared = true;
		router->listener_name[0] = '\0';
	}
}

struct http_router *http_router_new(void)
{
	return calloc(1, sizeof(struct http_router));
}

void http_router_free(struct http_router *router)
{
	if (router == NULL)
		return;
	for (size_t i = 0; i < router->route_count; i++)
		route_entry_free(router->routes[i]);
	free(router);
}

int http_router_add(struct http_router *router, const struct http_route_def *def)
{
	struct route_entry *e;

	if (router == NULL || !def_valid(def) || router->route_count == ROUTES_MAX)
		return -1;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	e->pattern = strdup(def->pattern);
	e->segment_text = strdup(def->pattern);
	if (e->pattern == NULL || e->segment_text == NULL || compile_pattern(e) != 0) {
		route_entry_free(e);
		return -1;
	}
	e->route.def = *def;
	e->route.def.pattern = e->pattern;
	e->route.stats = &e->stats;
	for (size_t i = 0; i < router->route_count; i++) {
		if (same_shape(router->routes[i], e)) {
			route_entry_free(e);
			return -1;
		}
	}
	router->routes[router->route_count++] = e;
	return 0;
}

enum http_match http_router_match(const struct http_router *router, enum http_method method,
				  const char *path, size_t path_len, struct http_param *params,
				  size_t *param_count, char *scratch, size_t scratch_size,
				  const struct http_route **route, char *allow, size_t allow_size)
{
	const struct route_entry *best = NULL;
	int best_fit = 0;
	unsigned allowed = 0;

	*param_count = 0;
	*route = NULL;
	format_allow(0, allow, allow_size);
	if (path_len == 0 || path[0] != '/')
		return HTTP_MATCH_NOT_FOUND;
	for (size_t i = 0; i < router->route_count; i++) {
		const struct route_entry *e = router->routes[i];
		int fit, specificity;

		if (!path_matches(e, path, path_len))
			continue;
		allowed |= 1u << e->route.def.method;
		if (e->route.def.method == HTTP_METHOD_GET)
			allowed |= 1u << HTTP_METHOD_HEAD;
		fit = method_fit(e->route.def.method, method);
		if (fit == 0)
			continue;
		/* Ties keep the earlier route unless this one has the exact method. */
		specificity = best != NULL ? compare_specificity(e, best) : 1;
		if (specificity > 0 || (specificity == 0 && fit > best_fit)) {
			best = e;
			best_fit = fit;
		}
	}
	if (best == NULL) {
		if (allowed == 0)
			return HTTP_MATCH_NOT_FOUND;
		format_allow(allowed, allow, allow_size);
		return HTTP_MATCH_METHOD_NOT_ALLOWED;
	}
	if (extract_params(best, path, path_len, params, param_count, scratch, scratch_size) != 0) {
		*param_count = 0;
		return HTTP_MATCH_NOT_FOUND;
	}
	*route = &best->route;
	return HTTP_MATCH_FOUND;
}

static void listener_label_format(const struct http_router *router, char *out, size_t out_size)
{
	out[0] = '\0';
	if (router->listener_name[0] != '\0')
		snprintf(out, out_size, "listener=\"%s\",", router->listener_name);
}

void http_routers_write_metrics(const struct http_router *const *routers, size_t router_count,
				struct buf *out)
{
	char label[HTTP_LISTENER_NAME_MAX + 16];

	/* Each metric's HELP and TYPE lines appear once, before the samples of every router. */
	metrics_write_header(out, "jkd_http_requests_total", "counter",
			     "HTTP requests answered, by route, method and status.");
	for (size_t r = 0; r < router_count; r++) {
		const struct http_router *router = routers[r];

		listener_label_format(router, label, sizeof(label));
		for (size_t i = 0; i < router->route_count; i++)
			write_counters(out, label, router->routes[i]->pattern, &router->routes[i]->stats);
		write_counters(out, label, "unmatched", &router->unmatched);
	}

	metrics_write_header(out, "jkd_http_request_duration_seconds", "histogram",
			     "Seconds from the first byte of a request until its response was queued, by route and method.");
	for (size_t r = 0; r < router_count; r++) {
		const struct http_router *router = routers[r];

		listener_label_format(router, label, sizeof(label));
		for (size_t i = 0; i < router->route_count; i++) {
			const struct route_entry *e = router->routes[i];

			write_histograms(out, label, e->pattern, &e->stats, (int)e->route.def.method);
		}
		write_histograms(out, label, "unmatched", &router->unmatched, -1);
	}
}

void http_router_write_metrics(const struct http_router *router, struct buf *out)
{
	http_routers_write_metrics(&router, 1, out);
}

void http_router_each(const struct http_router *router,
		      void (*visit)(enum http_method method, const char *pattern, void *ctx), void *ctx)
{
	for (size_t i = 0; i < router->route_count; i++)
		visit(router->routes[i]->route.def.method, router->routes[i]->pattern, ctx);
}
