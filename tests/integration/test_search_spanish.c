/*
 * Search on real Spanish shop text: the 7 products of PrestaShop's Spanish
 * "Fashion" demo (the CSV at SPANISH_CSV, read in place) are created with
 * their names and descriptions, then searched with and without accents,
 * ñ and capitals. Expected products come from the CSV's own text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/search_client.h"

#define SPANISH_CSV "/work/shared/data/spanish/prestashop_fashion_es_products.csv"
#define COLUMNS 6 /* id, name, description_short_html, description_html, link_rewrite, available_now */
#define PRODUCTS 7

static struct shop shop;
static char slugs[PRODUCTS][64];

/* Creates product number index from one CSV row; slugs get the row number, since two rows share each. */
static void product_create(size_t index, char **fields)
{
	char *description = malloc(strlen(fields[2]) + strlen(fields[3]) + 2);
	uint64_t id;
	char sku[32];

	assert_non_null(description);
	sprintf(description, "%s\n%s", fields[2], fields[3]);
	snprintf(slugs[index], sizeof(slugs[index]), "%s-%zu", fields[4], index + 1);
	id = shop_product(&shop, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "slug", slugs[index], "name", fields[1],
					   "gender", "mujer", "type", "ropa", "description", description, "active", true));
	snprintf(sku, sizeof(sku), "PS-%zu", index + 1);
	shop_variant(&shop, id, sku, "M", "Blanco", 2990, 5);
	free(description);
}

static int group_setup(void **state)
{
	static char text[1 << 16];
	FILE *f = fopen(SPANISH_CSV, "r");
	const char *p = text;
	size_t len, row = 0;

	(void)state;
	assert_non_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	shop_start(&shop);
	while (*p != '\0') {
		char *fields[COLUMNS] = {0};
		size_t n = 0;
		bool row_end = false;

		while (!row_end && n < COLUMNS)
			fields[n++] = shop_csv_field(&p, &row_end);
		assert_int_equal(n, COLUMNS);
		if (row > 0)
			product_create(row - 1, fields);
		row++;
		for (size_t i = 0; i < n; i++)
			free(fields[i]);
	}
	assert_int_equal(row, PRODUCTS + 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	shop_stop(&shop);
	return 0;
}

/* Checks that query finds exactly the products numbered in expected (1-based, ascending). */
static void assert_found(const char *query, const int *expected, size_t expected_count)
{
	char want[512] = "", got[512], path[256];
	json_t *listing;
	size_t len = 0;

	for (size_t i = 0; i < expected_count; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i > 0 ? "," : "", slugs[expected[i] - 1]);
	snprintf(path, sizeof(path), "%s&sort=newest", query);
	listing = shop_list(&shop, path);
	shop_slugs(listing, got, sizeof(got));
	json_decref(listing);
	/* Newest first is the reverse of the CSV order, so compare against the reversed list. */
	len = 0;
	want[0] = '\0';
	for (size_t i = expected_count; i-- > 0;)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i + 1 < expected_count ? "," : "",
					slugs[expected[i] - 1]);
	if (strcmp(got, want) != 0)
		fail_msg("GET /api/v1/products?%s: items %s, expected %s", path, got, want);
}

static void destenido_found_without_tilde(void **state)
{
	static const int faded[] = {1};

	(void)state;
	assert_found("q=destenido", faded, 1);
	assert_found("q=deste%C3%B1ido", faded, 1);
	assert_found("q=DESTE%C3%91IDO", faded, 1);
}

static void algodon_found_without_accent(void **state)
{
	static const int cotton[] = {3};

	(void)state;
	assert_found("q=algodon", cotton, 1);
	assert_found("q=algod%C3%B3n", cotton, 1);
}

static void name_words_combine(void **state)
{
	static const int summer[] = {5, 6};
	static const int evening[] = {4};
	static const int chiffon[] = {6, 7};

	(void)state;
	assert_found("q=vestido+de+verano", summer, 2);
	assert_found("q=vestido+gasa+estampado", chiffon, 2);
	assert_found("q=vestido+noche", evening, 1);
}

static void description_prefix_matches(void **state)
{
	static const int sleeveless[] = {6, 7};

	(void)state;
	assert_found("q=sin+mang", sleeveless, 2);
}

/* Lists query in relevance order and checks the slugs of the items. */
static void assert_ranked(const char *query, const char *expected)
{
	char got[512];
	json_t *listing = shop_list(&shop, query);

	shop_slugs(listing, got, sizeof(got));
	json_decref(listing);
	if (strcmp(got, expected) != 0)
		fail_msg("GET /api/v1/products?%s: items %s, expected %s", query, got, expected);
}

static void exact_enye_ranks_first(void **state)
{
	uint64_t with_enye, without;

	(void)state;
	with_enye = shop_product(&shop, json_pack("{s:s, s:s, s:s, s:s, s:b}", "slug", "gorro-nino-enye", "name",
						  "Gorro Niño", "gender", "ninos", "type", "accesorios", "active", true));
	shop_variant(&shop, with_enye, "GN-U-AZUL", "U", "Azul", 990, 1);
	without = shop_product(&shop, json_pack("{s:s, s:s, s:s, s:s, s:b}", "slug", "gorro-nino-marca", "name",
						"Gorro Nino", "gender", "ninos", "type", "accesorios", "active", true));
	shop_variant(&shop, without, "GM-U-AZUL", "U", "Azul", 990, 1);

	/* Equal scores go to the newest, so only the ñ bonus puts the older one first. */
	assert_ranked("q=gorro+ni%C3%B1o", "gorro-nino-enye,gorro-nino-marca");
	assert_ranked("q=gorro+nino", "gorro-nino-marca,gorro-nino-enye");
	shop_product_delete(&shop, with_enye);
	shop_product_delete(&shop, without);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(destenido_found_without_tilde),
		cmocka_unit_test(algodon_found_without_accent),
		cmocka_unit_test(name_words_combine),
		cmocka_unit_test(description_prefix_matches),
		cmocka_unit_test(exact_enye_ranks_first),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
