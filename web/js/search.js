// Header search box: suggestions from /api/v1/search/suggest as the shopper
// types (a combobox with a listbox), Enter without a choice searches the catalog.

import { apiGet, siteUrl, withQuery } from './api.js';
import { h } from './dom.js';

const DEBOUNCE_MS = 150;

export function setupSearch(form) {
	const input = form.querySelector('[data-testid="search-input"]');
	const list = form.querySelector('[data-testid="search-suggestions"]');
	let timer = 0;
	let pending = null;
	let active = -1;

	const options = () => [...list.querySelectorAll('[role="option"]')];

	function close() {
		list.hidden = true;
		list.replaceChildren();
		input.setAttribute('aria-expanded', 'false');
		input.removeAttribute('aria-activedescendant');
		active = -1;
	}

	function highlight(index) {
		const all = options();

		active = all.length ? (index + all.length) % all.length : -1;
		all.forEach((el, i) => el.setAttribute('aria-selected', String(i === active)));
		if (active >= 0)
			input.setAttribute('aria-activedescendant', all[active].id);
	}

	function show(suggestions) {
		const items = suggestions.map((s, i) => h('li', {
			id: `suggestion-${i}`, role: 'option', 'aria-selected': 'false',
			'data-testid': 'search-suggestion', 'data-slug': s.slug,
			onmousedown: (event) => { event.preventDefault(); open(s.slug); },
		}, s.name));

		if (!items.length)
			return close();
		list.replaceChildren(...items);
		list.hidden = false;
		input.setAttribute('aria-expanded', 'true');
		active = -1;
	}

	function open(slug) {
		location.assign(siteUrl(`/producto/${encodeURIComponent(slug)}`));
	}

	async function suggest() {
		const q = input.value.trim();

		if (pending)
			pending.stale = true;
		if (!q)
			return close();
		const request = { stale: false };

		pending = request;
		try {
			const body = await apiGet(withQuery('/api/v1/search/suggest', { q }));

			if (!request.stale)
				show(body.suggestions || []);
		} catch {
			if (!request.stale)
				close();
		}
	}

	input.value = new URLSearchParams(location.search).get('q') || '';
	input.addEventListener('input', () => {
		clearTimeout(timer);
		timer = setTimeout(suggest, DEBOUNCE_MS);
	});
	input.addEventListener('keydown', (event) => {
		if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
			event.preventDefault();
			highlight(active + (event.key === 'ArrowDown' ? 1 : -1));
		} else if (event.key === 'Escape') {
			close();
		} else if (event.key === 'Enter' && active >= 0) {
			event.preventDefault();
			open(options()[active].dataset.slug);
		}
	});
	input.addEventListener('blur', close);
}
