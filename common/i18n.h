/*
 * Translation of messages a person reads: Spanish by default, English on
 * request. Message ids in the source are English; po/es.po contains the Spanish
 * text, compiled by msgfmt and looked up through gettext. English text is
 * the message id itself, so a request's language can change per call without
 * touching the process locale.
 */
#ifndef JKD_COMMON_I18N_H
#define JKD_COMMON_I18N_H

#include <stddef.h>

enum i18n_lang {
	I18N_ES = 0,
	I18N_EN = 1,
};

/* Marks a message id for xgettext without translating it. */
#define N_(msgid) msgid

/*
 * Loads the catalogs from locale_dir, or from ../share/locale beside the
 * running executable if locale_dir is NULL. Call once, before threads start.
 * Returns 0, or -1 if the Spanish catalog was not found (messages then stay
 * in English).
 */
int i18n_init(const char *locale_dir);

/*
 * Returns the directory the last i18n_init() looked in, so a caller can log
 * where the catalog is missing. It is "" before the first call and when the
 * executable's directory could not be found.
 */
const char *i18n_locale_dir(void);

/* Returns msgid translated into lang; the result lives as long as the process. */
const char *i18n_text(enum i18n_lang lang, const char *msgid);

/* Picks the language from an Accept-Language header value (NULL for none). */
enum i18n_lang i18n_from_accept_language(const char *value, size_t len);

/* Picks the language for a command-line program from LANGUAGE, LC_ALL, LC_MESSAGES and LANG. */
enum i18n_lang i18n_from_environment(void);

#endif
