/*
 * CSV import and export on the real node. Covered: the Spanish round trip
 * byte for byte, every dialect, and row errors with their lines and
 * columns, after which nothing is applied. Also updates by slug under the
 * stock rule, categories made from paths, and who may import.
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

#define BOM "\xEF\xBB\xBF"

/* The exact file of the round trip: a BOM, ';', CRLF, accents and a decimal comma, in canonical form. */
static const char spanish_file[] =
	BOM CSV_HEADER_ES "\r\n"
	"camiseta-nino-anil;Camiseta Niño Añil;\"Algodón suave; corte recto.\r\nLavar del revés.\";JKD;ninos;ropa;"
	"Niños/Camisetas;Algodón;Lavar a 30 °C;verano|básico;si;CNA-L;L;Añil;19,99;24,99;3\r\n"
	"camiseta-nino-anil;Camiseta Niño Añil;\"Algodón suave; corte recto.\r\nLavar del revés.\";JKD;ninos;ropa;"
	"Niños/Camisetas;Algodón;Lavar a 30 °C;verano|básico;si;CNA-M;M;Añil;19,99;;0\r\n"
	"zapato-piel;\"Zapato \"\"Óscar\"\" de piel\";;;hombre;calzado;Hombre/Calzado;Piel;;;no;ZP-42;42;Marrón;89,00;;5\r\n";

/* A node of its own for the tests that compare a whole export, started and stopped around each of them. */
static struct catalog_node own;

static int own_node_start(void **state)
{
	(void)state;
	catalog_node_start(&own);
	return 0;
}

static int own_node_stop(void **state)
{
	(void)state;
	catalog_node_stop(&own);
	return 0;
}

/* Joins header and lines (each without its line end) with end, after prefix, into out. */
static void csv_join(struct buf *out, const char *prefix, const char *header, const char *const *lines,
		     const char *end)
{
	buf_init(out, 1u << 20);
	buf_append_str(out, prefix);
	buf_append_str(out, header);
	buf_append_str(out, end);
	for (size_t i = 0; lines[i] != NULL; i++) {
		buf_append_str(out, lines[i]);
		buf_append_str(out, end);
	}
}

/* Imports lines under the Spanish header and returns the reply (the caller frees it). */
static void import_lines(const char *const *lines, struct http_reply *reply)
{
	struct buf csv;

	csv_join(&csv, "", CSV_HEADER_ES, lines, "\n");
	csv_import(&catalog, catalog.admin, NULL, csv.data, csv.len, reply);
	buf_free(&csv);
}

static int product_status(struct catalog_node *c, const char *slug)
{
	struct http_reply reply;
	char path[160];
	int status;

	snprintf(path, sizeof(path), "/api/v1/products/%s", slug);
	catalog_request(c, NULL, "GET", path, NULL, NULL, &reply);
	status = reply.status;
	http_reply_free(&reply);
	return status;
}

/* Returns the public JSON of slug, failing the test unless it is 200. */
static json_t *product_json(struct catalog_node *c, const char *slug)
{
	struct http_reply reply;
	char path[160];
	json_t *json;

	snprintf(path, sizeof(path), "/api/v1/products/%s", slug);
	catalog_request(c, NULL, "GET", path, NULL, NULL, &reply);
	if (reply.status != 200)
		fail_msg("GET %s returned %d: %s", path, reply.status, reply.body);
	json = reply_json(&reply);
	http_reply_free(&reply);
	return json;
}

static int64_t result_count(json_t *result, const char *name)
{
	json_t *value = json_object_get(result, name);

	if (!json_is_integer(value))
		fail_msg("import result has no \"%s\"", name);
	return json_integer_value(value);
}

/* Round trip */

static void spanish_file_round_trips_exactly(void **state)
{
	struct http_reply reply;
	json_t *result;

	(void)state;
	result = csv_import_ok(&own, spanish_file, strlen(spanish_file));
	assert_int_equal(result_count(result, "products_created"), 2);
	assert_int_equal(result_count(result, "variants_created"), 3);
	json_decref(result);
	csv_export(&own, NULL, &reply);
	assert_int_equal(reply.body_len, strlen(spanish_file));
	assert_memory_equal(reply.body, spanish_file, strlen(spanish_file));
	http_reply_free(&reply);
}

static void english_export_uses_comma_and_point(void **state)
{
	static const char expected[] =
		"slug,nombre,descripcion,marca,genero,tipo,categoria,material,cuidado,etiquetas,activo,sku,talla,color,"
		"precio,precio_anterior,stock\n"
		"camiseta-nino-anil,Camiseta Niño Añil,\"Algodón suave; corte recto.\r\nLavar del revés.\",JKD,ninos,ropa,"
		"Niños/Camisetas,Algodón,Lavar a 30 °C,verano|básico,si,CNA-L,L,Añil,19.99,24.99,3\n"
		"camiseta-nino-anil,Camiseta Niño Añil,\"Algodón suave; corte recto.\r\nLavar del revés.\",JKD,ninos,ropa,"
		"Niños/Camisetas,Algodón,Lavar a 30 °C,verano|básico,si,CNA-M,M,Añil,19.99,,0\n"
		"zapato-piel,\"Zapato \"\"Óscar\"\" de piel\",,,hombre,calzado,Hombre/Calzado,Piel,,,no,ZP-42,42,Marrón,"
		"89.00,,5\n";
	struct http_reply reply;
	json_t *result;

	(void)state;
	json_decref(csv_import_ok(&own, spanish_file, strlen(spanish_file)));
	csv_export(&own, "en", &reply);
	assert_int_equal(reply.body_len, strlen(expected));
	assert_memory_equal(reply.body, expected, strlen(expected));
	http_reply_free(&reply);
	/* The English file imports back into the same shop without changing anything. */
	result = csv_import_ok(&own, expected, strlen(expected));
	assert_int_equal(result_count(result, "products_unchanged"), 2);
	assert_int_equal(result_count(result, "variants_unchanged"), 3);
	json_decref(result);
}

static void product_without_variants_round_trips(void **state)
{
	static const char file[] = BOM CSV_HEADER_ES "\r\n"
				   "gorra-lona;Gorra de lona;;;unisex;accesorios;;;;;si;;;;;;\r\n";
	struct http_reply reply;

	(void)state;
	json_decref(csv_import_ok(&own, file, strlen(file)));
	csv_export(&own, "es", &reply);
	assert_int_equal(reply.body_len, strlen(file));
	assert_memory_equal(reply.body, file, strlen(file));
	http_reply_free(&reply);
}

static void export_orders_by_slug_then_sku(void **state)
{
	static const char *const lines[] = {
		"orden-b;B;;;mujer;ropa;;;;;si;OB-2;M;Rojo;10;;1",
		"orden-a;A;;;mujer;ropa;;;;;si;OA-9;M;Rojo;10;;1",
		"orden-a;A;;;mujer;ropa;;;;;si;OA-1;L;Rojo;10;;1",
		NULL,
	};
	struct http_reply reply;
	const char *a1, *a9, *b2;

	(void)state;
	import_lines(lines, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	csv_export(&catalog, "es", &reply);
	a1 = strstr(reply.body, "\r\norden-a;A;");
	a9 = a1 != NULL ? strstr(a1 + 2, "\r\norden-a;A;") : NULL;
	b2 = strstr(reply.body, "\r\norden-b;B;");
	assert_non_null(a1);
	assert_non_null(a9);
	assert_non_null(b2);
	assert_non_null(strstr(a1, ";OA-1;"));
	assert_true(strstr(a1, ";OA-1;") < a9);
	assert_true(a9 < b2);
	http_reply_free(&reply);
}

/* Dialects */

static void every_dialect_imports(void **state)
{
	static const struct {
		const char *prefix;
		char separator;
		const char *end;
	} dialects[] = {
		{"", ';', "\n"}, {"", ';', "\r\n"}, {"", ',', "\n"}, {"", ',', "\r\n"},
		{BOM, ';', "\n"}, {BOM, ';', "\r\n"}, {BOM, ',', "\n"}, {BOM, ',', "\r\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
		char header[512], line[512], slug[32];
		const char *const lines[] = {line, NULL};
		const char s = dialects[i].separator;
		struct buf csv;
		json_t *product;

		snprintf(header, sizeof(header), "%s", CSV_HEADER_ES);
		for (char *p = header; *p != '\0'; p++)
			*p = *p == ';' ? s : *p;
		snprintf(slug, sizeof(slug), "dialecto-%zu", i);
		snprintf(line, sizeof(line), "%s%cCamiseta Añil %zu%c\"Línea 1%sLínea 2\"%c%cmujer%cropa%c%c%c%c%c%c"
			 "DIA-%zu%cM%cAñil%c\"19,99\"%c%c4",
			 slug, s, i, s, dialects[i].end, s, s, s, s, s, s, s, s, s, i, s, s, s, s, s);
		csv_join(&csv, dialects[i].prefix, header, lines, dialects[i].end);
		json_decref(csv_import_ok(&catalog, csv.data, csv.len));
		buf_free(&csv);
		product = product_json(&catalog, slug);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(product, "variants"), 0),
								    "price")),
				 1999);
		assert_non_null(strstr(json_string_value(json_object_get(product, "name")), "Camiseta Añil"));
		assert_non_null(strstr(json_string_value(json_object_get(product, "description")), "Línea 2"));
		json_decref(product);
	}
}

static void header_names_ignore_case_and_accents(void **state)
{
	static const char file[] =
		"Slug;Nombre;Descripción;Género;Tipo;Categoría;SKU;Talla;Color;Precio;Precio anterior;Stock\n"
		"cabecera-libre;Falda;Corta;mujer;ropa;;CAB-1;S;Negro;30;35;2\n";

	(void)state;
	json_decref(csv_import_ok(&catalog, file, strlen(file)));
	assert_int_equal(product_status(&catalog, "cabecera-libre"), 200);
}

/* Rejections */

static void row_errors_name_line_and_column(void **state)
{
	static const char *const lines[] = {
		"errores-ok;Bien;;;mujer;ropa;;;;;si;ERR-1;M;Rojo;10;;1",
		"errores-malo;Mal;;;marciano;ropa;;;;;quizas;ERR-2;M;Rojo;10;12;x",
		"Errores Malo;Mal;;;mujer;ropa;A//B;;;;si;ERR 3;M;Rojo;10;5;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 3, "genero", "invalid_gender");
	assert_import_error(&reply, 3, "activo", "invalid_active");
	assert_import_error(&reply, 3, "stock", "invalid_stock");
	assert_import_error(&reply, 4, "slug", "invalid_slug");
	assert_import_error(&reply, 4, "categoria", "invalid_category");
	assert_import_error(&reply, 4, "sku", "invalid_sku");
	assert_import_error(&reply, 4, "precio_anterior", "compare_at_not_above_price");
	assert_int_equal(import_error_count(&reply), 7);
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "errores-ok"), 404);
}

static void bad_price_is_rejected(void **state)
{
	static const char *const lines[] = {
		"precio-malo;Precio;;;mujer;ropa;;;;;si;PM-1;M;Rojo;19,9x;;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 2, "precio", "invalid_price");
	assert_int_equal(import_error_count(&reply), 1);
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "precio-malo"), 404);
}

static void duplicate_sku_in_file_is_rejected(void **state)
{
	static const char *const lines[] = {
		"sku-doble-a;A;;;mujer;ropa;;;;;si;DOBLE-1;M;Rojo;10;;1",
		"sku-doble-b;B;;;mujer;ropa;;;;;si;doble-1;L;Azul;10;;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 3, "sku", "duplicate_sku");
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "sku-doble-a"), 404);
}

static void wrong_column_count_is_rejected(void **state)
{
	static const char *const lines[] = {
		"columnas;Columnas;;;mujer;ropa;;;;;si;COL-1;M;Rojo;10;;1",
		"columnas;Columnas;;;mujer;ropa;;;;;si;COL-2;L;Rojo;10;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 3, NULL, "column_count");
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "columnas"), 404);
}

static void empty_file_is_rejected(void **state)
{
	struct http_reply reply;

	(void)state;
	csv_import(&catalog, catalog.admin, NULL, "", 0, &reply);
	assert_import_error(&reply, 1, NULL, "empty_file");
	http_reply_free(&reply);
	csv_import(&catalog, catalog.admin, NULL, BOM CSV_HEADER_ES "\r\n", strlen(BOM CSV_HEADER_ES "\r\n"), &reply);
	assert_import_error(&reply, 2, NULL, "no_lines");
	http_reply_free(&reply);
}

static void header_problems_are_listed(void **state)
{
	static const char file[] = "slug;nombre;genero;tipo;sku;talla;precio;precio;tallas\nx;X;mujer;ropa;X;M;1;1;1\n";
	struct http_reply reply;

	(void)state;
	csv_import(&catalog, catalog.admin, NULL, file, strlen(file), &reply);
	assert_import_error(&reply, 1, "color", "missing_column");
	assert_import_error(&reply, 1, "precio", "duplicate_column");
	assert_import_error(&reply, 1, "tallas", "unknown_column");
	http_reply_free(&reply);
}

static void unclosed_quote_names_its_line(void **state)
{
	static const char *const lines[] = {
		"comillas;Comillas;;;mujer;ropa;;;;;si;COM-1;M;Rojo;10;;1",
		"comillas;\"Comillas;;;mujer;ropa;;;;;si;COM-2;L;Rojo;10;;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 3, NULL, "invalid_csv");
	http_reply_free(&reply);
}

static void conflicting_product_fields_are_rejected(void **state)
{
	static const char *const lines[] = {
		"conflicto;Nombre uno;;;mujer;ropa;;;;;si;CON-1;M;Rojo;10;;1",
		"conflicto;Nombre dos;;;mujer;ropa;;;;;Sí;CON-2;L;Rojo;10;;1",
		"conflicto;Nombre uno;;;mujer;ropa;;;;;si;CON-3;m;rojo;10;;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 3, "nombre", "conflicting_value");
	assert_import_error(&reply, 4, "talla", "duplicate_variant");
	assert_int_equal(import_error_count(&reply), 2);
	http_reply_free(&reply);
}

static void error_list_is_bounded(void **state)
{
	struct buf csv;
	struct http_reply reply;
	json_t *json;

	(void)state;
	buf_init(&csv, 1u << 20);
	buf_append_str(&csv, CSV_HEADER_ES "\n");
	for (int i = 0; i < 150; i++)
		buf_printf(&csv, "limite-%d;L;;;mujer;ropa;;;;;si;LIM-%d;M;Rojo;0;;1\n", i, i);
	csv_import(&catalog, catalog.admin, NULL, csv.data, csv.len, &reply);
	buf_free(&csv);
	assert_import_error(&reply, 2, "precio", "invalid_price");
	assert_int_equal(import_error_count(&reply), 150);
	json = reply_json(&reply);
	assert_int_equal(json_array_size(json_object_get(json, "errors")), 100);
	json_decref(json);
	http_reply_free(&reply);
}

static void sku_of_other_product_applies_nothing(void **state)
{
	static const char *const first[] = {"sku-dueno;Dueño;;;mujer;ropa;;;;;si;AJENO-1;M;Rojo;10;;1", NULL};
	static const char *const second[] = {
		"sku-nuevo;Nuevo;;;mujer;ropa;Intento/Fallido;;;;si;NUEVO-1;M;Rojo;10;;1",
		"sku-intruso;Intruso;;;mujer;ropa;;;;;si;ajeno-1;L;Rojo;10;;1",
		NULL,
	};
	struct http_reply reply;
	int64_t total;

	(void)state;
	import_lines(first, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	total = admin_product_total(&catalog);
	import_lines(second, &reply);
	assert_import_error(&reply, 3, "sku", "sku_taken");
	assert_int_equal(import_error_count(&reply), 1);
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "sku-nuevo"), 404);
	assert_int_equal(admin_product_total(&catalog), total);
	catalog_request(&catalog, NULL, "GET", "/api/v1/categories", NULL, NULL, &reply);
	assert_null(strstr(reply.body, "Intento"));
	http_reply_free(&reply);
}

static void errors_follow_accept_language(void **state)
{
	static const char *const lines[] = {"idioma;Idioma;;;mujer;ropa;;;;;si;IDI-1;M;Rojo;abc;;1", NULL};
	struct http_reply reply;
	struct buf csv;

	(void)state;
	import_lines(lines, &reply);
	assert_int_equal(reply.status, 422);
	assert_non_null(strstr(reply.body, "Escriba el precio"));
	assert_non_null(strstr(reply.body, "No se importó nada"));
	http_reply_free(&reply);
	csv_join(&csv, "", CSV_HEADER_ES, lines, "\n");
	csv_import(&catalog, catalog.admin, "Accept-Language: en\r\n", csv.data, csv.len, &reply);
	buf_free(&csv);
	assert_int_equal(reply.status, 422);
	assert_non_null(strstr(reply.body, "Write the price in euros"));
	http_reply_free(&reply);
}

static void invalid_text_is_rejected(void **state)
{
	static const char *const lines[] = {
		"texto-malo;Nombre \xFF roto;;;mujer;ropa;;;;;si;TXT-1;M;Rojo;10;;1",
		"texto-hondo;Hondo;;;mujer;ropa;A/B/C/D/E/F/G/H;;;;si;TXT-2;M;Rojo;10;;1",
		NULL,
	};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_import_error(&reply, 2, "nombre", "invalid_text");
	assert_import_error(&reply, 3, "categoria", "invalid_category");
	assert_int_equal(import_error_count(&reply), 2);
	http_reply_free(&reply);
}

static void oversized_file_gets_413(void **state)
{
	char head[512];
	struct http_reply reply;
	int fd = http_connect(catalog.node.port);

	(void)state;
	/* The limit is checked against Content-Length, so the node responds before any of the body is sent. */
	snprintf(head, sizeof(head),
		 "POST /api/v1/admin/import HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: text/csv\r\n"
		 "Content-Length: %u\r\nConnection: close\r\n\r\n",
		 catalog.admin, (16u << 20) + 1);
	assert_int_equal(http_send(fd, head, strlen(head)), 0);
	assert_int_equal(http_read_reply(fd, &reply), 0);
	http_close(fd);
	assert_problem_field(&reply, 413, NULL);
	http_reply_free(&reply);
}

static void too_many_lines_is_rejected(void **state)
{
	struct buf csv;
	struct http_reply reply;

	(void)state;
	buf_init(&csv, 8u << 20);
	buf_append_str(&csv, CSV_HEADER_ES "\n");
	for (int i = 0; i <= 50000; i++)
		buf_printf(&csv, "lineas-%d;L;;;mujer;ropa;;;;;si;LIN-%d;T%d;Rojo;10;;1\n", i / 100, i, i % 100);
	csv_import(&catalog, catalog.admin, NULL, csv.data, csv.len, &reply);
	buf_free(&csv);
	assert_import_error(&reply, 50002, NULL, "too_many_lines");
	assert_int_equal(import_error_count(&reply), 1);
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "lineas-0"), 404);
}

static void file_variants_over_limit_rejected(void **state)
{
	struct buf csv;
	struct http_reply reply;

	(void)state;
	buf_init(&csv, 1u << 20);
	buf_append_str(&csv, CSV_HEADER_ES "\n");
	for (int i = 0; i < 101; i++)
		buf_printf(&csv, "muchas;Muchas;;;mujer;ropa;;;;;si;MUC-%d;T%d;Rojo;10;;1\n", i, i);
	csv_import(&catalog, catalog.admin, NULL, csv.data, csv.len, &reply);
	buf_free(&csv);
	assert_import_error(&reply, 102, "sku", "too_many_variants");
	assert_int_equal(import_error_count(&reply), 1);
	http_reply_free(&reply);
}

/* Imports count variants of slug with SKUs prefix-first..., tallas T<n>; returns the status. */
static int import_variants(const char *slug, const char *prefix, int first, int count)
{
	struct buf csv;
	struct http_reply reply;
	int status;

	buf_init(&csv, 1u << 20);
	buf_append_str(&csv, CSV_HEADER_ES "\n");
	for (int i = first; i < first + count; i++)
		buf_printf(&csv, "%s;Varias;;;mujer;ropa;;;;;si;%s-%d;T%d;Rojo;10;;1\n", slug, prefix, i, i);
	csv_import(&catalog, catalog.admin, NULL, csv.data, csv.len, &reply);
	buf_free(&csv);
	status = reply.status;
	if (status == 422)
		assert_import_error(&reply, 2 + 100 - first, "sku", "too_many_variants");
	http_reply_free(&reply);
	return status;
}

static void stored_variants_count_toward_limit(void **state)
{
	json_t *product;

	(void)state;
	assert_int_equal(import_variants("varias", "VAR", 0, 60), 200);
	assert_int_equal(import_variants("varias", "VAR", 60, 50), 422);
	product = product_json(&catalog, "varias");
	assert_int_equal(json_array_size(json_object_get(product, "variants")), 60);
	json_decref(product);
}

static void clash_with_stored_variant_rejected(void **state)
{
	static const char *const first[] = {"choque;Choque;;;mujer;ropa;;;;;si;CHO-1;S;Rojo;10;;1", NULL};
	static const char *const second[] = {"choque;Choque;;;mujer;ropa;;;;;si;CHO-2;s;rojo;10;;1", NULL};
	struct http_reply reply;

	(void)state;
	import_lines(first, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	import_lines(second, &reply);
	assert_import_error(&reply, 2, "talla", "variant_exists");
	http_reply_free(&reply);
}

/* Updates */

static void known_slug_updates_product_not_stock(void **state)
{
	static const char *const first[] = {"actualizar;Antes;;;mujer;ropa;;;;;si;ACT-1;M;Rojo;10;;5", NULL};
	static const char *const second[] = {
		"actualizar;Después;Nueva;;mujer;ropa;;;;;si;ACT-1;M;Rojo;12,50;;99",
		"actualizar;Después;Nueva;;mujer;ropa;;;;;si;ACT-2;L;Rojo;12,50;;7",
		NULL,
	};
	struct http_reply reply;
	json_t *result, *product, *variants;

	(void)state;
	import_lines(first, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	import_lines(second, &reply);
	assert_int_equal(reply.status, 200);
	result = reply_json(&reply);
	http_reply_free(&reply);
	assert_int_equal(result_count(result, "products_updated"), 1);
	assert_int_equal(result_count(result, "variants_updated"), 1);
	assert_int_equal(result_count(result, "variants_created"), 1);
	assert_int_equal(result_count(result, "stock_ignored"), 1);
	json_decref(result);

	product = product_json(&catalog, "actualizar");
	variants = json_object_get(product, "variants");
	assert_string_equal(json_string_value(json_object_get(product, "name")), "Después");
	assert_int_equal(json_array_size(variants), 2);
	assert_int_equal(variant_stock(&catalog, (uint64_t)json_integer_value(
							       json_object_get(json_array_get(variants, 0), "id"))),
			 5);
	assert_int_equal(variant_stock(&catalog, (uint64_t)json_integer_value(
							       json_object_get(json_array_get(variants, 1), "id"))),
			 7);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(variants, 0), "price")), 1250);
	json_decref(product);
}

/* Returns the admin version of the product slug and of its first variant. */
static void versions_of(const char *slug, int64_t *product_version, int64_t *variant_version)
{
	json_t *product = product_json(&catalog, slug), *admin;
	struct http_reply reply;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/admin/products/%lld",
		 (long long)json_integer_value(json_object_get(product, "id")));
	json_decref(product);
	catalog_request(&catalog, catalog.admin, "GET", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	admin = reply_json(&reply);
	http_reply_free(&reply);
	*product_version = json_integer_value(json_object_get(admin, "version"));
	*variant_version = json_integer_value(json_object_get(json_array_get(json_object_get(admin, "variants"), 0), "version"));
	json_decref(admin);
}

static void unchanged_reimport_keeps_versions(void **state)
{
	static const char *const lines[] = {"sin-cambios;Igual;;;hombre;ropa;Hombre/Camisas;;;;si;IGU-1;M;Azul;20;;3", NULL};
	struct http_reply reply;
	json_t *result;
	int64_t product_before, variant_before, product_after, variant_after;

	(void)state;
	import_lines(lines, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	versions_of("sin-cambios", &product_before, &variant_before);
	import_lines(lines, &reply);
	result = reply_json(&reply);
	http_reply_free(&reply);
	assert_int_equal(result_count(result, "products_unchanged"), 1);
	assert_int_equal(result_count(result, "variants_unchanged"), 1);
	assert_int_equal(result_count(result, "categories_created"), 0);
	json_decref(result);
	versions_of("sin-cambios", &product_after, &variant_after);
	assert_int_equal(product_after, product_before);
	assert_int_equal(variant_after, variant_before);
}

static void absent_columns_keep_stored_fields(void **state)
{
	static const char *const full[] = {
		"parcial;Antes;Descripción guardada;Marca;mujer;ropa;Parcial/Vestidos;Seda;A mano;fiesta;no;PAR-1;M;Rojo;20;30;4",
		NULL,
	};
	static const char partial[] = "slug,nombre,genero,tipo,sku,talla,color,precio\n"
				      "parcial,Después,mujer,ropa,PAR-1,M,Rojo,25\n";
	struct http_reply reply;
	json_t *admin, *variant;
	char path[96];

	(void)state;
	import_lines(full, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	json_decref(csv_import_ok(&catalog, partial, strlen(partial)));
	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/products?limit=100", NULL, NULL, &reply);
	admin = reply_json(&reply);
	http_reply_free(&reply);
	for (size_t i = 0; i < json_array_size(json_object_get(admin, "products")); i++) {
		json_t *summary = json_array_get(json_object_get(admin, "products"), i);

		if (strcmp(json_string_value(json_object_get(summary, "slug")), "parcial") == 0)
			snprintf(path, sizeof(path), "/api/v1/admin/products/%lld",
				 (long long)json_integer_value(json_object_get(summary, "id")));
	}
	json_decref(admin);
	catalog_request(&catalog, catalog.admin, "GET", path, NULL, NULL, &reply);
	admin = reply_json(&reply);
	http_reply_free(&reply);
	variant = json_array_get(json_object_get(admin, "variants"), 0);
	assert_string_equal(json_string_value(json_object_get(admin, "name")), "Después");
	assert_string_equal(json_string_value(json_object_get(admin, "description")), "Descripción guardada");
	assert_string_equal(json_string_value(json_object_get(admin, "brand")), "Marca");
	assert_string_equal(json_string_value(json_object_get(admin, "care")), "A mano");
	assert_int_equal(json_array_size(json_object_get(admin, "tags")), 1);
	assert_false(json_is_true(json_object_get(admin, "active")));
	assert_int_not_equal(json_integer_value(json_object_get(admin, "category_id")), 0);
	assert_int_equal(json_integer_value(json_object_get(variant, "price")), 2500);
	assert_int_equal(json_integer_value(json_object_get(variant, "compare_at_price")), 3000);
	json_decref(admin);
}

static void stored_compare_at_must_stay_above_price(void **state)
{
	static const char *const first[] = {"rebaja;Rebaja;;;mujer;ropa;;;;;si;REB-1;M;Rojo;20;30;4", NULL};
	static const char second[] = "slug,nombre,genero,tipo,sku,talla,color,precio\n"
				     "rebaja,Rebaja,mujer,ropa,REB-1,M,Rojo,35\n";
	struct http_reply reply;

	(void)state;
	import_lines(first, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	csv_import(&catalog, catalog.admin, NULL, second, strlen(second), &reply);
	assert_import_error(&reply, 2, "precio_anterior", "compare_at_not_above_price");
	http_reply_free(&reply);
}

static void missing_categories_are_created(void **state)
{
	static const char *const lines[] = {
		"botin-ante;Botín de ante;;;mujer;calzado;Rebajas/Calzado/Botines;;;;si;BOT-38;38;Camel;79,90;;2",
		"bota-agua;Bota de agua;;;mujer;calzado;rebajas/calzado/Botas de agua;;;;si;BAG-38;38;Verde;29;;2",
		NULL,
	};
	struct http_reply reply;
	json_t *result, *product, *path;
	json_int_t top;

	(void)state;
	import_lines(lines, &reply);
	result = reply_json(&reply);
	http_reply_free(&reply);
	/* The two spellings of the top levels match through their slugs, so they make one path. */
	assert_int_equal(result_count(result, "categories_created"), 4);
	json_decref(result);
	product = product_json(&catalog, "bota-agua");
	path = json_object_get(json_object_get(product, "category"), "path");
	assert_int_equal(json_array_size(path), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(path, 0), "slug")), "rebajas");
	assert_string_equal(json_string_value(json_object_get(json_array_get(path, 2), "slug")), "botas-de-agua");
	top = json_integer_value(json_object_get(json_array_get(path, 0), "id"));
	json_decref(product);
	product = product_json(&catalog, "botin-ante");
	path = json_object_get(json_object_get(product, "category"), "path");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(path, 0), "id")), top);
	assert_string_equal(json_string_value(json_object_get(json_array_get(path, 2), "name")), "Botines");
	json_decref(product);
}

static void imported_products_are_searchable(void **state)
{
	static const char *const lines[] = {"chubasquero-anil;Chubasquero Añil;;;ninos;ropa;;;;;si;CHU-1;S;Añil;35;;2", NULL};
	struct http_reply reply;

	(void)state;
	import_lines(lines, &reply);
	assert_int_equal(reply.status, 200);
	http_reply_free(&reply);
	catalog_request(&catalog, NULL, "GET", "/api/v1/products?q=chubasquero%20anil", NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_non_null(strstr(reply.body, "\"slug\":\"chubasquero-anil\""));
	http_reply_free(&reply);
}

/* Access */

static void import_needs_admin(void **state)
{
	struct http_reply reply;

	(void)state;
	csv_import(&catalog, NULL, NULL, spanish_file, strlen(spanish_file), &reply);
	assert_problem_field(&reply, 401, NULL);
	http_reply_free(&reply);
	csv_import(&catalog, catalog.customer, NULL, spanish_file, strlen(spanish_file), &reply);
	assert_problem_field(&reply, 403, NULL);
	http_reply_free(&reply);
	assert_int_equal(product_status(&catalog, "zapato-piel"), 404);
}

static void export_needs_admin(void **state)
{
	struct http_reply reply;

	(void)state;
	catalog_request(&catalog, NULL, "GET", "/api/v1/admin/export", NULL, NULL, &reply);
	assert_problem_field(&reply, 401, NULL);
	http_reply_free(&reply);
	catalog_request(&catalog, catalog.customer, "GET", "/api/v1/admin/export", NULL, NULL, &reply);
	assert_problem_field(&reply, 403, NULL);
	http_reply_free(&reply);
	catalog_request(&catalog, catalog.admin, "GET", "/api/v1/admin/export?dialect=fr", NULL, NULL, &reply);
	assert_problem_field(&reply, 400, "dialect");
	http_reply_free(&reply);
}

static void import_needs_csv_content_type(void **state)
{
	struct http_reply reply;
	char headers[256];

	(void)state;
	snprintf(headers, sizeof(headers), "%sContent-Type: application/json\r\n", catalog.admin);
	http_request(catalog.node.port, "POST", "/api/v1/admin/import", headers, "{}", 2, &reply);
	assert_problem_field(&reply, 415, "Content-Type");
	http_reply_free(&reply);
	snprintf(headers, sizeof(headers), "%sContent-Type: text/csv; charset=windows-1252\r\n", catalog.admin);
	http_request(catalog.node.port, "POST", "/api/v1/admin/import", headers, "a", 1, &reply);
	assert_problem_field(&reply, 415, "Content-Type");
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(spanish_file_round_trips_exactly, own_node_start, own_node_stop),
		cmocka_unit_test_setup_teardown(english_export_uses_comma_and_point, own_node_start, own_node_stop),
		cmocka_unit_test_setup_teardown(product_without_variants_round_trips, own_node_start, own_node_stop),
		cmocka_unit_test(export_orders_by_slug_then_sku),
		cmocka_unit_test(every_dialect_imports),
		cmocka_unit_test(header_names_ignore_case_and_accents),
		cmocka_unit_test(row_errors_name_line_and_column),
		cmocka_unit_test(bad_price_is_rejected),
		cmocka_unit_test(duplicate_sku_in_file_is_rejected),
		cmocka_unit_test(wrong_column_count_is_rejected),
		cmocka_unit_test(empty_file_is_rejected),
		cmocka_unit_test(header_problems_are_listed),
		cmocka_unit_test(unclosed_quote_names_its_line),
		cmocka_unit_test(conflicting_product_fields_are_rejected),
		cmocka_unit_test(error_list_is_bounded),
		cmocka_unit_test(sku_of_other_product_applies_nothing),
		cmocka_unit_test(errors_follow_accept_language),
		cmocka_unit_test(invalid_text_is_rejected),
		cmocka_unit_test(oversized_file_gets_413),
		cmocka_unit_test(too_many_lines_is_rejected),
		cmocka_unit_test(file_variants_over_limit_rejected),
		cmocka_unit_test(stored_variants_count_toward_limit),
		cmocka_unit_test(clash_with_stored_variant_rejected),
		cmocka_unit_test(known_slug_updates_product_not_stock),
		cmocka_unit_test(unchanged_reimport_keeps_versions),
		cmocka_unit_test(absent_columns_keep_stored_fields),
		cmocka_unit_test(stored_compare_at_must_stay_above_price),
		cmocka_unit_test(missing_categories_are_created),
		cmocka_unit_test(imported_products_are_searchable),
		cmocka_unit_test(import_needs_admin),
		cmocka_unit_test(export_needs_admin),
		cmocka_unit_test(import_needs_csv_content_type),
	};

	return cmocka_run_group_tests(tests, catalog_group_setup, catalog_group_teardown);
}
