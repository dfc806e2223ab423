/*
 * The CSV format of catalog import and export, shared by the HTTP side
 * (api_catalog_import.c, api_catalog_export.c) and the apply side
 * (catalog_import.c): the columns, prices, category paths and the layout of
 * the CATALOG_IMPORT command.
 *
 * One line per variant. The product's fields are repeated on every line of
 * the product, and a line with an empty sku describes a product without
 * variants. Columns, named in Spanish in the header line:
 *
 *   slug;nombre;descripcion;marca;genero;tipo;categoria;material;cuidado;
 *   etiquetas;activo;sku;talla;color;precio;precio_anterior;stock
 *
 * categoria is a path of category names from the top, such as
 * "Mujer/Calzado"; etiquetas are separated by '|'; activo is "si" or "no";
 * prices are euros with at most two decimals after ',' or '.'.
 *
 * The CATALOG_IMPORT command (a record map, besides the audit actor fields):
 *   categories  [[{name, slug}, ...], ...]  distinct category paths, top first
 *   products    [{row, category?, fields, variants}, ...] in slug order, where
 *     row       the CSV line of the product's first line (the header is line 1)
 *     category  1-based index into categories, 0 for none
 *     fields    {slug, name, description, brand, gender, type, material, care,
 *                tags, active}, with the types of the product record
 *     variants  [{row, sku, talla, color, price, compare_at?, stock?}, ...];
 *               the SKU is in upper case
 * A field marked ? and the fields description, brand, material, care, tags
 * and active are absent when the header lacks their column, so that
 * stored products and variants keep those values. stock is also absent
 * when its value is empty.
 */
#ifndef JKD_STORE_CATALOG_CSV_H
#define JKD_STORE_CATALOG_CSV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/catalog.h"

enum catalog_csv_column {
	CATALOG_CSV_SLUG,
	CATALOG_CSV_NAME,
	CATALOG_CSV_DESCRIPTION,
	CATALOG_CSV_BRAND,
	CATALOG_CSV_GENDER,
	CATALOG_CSV_TYPE,
	CATALOG_CSV_CATEGORY,
	CATALOG_CSV_MATERIAL,
	CATALOG_CSV_CARE,
	CATALOG_CSV_TAGS,
	CATALOG_CSV_ACTIVE,
	CATALOG_CSV_SKU, /* the first variant column; the ones before it are product fields */
	CATALOG_CSV_TALLA,
	CATALOG_CSV_COLOR,
	CATALOG_CSV_PRICE,
	CATALOG_CSV_COMPARE_AT,
	CATALOG_CSV_STOCK,
	CATALOG_CSV_COLUMNS,
};

/* One column: its header name and the checks every value of it gets. */
struct catalog_csv_column_spec {
	const char *name;  /* Spanish header name, as exported */
	size_t max_chars;  /* characters of UTF-8 */
	bool required;     /* on every line (variant columns: on every line with a SKU) */
	bool multiline;    /* line breaks and tabs allowed */
};

extern const struct catalog_csv_column_spec catalog_csv_columns[CATALOG_CSV_COLUMNS];

#define CATALOG_CSV_ERRORS_MAX 100      /* errors listed in one rejection; the rest are only counted */
#define CATALOG_CSV_CATEGORY_LEVELS_MAX (CATALOG_CATEGORY_DEPTH_MAX - 1)
#define CATALOG_CSV_PRICE_MAX_BYTES 24  /* a formatted price with its NUL */

/*
 * Parses a price in euros: digits, then optionally ',' or '.' and one or
 * two decimals ("19", "19,9", "19.99"). Returns false unless the text has
 * that form and the price is from 0,01 to CATALOG_PRICE_MAX_MINOR cents.
 */
bool catalog_csv_price_parse(const char *text, size_t len, int64_t *minor);

/* Writes minor cents as euros with two decimals after decimal_separator ("19,99"). */
void catalog_csv_price_format(int64_t minor, char decimal_separator, char out[CATALOG_CSV_PRICE_MAX_BYTES]);

/*
 * Writes the slug of a category name: folded like search text (lower case,
 * no accents), runs of other characters as one '-', at most
 * CATALOG_SLUG_MAX_CHARS, and "categoria" when nothing is left.
 * out_size must be more than CATALOG_SLUG_MAX_CHARS.
 */
void catalog_csv_slug(const char *name, size_t len, char *out, size_t out_size);

/*
 * Returns one entry of an "errors" list: {row, column, code, message}.
 * column may be NULL (the whole line), and if it is not valid UTF-8 it is
 * sent as null too. message is already in the client's language, or an
 * English message id that the HTTP side translates.
 */
json_t *catalog_csv_error_json(size_t row, const char *column, size_t column_len, const char *code,
			       const char *message);

#endif
