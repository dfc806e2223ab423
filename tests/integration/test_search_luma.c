/*
 * Listing counts on a real catalog: the 147 parent products of Magento's
 * Luma demo shop (the CSV at LUMA_CSV, read in place) are created through
 * the admin API with one variant per colour and size,
 * then every filter's total is compared with a count made here from the
 * CSV alone. Stock is set by a fixed rule (see variant_stock) so that some
 * variants and whole products are sold out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include <cmocka.h>

#include "tests/integration/search_client.h"

#define LUMA_CSV "/work/shared/data/catalog/magento_luma_products_parents_slim.csv"
#define PRODUCTS_MAX 200
#define VALUES_MAX 16
#define CATEGORIES_MAX 64

struct luma_product {
	char sku[16];
	char slug[16];
	char name[128];
	char department[16];   /* Men or Women */
	char category_path[96];
	long long price_minor;
	char colors[VALUES_MAX][24];
	size_t color_count;
	char sizes[VALUES_MAX][24];
	size_t size_count;
	char *description;
};

struct luma_category {
	char path[96]; /* "Men/Tops" */
	char slug[96]; /* "men-tops" */
	uint64_t id;
};

static struct shop shop;
static struct luma_product products[PRODUCTS_MAX];
static size_t product_count;
static struct luma_category categories[CATEGORIES_MAX];
static size_t category_count;

static size_t split_values(const char *text, char values[][24], size_t value_size, size_t max)
{
	size_t count = 0;
	const char *piece = text;

	while (*piece != '\0' && count < max) {
		const char *bar = strchr(piece, '|');
		size_t len = bar != NULL ? (size_t)(bar - piece) : strlen(piece);

		assert_true(len < value_size);
		memcpy(values[count], piece, len);
		values[count][len] = '\0';
		count++;
		piece += len + (bar != NULL);
	}
	return count;
}

static long long price_minor_parse(const char *text)
{
	char *dot;
	long long units = strtoll(text, &dot, 10), cents = 0;

	if (*dot == '.') {
		cents = (dot[1] - '0') * 10;
		if (dot[1] != '\0' && dot[2] >= '0' && dot[2] <= '9')
			cents += dot[2] - '0';
	}
	return units * 100 + cents;
}

static void product_fill(struct luma_product *p, char **fields)
{
	snprintf(p->sku, sizeof(p->sku), "%s", fields[0]);
	for (size_t i = 0; i <= strlen(p->sku); i++)
		p->slug[i] = (char)tolower((unsigned char)p->sku[i]);
	snprintf(p->name, sizeof(p->name), "%s", fields[1]);
	snprintf(p->department, sizeof(p->department), "%s", fields[2]);
	snprintf(p->category_path, sizeof(p->category_path), "%s", fields[3]);
	p->price_minor = price_minor_parse(fields[5]);
	p->color_count = split_values(fields[6], p->colors, sizeof(p->colors[0]), VALUES_MAX);
	p->size_count = split_values(fields[7], p->sizes, sizeof(p->sizes[0]), VALUES_MAX);
	p->description = strdup(fields[12]);
}

static void csv_load(void)
{
	FILE *f = fopen(LUMA_CSV, "r");
	static char text[1 << 20];
	const char *p = text;
	size_t len;
	bool header = true;

	assert_non_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	while (*p != '\0') {
		char *fields[13] = {0};
		size_t n = 0;
		bool row_end = false;

		while (!row_end && n < 13)
			fields[n++] = shop_csv_field(&p, &row_end);
		assert_int_equal(n, 13);
		assert_true(row_end);
		if (!header) {
			assert_true(product_count < PRODUCTS_MAX);
			product_fill(&products[product_count++], fields);
		}
		header = false;
		for (size_t i = 0; i < n; i++)
			free(fields[i]);
	}
	assert_int_equal(product_count, 147);
}

static void slug_of_path(const char *path, char *out, size_t out_size)
{
	size_t len = 0;

	for (const char *s = path; *s != '\0' && len + 1 < out_size; s++) {
		if (isalnum((unsigned char)*s))
			out[len++] = (char)tolower((unsigned char)*s);
		else if (len > 0 && out[len - 1] != '-')
			out[len++] = '-';
	}
	out[len] = '\0';
}

static struct luma_category *category_find(const char *path)
{
	for (size_t i = 0; i < category_count; i++) {
		if (strcmp(categories[i].path, path) == 0)
			return &categories[i];
	}
	return NULL;
}

/* Creates every category of path ("Men/Tops/Tees"), parents first; returns the last one's id. */
static uint64_t category_ensure(const char *path)
{
	char prefix[96];
	uint64_t parent = 0;

	for (size_t end = 0; end <= strlen(path); end++) {
		struct luma_category *c;

		if (path[end] != '/' && path[end] != '\0')
			continue;
		memcpy(prefix, path, end);
		prefix[end] = '\0';
		c = category_find(prefix);
		if (c == NULL) {
			const char *name = strrchr(prefix, '/') != NULL ? strrchr(prefix, '/') + 1 : prefix;

			assert_true(category_count < CATEGORIES_MAX);
			c = &categories[category_count++];
			snprintf(c->path, sizeof(c->path), "%s", prefix);
			slug_of_path(prefix, c->slug, sizeof(c->slug));
			c->id = shop_category(&shop, name, c->slug, parent);
		}
		parent = c->id;
	}
	return parent;
}

/* The fixed stock rule: every tenth product is sold out, and a quarter of the other variants. */
static long long variant_stock(size_t product, size_t color, size_t size)
{
	if (product % 10 == 0)
		return 0;
	return (product + color + size) % 4 == 0 ? 0 : 3;
}

static void catalog_create(void)
{
	for (size_t i = 0; i < product_count; i++) {
		const struct luma_product *p = &products[i];
		uint64_t category = category_ensure(p->category_path);
		json_t *fields = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "slug", p->slug, "name", p->name,
					   "gender", strcmp(p->department, "Men") == 0 ? "hombre" : "mujer", "type", "ropa",
					   "brand", "Luma", "category_id", (json_int_t)category, "description",
					   p->description, "active", true);
		uint64_t id = shop_product(&shop, fields);

		for (size_t c = 0; c < p->color_count; c++) {
			for (size_t s = 0; s < p->size_count; s++) {
				char sku[64];

				snprintf(sku, sizeof(sku), "%.15s-%.23s-%.23s", p->sku, p->sizes[s], p->colors[c]);
				shop_variant(&shop, id, sku, p->sizes[s], p->colors[c], p->price_minor,
					     variant_stock(i, c, s));
			}
		}
	}
}

static int group_setup(void **state)
{
	(void)state;
	csv_load();
	shop_start(&shop);
	catalog_create();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	shop_stop(&shop);
	for (size_t i = 0; i < product_count; i++)
		free(products[i].description);
	return 0;
}

static bool has_value(const char values[][24], size_t count, const char *value)
{
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(values[i], value) == 0)
			return true;
	}
	return false;
}

static bool has_size(const struct luma_product *p, const char *size)
{
	for (size_t i = 0; i < p->size_count; i++) {
		if (strcasecmp(p->sizes[i], size) == 0)
			return true;
	}
	return false;
}

/* True if product index i has stock in some variant, of talla size when size is not NULL. */
static bool in_stock(size_t i, const char *size)
{
	for (size_t c = 0; c < products[i].color_count; c++) {
		for (size_t s = 0; s < products[i].size_count; s++) {
			if ((size == NULL || strcasecmp(products[i].sizes[s], size) == 0) && variant_stock(i, c, s) > 0)
				return true;
		}
	}
	return false;
}

/* Checks the listing's total for query against expected, counted from the CSV. */
static void assert_total(const char *query, size_t expected)
{
	json_t *listing = shop_list(&shop, query);
	long long total = json_integer_value(json_object_get(listing, "total"));

	if (total != (long long)expected)
		fail_msg("GET /api/v1/products?%s: total %lld, expected %zu", query, total, expected);
	assert_true(json_is_true(json_object_get(listing, "total_exact")));
	json_decref(listing);
}

static void every_product_listed(void **state)
{
	(void)state;
	assert_total("", product_count);
	assert_total("gender=hombre", 72);
	assert_total("gender=mujer", 75);
}

static void category_counts_include_subcategories(void **state)
{
	(void)state;
	for (size_t c = 0; c < category_count; c++) {
		size_t expected = 0, path_len = strlen(categories[c].path);
		char query[160];

		for (size_t i = 0; i < product_count; i++) {
			const char *path = products[i].category_path;

			expected += strncmp(path, categories[c].path, path_len) == 0 &&
				    (path[path_len] == '\0' || path[path_len] == '/');
		}
		snprintf(query, sizeof(query), "category=%s", categories[c].slug);
		assert_total(query, expected);
	}
	assert_total("category=men", 72);
	assert_total("category=women", 75);
}

static void color_counts_match_csv(void **state)
{
	static const char *const colors[] = {"Black", "Blue", "Brown", "Gray", "Green", "Lavender",
					     "Orange", "Purple", "Red", "White", "Yellow"};

	(void)state;
	for (size_t k = 0; k < sizeof(colors) / sizeof(colors[0]); k++) {
		size_t expected = 0;
		char query[64];

		for (size_t i = 0; i < product_count; i++)
			expected += has_value(products[i].colors, products[i].color_count, colors[k]);
		snprintf(query, sizeof(query), "color=%s", colors[k]);
		assert_total(query, expected);
	}
}

static void talla_counts_match_csv(void **state)
{
	static const char *const sizes[] = {"XS", "S", "M", "L", "XL", "28", "29", "30", "31", "32", "33", "34", "36"};

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t expected = 0, expected_in_stock = 0;
		char query[64];

		for (size_t i = 0; i < product_count; i++) {
			expected += has_size(&products[i], sizes[k]);
			expected_in_stock += in_stock(i, sizes[k]);
		}
		snprintf(query, sizeof(query), "talla=%s", sizes[k]);
		assert_total(query, expected);
		snprintf(query, sizeof(query), "talla=%s&in_stock=true", sizes[k]);
		assert_total(query, expected_in_stock);
	}
}

static void in_stock_count_matches_rule(void **state)
{
	size_t expected = 0;

	(void)state;
	for (size_t i = 0; i < product_count; i++)
		expected += in_stock(i, NULL);
	assert_true(expected < product_count);
	assert_total("in_stock=true", expected);
}

static void price_ranges_match_csv(void **state)
{
	static const long long bounds[][2] = {{0, 2500}, {2500, 4000}, {4000, 6000}, {6000, 10000}, {3250, 3250}};

	(void)state;
	for (size_t k = 0; k < sizeof(bounds) / sizeof(bounds[0]); k++) {
		size_t expected = 0;
		char query[96];

		for (size_t i = 0; i < product_count; i++)
			expected += products[i].price_minor >= bounds[k][0] && products[i].price_minor <= bounds[k][1];
		snprintf(query, sizeof(query), "price_min=%lld&price_max=%lld", bounds[k][0], bounds[k][1]);
		assert_total(query, expected);
	}
}

static void combined_filters_match_csv(void **state)
{
	size_t expected = 0;

	(void)state;
	for (size_t i = 0; i < product_count; i++) {
		expected += strncmp(products[i].category_path, "Women/", 6) == 0 &&
			    has_value(products[i].colors, products[i].color_count, "Black") &&
			    has_size(&products[i], "M") && in_stock(i, "M") && products[i].price_minor <= 5000;
	}
	assert_total("category=women&color=black&talla=M&in_stock=true&price_max=5000", expected);
}

static long long price_of_slug(const char *slug)
{
	for (size_t i = 0; i < product_count; i++) {
		if (strcmp(products[i].slug, slug) == 0)
			return products[i].price_minor;
	}
	fail_msg("unknown slug %s", slug);
	return -1;
}

static void price_order_holds_across_pages(void **state)
{
	long long previous = -1;
	size_t seen = 0;

	(void)state;
	for (int page = 1; page <= 2; page++) {
		char query[64];
		json_t *listing, *item;
		size_t i;

		snprintf(query, sizeof(query), "sort=price_asc&page_size=100&page=%d", page);
		listing = shop_list(&shop, query);
		json_array_foreach(json_object_get(listing, "items"), i, item) {
			long long price = price_of_slug(json_string_value(json_object_get(item, "slug")));

			assert_true(price >= previous);
			previous = price;
			seen++;
		}
		json_decref(listing);
	}
	assert_int_equal(seen, product_count);
}

static void name_search_finds_named_products(void **state)
{
	size_t expected = 0;
	json_t *listing, *item;
	size_t i, found = 0;

	(void)state;
	for (size_t k = 0; k < product_count; k++)
		expected += strstr(products[k].name, "Hoodie") != NULL;
	listing = shop_list(&shop, "q=hoodie&page_size=100");
	json_array_foreach(json_object_get(listing, "items"), i, item) {
		const char *slug = json_string_value(json_object_get(item, "slug"));

		for (size_t k = 0; k < product_count; k++)
			found += strcmp(products[k].slug, slug) == 0 && strstr(products[k].name, "Hoodie") != NULL;
	}
	assert_true(expected > 0);
	assert_int_equal(found, expected);
	json_decref(listing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_product_listed),
		cmocka_unit_test(category_counts_include_subcategories),
		cmocka_unit_test(color_counts_match_csv),
		cmocka_unit_test(talla_counts_match_csv),
		cmocka_unit_test(in_stock_count_matches_rule),
		cmocka_unit_test(price_ranges_match_csv),
		cmocka_unit_test(combined_filters_match_csv),
		cmocka_unit_test(price_order_holds_across_pages),
		cmocka_unit_test(name_search_finds_named_products),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
