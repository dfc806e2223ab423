// Home page: the category tree and the newest products.

import { apiGet } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { categoryLinks, productGrid } from '../ui.js';

const FEATURED_COUNT = 8;

export async function renderHome() {
	const [tree, listing] = await Promise.all([
		apiGet('/api/v1/categories'),
		apiGet(`/api/v1/products?sort=newest&in_stock=true&page_size=${FEATURED_COUNT}`),
	]);

	return h('section', { className: 'page', 'data-testid': 'page-home' },
		h('h1', {}, t('home_title')),
		h('p', { className: 'lead' }, t('home_lead')),
		h('h2', {}, t('categories')),
		categoryLinks(tree.categories),
		h('h2', {}, t('featured')),
		productGrid(listing.items, 'featured-products'),
		h('p', {}, h('a', { href: '/catalogo', className: 'button' }, t('see_all'))));
}
