// Calls to the shop API of the same origin. The guest cart travels in the
// jkd_cart cookie (HttpOnly), which the browser sends by itself.

import { lang, t } from './i18n.js';

// A failed call: status and the problem detail (already in the shopper's language).
export class ApiError extends Error {
	constructor(status, problem) {
		super(problem && typeof problem.detail === 'string' ? problem.detail : t('error_generic'));
		this.status = status;
		this.code = problem && problem.type ? String(problem.type).replace('/problems/', '') : '';
	}
}

async function call(method, path, body) {
	const headers = { 'Accept': 'application/json', 'Accept-Language': lang() };
	const init = { method, headers, credentials: 'same-origin' };
	let res;

	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	try {
		res = await fetch(path, init);
	} catch {
		throw new ApiError(0, { detail: t('error_network') });
	}
	const json = await res.json().catch(() => null);

	if (!res.ok)
		throw new ApiError(res.status, json);
	return json;
}

export const apiGet = (path) => call('GET', path);
export const apiSend = (method, path, body) => call(method, path, body);

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
