// Admin messages: flat key -> text catalogs in /static/i18n/admin.{es,en}.json,
// apart from the storefront's. The language choice is shared with the
// storefront (localStorage "jkd.lang"); Spanish unless English was chosen.

const STORAGE_KEY = 'jkd.lang';
const LANGS = ['es', 'en'];
let current = 'es';
let messages = {};

export function lang() {
	return current;
}

function storedLang() {
	try {
		const value = localStorage.getItem(STORAGE_KEY);

		return LANGS.includes(value) ? value : 'es';
	} catch {
		return 'es';
	}
}

// Loads the catalog of the stored language, or of choice (which is then stored).
export async function loadMessages(choice) {
	current = choice && LANGS.includes(choice) ? choice : storedLang();
	if (choice) {
		try {
			localStorage.setItem(STORAGE_KEY, current);
		} catch {
			// Private browsing may refuse storage; the choice lasts for this page only.
		}
	}
	const res = await fetch(`/static/i18n/admin.${current}.json`);

	messages = res.ok ? await res.json() : {};
	document.documentElement.lang = current;
}

// The message for key with {name} placeholders filled from params; the key
// itself when the catalog lacks it, so a gap is visible, not blank.
export function t(key, params) {
	const text = Object.hasOwn(messages, key) ? messages[key] : key;

	return text.replace(/\{(\w+)\}/g, (all, name) =>
		params && Object.hasOwn(params, name) ? String(params[name]) : all);
}

// Translates the static shell: data-i18n (text) and data-i18n-aria-label.
export function translateShell(root) {
	for (const el of root.querySelectorAll('[data-i18n]'))
		el.textContent = t(el.dataset.i18n);
	for (const el of root.querySelectorAll('[data-i18n-aria-label]'))
		el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
	document.title = t('admin_page_title');
}

// Formats cents of EUR for the chosen language.
export function money(cents) {
	if (cents === null || cents === undefined)
		return '';
	return new Intl.NumberFormat(current === 'en' ? 'en-IE' : 'es-ES', { style: 'currency', currency: 'EUR' })
		.format(cents / 100);
}

// Formats milliseconds since the epoch as a local date and time.
export function dateTime(ms) {
	return new Intl.DateTimeFormat(current === 'en' ? 'en-GB' : 'es-ES',
		{ dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
}
