// Product page: gallery that follows the chosen colour, talla x colour
// selector, size guide and add to cart. A combination without stock stays
// selectable (greyed) and then shows "agotado" instead of adding.

import { ApiError, apiGet, apiSend } from '../api.js';
import { h, money } from '../dom.js';
import { t } from '../i18n.js';
import { notFound, showCartCount } from '../ui.js';

const QUANTITY_MAX = 99;

const same = (a, b) => String(a).toLocaleLowerCase() === String(b).toLocaleLowerCase();
const unique = (values) => values.filter((v, i) => values.findIndex((w) => same(v, w)) === i);

// Images of color; images without a colour, or all of them, when it has none.
function imagesOf(product, color) {
	const own = product.images.filter((img) => img.color !== null && same(img.color, color));
	const plain = product.images.filter((img) => img.color === null);

	if (own.length)
		return own.concat(plain);
	if (plain.length)
		return plain;
	return product.images;
}

function gallery(product, state) {
	const main = h('img', { className: 'gallery-main', alt: product.name, 'data-testid': 'gallery-image' });
	const thumbs = h('div', { className: 'thumbs' });
	const box = h('div', { className: 'gallery', 'data-testid': 'product-gallery' }, main, thumbs);

	state.showImages = (color) => {
		const images = imagesOf(product, color);

		main.hidden = images.length === 0;
		if (images.length)
			main.src = images[0].url;
		thumbs.replaceChildren(...(images.length > 1 ? images : []).map((img, i) =>
			h('button', { type: 'button', className: 'thumb', 'data-testid': 'gallery-thumb',
				'aria-label': t('image_n', { n: i + 1 }), onclick: () => { main.src = img.url; } },
			h('img', { src: img.url, alt: '', width: 60, height: 75 }))));
	};
	return box;
}

function optionButtons(values, testid, onPick) {
	return values.map((value) => h('button', {
		type: 'button', className: 'option', 'data-testid': testid, 'data-value': value,
		'aria-pressed': 'false', onclick: () => onPick(value),
	}, value));
}

function sizeGuide(guide) {
	if (!guide || !guide.sizes || !guide.sizes.length)
		return null;
	const shoe = guide.sizes[0].foot_length_cm !== undefined;
	const range = (r) => (Array.isArray(r) ? `${r[0]}–${r[1]}` : '');
	const head = shoe ? [t('size'), t('guide_foot')] : [t('size'), t('guide_chest'), t('guide_waist')];
	const rows = guide.sizes.map((row) => h('tr', {},
		h('th', { scope: 'row' }, row.talla),
		shoe ? h('td', {}, String(row.foot_length_cm))
			: [h('td', {}, range(row.chest_cm)), h('td', {}, range(row.waist_cm))]));
	const table = h('table', { id: 'size-guide', className: 'size-guide', hidden: true, 'data-testid': 'size-guide' },
		h('caption', {}, t('guide_caption', { unit: guide.unit || 'cm' })),
		h('thead', {}, h('tr', {}, head.map((text) => h('th', { scope: 'col' }, text)))),
		h('tbody', {}, rows));
	const toggle = h('button', {
		type: 'button', className: 'link', 'aria-expanded': 'false', 'aria-controls': 'size-guide',
		'data-testid': 'size-guide-toggle',
		onclick: () => {
			table.hidden = !table.hidden;
			toggle.setAttribute('aria-expanded', String(!table.hidden));
		},
	}, t('size_guide'));

	return h('div', {}, toggle, table);
}

function buyBox(product, state) {
	const variants = product.variants;
	const colors = unique(variants.map((v) => v.color));
	const tallas = unique(variants.map((v) => v.talla));
	const price = h('p', { className: 'price', 'data-testid': 'product-price' });
	const colorButtons = optionButtons(colors, 'color-option', (c) => { state.color = c; update(); });
	const sizeButtons = optionButtons(tallas, 'size-option', (s) => { state.talla = s; update(); });
	const soldOut = h('p', { className: 'sold-out', 'data-testid': 'out-of-stock', role: 'status' }, t('out_of_stock'));
	const quantity = h('input', { id: 'quantity', type: 'number', min: 1, max: QUANTITY_MAX, value: 1,
		inputMode: 'numeric', 'data-testid': 'quantity-input' });
	const status = h('p', { role: 'status', className: 'status', 'data-testid': 'add-to-cart-status' });
	const add = h('button', { type: 'button', className: 'primary', 'data-testid': 'add-to-cart' }, t('add_to_cart'));
	const soldOutSlot = h('div', {});
	const find = (talla, color) => variants.find((v) => same(v.talla, talla) && same(v.color, color));

	function update() {
		const variant = state.talla && state.color ? find(state.talla, state.color) : null;
		const out = Boolean(state.talla && state.color && !(variant && variant.available));

		colorButtons.forEach((b) => b.setAttribute('aria-pressed', String(same(b.dataset.value, state.color))));
		for (const b of sizeButtons) {
			const v = find(b.dataset.value, state.color);
			const available = Boolean(v && v.available);

			b.setAttribute('aria-pressed', String(same(b.dataset.value, state.talla || '')));
			b.dataset.available = String(available);
			b.classList.toggle('unavailable', !available);
			b.setAttribute('aria-label', available ? b.dataset.value : t('size_unavailable', { size: b.dataset.value }));
		}
		soldOutSlot.replaceChildren(...(out ? [soldOut] : []));
		price.replaceChildren(money(variant ? variant.price : product.price_from, product.currency));
		if (variant && variant.compare_at_price)
			price.append(' ', h('s', {}, money(variant.compare_at_price, product.currency)));
		add.disabled = !variant || out;
		state.variant = out ? null : variant;
		state.showImages(state.color);
	}

	add.addEventListener('click', async () => {
		const count = Math.min(QUANTITY_MAX, Math.max(1, Math.trunc(Number(quantity.value)) || 1));

		add.disabled = true;
		status.textContent = '';
		try {
			const body = await apiSend('POST', '/api/v1/cart/lines', { variant_id: state.variant.id, quantity: count });
			const line = body.cart.lines.find((l) => l.variant_id === state.variant.id);

			showCartCount(body.cart);
			status.textContent = line && line.notice ? line.notice.message : t('added_to_cart');
		} catch (err) {
			status.textContent = err instanceof ApiError ? err.message : t('error_generic');
		}
		add.disabled = false;
	});

	state.color = colors.find((c) => variants.some((v) => same(v.color, c) && v.available)) || colors[0] || '';
	update();
	return h('div', { className: 'buy' },
		price,
		h('fieldset', {}, h('legend', {}, t('color')), h('div', { className: 'options' }, colorButtons)),
		h('fieldset', {}, h('legend', {}, t('size')), h('div', { className: 'options' }, sizeButtons)),
		soldOutSlot,
		sizeGuide(product.size_guide),
		h('div', { className: 'field quantity' }, h('label', { htmlFor: 'quantity' }, t('quantity')), quantity),
		add, status);
}

export async function renderProduct(slug) {
	let product;
	const state = {};

	try {
		product = await apiGet(`/api/v1/products/${encodeURIComponent(slug)}`);
	} catch (err) {
		if (err instanceof ApiError && err.status === 404)
			return notFound();
		throw err;
	}
	const crumbs = product.category ? product.category.path : [];
	const galleryBox = gallery(product, state);

	return h('article', { className: 'page product', 'data-testid': 'page-product' },
		h('nav', { className: 'crumbs', 'aria-label': t('breadcrumbs') },
			h('a', { href: '/catalogo' }, t('catalog_title')),
			crumbs.map((c, i) => [' / ', h('a', { href: `/catalogo?categoria=${encodeURIComponent(i ? c.id : c.slug)}` },
				c.name)])),
		galleryBox,
		h('div', { className: 'details' },
			h('h1', { 'data-testid': 'product-title' }, product.name),
			product.brand ? h('p', { className: 'brand' }, product.brand) : null,
			buyBox(product, state),
			h('p', { className: 'description', 'data-testid': 'product-description' }, product.description),
			product.material ? h('p', {}, h('strong', {}, t('material')), ' ', product.material) : null,
			product.care ? h('p', {}, h('strong', {}, t('care')), ' ', product.care) : null));
}
