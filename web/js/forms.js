// Form pieces shared by the account and checkout pages: a labelled input
// with its own error line, and the display of an API problem on a form
// (the problem's "field" picks the input that gets the message and focus).

import { h } from './dom.js';
import { t } from './i18n.js';

// A label, the control and an empty error line tied to it by aria-describedby.
// field is the API name of the value (such as "shipping_address.city").
export function field(label, control, field, hint) {
	const errorId = `${control.id}-error`;
	const hintId = hint ? `${control.id}-hint` : '';

	control.dataset.field = field;
	control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
	return h('div', { className: 'field' },
		h('label', { htmlFor: control.id }, label),
		control,
		hint ? h('p', { id: hintId, className: 'muted hint' }, hint) : null,
		h('p', { id: errorId, className: 'error field-error', 'data-testid': 'field-error', 'data-field': field, hidden: true }));
}

// A text-like input: id doubles as its data-testid.
export function input(id, attrs) {
	return h('input', { id, name: id, 'data-testid': id, ...attrs });
}

export function clearProblem(form) {
	form.querySelector('[data-testid="form-error"]')?.remove();
	for (const el of form.querySelectorAll('[data-testid="field-error"]')) {
		el.hidden = true;
		el.textContent = '';
	}
	for (const el of form.querySelectorAll('[aria-invalid]'))
		el.removeAttribute('aria-invalid');
}

// Shows err (an ApiError) at the top of form and under the input it names,
// then moves focus there so a keyboard user lands on what to fix.
export function showProblem(form, err) {
	const alert = h('p', { className: 'error', role: 'alert', 'data-testid': 'form-error' },
		err.message || t('error_generic'));
	const control = err.field ? [...form.elements].find((el) => el.dataset.field === err.field) : null;

	clearProblem(form);
	form.prepend(alert);
	if (!control) {
		alert.tabIndex = -1;
		alert.focus();
		return;
	}
	const line = form.querySelector(`#${control.id}-error`);

	line.textContent = err.message;
	line.hidden = false;
	control.setAttribute('aria-invalid', 'true');
	control.focus();
}

// Runs send(form) on submit with the button disabled, and shows a failure on the form.
export function onSubmit(form, button, send) {
	form.addEventListener('submit', async (event) => {
		event.preventDefault();
		clearProblem(form);
		button.disabled = true;
		try {
			await send(form);
		} catch (err) {
			showProblem(form, err);
		} finally {
			button.disabled = false;
		}
	});
}
