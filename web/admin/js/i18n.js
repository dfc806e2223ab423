// Admin messages: the storefront's i18n module reading the admin catalogs
// /static/i18n/admin.{es,en}.json. The language choice is shared with the
// storefront (localStorage "jkd.lang").

import { lang, useCatalog } from '../../js/i18n.js';

useCatalog('admin');

export { lang, loadMessages, t, translateShell } from '../../js/i18n.js';
export { money } from '../../js/dom.js';

// Formats milliseconds since the Unix epoch as a local date and time.
export function dateTime(ms) {
	return new Intl.DateTimeFormat(lang() === 'en' ? 'en-GB' : 'es-ES',
		{ dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
}
