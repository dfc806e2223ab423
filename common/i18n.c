/*
 * Message translation; see i18n.h.
 *
 * glibc's gettext ignores LANGUAGE while the locale is "C", so the process
 * switches LC_MESSAGES to C.UTF-8 (always present on glibc 2.35 and later)
 * and sets LANGUAGE=es. Then dgettext() finds
 * <locale_dir>/es/LC_MESSAGES/jkd.mo without any es_ES locale installed.
 */
#include "common/i18n.h"

#include <ctype.h>
#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define I18N_DOMAIN "jkd"

static bool catalog_loaded;
static char last_locale_dir[PATH_MAX];

/* The user's LANGUAGE before i18n_init() replaced it, for i18n_from_environment(). */
static char user_language[64];
static bool user_language_saved;

static int locale_dir_beside_executable(char *out, size_t out_size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, out_size, "%s/../share/locale", exe) >= out_size)
		return -1;
	return 0;
}

int i18n_init(const char *locale_dir)
{
	char dir[PATH_MAX];
	char probe[PATH_MAX + 64];

	last_locale_dir[0] = '\0';
	if (locale_dir == NULL) {
		if (locale_dir_beside_executable(dir, sizeof(dir)) != 0)
			return -1;
		locale_dir = dir;
	}
	snprintf(last_locale_dir, sizeof(last_locale_dir), "%s", locale_dir);
	snprintf(probe, sizeof(probe), "%s/es/LC_MESSAGES/" I18N_DOMAIN ".mo", locale_dir);
	if (access(probe, R_OK) != 0)
		return -1;

	if (!user_language_saved) {
		const char *language = getenv("LANGUAGE");

		snprintf(user_language, sizeof(user_language), "%s", language != NULL ? language : "");
		user_language_saved = true;
	}
	setlocale(LC_MESSAGES, "C.UTF-8");
	setlocale(LC_CTYPE, "C.UTF-8");
	setenv("LANGUAGE", "es", 1);
	bindtextdomain(I18N_DOMAIN, locale_dir);
	bind_textdomain_codeset(I18N_DOMAIN, "UTF-8");
	catalog_loaded = true;
	return 0;
}

const char *i18n_locale_dir(void)
{
	return last_locale_dir;
}

const char *i18n_text(enum i18n_lang lang, const char *msgid)
{
	if (lang == I18N_EN || !catalog_loaded)
		return msgid;
	return dgettext(I18N_DOMAIN, msgid);
}

/* Returns true if the language range at s (of len bytes) is English. */
static bool range_is_english(const char *s, size_t len)
{
	return len >= 2 && tolower((unsigned char)s[0]) == 'e' &&
	       tolower((unsigned char)s[1]) == 'n' && (len == 2 || s[2] == '-' || s[2] == '_');
}

static bool range_is_spanish(const char *s, size_t len)
{
	return len >= 2 && tolower((unsigned char)s[0]) == 'e' &&
	       tolower((unsigned char)s[1]) == 's' && (len == 2 || s[2] == '-' || s[2] == '_');
}

/* Parses the q parameter of one Accept-Language element; 1000 means q=1. */
static int quality_per_mille(const char *params, size_t len)
{
	const char *q = NULL;
	int value = 0, digits = 0;

	for (size_t i = 0; i + 1 < len; i++) {
		if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
			q = params + i + 2;
			len -= i + 2;
			break;
		}
	}
	if (q == NULL)
		return 1000;
	if (len > 0 && q[0] == '1')
		return 1000;
	for (size_t i = 2; i < len && digits < 3 && isdigit((unsigned char)q[i]); i++, digits++)
		value = value * 10 + (q[i] - '0');
	while (digits++ < 3)
		value *= 10;
	return value;
}

enum i18n_lang i18n_from_accept_language(const char *value, size_t len)
{
	int best_en = -1, best_es = -1;
	size_t start = 0;

	if (value == NULL)
		return I18N_ES;
	while (start < len) {
		size_t end = start, tag_end;
		int q;

		while (end < len && value[end] != ',')
			end++;
		while (start < end && (value[start] == ' ' || value[start] == '\t'))
			start++;
		tag_end = start;
		while (tag_end < end && value[tag_end] != ';' && value[tag_end] != ' ')
			tag_end++;
		q = quality_per_mille(value + tag_end, end - tag_end);
		if (range_is_english(value + start, tag_end - start) && q > best_en)
			best_en = q;
		if (range_is_spanish(value + start, tag_end - start) && q > best_es)
			best_es = q;
		start = end + 1;
	}
	return best_en > 0 && best_en > best_es ? I18N_EN : I18N_ES;
}

enum i18n_lang i18n_from_environment(void)
{
	static const char *const names[] = {"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = i == 0 && user_language_saved ? user_language : getenv(names[i]);

		if (v == NULL || v[0] == '\0')
			continue;
		if (range_is_english(v, strlen(v)))
			return I18N_EN;
		return I18N_ES;
	}
	return I18N_ES;
}
