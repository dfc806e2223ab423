// Product editor: the product's fields, a talla × color matrix of stock and
// price, and its images. Saving never overwrites someone else's change. The
// product PUT carries If-Match, each price PATCH the variant's If-Match, and
// each stock change the stock last seen. On 412 (or 409 stock_changed) the
// page fetches the product as saved now and lists what differs, field by
// field, instead of writing.

import { h } from '../../js/dom.js';
import { ApiError, apiGet, request } from './api.js';
import { money, t } from './i18n.js';
import { centsToInput, errorBox, parseEuros, statusLine } from './ui.js';
import { imageSection } from './images.js';

const GENDERS = ['mujer', 'hombre', 'ninos', 'unisex'];
const TYPES = ['ropa', 'calzado', 'accesorios'];
const TEXT_FIELDS = [
	['name', 'product-name', 200], ['slug', 'product-slug', 96], ['brand', 'product-brand', 100],
	['material', 'product-material', 200],
];

// A conflict found while saving: the product as saved now.
class Conflict extends Error {
	constructor(current) {
		super('conflict');
		this.current = current;
	}
}

const cellKey = (talla, color) => `${talla}\u0000${color}`;

function unique(values) {
	return [...new Set(values)];
}

// "camiseta-basica", "M", "Azul marino" -> "CAMISETA-BASICA-M-AZUL-MARINO" (at most 64 characters).
function makeSku(slug, talla, color) {
	return `${slug}-${talla}-${color}`.normalize('NFD').replace(/\p{M}/gu, '')
		.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/-+/g, '-').toUpperCase().slice(0, 64);
}

// Options of the category <select>: the tree flattened with indented names.
function categoryOptions(nodes, depth, out) {
	for (const node of nodes) {
		out.push({ id: node.id, name: `${'\u2014 '.repeat(depth)}${node.name}` });
		categoryOptions(node.children || [], depth + 1, out);
	}
	return out;
}

// The product fields as the API takes them, from a ProductAdmin.
function productFields(product) {
	return {
		slug: product.slug, name: product.name, description: product.description || '',
		brand: product.brand || '', gender: product.gender, type: product.type,
		material: product.material || '', care: product.care || '', tags: product.tags || [],
		active: Boolean(product.active), category_id: product.category_id || 0,
	};
}

// Stock and price of every variant of a product, by talla and color.
function variantCells(product) {
	const cells = new Map();

	for (const v of product ? product.variants : [])
		cells.set(cellKey(v.talla, v.color), { stock: v.stock, price: v.price, variant: v });
	return cells;
}

// A stock or a price (in cents) as the conflict table shows it.
function cellText(what, value) {
	return what === 'price' ? money(value) : String(value);
}

// The text a matrix input starts with: what was typed before a redraw, else
// the edit carried over from a conflict, else the stored value.
function startValue(typed, edited, stored, format) {
	if (typed !== undefined)
		return typed;
	if (edited !== undefined)
		return format(edited);
	if (stored !== undefined)
		return format(stored);
	return '';
}

function same(a, b) {
	return JSON.stringify(a) === JSON.stringify(b);
}

function showValue(field, value) {
	if (field === 'active')
		return value ? t('yes') : t('no');
	if (Array.isArray(value))
		return value.join(', ');
	return value === undefined || value === null || value === '' ? '\u2014' : String(value);
}

// Rows of the conflict table: [what, when opened, saved now, your edit].
function conflictRows(base, current, edits) {
	const rows = [];
	const was = productFields(base);
	const now = productFields(current);
	const cellsWas = variantCells(base);
	const cellsNow = variantCells(current);

	for (const field of Object.keys(now)) {
		if (!same(was[field], now[field]))
			rows.push([t(`field_${field}`), showValue(field, was[field]), showValue(field, now[field]),
				field in edits.fields ? showValue(field, edits.fields[field]) : '']);
	}
	for (const key of unique([...cellsWas.keys(), ...cellsNow.keys()])) {
		const [talla, color] = key.split('\u0000');
		const a = cellsWas.get(key);
		const b = cellsNow.get(key);
		const mine = edits.cells.get(key) || {};

		for (const what of ['stock', 'price']) {
			const show = (cell) => (cell ? cellText(what, cell[what]) : t('no_variant'));

			if (!a || !b || a[what] !== b[what]) {
				rows.push([t(`cell_${what}`, { talla, color }), show(a), show(b),
					mine[what] === undefined ? '' : cellText(what, mine[what])]);
			}
		}
	}
	return rows;
}

// Builds the editor for base (a ProductAdmin, or null for a new product),
// with edits (fields and cells changed by hand) applied over it.
function editor(base, categories, edits, conflictWith) {
	const cells = variantCells(base);
	const fields = base ? productFields(base) : { gender: 'unisex', type: 'ropa', active: false, category_id: 0, tags: [] };
	const inputs = {};
	const status = statusLine('save-status');
	const matrixBox = h('div', { className: 'matrix-box' });
	const tallas = unique([...(base ? base.variants.map((v) => v.talla) : []), ...edits.tallas]);
	const colors = unique([...(base ? base.variants.map((v) => v.color) : []), ...edits.colors]);
	const cellInputs = new Map();
	const section = h('section', { className: 'page', 'data-testid': 'page-admin-product-edit' });

	Object.assign(fields, edits.fields);

	// ---- Form fields ----
	for (const [name, testid, max] of TEXT_FIELDS)
		inputs[name] = h('input', { name, maxLength: max, value: fields[name] || '', 'data-testid': testid, required: name === 'name' || name === 'slug' });
	inputs.description = h('textarea', { name: 'description', maxLength: 10000, rows: 4, 'data-testid': 'product-description' });
	inputs.description.value = fields.description || '';
	inputs.care = h('textarea', { name: 'care', maxLength: 500, rows: 2, 'data-testid': 'product-care' });
	inputs.care.value = fields.care || '';
	inputs.tags = h('input', { name: 'tags', value: (fields.tags || []).join(', '), 'data-testid': 'product-tags' });
	inputs.gender = h('select', { name: 'gender', 'data-testid': 'product-gender' },
		GENDERS.map((g) => h('option', { value: g }, t(`gender_${g}`))));
	inputs.gender.value = fields.gender;
	inputs.type = h('select', { name: 'type', 'data-testid': 'product-type' },
		TYPES.map((v) => h('option', { value: v }, t(`type_${v}`))));
	inputs.type.value = fields.type;
	inputs.category_id = h('select', { name: 'category_id', 'data-testid': 'product-category' },
		h('option', { value: '0' }, t('no_category')),
		categoryOptions(categories, 0, []).map((c) => h('option', { value: String(c.id) }, c.name)));
	inputs.category_id.value = String(fields.category_id || 0);
	inputs.active = h('input', { type: 'checkbox', name: 'active', checked: Boolean(fields.active), 'data-testid': 'product-active' });
	const defaultPrice = h('input', { name: 'price', inputMode: 'decimal', maxLength: 12, 'data-testid': 'product-price',
		value: edits.defaultPrice || '' });

	const readFields = () => ({
		slug: inputs.slug.value.trim(), name: inputs.name.value.trim(), description: inputs.description.value,
		brand: inputs.brand.value.trim(), gender: inputs.gender.value, type: inputs.type.value,
		material: inputs.material.value.trim(), care: inputs.care.value,
		tags: inputs.tags.value.split(',').map((tag) => tag.trim()).filter(Boolean),
		active: inputs.active.checked, category_id: Number(inputs.category_id.value),
	});

	// ---- Matrix ----
	const cellInput = (key, what, value) => {
		const [talla, color] = key.split('\u0000');
		const input = h('input', {
			inputMode: what === 'stock' ? 'numeric' : 'decimal', maxLength: 12, size: 6, value,
			'data-testid': `matrix-cell-${what}`, 'data-talla': talla, 'data-color': color,
			'aria-label': t(`cell_${what}`, { talla, color }),
		});

		return input;
	};
	const drawMatrix = () => {
		const oldValues = new Map([...cellInputs].map(([key, pair]) => [key, { stock: pair.stock.value, price: pair.price.value }]));

		cellInputs.clear();
		if (tallas.length === 0 || colors.length === 0) {
			matrixBox.replaceChildren(h('p', {}, t('matrix_empty')));
			return;
		}
		const head = h('tr', {}, h('th', { scope: 'col' }, t('talla_color')), colors.map((c) => h('th', { scope: 'col' }, c)));
		const rows = tallas.map((talla) => h('tr', {}, h('th', { scope: 'row' }, talla), colors.map((color) => {
			const key = cellKey(talla, color);
			const cell = cells.get(key);
			const typed = oldValues.get(key);
			const mine = edits.cells.get(key) || {};
			const stock = cellInput(key, 'stock',
				startValue(typed && typed.stock, mine.stock, cell && cell.stock, String));
			const price = cellInput(key, 'price',
				startValue(typed && typed.price, mine.price, cell && cell.price, centsToInput));

			cellInputs.set(key, { stock, price });
			return h('td', { className: cell ? 'cell' : 'cell new' },
				h('label', {}, h('span', {}, t('stock_short')), stock),
				h('label', {}, h('span', {}, t('price_short')), price));
		})));

		matrixBox.replaceChildren(h('table', { className: 'matrix', 'data-testid': 'variant-matrix' },
			h('thead', {}, head), h('tbody', {}, rows)));
	};
	const newSize = h('input', { maxLength: 8, size: 6, 'data-testid': 'new-size-input', 'aria-label': t('new_size'), placeholder: t('new_size') });
	const newColor = h('input', { maxLength: 16, size: 10, 'data-testid': 'new-color-input', 'aria-label': t('new_color'), placeholder: t('new_color') });
	const addTo = (list, input) => {
		const value = input.value.trim();

		if (value && !list.some((v) => v.toLowerCase() === value.toLowerCase()))
			list.push(value);
		input.value = '';
		drawMatrix();
		imageColors();
	};

	// Reads the matrix: the cells whose stock or price differ from the base; throws on bad numbers.
	const readCells = () => {
		const changed = new Map();

		for (const [key, pair] of cellInputs) {
			const cell = cells.get(key);
			const stockText = pair.stock.value.trim();
			const stock = stockText === '' ? null : Number(stockText);
			const price = parseEuros(pair.price.value);
			const change = {};

			if (stock !== null && !(Number.isInteger(stock) && stock >= 0 && stock <= 1000000000))
				throw new Error(t('bad_stock', { talla: pair.stock.dataset.talla, color: pair.stock.dataset.color }));
			if (Number.isNaN(price) || price === 0)
				throw new Error(t('bad_price', { talla: pair.stock.dataset.talla, color: pair.stock.dataset.color }));
			if (stock !== null && (!cell || stock !== cell.stock))
				change.stock = stock;
			if (price !== null && (!cell || price !== cell.price))
				change.price = price;
			if (Object.keys(change).length > 0)
				changed.set(key, change);
		}
		return changed;
	};

	// What was changed by hand, to carry over when the editor is rebuilt on another base.
	const collectEdits = () => {
		const now = readFields();
		const was = base ? productFields(base) : {};
		const changedFields = {};

		for (const [field, value] of Object.entries(now)) {
			if (!same(was[field], value))
				changedFields[field] = value;
		}
		return { fields: changedFields, cells: readCells(), tallas, colors, defaultPrice: defaultPrice.value };
	};

	// ---- Saving ----
	// The variants to create for the new cells, checked before anything is written.
	const newVariants = (slug, changed) => {
		const fallback = parseEuros(defaultPrice.value);
		const list = [];

		for (const [key, change] of changed) {
			if (cells.has(key))
				continue;
			const [talla, color] = key.split('\u0000');
			const price = change.price !== undefined ? change.price : fallback;

			if (price === null || Number.isNaN(price) || price === 0)
				throw new Error(t('price_needed', { talla, color }));
			list.push({ sku: makeSku(slug, talla, color), talla, color, price, stock: change.stock || 0 });
		}
		return list;
	};
	const createVariants = async (productId, list) => {
		for (const variant of list)
			await request('POST', `/api/v1/admin/products/${productId}/variants`, { body: variant });
	};
	const saveVariants = async (changed) => {
		for (const [key, change] of changed) {
			const cell = cells.get(key);

			if (!cell)
				continue;
			try {
				if (change.price !== undefined)
					await request('PATCH', `/api/v1/admin/variants/${cell.variant.id}`,
						{ body: { price: change.price }, ifMatch: cell.variant.version });
				if (change.stock !== undefined)
					await request('POST', `/api/v1/admin/variants/${cell.variant.id}/stock`,
						{ body: { set: change.stock, expected: cell.stock } });
			} catch (err) {
				if (err.status === 412 || err.code === 'stock_changed')
					throw new Conflict(await fetchProduct(base.id));
				throw err;
			}
		}
	};
	const save = async () => {
		const values = readFields();
		const changed = readCells();
		const created = newVariants(values.slug, changed);

		if (!base) {
			const { body } = await request('POST', '/api/v1/admin/products', { body: values });

			await createVariants(body.id, created);
			return body.id;
		}
		// Nothing is written when the product changed since it was opened.
		const current = await fetchProduct(base.id);

		if (current.version !== base.version)
			throw new Conflict(current);
		if (!same(values, productFields(base))) {
			try {
				await request('PUT', `/api/v1/admin/products/${base.id}`, { body: values, ifMatch: base.version });
			} catch (err) {
				if (err.status === 412)
					throw new Conflict(await fetchProduct(base.id));
				throw err;
			}
		}
		await saveVariants(changed);
		await createVariants(base.id, created);
		return base.id;
	};
	const rebuild = (product, newEdits, conflict) => {
		section.replaceWith(editor(product, categories, newEdits, conflict));
	};
	const onSave = async (ev) => {
		ev.preventDefault();
		status.textContent = t('saving');
		try {
			const id = await save();

			if (!base)
				history.replaceState(null, '', `/admin/productos/${id}`);
			rebuild(await fetchProduct(id), emptyEdits(), null);
		} catch (err) {
			if (err instanceof Conflict) {
				status.textContent = '';
				rebuild(base, collectEditsSafe(), err.current);
			} else {
				status.textContent = err.message;
			}
		}
	};
	const collectEditsSafe = () => {
		try {
			return collectEdits();
		} catch {
			return { ...emptyEdits(), fields: {} };
		}
	};

	// ---- Conflict notice ----
	const conflictNotice = () => {
		if (!conflictWith)
			return null;
		const rows = conflictRows(base, conflictWith, edits);

		return h('div', { className: 'conflict', role: 'alert', 'data-testid': 'conflict-notice' },
			h('h2', {}, t('conflict_title')),
			h('p', {}, t('conflict_text', { version: conflictWith.version })),
			rows.length === 0 ? h('p', {}, t('conflict_no_diff')) : h('table', { className: 'admin-table' },
				h('thead', {}, h('tr', {}, [t('col_what'), t('col_opened'), t('col_saved_now'), t('col_yours')]
					.map((title) => h('th', { scope: 'col' }, title)))),
				h('tbody', {}, rows.map((row) => h('tr', { 'data-testid': 'conflict-row' },
					row.map((text) => h('td', {}, text)))))),
			h('div', { className: 'actions' },
				h('button', { type: 'button', 'data-testid': 'conflict-reload',
					onclick: () => rebuild(conflictWith, emptyEdits(), null) }, t('conflict_reload')),
				h('button', { type: 'button', 'data-testid': 'conflict-keep',
					onclick: () => rebuild(conflictWith, collectEditsSafe(), null) }, t('conflict_keep'))));
	};

	// ---- Images ----
	const imageColor = h('select', { 'data-testid': 'image-color', 'aria-label': t('image_color') });
	const imageColors = () => {
		const chosen = imageColor.value;

		imageColor.replaceChildren(h('option', { value: '' }, t('image_no_color')),
			...colors.map((c) => h('option', { value: c }, c)));
		imageColor.value = colors.includes(chosen) ? chosen : '';
	};

	drawMatrix();
	imageColors();
	const label = (key, input) => h('label', { className: 'field' }, h('span', {}, t(`field_${key}`)), input);

	// DOM append() would show a null child as the text "null", so absent parts are dropped first.
	section.append(...[
		h('p', {}, h('a', { href: '/admin/productos' }, t('back_products'))),
		h('h1', {}, base ? t('edit_product', { name: base.name }) : t('new_product')),
		base ? h('p', { className: 'muted', 'data-testid': 'product-version' }, t('version', { version: base.version })) : null,
		conflictNotice(),
		h('form', { className: 'product-form', onsubmit: onSave, novalidate: true },
			h('div', { className: 'grid' },
				label('name', inputs.name), label('slug', inputs.slug), label('brand', inputs.brand),
				label('gender', inputs.gender), label('type', inputs.type), label('category_id', inputs.category_id),
				label('material', inputs.material), label('tags', inputs.tags),
				label('price', defaultPrice),
				h('label', { className: 'field check' }, inputs.active, h('span', {}, t('field_active')))),
			label('description', inputs.description), label('care', inputs.care),
			h('h2', {}, t('matrix_title')),
			h('p', { className: 'muted' }, t('matrix_help')),
			h('div', { className: 'matrix-add' },
				newSize, h('button', { type: 'button', 'data-testid': 'add-size', onclick: () => addTo(tallas, newSize) }, t('add_size')),
				newColor, h('button', { type: 'button', 'data-testid': 'add-color', onclick: () => addTo(colors, newColor) }, t('add_color'))),
			matrixBox,
			h('button', { type: 'submit', className: 'primary', 'data-testid': 'save-product' }, t('save')),
			status),
		base ? imageSection(base, imageColor) : h('p', { className: 'muted' }, t('images_after_create')),
	].filter(Boolean));
	return section;
}

function emptyEdits() {
	return { fields: {}, cells: new Map(), tallas: [], colors: [], defaultPrice: '' };
}

async function fetchProduct(id) {
	return apiGet(`/api/v1/admin/products/${id}`);
}

export async function renderProductEdit(id) {
	const [tree, product] = await Promise.all([
		apiGet('/api/v1/categories'),
		id === null ? null : fetchProduct(id).catch((err) => {
			if (err instanceof ApiError && err.status === 404)
				return undefined;
			throw err;
		}),
	]);

	if (product === undefined)
		return h('section', { className: 'page', 'data-testid': 'page-not-found' }, errorBox(t('product_not_found')));
	return editor(product, tree.categories || [], emptyEdits(), null);
}
