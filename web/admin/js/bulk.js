// Bulk changes: a price change by percentage and a stock change by units
// for the chosen products (all or nothing, as the API applies them), and
// the catalog as CSV (export download and import).

import { h } from '../../js/dom.js';
import { apiGet, request } from './api.js';
import { t } from './i18n.js';
import { statusLine, table } from './ui.js';
import { loadAllProducts } from './products.js';

const MAX_VARIANTS = 1000;

// The problem's per-variant errors as text, or its detail alone.
function problemText(err) {
	const errors = err.problem && Array.isArray(err.problem.errors) ? err.problem.errors : [];
	const parts = errors.slice(0, 20).map((e) => e.row !== undefined
		? t('csv_error', { row: e.row, column: e.column || '', message: e.message || e.code })
		: `${e.variant_id}: ${e.code}`);

	return [err.message, ...parts].join(' \u00b7 ');
}

function bulkPrice(chosen, status) {
	const percent = h('input', { inputMode: 'decimal', maxLength: 8, size: 6, 'data-testid': 'bulk-percent',
		'aria-label': t('bulk_percent') });
	const compare = h('select', { 'data-testid': 'bulk-compare-at', 'aria-label': t('bulk_compare_at') },
		['keep', 'clear', 'previous'].map((v) => h('option', { value: v }, t(`compare_${v}`))));
	const apply = async () => {
		const ids = chosen();
		const value = Number(percent.value.trim().replace(',', '.'));

		if (ids.length === 0 || !Number.isFinite(value) || value === 0) {
			status.textContent = t('bulk_need_input');
			return;
		}
		try {
			const { body } = await request('POST', '/api/v1/admin/bulk/prices',
				{ body: { percent: value, product_ids: ids, compare_at: compare.value } });

			status.textContent = t('bulk_price_done', { count: body.variants.length });
		} catch (err) {
			status.textContent = problemText(err);
		}
	};

	return h('fieldset', {}, h('legend', {}, t('bulk_price_title')),
		h('label', { className: 'field' }, h('span', {}, t('bulk_percent')), percent),
		h('label', { className: 'field' }, h('span', {}, t('bulk_compare_at')), compare),
		h('button', { type: 'button', 'data-testid': 'bulk-price-apply', onclick: apply }, t('apply')));
}

function bulkStock(chosen, status) {
	const delta = h('input', { inputMode: 'numeric', maxLength: 11, size: 6, 'data-testid': 'bulk-stock-delta',
		'aria-label': t('bulk_stock_delta') });
	const apply = async () => {
		const ids = chosen();
		const units = Number(delta.value.trim());
		const adjustments = [];

		if (ids.length === 0 || !Number.isInteger(units) || units === 0) {
			status.textContent = t('bulk_need_input');
			return;
		}
		try {
			for (const id of ids) {
				const product = await apiGet(`/api/v1/admin/products/${id}`);

				adjustments.push(...product.variants.map((v) => ({ variant_id: v.id, delta: units })));
			}
			if (adjustments.length > MAX_VARIANTS) {
				status.textContent = t('bulk_too_many', { max: MAX_VARIANTS });
				return;
			}
			const { body } = await request('POST', '/api/v1/admin/bulk/stock', { body: { adjustments } });

			status.textContent = t('bulk_stock_done', { count: body.variants.length });
		} catch (err) {
			status.textContent = problemText(err);
		}
	};

	return h('fieldset', {}, h('legend', {}, t('bulk_stock_title')),
		h('label', { className: 'field' }, h('span', {}, t('bulk_stock_delta')), delta),
		h('button', { type: 'button', 'data-testid': 'bulk-stock-apply', onclick: apply }, t('apply')));
}

function csvSection() {
	const status = statusLine('csv-status');
	const file = h('input', { type: 'file', accept: '.csv,text/csv', 'data-testid': 'csv-import-file' });
	const importCsv = async () => {
		const chosen = file.files[0];

		if (!chosen) {
			status.textContent = t('csv_choose');
			return;
		}
		status.textContent = t('csv_importing');
		try {
			const { body } = await request('POST', '/api/v1/admin/import', { body: chosen, type: 'text/csv' });

			status.textContent = Object.entries(body).map(([key, value]) => t('csv_count', { what: t(`csv_${key}`), count: value })).join(', ');
		} catch (err) {
			status.textContent = problemText(err);
		}
	};

	return h('section', {}, h('h2', {}, t('csv_title')),
		h('p', {},
			h('a', { className: 'button', href: '/api/v1/admin/export?dialect=es', download: 'catalogo.csv',
				'data-testid': 'csv-export' }, t('csv_export_es')), ' ',
			h('a', { className: 'button', href: '/api/v1/admin/export?dialect=en', download: 'catalog.csv',
				'data-testid': 'csv-export-en' }, t('csv_export_en'))),
		h('label', { className: 'field' }, h('span', {}, t('csv_file')), file),
		h('button', { type: 'button', 'data-testid': 'csv-import', onclick: importCsv }, t('csv_import')),
		status);
}

export async function renderBulk() {
	const { products } = await loadAllProducts();
	const status = statusLine('bulk-status');
	const boxes = [];
	const chosen = () => boxes.filter((box) => box.checked).map((box) => Number(box.value));
	const all = h('input', { type: 'checkbox', 'data-testid': 'bulk-all', 'aria-label': t('bulk_all') });

	all.addEventListener('change', () => boxes.forEach((box) => { box.checked = all.checked; }));
	return h('section', { className: 'page', 'data-testid': 'admin-bulk' },
		h('h1', {}, t('bulk_title')),
		h('h2', {}, t('bulk_products')),
		h('div', { className: 'bulk-list' }, table([all, t('col_name'), t('col_slug')], products, (p) => {
			const box = h('input', { type: 'checkbox', value: String(p.id), 'data-testid': 'bulk-product',
				'data-id': p.id, 'aria-label': p.name });

			boxes.push(box);
			return h('tr', {}, h('td', {}, box), h('td', {}, p.name), h('td', {}, p.slug));
		})),
		bulkPrice(chosen, status), bulkStock(chosen, status), status,
		csvSection());
}
