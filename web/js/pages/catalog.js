// Catalog page: filters, sorting and pagination over GET /api/v1/products.
// The filter form is a plain GET form to /catalogo, so its field names are
// the Spanish URL parameters, translated here into the API's.

import { apiGet, withQuery } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { categoryLinks, categoryValue, errorBox, productGrid } from '../ui.js';

const PAGE_SIZE = 24;
const GENDERS = ['mujer', 'hombre', 'ninos', 'unisex'];
const SORTS = { relevancia: 'relevance', novedades: 'newest', precio_asc: 'price_asc',
	precio_desc: 'price_desc', nombre: 'name' };
// Listing cards read to offer the talla and colour choices.
const OPTIONS_SAMPLE = 100;
const SIZE_ORDER = ['XXS', 'XS', 'S', 'M', 'L', 'XL', 'XXL', 'XXXL'];

function sizeRank(size) {
	const letter = SIZE_ORDER.indexOf(size);

	if (letter >= 0)
		return letter;
	return Number.isFinite(Number(size)) ? 100 + Number(size) : 1000;
}

function euroToCents(text) {
	const value = Number(String(text).replace(',', '.'));

	return text !== '' && Number.isFinite(value) && value >= 0 ? Math.round(value * 100) : '';
}

function apiQuery(params) {
	return withQuery('/api/v1/products', {
		category: params.get('categoria'),
		gender: params.get('genero'),
		talla: params.get('talla'),
		color: params.get('color'),
		price_min: euroToCents(params.get('precio_min') || ''),
		price_max: euroToCents(params.get('precio_max') || ''),
		q: params.get('q'),
		sort: SORTS[params.get('orden')],
		page: params.get('pagina'),
		page_size: PAGE_SIZE,
	});
}

// NOTE: the API has no facet counts, so the talla and colour choices come
// from the first OPTIONS_SAMPLE products; rarer values may be missing.
async function filterChoices() {
	const sample = await apiGet(`/api/v1/products?sort=name&page_size=${OPTIONS_SAMPLE}`);
	const tallas = new Set();
	const colors = new Set();

	for (const card of sample.items) {
		card.tallas.forEach((x) => tallas.add(x));
		card.colors.forEach((x) => colors.add(x));
	}
	return {
		tallas: [...tallas].sort((a, b) => sizeRank(a) - sizeRank(b) || a.localeCompare(b)),
		colors: [...colors].sort((a, b) => a.localeCompare(b)),
	};
}

function select(name, testid, label, choices, current) {
	const id = `filter-${name}`;
	const values = choices.map(([value]) => value);
	const options = [['', t('filter_all')], ...choices];

	if (current && !values.includes(current))
		options.push([current, current]);
	return h('div', { className: 'field' },
		h('label', { htmlFor: id }, label),
		h('select', { id, name, 'data-testid': testid },
			options.map(([value, text]) => h('option', { value, selected: value === (current || '') }, text))));
}

function priceInput(name, testid, label, current) {
	return h('div', { className: 'field' },
		h('label', { htmlFor: `filter-${name}` }, label),
		h('input', { id: `filter-${name}`, name, type: 'number', min: 0, step: '0.01', inputMode: 'decimal',
			value: current || '', 'data-testid': testid }));
}

function flattenCategories(nodes, depth = 0, out = []) {
	for (const node of nodes || []) {
		out.push([categoryValue(node, depth), `${'\u2014 '.repeat(depth)}${node.name}`]);
		flattenCategories(node.children, depth + 1, out);
	}
	return out;
}

function filterForm(params, tree, choices) {
	const form = h('form', { className: 'filters', method: 'get', action: '/catalogo' },
		params.get('q') ? h('input', { type: 'hidden', name: 'q', value: params.get('q') }) : null,
		select('categoria', 'filter-categoria', t('filter_category'), flattenCategories(tree.categories),
			params.get('categoria')),
		select('genero', 'filter-genero', t('filter_gender'), GENDERS.map((g) => [g, t(`gender_${g}`)]),
			params.get('genero')),
		select('talla', 'filter-talla', t('filter_size'), choices.tallas.map((x) => [x, x]), params.get('talla')),
		select('color', 'filter-color', t('filter_color'), choices.colors.map((x) => [x, x]), params.get('color')),
		priceInput('precio_min', 'filter-precio-min', t('filter_price_min'), params.get('precio_min')),
		priceInput('precio_max', 'filter-precio-max', t('filter_price_max'), params.get('precio_max')),
		select('orden', 'sort-select', t('sort_label'), Object.keys(SORTS).map((s) => [s, t(`sort_${s}`)]),
			params.get('orden')),
		h('button', { type: 'submit', 'data-testid': 'filter-apply' }, t('filter_apply')));

	// Choosing a filter or an order applies it at once; the button serves keyboard users too.
	form.addEventListener('change', (event) => {
		if (event.target.tagName === 'SELECT')
			form.requestSubmit();
	});
	// Empty fields stay out of the URL.
	form.addEventListener('formdata', (event) => {
		for (const [name, value] of [...event.formData.entries()]) {
			if (value === '')
				event.formData.delete(name);
		}
	});
	return form;
}

function pageLink(params, page, testid, text, rel) {
	const next = new URLSearchParams(params);

	next.set('pagina', String(page));
	return h('a', { href: `/catalogo?${next}`, 'data-testid': testid, rel, className: 'button' }, text);
}

function pagination(params, listing) {
	return h('nav', { className: 'pagination', 'aria-label': t('pagination') },
		listing.page > 1 ? pageLink(params, listing.page - 1, 'pagination-prev', t('page_prev'), 'prev') : null,
		h('span', { 'data-testid': 'pagination-current', 'aria-current': 'page' },
			t('page_of', { page: listing.page, pages: Math.max(listing.pages, 1) })),
		listing.page < listing.pages ? pageLink(params, listing.page + 1, 'pagination-next', t('page_next'), 'next')
			: null);
}

async function results(params) {
	try {
		const listing = await apiGet(apiQuery(params));

		if (!listing.items.length)
			return [h('p', { 'data-testid': 'catalog-empty' }, t('catalog_empty'))];
		return [
			h('p', { 'data-testid': 'result-count', role: 'status' }, t('result_count', { count: listing.total })),
			productGrid(listing.items, 'catalog-grid'),
			pagination(params, listing),
		];
	} catch (err) {
		return [errorBox(err.message)];
	}
}

export async function renderCatalog(params) {
	const [tree, choices, found] = await Promise.all([apiGet('/api/v1/categories'), filterChoices(), results(params)]);
	const q = params.get('q');

	return h('section', { className: 'page catalog', 'data-testid': 'page-catalog' },
		h('h1', {}, q ? t('search_results', { q }) : t('catalog_title')),
		h('details', { className: 'category-menu' },
			h('summary', {}, t('categories')), categoryLinks(tree.categories)),
		filterForm(params, tree, choices),
		h('div', { className: 'results' }, found));
}
