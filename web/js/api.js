// Calls to the shop API of the same origin. The guest cart travels in the
// jkd_cart cookie and the login in the jkd_session cookie (both HttpOnly),
// which the browser sends by itself. The session's CSRF token is the one
// secret a script holds: it lives in sessionStorage and goes out in
// X-CSRF-Token on every request that changes state.

import { lang, t } from './i18n.js';

const CSRF_KEY = 'jkd.csrf';

export function csrfToken() {
	try {
		return sessionStorage.getItem(CSRF_KEY) || '';
	} catch {
		return '';
	}
}

// Stores the CSRF token of a new session, or removes it when token is empty.
export function setCsrfToken(token) {
	try {
		if (token)
			sessionStorage.setItem(CSRF_KEY, token);
		else
			sessionStorage.removeItem(CSRF_KEY);
	} catch {
		// Storage refused (private browsing): the next page requests it from /api/v1/me again.
	}
}

// A failed call: status and the problem detail (already in the shopper's language).
export class ApiError extends Error {
	constructor(status, problem) {
		super(problem && typeof problem.detail === 'string' ? problem.detail : t('error_generic'));
		this.status = status;
		this.code = problem && problem.type ? String(problem.type).replace('/problems/', '') : '';
		this.field = problem && typeof problem.field === 'string' ? problem.field : '';
	}
}

async function call(method, path, body, extraHeaders) {
	const headers = { 'Accept': 'application/json', 'Accept-Language': lang(), ...extraHeaders };
	const init = { method, headers, credentials: 'same-origin' };
	let res;

	if (method !== 'GET' && csrfToken())
		headers['X-CSRF-Token'] = csrfToken();

	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	try {
		res = await fetch(path, init);
	} catch {
		throw new ApiError(0, { detail: t('error_network') });
	}
	const json = res.status === 204 ? null : await res.json().catch(() => null);

	if (!res.ok)
		throw new ApiError(res.status, json);
	return json;
}

export const apiGet = (path) => call('GET', path);
export const apiSend = (method, path, body, headers) => call(method, path, body, headers);

// Builds "path?a=1&b=2" from the non-empty values of params.
export function withQuery(path, params) {
	const query = new URLSearchParams();

	for (const [name, value] of Object.entries(params)) {
		if (value !== undefined && value !== null && value !== '')
			query.set(name, String(value));
	}
	const text = query.toString();

	return text ? `${path}?${text}` : path;
}
