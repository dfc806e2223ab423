/* CSV reader and writer: dialect detection, quoting, errors with line numbers, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/csv.h"

static void assert_field(const struct csv_reader *r, size_t i, const char *expected)
{
	assert_true(i < r->field_count);
	assert_int_equal(r->field_lens[i], strlen(expected));
	assert_memory_equal(r->fields[i], expected, strlen(expected));
}

static void spanish_dialect_is_detected(void **state)
{
	static const char text[] = "\xEF\xBB\xBFnombre;precio\r\nCamiseta Niño Añil;19,99\r\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_true(r.dialect.bom);
	assert_int_equal(r.dialect.separator, ';');
	assert_true(r.dialect.crlf);
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_field(&r, 0, "nombre");
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_field(&r, 0, "Camiseta Niño Añil");
	assert_field(&r, 1, "19,99");
	assert_int_equal(csv_read(&r), CSV_END);
	csv_reader_free(&r);
}

static void comma_dialect_is_detected(void **state)
{
	static const char text[] = "a,b\nc,d";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_false(r.dialect.bom);
	assert_int_equal(r.dialect.separator, ',');
	assert_false(r.dialect.crlf);
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_field(&r, 1, "d");
	assert_int_equal(csv_read(&r), CSV_END);
	csv_reader_free(&r);
}

static void quoted_fields_keep_separators_and_newlines(void **state)
{
	static const char text[] = "\"a,b\",\"dice \"\"hola\"\"\",\"línea 1\nlínea 2\"\nx,y,z\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(r.field_count, 3);
	assert_field(&r, 0, "a,b");
	assert_field(&r, 1, "dice \"hola\"");
	assert_field(&r, 2, "línea 1\nlínea 2");
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(r.record_line, 3);
	csv_reader_free(&r);
}

static void empty_fields_are_kept(void **state)
{
	static const char text[] = "a,,c,\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(r.field_count, 4);
	assert_field(&r, 1, "");
	assert_field(&r, 3, "");
	csv_reader_free(&r);
}

static void blank_lines_are_skipped(void **state)
{
	static const char text[] = "a\r\n\r\n\r\nb\r\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_field(&r, 0, "b");
	assert_int_equal(r.record_line, 4);
	assert_int_equal(csv_read(&r), CSV_END);
	csv_reader_free(&r);
}

static void unclosed_quote_is_an_error(void **state)
{
	static const char text[] = "ok,1\n\"sin cerrar,2\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(csv_read(&r), CSV_ERROR);
	assert_int_equal(r.record_line, 2);
	assert_non_null(r.error);
	csv_reader_free(&r);
}

static void stray_quote_is_an_error(void **state)
{
	static const char text[] = "a\"b,c\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_ERROR);
	csv_reader_free(&r);
}

static void text_after_quote_is_an_error(void **state)
{
	static const char text[] = "\"a\"b,c\n";
	struct csv_reader r;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_read(&r), CSV_ERROR);
	csv_reader_free(&r);
}

static void too_many_fields_is_an_error(void **state)
{
	char text[CSV_FIELDS_MAX * 2 + 8];
	struct csv_reader r;
	size_t n = 0;

	(void)state;
	for (int i = 0; i <= CSV_FIELDS_MAX; i++) {
		text[n++] = 'x';
		text[n++] = ',';
	}
	text[n - 1] = '\n';
	csv_reader_init(&r, text, n);
	assert_int_equal(csv_read(&r), CSV_ERROR);
	csv_reader_free(&r);
}

static void write_then_read_round_trips(void **state)
{
	static const char *const fields[] = {"Camiseta; algodón", "con \"comillas\"", "dos\r\nlíneas", "19,99", ""};
	struct csv_dialect dialect = {.separator = ';', .bom = false, .crlf = true};
	struct csv_reader r;
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < 5; i++)
		csv_write_field(&out, &dialect, fields[i], strlen(fields[i]), i == 0);
	csv_write_end(&out, &dialect);
	csv_reader_init(&r, out.data, out.len);
	assert_int_equal(csv_read(&r), CSV_RECORD);
	assert_int_equal(r.field_count, 5);
	for (size_t i = 0; i < 5; i++)
		assert_field(&r, i, fields[i]);
	csv_reader_free(&r);
	buf_free(&out);
}

static void random_bytes_never_crash(void **state)
{
	static const char alphabet[] = "a,;\"\r\n\xC3\xB1 ";
	unsigned seed = 20261204;
	char text[256];
	struct csv_reader r;

	(void)state;
	for (int round = 0; round < 5000; round++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(text));
		int records = 0;
		enum csv_status status;

		for (size_t i = 0; i < len; i++)
			text[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		csv_reader_init(&r, text, len);
		while ((status = csv_read(&r)) == CSV_RECORD && records < 1000)
			records++;
		if (records >= 1000)
			fail_msg("reader did not advance; seed 20261204, round %d", round);
		csv_reader_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spanish_dialect_is_detected),
		cmocka_unit_test(comma_dialect_is_detected),
		cmocka_unit_test(quoted_fields_keep_separators_and_newlines),
		cmocka_unit_test(empty_fields_are_kept),
		cmocka_unit_test(blank_lines_are_skipped),
		cmocka_unit_test(unclosed_quote_is_an_error),
		cmocka_unit_test(stray_quote_is_an_error),
		cmocka_unit_test(text_after_quote_is_an_error),
		cmocka_unit_test(too_many_fields_is_an_error),
		cmocka_unit_test(write_then_read_round_trips),
		cmocka_unit_test(random_bytes_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
