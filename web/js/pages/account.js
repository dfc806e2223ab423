// Register and login pages. The API sets the HttpOnly session cookie and
// merges a guest cart into the account. The page keeps only the CSRF token
// and then loads the "siguiente" path.

import { apiSend, setCsrfToken, siteUrl } from '../api.js';
import { h } from '../dom.js';
import { field, input, onSubmit } from '../forms.js';
import { t } from '../i18n.js';
import { nextPath } from '../session.js';

// A page with one form that posts its inputs to path and logs the shopper in.
function authPage(spec, params) {
	const button = h('button', { type: 'submit', className: 'primary', 'data-testid': spec.submitTestid }, spec.submit);
	const form = h('form', { className: 'form', noValidate: true }, spec.fields, button);
	const query = params.has('siguiente') ? `?siguiente=${encodeURIComponent(params.get('siguiente'))}` : '';

	onSubmit(form, button, async () => {
		const body = {};

		for (const el of form.elements) {
			if (el.dataset.field)
				body[el.dataset.field] = el.value;
		}
		const session = await apiSend('POST', spec.path, body);

		setCsrfToken(session.csrf_token);
		location.assign(siteUrl(nextPath(params)));
	});
	return h('section', { className: 'page narrow', 'data-testid': spec.testid },
		h('h1', {}, spec.title),
		form,
		h('p', {}, spec.switchText, ' ', h('a', { href: spec.switchHref + query }, spec.switchLink)));
}

function emailField(id) {
	return field(t('email'), input(id, { type: 'email', autocomplete: 'email', maxLength: 254, required: true }), 'email');
}

export function renderRegister(params) {
	return authPage({
		testid: 'page-register', title: t('register_title'), path: '/api/v1/auth/register',
		submit: t('register_submit'), submitTestid: 'register-submit',
		switchText: t('have_account'), switchLink: t('login_link'), switchHref: '/entrar',
		fields: [
			field(t('name'), input('register-name', { autocomplete: 'name', maxLength: 100, required: true }), 'name'),
			emailField('register-email'),
			field(t('password'), input('register-password', {
				type: 'password', autocomplete: 'new-password', minLength: 10, maxLength: 128, required: true,
			}), 'password', t('password_rules')),
		],
	}, params);
}

export function renderLogin(params) {
	return authPage({
		testid: 'page-login', title: t('login_title'), path: '/api/v1/auth/login',
		submit: t('login_submit'), submitTestid: 'login-submit',
		switchText: t('no_account'), switchLink: t('register_link'), switchHref: '/registro',
		fields: [
			emailField('login-email'),
			field(t('password'), input('login-password', { type: 'password', autocomplete: 'current-password', required: true }), 'password'),
		],
	}, params);
}
