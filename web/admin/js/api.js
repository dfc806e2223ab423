// Calls to the admin API of the same origin with the jkd_session cookie.
// Requests that change state carry X-CSRF-Token: login returns it, and it
// is kept in sessionStorage so a reload of the tab keeps working (it is not
// the session token, which stays in the HttpOnly cookie).

import { lang, t } from './i18n.js';

const CSRF_KEY = 'jkd.admin.csrf';
let csrf = '';

try {
	csrf = sessionStorage.getItem(CSRF_KEY) || '';
} catch {
	csrf = '';
}

export function setCsrf(token) {
	csrf = token || '';
	try {
		if (csrf)
			sessionStorage.setItem(CSRF_KEY, csrf);
		else
			sessionStorage.removeItem(CSRF_KEY);
	} catch {
		// Without storage the token lasts until the page is left.
	}
}

// A cookie session without its CSRF token (a new tab) cannot change anything, so the panel logs in again.
export function hasCsrf() {
	return csrf !== '';
}

// A failed call: status, problem code and the whole problem body.
export class ApiError extends Error {
	constructor(status, problem) {
		super(problem && typeof problem.detail === 'string' ? problem.detail : t('error_generic'));
		this.status = status;
		this.problem = problem || {};
		this.code = problem && problem.type ? String(problem.type).replace('/problems/', '') : '';
	}
}

// Sends a request. opts: body (an object, sent as JSON, or a Blob/File/string
// sent as is with opts.type), ifMatch (a version number). Returns
// { body, etag } or throws ApiError.
export async function request(method, path, opts = {}) {
	const headers = { 'Accept': 'application/json', 'Accept-Language': lang() };
	const init = { method, headers, credentials: 'same-origin' };
	let res;

	if (method !== 'GET' && csrf)
		headers['X-CSRF-Token'] = csrf;
	if (opts.ifMatch !== undefined)
		headers['If-Match'] = `"${opts.ifMatch}"`;
	if (opts.type) {
		headers['Content-Type'] = opts.type;
		init.body = opts.body;
	} else if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.body);
	}
	try {
		res = await fetch(path, init);
	} catch {
		throw new ApiError(0, { detail: t('error_network') });
	}
	const json = res.status === 204 ? null : await res.json().catch(() => null);

	if (!res.ok)
		throw new ApiError(res.status, json);
	return { body: json, etag: res.headers.get('ETag') };
}

export const apiGet = async (path) => (await request('GET', path)).body;

// The storefront's helper; its module is plain and shared.
export { withQuery } from '../../js/api.js';
