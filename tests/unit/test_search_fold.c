/* Spanish text folding for search (search_fold) and the word helpers beside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/search_internal.h"

#define FUZZ_SEED 20261204u
#define FUZZ_ROUNDS 20000

static const char *fold(const char *text)
{
	static char out[256];

	search_fold(text, strlen(text), out, sizeof(out));
	return out;
}

static void accents_are_removed(void **state)
{
	(void)state;
	assert_string_equal(fold("camión"), "camion");
	assert_string_equal(fold("Ágil épico índigo ópalo útil"), "agil epico indigo opalo util");
	assert_string_equal(fold("àâäãåèêëìîïòôöõùûÿ"), "aaaaaeeeiiioooouuy");
}

static void camion_spellings_fold_alike(void **state)
{
	(void)state;
	assert_string_equal(fold("camion"), "camion");
	assert_string_equal(fold("camión"), "camion");
	assert_string_equal(fold("CAMIÓN"), "camion");
}

static void enye_folds_to_n(void **state)
{
	(void)state;
	assert_string_equal(fold("niño"), "nino");
	assert_string_equal(fold("AÑIL"), "anil");
	assert_string_equal(fold("desteñido"), "destenido");
}

static void enye_form_keeps_tilde(void **state)
{
	char out[64];

	(void)state;
	search_fold_enye("NIÑO", 6, out, sizeof(out));
	assert_string_equal(out, "niño");
	search_fold_enye("Camión", 7, out, sizeof(out));
	assert_string_equal(out, "camion");
}

static void dieresis_and_cedilla_fold(void **state)
{
	(void)state;
	assert_string_equal(fold("pingüino"), "pinguino");
	assert_string_equal(fold("PINGÜINO"), "pinguino");
	assert_string_equal(fold("Façade"), "facade");
	assert_string_equal(fold("ÇA"), "ca");
}

static void upper_case_goes_lower(void **state)
{
	(void)state;
	assert_string_equal(fold("ZAPATOS Deportivos"), "zapatos deportivos");
	assert_string_equal(fold("ΑΒΓ"), "αβγ");
	assert_string_equal(fold("ПРИВЕТ"), "привет");
}

static void ligatures_spell_out(void **state)
{
	(void)state;
	assert_string_equal(fold("Straße"), "strasse");
	assert_string_equal(fold("Æther"), "aether");
	assert_string_equal(fold("Œuvre"), "oeuvre");
	assert_string_equal(fold("Łódź"), "lodz");
}

static void punctuation_separates_words(void **state)
{
	(void)state;
	assert_string_equal(fold("¡Hola, mundo!  ¿Qué tal?"), "hola mundo que tal");
	assert_string_equal(fold("T-shirt"), "t shirt");
	assert_string_equal(fold("  10€/ud. "), "10 ud");
	assert_string_equal(fold("a\tb\nc"), "a b c");
	assert_string_equal(fold("«Clásico» — 100% algodón"), "clasico 100 algodon");
	assert_string_equal(fold("!!!"), "");
}

static void apostrophes_are_dropped(void **state)
{
	(void)state;
	assert_string_equal(fold("Levi's"), "levis");
	assert_string_equal(fold("Levi’s"), "levis");
}

static void combining_accents_are_dropped(void **state)
{
	(void)state;
	assert_string_equal(fold("camio\xcc\x81n"), "camion");
	assert_string_equal(fold("nin\xcc\x83o"), "nino");
}

static void invalid_utf8_separates_words(void **state)
{
	(void)state;
	assert_string_equal(fold("\xff\xfe"), "");
	assert_string_equal(fold("a\xc3"), "a");
	assert_string_equal(fold("a\xc0\xafz"), "a z");
	assert_string_equal(fold("a\xed\xa0\x80z"), "a z");
	assert_string_equal(fold("a\xf4\x90\x80\x80z"), "a z");
	assert_string_equal(fold("a\x80z"), "a z");
}

static void output_is_bounded(void **state)
{
	char out[5] = "xxxx";

	(void)state;
	assert_int_equal(search_fold("camiseta", 8, out, sizeof(out)), 4);
	assert_string_equal(out, "cami");
	assert_int_equal(search_fold("camiseta", 8, out, 0), 0);
	assert_int_equal(search_fold_enye("ñandú", 6, out, 2), 0);
	assert_string_equal(out, "");
	assert_int_equal(search_fold("жж", 4, out, 4), 2);
	assert_string_equal(out, "ж");
}

static void embedded_nul_separates_words(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(search_fold("ab\0cd", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "ab cd");
}

/* Checks that s[0..len) is valid UTF-8 without leading, trailing or doubled spaces. */
static bool well_formed(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
		return false;
	for (size_t i = 0; i < len;) {
		size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;

		if (n == 0 || i + n > len || (p[i] == ' ' && i + 1 < len && p[i + 1] == ' '))
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += n;
	}
	return true;
}

static void random_bytes_fold_safely(void **state)
{
	unsigned seed = FUZZ_SEED;
	unsigned char input[64];
	char out[40];

	(void)state;
	for (int round = 0; round < FUZZ_ROUNDS; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(input);
		size_t out_size = 1 + (size_t)rand_r(&seed) % sizeof(out);
		size_t folded;

		for (size_t i = 0; i < len; i++)
			input[i] = (unsigned char)(rand_r(&seed) % 4 == 0 ? 0xc0 + rand_r(&seed) % 0x40 : rand_r(&seed));
		folded = search_fold((const char *)input, len, out, out_size);
		if (folded >= out_size || strlen(out) != folded || !well_formed(out, folded))
			fail_msg("seed %u, round %d: malformed output of %zu bytes", FUZZ_SEED, round, folded);
	}
}

static void words_are_cut_at_limit(void **state)
{
	const char *text = "abcdefghijklmnopqrstuvwxyzabcdefghij corto";
	struct search_word word;
	size_t pos = 0;

	(void)state;
	assert_true(search_word_next(text, strlen(text), &pos, &word));
	assert_int_equal(word.len, SEARCH_WORD_MAX_BYTES);
	assert_true(search_word_next(text, strlen(text), &pos, &word));
	assert_int_equal(word.len, 5);
	assert_memory_equal(word.ptr, "corto", 5);
	assert_false(search_word_next(text, strlen(text), &pos, &word));
}

static void utf8_cut_keeps_sequences_whole(void **state)
{
	(void)state;
	assert_int_equal(search_utf8_cut("añ", 3, 2), 1);
	assert_int_equal(search_utf8_cut("añ", 3, 3), 3);
	assert_int_equal(search_utf8_cut("abc", 3, 10), 3);
}

static void stopwords_are_recognised(void **state)
{
	(void)state;
	assert_true(search_stopword("de", 2));
	assert_true(search_stopword("y", 1));
	assert_false(search_stopword("denim", 5));
	assert_false(search_stopword("d", 1));
	assert_false(search_stopword("sin", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accents_are_removed),
		cmocka_unit_test(camion_spellings_fold_alike),
		cmocka_unit_test(enye_folds_to_n),
		cmocka_unit_test(enye_form_keeps_tilde),
		cmocka_unit_test(dieresis_and_cedilla_fold),
		cmocka_unit_test(upper_case_goes_lower),
		cmocka_unit_test(ligatures_spell_out),
		cmocka_unit_test(punctuation_separates_words),
		cmocka_unit_test(apostrophes_are_dropped),
		cmocka_unit_test(combining_accents_are_dropped),
		cmocka_unit_test(invalid_utf8_separates_words),
		cmocka_unit_test(output_is_bounded),
		cmocka_unit_test(embedded_nul_separates_words),
		cmocka_unit_test(random_bytes_fold_safely),
		cmocka_unit_test(words_are_cut_at_limit),
		cmocka_unit_test(utf8_cut_keeps_sequences_whole),
		cmocka_unit_test(stopwords_are_recognised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
