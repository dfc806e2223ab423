/* The CSV format of catalog import and export; see catalog_csv.h. */
#include "store/catalog_csv.h"

#include <stdio.h>
#include <string.h>

#include "store/catalog_internal.h"
#include "store/search.h"

#define CATEGORY_PATH_MAX_CHARS \
	(CATALOG_CSV_CATEGORY_LEVELS_MAX * (CATALOG_CATEGORY_NAME_MAX_CHARS + 1) - 1)
#define TAGS_MAX_CHARS (CATALOG_TAGS_MAX * (CATALOG_TAG_MAX_CHARS + 1) - 1)
#define PRICE_UNITS_MAX_DIGITS 8 /* CATALOG_PRICE_MAX_MINOR is 10000000,00 euros */

const struct catalog_csv_column_spec catalog_csv_columns[CATALOG_CSV_COLUMNS] = {
	[CATALOG_CSV_SLUG] = {"slug", CATALOG_SLUG_MAX_CHARS, true, false},
	[CATALOG_CSV_NAME] = {"nombre", CATALOG_NAME_MAX_CHARS, true, false},
	[CATALOG_CSV_DESCRIPTION] = {"descripcion", CATALOG_DESCRIPTION_MAX_CHARS, false, true},
	[CATALOG_CSV_BRAND] = {"marca", CATALOG_BRAND_MAX_CHARS, false, false},
	[CATALOG_CSV_GENDER] = {"genero", 16, true, false},
	[CATALOG_CSV_TYPE] = {"tipo", 16, true, false},
	[CATALOG_CSV_CATEGORY] = {"categoria", CATEGORY_PATH_MAX_CHARS, false, false},
	[CATALOG_CSV_MATERIAL] = {"material", CATALOG_MATERIAL_MAX_CHARS, false, false},
	[CATALOG_CSV_CARE] = {"cuidado", CATALOG_CARE_MAX_CHARS, false, true},
	[CATALOG_CSV_TAGS] = {"etiquetas", TAGS_MAX_CHARS, false, false},
	[CATALOG_CSV_ACTIVE] = {"activo", 8, false, false},
	[CATALOG_CSV_SKU] = {"sku", CATALOG_SKU_MAX_CHARS, false, false},
	[CATALOG_CSV_TALLA] = {"talla", CATALOG_TALLA_MAX_CHARS, true, false},
	[CATALOG_CSV_COLOR] = {"color", CATALOG_COLOR_MAX_CHARS, true, false},
	[CATALOG_CSV_PRICE] = {"precio", 16, true, false},
	[CATALOG_CSV_COMPARE_AT] = {"precio_anterior", 16, false, false},
	[CATALOG_CSV_STOCK] = {"stock", 16, false, false},
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool catalog_csv_price_parse(const char *text, size_t len, int64_t *minor)
{
	int64_t units = 0, cents = 0;
	size_t i = 0, decimals;

	while (i < len && is_digit(text[i]) && i < PRICE_UNITS_MAX_DIGITS)
		units = units * 10 + (text[i++] - '0');
	if (i == 0)
		return false;
	if (i < len) {
		if (text[i] != ',' && text[i] != '.')
			return false;
		decimals = len - i - 1;
		if (decimals < 1 || decimals > 2 || !is_digit(text[i + 1]) || (decimals == 2 && !is_digit(text[i + 2])))
			return false;
		cents = (text[i + 1] - '0') * 10 + (decimals == 2 ? text[i + 2] - '0' : 0);
	}
	*minor = units * 100 + cents;
	return *minor >= 1 && *minor <= CATALOG_PRICE_MAX_MINOR;
}

void catalog_csv_price_format(int64_t minor, char decimal_separator, char out[CATALOG_CSV_PRICE_MAX_BYTES])
{
	snprintf(out, CATALOG_CSV_PRICE_MAX_BYTES, "%lld%c%02lld", (long long)(minor / 100), decimal_separator,
		 (long long)(minor % 100));
}

void catalog_csv_slug(const char *name, size_t len, char *out, size_t out_size)
{
	char folded[4 * CATALOG_CATEGORY_NAME_MAX_CHARS + 1];
	size_t folded_len = search_fold(name, len, folded, sizeof(folded));
	size_t used = 0;

	/* Folded text is words split by single spaces; letters outside a-z (Greek, say) are dropped. */
	for (size_t i = 0; i < folded_len && used < CATALOG_SLUG_MAX_CHARS && used + 1 < out_size; i++) {
		char c = folded[i];

		if ((c >= 'a' && c <= 'z') || is_digit(c))
			out[used++] = c;
		else if (used > 0 && out[used - 1] != '-')
			out[used++] = '-';
	}
	while (used > 0 && out[used - 1] == '-')
		used--;
	out[used] = '\0';
	if (used == 0)
		snprintf(out, out_size, "%s", "categoria");
}

json_t *catalog_csv_error_json(size_t row, const char *column, size_t column_len, const char *code,
			       const char *message)
{
	json_t *column_json = column != NULL ? json_stringn(column, column_len) : NULL;

	return json_pack("{s:I, s:o, s:s, s:s}", "row", (json_int_t)row, "column",
			 column_json != NULL ? column_json : json_null(), "code", code, "message", message);
}
