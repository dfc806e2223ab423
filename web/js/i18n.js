// Web messages: flat key -> text catalogs in /static/i18n/{es,en}.json.
// Spanish unless the shopper chose English (localStorage "jkd.lang").

const STORAGE_KEY = 'jkd.lang';
const LANGS = ['es', 'en'];
let current = 'es';
let messages = {};
let catalog = '';

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

// Makes loadMessages() read the catalog /static/i18n/{name}.{lang}.json
// instead of {lang}.json; the admin panel keeps its messages apart.
export function useCatalog(name) {
	catalog = `${name}.`;
}

// Loads the catalog of the stored language (or of choice, which is stored).
export async function loadMessages(choice) {
	current = choice && LANGS.includes(choice) ? choice : storedLang();
	if (choice) {
		try {
			localStorage.setItem(STORAGE_KEY, current);
		} catch {
			// Private browsing may refuse storage; the choice lasts for this page only.
		}
	}
	const res = await fetch(`/static/i18n/${catalog}${current}.json`);

	messages = res.ok ? await res.json() : {};
	document.documentElement.lang = current;
}

// Returns the message for key with {name} placeholders filled from params;
// the key itself when the catalog lacks it, so a gap is visible, not blank.
export function t(key, params) {
	const text = Object.hasOwn(messages, key) ? messages[key] : key;

	return text.replace(/\{(\w+)\}/g, (all, name) =>
		params && Object.hasOwn(params, name) ? String(params[name]) : all);
}

// Translates the static shell: data-i18n (text), data-i18n-placeholder and data-i18n-aria-label.
export function translateShell(root) {
	for (const el of root.querySelectorAll('[data-i18n]'))
		el.textContent = t(el.dataset.i18n);
	for (const el of root.querySelectorAll('[data-i18n-placeholder]'))
		el.placeholder = t(el.dataset.i18nPlaceholder);
	for (const el of root.querySelectorAll('[data-i18n-aria-label]'))
		el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
	document.title = t('site_title');
}
