/*
 * Import of a real catalog: the product file of Magento's Luma demo shop,
 * read in place from LUMA_CSV, is mapped here into the import format and
 * imported in one request. The file has 147 parent products and 1,847
 * size and colour variants (counts from the data set's README). After the
 * import every product must be browsable by slug, with all its variants,
 * and found by a search for its name.
 *
 * Mapping, one line per variant (the "simple" rows named by a parent's
 * configurable_variations):
 *   slug         the parent's name in lower case, other characters as '-'
 *   nombre       the parent's name; descripcion its HTML description, kept as text
 *   categoria    the first of its categories without "Default Category/"
 *   genero       hombre for Men, mujer for Women; tipo ropa; marca Luma
 *   material     material= of additional_attributes; etiquetas its climate= values
 *   sku, talla, color  from configurable_variations; precio and stock from the variant's row
 */
#include <ctype.h>
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

#define LUMA_CSV "/work/shared/data/catalog/magento_luma_products.csv"
#define LUMA_PRODUCTS 147
#define LUMA_VARIANTS 1847
#define LUMA_MEN 72
#define LUMA_WOMEN 75
#define ROWS_MAX 2100
#define COLUMNS_MAX 70

/* The source file, one string per field of each row. */
static struct {
	char *fields[ROWS_MAX][COLUMNS_MAX];
	size_t row_count;
	int sku, type, categories, name, description, price, attributes, variations, qty;
} luma;

/* A mapped product, with the values the node must show for it. */
struct mapped_product {
	char slug[128];
	char name[128];
	size_t variants;
};

static struct mapped_product mapped[LUMA_PRODUCTS];
static size_t mapped_count;
static json_t *import_result;

static int column_index(char **header, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(header[i], name) == 0)
			return (int)i;
	}
	fail_msg("%s has no column %s", LUMA_CSV, name);
	return -1;
}

/*
 * Reads the source with the search tests' RFC 4180 field reader rather
 * than common/csv.h, which takes at most 64 fields a record (this file has
 * 70) and is the importer's own reader.
 */
static void source_load(void)
{
	struct buf data;
	const char *p;
	size_t columns = 0;
	char **header = luma.fields[0];

	file_read_all(LUMA_CSV, &data);
	buf_append(&data, "", 1);
	for (p = data.data; *p != '\0'; luma.row_count++) {
		bool row_end = false;
		size_t count = 0;

		assert_true(luma.row_count < ROWS_MAX);
		while (!row_end) {
			assert_true(count < COLUMNS_MAX);
			luma.fields[luma.row_count][count++] = shop_csv_field(&p, &row_end);
		}
		if (columns == 0)
			columns = count;
		assert_int_equal(count, columns);
	}
	buf_free(&data);
	luma.sku = column_index(header, columns, "sku");
	luma.type = column_index(header, columns, "product_type");
	luma.categories = column_index(header, columns, "categories");
	luma.name = column_index(header, columns, "name");
	luma.description = column_index(header, columns, "description");
	luma.price = column_index(header, columns, "price");
	luma.attributes = column_index(header, columns, "additional_attributes");
	luma.variations = column_index(header, columns, "configurable_variations");
	luma.qty = column_index(header, columns, "qty");
}

static char **row_by_sku(const char *sku)
{
	for (size_t i = 1; i < luma.row_count; i++) {
		if (strcmp(luma.fields[i][luma.sku], sku) == 0)
			return luma.fields[i];
	}
	fail_msg("no row has SKU %s", sku);
	return NULL;
}

/* Copies the value of key in "a=1,b=2" lists (pairs split at ',') into out ("" if absent). */
static void pair_value(const char *pairs, char pair_separator, const char *key, char *out, size_t out_size)
{
	size_t key_len = strlen(key);
	const char *p = pairs;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, pair_separator);
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
			snprintf(out, out_size, "%.*s", (int)(len - key_len - 1), p + key_len + 1);
			return;
		}
		p = end != NULL ? end + 1 : NULL;
	}
}

static void slug_of(const char *name, char *out, size_t out_size)
{
	size_t used = 0;

	for (const char *s = name; *s != '\0' && used + 1 < out_size; s++) {
		if (isalnum((unsigned char)*s))
			out[used++] = (char)tolower((unsigned char)*s);
		else if (used > 0 && out[used - 1] != '-')
			out[used++] = '-';
	}
	while (used > 0 && out[used - 1] == '-')
		used--;
	out[used] = '\0';
}

/* Writes the product fields of parent into the current line. */
static void product_fields_write(struct csv_out *out, char **parent, const char *slug)
{
	const char *categories = parent[luma.categories];
	const char *first_end = strchr(categories, ',');
	char category[256], material[256], climate[256];

	snprintf(category, sizeof(category), "%.*s",
		 (int)(first_end != NULL ? (size_t)(first_end - categories) : strlen(categories)), categories);
	assert_int_equal(strncmp(category, "Default Category/", 17), 0);
	pair_value(parent[luma.attributes], ',', "material", material, sizeof(material));
	pair_value(parent[luma.attributes], ',', "climate", climate, sizeof(climate));
	csv_out_field(out, slug);
	csv_out_field(out, parent[luma.name]);
	csv_out_field(out, parent[luma.description]);
	csv_out_field(out, "Luma");
	csv_out_field(out, strncmp(category + 17, "Men/", 4) == 0 ? "hombre" : "mujer");
	csv_out_field(out, "ropa");
	csv_out_field(out, category + 17);
	csv_out_field(out, material);
	csv_out_field(out, "");
	csv_out_field(out, climate);
	csv_out_field(out, "si");
}

/* Writes one line per variant of parent and records the product in mapped. */
static void product_map(struct csv_out *out, char **parent)
{
	struct mapped_product *product = &mapped[mapped_count++];
	const char *variation = parent[luma.variations];

	slug_of(parent[luma.name], product->slug, sizeof(product->slug));
	snprintf(product->name, sizeof(product->name), "%s", parent[luma.name]);
	while (variation != NULL && *variation != '\0') {
		const char *end = strchr(variation, '|');
		char entry[256], sku[64], size[16], color[32];
		char **variant;

		snprintf(entry, sizeof(entry), "%.*s",
			 (int)(end != NULL ? (size_t)(end - variation) : strlen(variation)), variation);
		pair_value(entry, ',', "sku", sku, sizeof(sku));
		pair_value(entry, ',', "size", size, sizeof(size));
		pair_value(entry, ',', "color", color, sizeof(color));
		variant = row_by_sku(sku);
		product_fields_write(out, parent, product->slug);
		csv_out_field(out, sku);
		csv_out_field(out, size);
		csv_out_field(out, color);
		csv_out_field(out, variant[luma.price]);
		csv_out_field(out, "");
		csv_out_field(out, variant[luma.qty]);
		csv_out_line_end(out);
		product->variants++;
		variation = end != NULL ? end + 1 : NULL;
	}
}

/* Maps every parent row, in the file's order, into the import format (English dialect, as the source is). */
static void catalog_map(struct csv_out *out)
{
	csv_out_begin(out, false, ',', false);
	for (size_t i = 1; i < luma.row_count; i++) {
		if (strcmp(luma.fields[i][luma.type], "configurable") == 0) {
			assert_true(mapped_count < LUMA_PRODUCTS);
			product_map(out, luma.fields[i]);
		}
	}
	for (size_t i = 0; i < mapped_count; i++) {
		for (size_t k = i + 1; k < mapped_count; k++)
			assert_string_not_equal(mapped[i].slug, mapped[k].slug);
	}
}

static int group_setup(void **state)
{
	struct csv_out out;

	(void)state;
	source_load();
	catalog_map(&out);
	import_result = csv_node_start_with(&catalog, &out);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	catalog_node_stop(&catalog);
	json_decref(import_result);
	for (size_t i = 0; i < luma.row_count; i++) {
		for (size_t k = 0; k < COLUMNS_MAX; k++)
			free(luma.fields[i][k]);
	}
	return 0;
}

static void import_creates_every_product(void **state)
{
	(void)state;
	assert_int_equal(mapped_count, LUMA_PRODUCTS);
	assert_int_equal(json_integer_value(json_object_get(import_result, "products_created")), LUMA_PRODUCTS);
	assert_int_equal(json_integer_value(json_object_get(import_result, "variants_created")), LUMA_VARIANTS);
	assert_int_equal(admin_product_total(&catalog), LUMA_PRODUCTS);
}

static void every_product_page_has_variants(void **state)
{
	size_t variants = 0;

	(void)state;
	for (size_t i = 0; i < mapped_count; i++) {
		struct http_reply reply;
		char path[192];
		json_t *json;

		snprintf(path, sizeof(path), "/api/v1/products/%.170s", mapped[i].slug);
		catalog_request(&catalog, NULL, "GET", path, NULL, NULL, &reply);
		if (reply.status != 200)
			fail_msg("GET %s returned %d", path, reply.status);
		json = reply_json(&reply);
		http_reply_free(&reply);
		assert_string_equal(json_string_value(json_object_get(json, "name")), mapped[i].name);
		assert_int_equal(json_array_size(json_object_get(json, "variants")), mapped[i].variants);
		variants += json_array_size(json_object_get(json, "variants"));
		json_decref(json);
	}
	assert_int_equal(variants, LUMA_VARIANTS);
}

static void every_product_found_by_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < mapped_count; i++) {
		struct http_reply reply;
		char query[400], path[512], needle[160];

		url_encode(mapped[i].name, query, sizeof(query));
		snprintf(path, sizeof(path), "/api/v1/products?q=%s&page_size=100", query);
		snprintf(needle, sizeof(needle), "\"slug\":\"%s\"", mapped[i].slug);
		catalog_request(&catalog, NULL, "GET", path, NULL, NULL, &reply);
		assert_int_equal(reply.status, 200);
		if (strstr(reply.body, needle) == NULL)
			fail_msg("search for \"%s\" did not list %s: %s", mapped[i].name, mapped[i].slug, reply.body);
		http_reply_free(&reply);
	}
}

static int64_t listing_total(const char *query)
{
	struct http_reply reply;
	char path[160];
	int64_t total;

	snprintf(path, sizeof(path), "/api/v1/products?%s", query);
	catalog_request(&catalog, NULL, "GET", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	total = reply_integer(&reply, "total");
	http_reply_free(&reply);
	return total;
}

static void department_categories_hold_products(void **state)
{
	(void)state;
	assert_int_equal(listing_total("category=men"), LUMA_MEN);
	assert_int_equal(listing_total("category=women"), LUMA_WOMEN);
	assert_int_equal(listing_total("gender=hombre"), LUMA_MEN);
}

static void export_reimports_unchanged(void **state)
{
	struct http_reply reply;
	json_t *result;

	(void)state;
	csv_export(&catalog, "es", &reply);
	result = csv_import_ok(&catalog, reply.body, reply.body_len);
	http_reply_free(&reply);
	assert_int_equal(json_integer_value(json_object_get(result, "products_unchanged")), LUMA_PRODUCTS);
	assert_int_equal(json_integer_value(json_object_get(result, "variants_unchanged")), LUMA_VARIANTS);
	assert_int_equal(json_integer_value(json_object_get(result, "products_updated")), 0);
	assert_int_equal(json_integer_value(json_object_get(result, "variants_updated")), 0);
	json_decref(result);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(import_creates_every_product),
		cmocka_unit_test(every_product_page_has_variants),
		cmocka_unit_test(every_product_found_by_name),
		cmocka_unit_test(department_categories_hold_products),
		cmocka_unit_test(export_reimports_unchanged),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
