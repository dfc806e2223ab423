// DOM helpers. Text from the API only ever reaches the page as text nodes
// (textContent), never as markup, so product data cannot inject HTML.

import { lang } from './i18n.js';

// Creates an element. attrs: properties such as className, or "data-*",
// "aria-*" and other attributes; children: nodes or strings (as text).
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);

	for (const [name, value] of Object.entries(attrs || {})) {
		if (value === undefined || value === null || value === false)
			continue;
		if (name.startsWith('on'))
			el.addEventListener(name.slice(2), value);
		else if (name in el && !name.includes('-'))
			el[name] = value;
		else
			el.setAttribute(name, value === true ? '' : String(value));
	}
	for (const child of children.flat(Infinity)) {
		if (child === undefined || child === null || child === false)
			continue;
		el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
	}
	return el;
}

// Formats cents of currency for the chosen language.
export function money(cents, currency) {
	if (cents === null || cents === undefined)
		return '';
	const locale = lang() === 'en' ? 'en-IE' : 'es-ES';

	return new Intl.NumberFormat(locale, { style: 'currency', currency: currency || 'EUR' })
		.format(cents / 100);
}

// Collects what the shopper typed into the controls of root that have an
// id, so a redraw of the page (a language switch) can put it back.
// Passwords and files are left out because those are typed again.
export function typedValues(root) {
	const saved = new Map();

	for (const el of root.querySelectorAll('input[id], select[id], textarea[id]')) {
		if (el.type === 'password' || el.type === 'file')
			continue;
		saved.set(el.id, el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value);
	}
	return saved;
}

// Puts values saved by typedValues() back into the controls of root with the same ids.
export function putValues(root, saved) {
	for (const [id, value] of saved) {
		const el = root.querySelector(`#${CSS.escape(id)}`);

		if (!el)
			continue;
		if (typeof value === 'boolean')
			el.checked = value;
		else
			el.value = value;
	}
}
