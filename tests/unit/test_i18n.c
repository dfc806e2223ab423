/* Language choice and Spanish catalog lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/i18n.h"

static enum i18n_lang pick(const char *header)
{
	return i18n_from_accept_language(header, strlen(header));
}

static void missing_header_means_spanish(void **state)
{
	(void)state;
	assert_int_equal(i18n_from_accept_language(NULL, 0), I18N_ES);
}

static void english_first_means_english(void **state)
{
	(void)state;
	assert_int_equal(pick("en-US,en;q=0.9"), I18N_EN);
	assert_int_equal(pick("EN"), I18N_EN);
}

static void spanish_preferred_over_english(void **state)
{
	(void)state;
	assert_int_equal(pick("es-ES,es;q=0.9,en;q=0.8"), I18N_ES);
	assert_int_equal(pick("en;q=0.5, es;q=0.8"), I18N_ES);
}

static void english_preferred_by_quality(void **state)
{
	(void)state;
	assert_int_equal(pick("es;q=0.3, en;q=0.7"), I18N_EN);
}

static void other_languages_fall_back_to_spanish(void **state)
{
	(void)state;
	assert_int_equal(pick("fr-FR,de;q=0.9"), I18N_ES);
	assert_int_equal(pick("english"), I18N_ES);
	assert_int_equal(pick("en;q=0"), I18N_ES);
	assert_int_equal(pick(";;;,,,q=="), I18N_ES);
}

static void catalog_translates_to_spanish(void **state)
{
	(void)state;
	assert_int_equal(i18n_init(getenv("JKD_LOCALE_DIR")), 0);
	assert_string_equal(i18n_text(I18N_ES, "Not Found"), "No encontrado");
	assert_string_equal(i18n_text(I18N_EN, "Not Found"), "Not Found");
}

static void missing_catalog_reports_directory(void **state)
{
	(void)state;
	assert_int_equal(i18n_init("/nonexistent/locale"), -1);
	assert_string_equal(i18n_locale_dir(), "/nonexistent/locale");
	assert_int_equal(i18n_init(getenv("JKD_LOCALE_DIR")), 0);
	assert_string_equal(i18n_locale_dir(), getenv("JKD_LOCALE_DIR"));
}

static void untranslated_message_stays_english(void **state)
{
	(void)state;
	assert_string_equal(i18n_text(I18N_ES, "no such message id"), "no such message id");
}

static void environment_english_survives_init(void **state)
{
	(void)state;
	setenv("LANG", "en_US.UTF-8", 1);
	unsetenv("LC_ALL");
	unsetenv("LC_MESSAGES");
	assert_int_equal(i18n_init(getenv("JKD_LOCALE_DIR")), 0);
	assert_int_equal(i18n_from_environment(), I18N_EN);
}

static void environment_spanish_by_default(void **state)
{
	(void)state;
	unsetenv("LANG");
	unsetenv("LC_ALL");
	unsetenv("LC_MESSAGES");
	assert_int_equal(i18n_from_environment(), I18N_ES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_header_means_spanish),
		cmocka_unit_test(english_first_means_english),
		cmocka_unit_test(spanish_preferred_over_english),
		cmocka_unit_test(english_preferred_by_quality),
		cmocka_unit_test(other_languages_fall_back_to_spanish),
		cmocka_unit_test(catalog_translates_to_spanish),
		cmocka_unit_test(missing_catalog_reports_directory),
		cmocka_unit_test(untranslated_message_stays_english),
		cmocka_unit_test(environment_english_survives_init),
		cmocka_unit_test(environment_spanish_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
