/*
 * Helpers for the CSV import and export integration tests: send a CSV file
 * to the import route, fetch an export, read the "errors" of a rejected
 * import, and count catalog contents through the admin API. Each helper
 * fails the test on an unexpected status, naming the request.
 */
#ifndef JKD_TESTS_CSV_HELPERS_H
#define JKD_TESTS_CSV_HELPERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/csv.h"
#include "tests/integration/catalog_helpers.h"

/* The Spanish header line, without its line end. */
#define CSV_HEADER_ES                                                                                     \
	"slug;nombre;descripcion;marca;genero;tipo;categoria;material;cuidado;etiquetas;activo;sku;talla;" \
	"color;precio;precio_anterior;stock"

/* Posts csv[0..len) to POST /api/v1/admin/import with auth (a header line or NULL) and extra headers. */
void csv_import(struct catalog_node *c, const char *auth, const char *headers, const char *csv, size_t len,
		struct http_reply *reply);

/* Imports csv as the administrator and fails the test unless it returns 200; returns the result JSON. */
json_t *csv_import_ok(struct catalog_node *c, const char *csv, size_t len);

/* GETs /api/v1/admin/export?dialect=dialect (NULL: no parameter) as the administrator; fails unless 200. */
void csv_export(struct catalog_node *c, const char *dialect, struct http_reply *reply);

/*
 * Fails the test unless reply is a 422 import rejection whose "errors"
 * has an entry with row, column (NULL: a JSON null) and code.
 */
void assert_import_error(const struct http_reply *reply, int64_t row, const char *column, const char *code);

/* Returns "error_count" of a 422 import rejection. */
int64_t import_error_count(const struct http_reply *reply);

/* Returns the total of GET /api/v1/admin/products. */
int64_t admin_product_total(struct catalog_node *c);

/* Reads a whole file into out (a test failure if it cannot be read). */
void file_read_all(const char *path, struct buf *out);

/* A file in the import format being written, for tests that map data files into it. */
struct csv_out {
	struct buf text;
	struct csv_dialect dialect;
	bool line_start;
};

/* Starts a file in the dialect given (a BOM or not, separator, CR LF or LF) with the header line. */
void csv_out_begin(struct csv_out *out, bool bom, char separator, bool crlf);

/* csv_out_field() appends one field, quoted as the dialect needs; csv_out_line_end() ends the line. */
void csv_out_field(struct csv_out *out, const char *text);
void csv_out_line_end(struct csv_out *out);

/*
 * Starts the node c with an administrator and imports the file of out,
 * which is then freed. Returns the import result, and fails the test
 * unless the import returns 200.
 */
json_t *csv_node_start_with(struct catalog_node *c, struct csv_out *out);

/* Percent-encodes text for a query parameter into out. */
void url_encode(const char *text, char *out, size_t out_size);

#endif
