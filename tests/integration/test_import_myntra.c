/*
 * Import of a real shop's styles: the Apparel and Footwear rows of the
 * first 5,000 Myntra styles (MYNTRA_CSV, read in place) are mapped here into
 * the import format and imported in one request. The counts the node must
 * show are computed separately, by splitting the file's lines at commas
 * (the file has no quoted fields), so a mapping bug cannot hide itself.
 *
 * The source has no prices, sizes or stock, so the mapping makes them up,
 * deterministically from the style id:
 *   tallas   S, M and L for Apparel; 40, 41, 42 and 43 for Footwear
 *   precio   10 to 99 euros plus ,50 or ,99 (id % 90 + 10, then ,99 for even
 *            ids), 20 euros more for Footwear
 *   stock    (id + the talla's position) % 5
 * Other fields: slug "myntra-<id>", nombre productDisplayName, color
 * baseColour, categoria "<department>/<Ropa|Calzado>/<articleType>",
 * etiquetas season and usage, and a description naming the style id so
 * that a search for the id finds exactly that product.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/csv_helpers.h"
#include "tests/integration/search_client.h"

#define MYNTRA_CSV "/work/shared/data/catalog/myntra_styles_first5000.csv"
#define MYNTRA_COLUMNS 10
#define STYLES_MAX 5000

enum myntra_column { ID, GENDER, MASTER_CATEGORY, SUB_CATEGORY, ARTICLE_TYPE, BASE_COLOUR, SEASON, YEAR, USAGE, NAME };

static const char *const apparel_tallas[] = {"S", "M", "L", NULL};
static const char *const footwear_tallas[] = {"40", "41", "42", "43", NULL};

/* A mapped style, with the values the node must show for it. */
struct style {
	long id;
	char name[128];
	bool footwear;
	size_t variants;
	long long first_price; /* cents */
};

static struct style styles[STYLES_MAX];
static size_t style_count;

/* Counts made from the raw lines, apart from the mapping. */
static struct {
	size_t apparel;
	size_t footwear;
	size_t children; /* Boys and Girls */
} expected;

static json_t *import_result;

/* Counts Apparel, Footwear and children's rows by splitting each line at commas. */
static void expected_count(const struct buf *data)
{
	const char *line = data->data;

	memset(&expected, 0, sizeof(expected));
	line = strchr(line, '\n') + 1; /* the header */
	while (line < data->data + data->len && *line != '\0') {
		const char *end = strchr(line, '\n');
		char text[512], *fields[MYNTRA_COLUMNS], *rest = text;
		size_t count = 0;

		snprintf(text, sizeof(text), "%.*s", (int)(end != NULL ? end - line : (long)strlen(line)), line);
		assert_null(strchr(text, '"'));
		while (count < MYNTRA_COLUMNS && (fields[count] = strsep(&rest, ",")) != NULL)
			count++;
		assert_int_equal(count, MYNTRA_COLUMNS);
		expected.apparel += strcmp(fields[MASTER_CATEGORY], "Apparel") == 0;
		expected.footwear += strcmp(fields[MASTER_CATEGORY], "Footwear") == 0;
		expected.children += (strcmp(fields[MASTER_CATEGORY], "Apparel") == 0 ||
				      strcmp(fields[MASTER_CATEGORY], "Footwear") == 0) &&
				     (strcmp(fields[GENDER], "Boys") == 0 || strcmp(fields[GENDER], "Girls") == 0);
		line = end != NULL ? end + 1 : line + strlen(line);
	}
}

static const char *gender_of(const char *department)
{
	static const char *const pairs[][2] = {
		{"Men", "hombre"}, {"Women", "mujer"}, {"Boys", "ninos"}, {"Girls", "ninos"}, {"Unisex", "unisex"},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (strcmp(pairs[i][0], department) == 0)
			return pairs[i][1];
	}
	fail_msg("unknown department %s", department);
	return NULL;
}

static long long price_of(long id, bool footwear)
{
	return (id % 90 + 10 + (footwear ? 20 : 0)) * 100 + (id % 2 == 0 ? 99 : 50);
}

/* Writes one line per talla of a style. */
static void style_map(struct csv_out *out, char **fields)
{
	struct style *style = &styles[style_count++];
	const char *const *tallas;
	char slug[32], description[128], category[160], tags[64], sku[48], price[24], stock[8];

	style->id = strtol(fields[ID], NULL, 10);
	style->footwear = strcmp(fields[MASTER_CATEGORY], "Footwear") == 0;
	style->first_price = price_of(style->id, style->footwear);
	snprintf(style->name, sizeof(style->name), "%s", fields[NAME]);
	tallas = style->footwear ? footwear_tallas : apparel_tallas;
	snprintf(slug, sizeof(slug), "myntra-%ld", style->id);
	snprintf(description, sizeof(description), "Myntra style %ld: %s for %s.", style->id, fields[ARTICLE_TYPE],
		 fields[USAGE]);
	snprintf(category, sizeof(category), "%s/%s/%s", fields[GENDER], style->footwear ? "Calzado" : "Ropa",
		 fields[ARTICLE_TYPE]);
	snprintf(tags, sizeof(tags), "%s%s%s", fields[SEASON], fields[SEASON][0] != '\0' && strcmp(fields[USAGE], "NA") != 0 ? "|" : "",
		 strcmp(fields[USAGE], "NA") != 0 ? fields[USAGE] : "");
	snprintf(price, sizeof(price), "%lld,%02lld", style->first_price / 100, style->first_price % 100);
	for (size_t t = 0; tallas[t] != NULL; t++) {
		const char *const product_fields[] = {slug, fields[NAME], description, "", gender_of(fields[GENDER]),
						      style->footwear ? "calzado" : "ropa", category, "", "", tags, "si"};

		for (size_t i = 0; i < sizeof(product_fields) / sizeof(product_fields[0]); i++)
			csv_out_field(out, product_fields[i]);
		snprintf(sku, sizeof(sku), "MYN-%ld-%s", style->id, tallas[t]);
		snprintf(stock, sizeof(stock), "%ld", (style->id + (long)t) % 5);
		csv_out_field(out, sku);
		csv_out_field(out, tallas[t]);
		csv_out_field(out, fields[BASE_COLOUR]);
		csv_out_field(out, price);
		csv_out_field(out, "");
		csv_out_field(out, stock);
		csv_out_line_end(out);
		style->variants++;
	}
}

/* Maps the Apparel and Footwear rows into the import format, Spanish dialect. */
static void catalog_map(const struct buf *data, struct csv_out *out)
{
	const char *p = data->data;
	bool header = true;

	csv_out_begin(out, true, ';', true);
	while (*p != '\0') {
		char *fields[MYNTRA_COLUMNS + 1];
		size_t count = 0;
		bool row_end = false;

		while (!row_end && count <= MYNTRA_COLUMNS)
			fields[count++] = shop_csv_field(&p, &row_end);
		assert_int_equal(count, MYNTRA_COLUMNS);
		if (!header && (strcmp(fields[MASTER_CATEGORY], "Apparel") == 0 ||
				strcmp(fields[MASTER_CATEGORY], "Footwear") == 0)) {
			assert_true(style_count < STYLES_MAX);
			style_map(out, fields);
		}
		header = false;
		for (size_t i = 0; i < count; i++)
			free(fields[i]);
	}
}

static int group_setup(void **state)
{
	struct buf data;
	struct csv_out out;

	(void)state;
	file_read_all(MYNTRA_CSV, &data);
	buf_append(&data, "", 1);
	expected_count(&data);
	catalog_map(&data, &out);
	buf_free(&data);
	import_result = csv_node_start_with(&catalog, &out);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	catalog_node_stop(&catalog);
	json_decref(import_result);
	return 0;
}

static void import_counts_match_source(void **state)
{
	size_t products = expected.apparel + expected.footwear;
	size_t variants = 3 * expected.apparel + 4 * expected.footwear;

	(void)state;
	print_message("expected %zu Apparel and %zu Footwear styles\n", expected.apparel, expected.footwear);
	assert_int_equal(style_count, products);
	assert_int_equal(json_integer_value(json_object_get(import_result, "products_created")), products);
	assert_int_equal(json_integer_value(json_object_get(import_result, "variants_created")), variants);
	assert_int_equal(admin_product_total(&catalog), products);
}

static void every_style_page_has_tallas(void **state)
{
	(void)state;
	for (size_t i = 0; i < style_count; i++) {
		struct http_reply reply;
		char path[96];
		json_t *json, *variants;

		snprintf(path, sizeof(path), "/api/v1/products/myntra-%ld", styles[i].id);
		catalog_request(&catalog, NULL, "GET", path, NULL, NULL, &reply);
		if (reply.status != 200)
			fail_msg("GET %s returned %d", path, reply.status);
		json = reply_json(&reply);
		http_reply_free(&reply);
		variants = json_object_get(json, "variants");
		assert_string_equal(json_string_value(json_object_get(json, "name")), styles[i].name);
		assert_int_equal(json_array_size(variants), styles[i].variants);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(variants, 0), "price")),
				 styles[i].first_price);
		json_decref(json);
	}
}

static void every_style_found_by_id(void **state)
{
	(void)state;
	for (size_t i = 0; i < style_count; i++) {
		struct http_reply reply;
		char path[96], needle[64];

		/* Only the last word of a query matches as a prefix, so the id comes first and matches whole. */
		snprintf(path, sizeof(path), "/api/v1/products?q=%ld%%20myntra", styles[i].id);
		snprintf(needle, sizeof(needle), "\"slug\":\"myntra-%ld\"", styles[i].id);
		catalog_request(&catalog, NULL, "GET", path, NULL, NULL, &reply);
		assert_int_equal(reply.status, 200);
		if (strstr(reply.body, needle) == NULL)
			fail_msg("search for %ld did not list it: %s", styles[i].id, reply.body);
		assert_int_equal(reply_integer(&reply, "total"), 1);
		http_reply_free(&reply);
	}
}

static void children_filter_counts_boys_and_girls(void **state)
{
	struct http_reply reply;

	(void)state;
	catalog_request(&catalog, NULL, "GET", "/api/v1/products?gender=ninos", NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_int_equal(reply_integer(&reply, "total"), expected.children);
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(import_counts_match_source),
		cmocka_unit_test(every_style_page_has_tallas),
		cmocka_unit_test(every_style_found_by_id),
		cmocka_unit_test(children_filter_counts_boys_and_girls),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
