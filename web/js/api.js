// Calls to the shop API. The guest cart travels in the jkd_cart cookie and
// the login in the jkd_session cookie (both HttpOnly), which the browser
// sends by itself. The session's CSRF token is the one secret a script
// holds: it lives in sessionStorage and goes out in X-CSRF-Token on every
// request that changes state.
//
// Failover: every node serves the whole shop, and GET /api/v1/nodes lists
// the cluster's origins. When a call cannot reach its node, or the node
// responds that it cannot serve (503 without a majority, or a gateway
// error), the call is sent to the next node, which then serves the rest of
// the visit. A write that a node may have applied before failing (503
// write_timeout) is only resent when it carries an Idempotency-Key, so a
// checkout never makes two orders.

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

const BASE_KEY = 'jkd.base';
const NODES_KEY = 'jkd.nodes';
const RETRY_CODES = new Set(['no_quorum', 'not_caught_up', 'unavailable']);
// While the cluster elects a new leader every node may respond with 503 for about
// a second, so the nodes are tried again after a pause, a few times.
const RETRY_ROUNDS = 4;
const RETRY_PAUSE_MS = 1000;
let nodesLoading = null;

function stored(key) {
	try {
		return sessionStorage.getItem(key);
	} catch {
		return null;
	}
}

function store(key, value) {
	try {
		sessionStorage.setItem(key, value);
	} catch {
		// Storage refused: failover then starts again from this page's node.
	}
}

// The origin that serves API calls: '' (this page's own) until a failover.
function base() {
	return stored(BASE_KEY) || '';
}

// Turns a path of this site into a URL on the node that now serves the visit.
export function siteUrl(path) {
	return base() + path;
}

// The cluster's origins, learnt once per visit from the page's own node.
async function nodes() {
	const known = stored(NODES_KEY);

	if (known)
		return JSON.parse(known);
	nodesLoading ??= fetch('/api/v1/nodes', { headers: { 'Accept': 'application/json' } })
		.then((res) => (res.ok ? res.json() : { nodes: [] }))
		.then((json) => {
			const list = Array.isArray(json.nodes) ? json.nodes.filter((n) => typeof n === 'string') : [];

			store(NODES_KEY, JSON.stringify(list));
			return list;
		})
		.catch(() => []);
	return nodesLoading;
}

// Origins to try, the current one first.
async function candidates() {
	const current = base() || location.origin;
	const others = (await nodes()).filter((origin) => origin !== current);

	return [current, ...others];
}

// True when the response means "this node cannot serve now", so another may.
function shouldRetry(res, json, keyed) {
	const code = json && json.type ? String(json.type).replace('/problems/', '') : '';

	if (res.status === 502 || res.status === 504)
		return true;
	if (res.status !== 503)
		return false;
	return RETRY_CODES.has(code) || (code === 'write_timeout' && keyed);
}

async function call(method, path, body, extraHeaders) {
	const headers = { 'Accept': 'application/json', 'Accept-Language': lang(), ...extraHeaders };
	const keyed = Boolean(headers['Idempotency-Key']);
	let failure = null;

	if (method !== 'GET' && csrfToken())
		headers['X-CSRF-Token'] = csrfToken();
	for (let round = 0; round < RETRY_ROUNDS; round++) {
		if (round > 0)
			await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
		const result = await tryNodes(method, path, body, headers, keyed);

		if (result.done)
			return result.json;
		failure = result.failure;
	}
	throw failure;
}

// Sends the call to each node once, in order; stops at the first that can serve it.
async function tryNodes(method, path, body, headers, keyed) {
	let failure = null;

	for (const origin of await candidates()) {
		const init = { method, headers, credentials: origin === location.origin ? 'same-origin' : 'include' };
		let res;

		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		try {
			res = await fetch(origin === location.origin ? path : origin + path, init);
		} catch {
			failure = new ApiError(0, { detail: t('error_network') });
			continue;
		}
		const json = res.status === 204 ? null : await res.json().catch(() => null);

		if (shouldRetry(res, json, keyed)) {
			failure = new ApiError(res.status, json);
			continue;
		}
		if (origin !== (base() || location.origin))
			store(BASE_KEY, origin);
		if (!res.ok)
			throw new ApiError(res.status, json);
		return { done: true, json };
	}
	return { done: false, failure };
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
