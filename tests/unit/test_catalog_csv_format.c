/* The CSV format of catalog import and export: prices in both decimal styles and category slugs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/catalog_csv.h"

static int64_t price_of(const char *text)
{
	int64_t minor = -1;

	if (!catalog_csv_price_parse(text, strlen(text), &minor))
		return -1;
	return minor;
}

static void price_accepts_comma_and_point(void **state)
{
	(void)state;
	assert_int_equal(price_of("19,99"), 1999);
	assert_int_equal(price_of("19.99"), 1999);
	assert_int_equal(price_of("19"), 1900);
	assert_int_equal(price_of("19,9"), 1990);
	assert_int_equal(price_of("0,01"), 1);
	assert_int_equal(price_of("10000000"), 1000000000);
}

static void price_rejects_malformed_text(void **state)
{
	static const char *const bad[] = {"19,9x", "", ",99", "19,", "19,999", "1.234,56", "-5", "+5", " 19",
					  "19 ", "19,99 €", "0", "0,00", "10000000,01", "123456789", "1e3"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (price_of(bad[i]) != -1)
			fail_msg("price \"%s\" was accepted", bad[i]);
	}
}

static void price_format_uses_dialect_separator(void **state)
{
	char out[CATALOG_CSV_PRICE_MAX_BYTES];

	(void)state;
	catalog_csv_price_format(1999, ',', out);
	assert_string_equal(out, "19,99");
	catalog_csv_price_format(1999, '.', out);
	assert_string_equal(out, "19.99");
	catalog_csv_price_format(5, ',', out);
	assert_string_equal(out, "0,05");
	catalog_csv_price_format(1900, ',', out);
	assert_string_equal(out, "19,00");
	catalog_csv_price_format(1000000000, '.', out);
	assert_string_equal(out, "10000000.00");
}

static void slug_folds_accents_and_symbols(void **state)
{
	char slug[CATALOG_SLUG_MAX_CHARS + 1];

	(void)state;
	catalog_csv_slug("Niños", strlen("Niños"), slug, sizeof(slug));
	assert_string_equal(slug, "ninos");
	catalog_csv_slug("Hoodies & Sweatshirts", strlen("Hoodies & Sweatshirts"), slug, sizeof(slug));
	assert_string_equal(slug, "hoodies-sweatshirts");
	catalog_csv_slug("  Ropa de BAÑO ", strlen("  Ropa de BAÑO "), slug, sizeof(slug));
	assert_string_equal(slug, "ropa-de-bano");
	catalog_csv_slug("¡¿!?", strlen("¡¿!?"), slug, sizeof(slug));
	assert_string_equal(slug, "categoria");
}

static void slug_is_cut_to_maximum(void **state)
{
	char name[300], slug[CATALOG_SLUG_MAX_CHARS + 1];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	catalog_csv_slug(name, strlen(name), slug, sizeof(slug));
	assert_int_equal(strlen(slug), CATALOG_SLUG_MAX_CHARS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(price_accepts_comma_and_point),
		cmocka_unit_test(price_rejects_malformed_text),
		cmocka_unit_test(price_format_uses_dialect_separator),
		cmocka_unit_test(slug_folds_accents_and_symbols),
		cmocka_unit_test(slug_is_cut_to_maximum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
