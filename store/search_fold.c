/*
 * Spanish text folding for search: the same folded form for "camión",
 * "camion" and "CAMIÓN", so index terms and query words compare as bytes.
 *
 * Rules, applied code point by code point to UTF-8 input:
 * - ASCII letters go to lower case; ASCII digits stay.
 * - Latin-1 and Latin Extended-A letters lose their accents and go to lower
 *   case (á, Á, ä → a; ü → u; ç → c; ß → ss; æ → ae; œ → oe).
 * - ñ and Ñ fold to n, so "nino" finds "niño". Matching ignores the tilde;
 *   search_fold_enye() keeps it so that ranking can prefer an exact ñ.
 * - Combining marks (U+0300–U+036F) are dropped, so decomposed "o" + U+0301
 *   folds like "ó". Apostrophes (' ’ ´ ʼ) are dropped too, so "Levi's"
 *   folds to "levis".
 * - Greek and Cyrillic capitals go to lower case; other letters outside
 *   Latin are copied unchanged.
 * - Everything else (punctuation, symbols, spaces, controls, emoji and
 *   bytes that are not valid UTF-8) separates words: each run becomes one
 *   space, and the result has no leading or trailing space.
 *
 * The output never exceeds the caller's buffer and is never cut inside a
 * UTF-8 sequence, so folding any byte string is safe.
 */
#include "store/search_internal.h"

#include <stdbool.h>
#include <string.h>

/* Latin-1 letters U+00C0–U+00FF without their accents; NULL separates words (× and ÷). */
static const char *const latin1_folded[64] = {
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Latin Extended-A (U+0100–U+017F): ranges of letters that fold to one base. */
static const struct {
	unsigned first;
	unsigned last;
	const char *folded;
} latin_extended_a[] = {
	{0x100, 0x105, "a"}, {0x106, 0x10d, "c"}, {0x10e, 0x111, "d"}, {0x112, 0x11b, "e"},
	{0x11c, 0x123, "g"}, {0x124, 0x127, "h"}, {0x128, 0x131, "i"}, {0x132, 0x133, "ij"},
	{0x134, 0x135, "j"}, {0x136, 0x138, "k"}, {0x139, 0x142, "l"}, {0x143, 0x14b, "n"},
	{0x14c, 0x151, "o"}, {0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15a, 0x161, "s"},
	{0x162, 0x167, "t"}, {0x168, 0x173, "u"}, {0x174, 0x175, "w"}, {0x176, 0x178, "y"},
	{0x179, 0x17e, "z"}, {0x17f, 0x17f, "s"},
};

static const char *latin_extended_a_fold(unsigned cp)
{
	for (size_t i = 0; i < sizeof(latin_extended_a) / sizeof(latin_extended_a[0]); i++) {
		if (cp >= latin_extended_a[i].first && cp <= latin_extended_a[i].last)
			return latin_extended_a[i].folded;
	}
	return NULL;
}

/* The outcome of folding one code point. */
enum fold_kind {
	FOLD_TEXT,      /* append text */
	FOLD_DROP,      /* append nothing and keep the word going */
	FOLD_SEPARATOR, /* end the word */
};

/*
 * Decodes one UTF-8 sequence at s[0..len). Returns its length and sets *cp,
 * or returns 0 for an invalid, overlong, surrogate or truncated sequence.
 */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	static const unsigned min_of_length[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n;
	unsigned value;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		value = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		value = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		value = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		value = (value << 6) | (s[i] & 0x3f);
	}
	if (value < min_of_length[n] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
		return 0;
	*cp = value;
	return n;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static bool is_dropped(unsigned cp)
{
	return cp == '\'' || cp == 0xb4 || cp == 0x2bc || cp == 0x2019 || (cp >= 0x300 && cp <= 0x36f) ||
	       (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp == 0xfeff;
}

static bool is_separator(unsigned cp)
{
	if (cp < 0x80)
		return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'));
	return cp < 0xc0 || (cp >= 0x2000 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x303f) ||
	       (cp >= 0xfff0 && cp <= 0xffff) || (cp >= 0xff00 && cp <= 0xff0f) || (cp >= 0x1f000 && cp <= 0x1faff);
}

/* Lower-cases Greek and Cyrillic capitals; other code points are returned unchanged. */
static unsigned lower_greek_cyrillic(unsigned cp)
{
	if ((cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) || (cp >= 0x410 && cp <= 0x42f))
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	return cp;
}

/* Classifies cp and, for FOLD_TEXT, writes its folded UTF-8 into text (at most 4 bytes). */
static enum fold_kind fold_code_point(unsigned cp, bool keep_enye, char text[5], size_t *text_len)
{
	const char *folded = NULL;

	if (is_dropped(cp))
		return FOLD_DROP;
	if (is_separator(cp) || cp == 0xd7 || cp == 0xf7)
		return FOLD_SEPARATOR;
	if (keep_enye && (cp == 0xd1 || cp == 0xf1))
		cp = 0xf1;
	else if (cp >= 0xc0 && cp <= 0xff)
		folded = latin1_folded[cp - 0xc0];
	else if (cp >= 0x100 && cp <= 0x17f)
		folded = latin_extended_a_fold(cp);
	if (folded != NULL) {
		*text_len = strlen(folded);
		memcpy(text, folded, *text_len);
		return FOLD_TEXT;
	}
	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	*text_len = utf8_encode(lower_greek_cyrillic(cp), text);
	return FOLD_TEXT;
}

static size_t fold(const char *text, size_t len, char *out, size_t out_size, bool keep_enye)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, written = 0;
	bool space_pending = false;

	if (out_size == 0)
		return 0;
	while (i < len) {
		char piece[5];
		size_t piece_len = 0;
		unsigned cp = 0;
		size_t n = utf8_decode(s + i, len - i, &cp);
		enum fold_kind kind = n == 0 ? FOLD_SEPARATOR : fold_code_point(cp, keep_enye, piece, &piece_len);

		i += n == 0 ? 1 : n;
		if (kind == FOLD_SEPARATOR) {
			space_pending = written > 0;
			continue;
		}
		if (kind == FOLD_DROP)
			continue;
		if (written + (space_pending ? 1 : 0) + piece_len > out_size - 1)
			break;
		if (space_pending)
			out[written++] = ' ';
		space_pending = false;
		memcpy(out + written, piece, piece_len);
		written += piece_len;
	}
	out[written] = '\0';
	return written;
}

size_t search_fold(const char *text, size_t len, char *out, size_t out_size)
{
	return fold(text, len, out, out_size, false);
}

size_t search_fold_enye(const char *text, size_t len, char *out, size_t out_size)
{
	return fold(text, len, out, out_size, true);
}

bool search_word_next(const char *folded, size_t len, size_t *pos, struct search_word *word)
{
	size_t start = *pos, end;

	while (start < len && folded[start] == ' ')
		start++;
	if (start >= len)
		return false;
	end = start;
	while (end < len && folded[end] != ' ')
		end++;
	*pos = end;
	word->ptr = folded + start;
	word->len = search_utf8_cut(folded + start, end - start, SEARCH_WORD_MAX_BYTES);
	return true;
}

size_t search_utf8_cut(const char *s, size_t len, size_t max_bytes)
{
	if (len <= max_bytes)
		return len;
	len = max_bytes;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

bool search_stopword(const char *word, size_t len)
{
	/* "sin" is not one: "sin mangas" (sleeveless) needs it. */
	static const char *const stopwords[] = {
		"a", "al", "con", "de", "del", "e", "el", "en", "la", "las", "lo", "los", "o", "para",
		"por", "su", "u", "un", "una", "unas", "unos", "y", "and", "the", "of", "with",
	};

	for (size_t i = 0; i < sizeof(stopwords) / sizeof(stopwords[0]); i++)
		if (strlen(stopwords[i]) == len && memcmp(stopwords[i], word, len) == 0)
			return true;
	return false;
}
