// Product list: every product, active or not, filtered as the admin types.
// The admin API lists by id without a search, so the page loads the list
// (at most MAX_PAGES pages) and filters by name and slug in the browser.

import { h } from '../../js/dom.js';
import { apiGet, withQuery } from './api.js';
import { dateTime, t } from './i18n.js';
import { table } from './ui.js';

const PAGE_SIZE = 100;
const MAX_PAGES = 50;

// Returns every product summary (up to MAX_PAGES pages) and whether the list was cut.
export async function loadAllProducts() {
	const products = [];
	let after = '';

	for (let page = 0; page < MAX_PAGES; page++) {
		const body = await apiGet(withQuery('/api/v1/admin/products', { limit: PAGE_SIZE, after }));

		products.push(...body.products);
		if (body.next_after === null || body.next_after === undefined)
			return { products, cut: false };
		after = body.next_after;
	}
	return { products, cut: true };
}

// Folds case and accents, so "camison" finds "Camisón".
function fold(text) {
	return String(text).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

function productRow(product) {
	return h('tr', { 'data-testid': 'admin-product-row', 'data-id': product.id, 'data-slug': product.slug },
		h('td', {}, String(product.id)),
		h('td', {}, h('a', { href: `/admin/productos/${product.id}` }, product.name)),
		h('td', {}, product.slug),
		h('td', {}, product.active ? t('yes') : t('no')),
		h('td', {}, product.updated_at ? dateTime(product.updated_at) : ''));
}

export async function renderProducts(params) {
	const { products, cut } = await loadAllProducts();
	const search = h('input', { type: 'search', maxLength: 200, value: params.get('q') || '',
		'data-testid': 'admin-search', placeholder: t('search_placeholder'), 'aria-label': t('search_label') });
	const count = h('p', { 'data-testid': 'admin-product-count' });
	const body = h('div');

	const show = () => {
		const words = fold(search.value).split(/\s+/).filter(Boolean);
		const shown = products.filter((p) => {
			const text = fold(`${p.name} ${p.slug}`);

			return words.every((word) => text.includes(word));
		});
		const query = search.value.trim();

		count.textContent = t('product_count', { count: shown.length, total: products.length });
		body.replaceChildren(table([t('col_id'), t('col_name'), t('col_slug'), t('col_active'), t('col_updated')],
			shown, productRow));
		history.replaceState(null, '', withQuery('/admin/productos', { q: query }));
	};
	search.addEventListener('input', show);
	show();
	return h('section', { className: 'page', 'data-testid': 'page-admin-products' },
		h('div', { className: 'page-head' },
			h('h1', {}, t('products_title')),
			h('a', { className: 'button', href: '/admin/productos/nuevo', 'data-testid': 'admin-new-product' },
				t('new_product'))),
		search, count,
		cut ? h('p', { className: 'notice' }, t('product_list_cut', { count: products.length })) : null,
		body);
}
