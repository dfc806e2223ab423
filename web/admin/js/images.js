// Images of a product: the current ones with a delete button, and an upload
// by drag and drop onto a zone (or a file input) tied to the colour chosen
// in colorSelect. The body of an upload is the file itself.

import { h } from '../../js/dom.js';
import { apiGet, request, withQuery } from './api.js';
import { t } from './i18n.js';
import { statusLine } from './ui.js';

const TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const MAX_BYTES = 5 * 1024 * 1024;

export function imageSection(product, colorSelect) {
	const list = h('ul', { className: 'image-list', 'data-testid': 'image-list' });
	const status = statusLine('image-status');
	const file = h('input', { type: 'file', accept: TYPES.join(','), multiple: true, 'data-testid': 'image-file' });
	const zone = h('div', { className: 'drop', tabIndex: 0, role: 'button', 'data-testid': 'image-drop',
		'aria-label': t('image_drop') }, t('image_drop'));

	const draw = (images) => {
		list.replaceChildren(...images.map((image) => h('li', { 'data-testid': 'image-item', 'data-id': image.id },
			h('img', { src: image.url, alt: '', width: 96, height: 96, loading: 'lazy' }),
			h('span', { 'data-testid': 'image-item-color' }, image.color || t('image_no_color')),
			h('button', { type: 'button', 'data-testid': 'image-delete', onclick: () => remove(image) }, t('delete')))));
	};
	const refresh = async () => {
		draw((await apiGet(`/api/v1/admin/products/${product.id}`)).images || []);
	};
	const remove = async (image) => {
		try {
			await request('DELETE', `/api/v1/admin/images/${image.id}`);
			await refresh();
			status.textContent = t('image_deleted');
		} catch (err) {
			status.textContent = err.message;
		}
	};
	const upload = async (files) => {
		let done = 0;

		for (const one of files) {
			if (!TYPES.includes(one.type) || one.size > MAX_BYTES) {
				status.textContent = t('image_bad_file', { name: one.name });
				continue;
			}
			try {
				await request('POST', withQuery(`/api/v1/admin/products/${product.id}/images`, { color: colorSelect.value }),
					{ body: one, type: one.type });
				done++;
			} catch (err) {
				status.textContent = `${one.name}: ${err.message}`;
			}
		}
		if (done > 0) {
			await refresh();
			status.textContent = t('image_uploaded', { count: done });
		}
	};

	zone.addEventListener('dragover', (ev) => {
		ev.preventDefault();
		zone.classList.add('over');
	});
	zone.addEventListener('dragleave', () => zone.classList.remove('over'));
	zone.addEventListener('drop', (ev) => {
		ev.preventDefault();
		zone.classList.remove('over');
		upload([...ev.dataTransfer.files]);
	});
	zone.addEventListener('click', () => file.click());
	zone.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter' || ev.key === ' ') {
			ev.preventDefault();
			file.click();
		}
	});
	file.addEventListener('change', () => {
		upload([...file.files]);
		file.value = '';
	});
	draw(product.images || []);
	return h('section', { className: 'images' },
		h('h2', {}, t('images_title')),
		list,
		h('label', { className: 'field' }, h('span', {}, t('image_color')), colorSelect),
		zone,
		h('label', { className: 'field' }, h('span', {}, t('image_file')), file),
		status);
}
