// The logged-in shopper: who it is (GET /api/v1/me), the header links that
// depend on it, and logging out. The session token stays in the HttpOnly
// cookie; the page learns only the user and the CSRF token.

import { apiGet, apiSend, setCsrfToken, siteUrl } from './api.js';

let user = null;

export function currentUser() {
	return user;
}

// Asks the API who is logged in and keeps the CSRF token it returns, so a
// new tab (which starts with empty sessionStorage) can still change state.
export async function loadUser() {
	try {
		const body = await apiGet('/api/v1/me');

		user = body.user;
		if (body.csrf_token)
			setCsrfToken(body.csrf_token);
	} catch {
		user = null;
		setCsrfToken('');
	}
	return user;
}

// Shows the login and register links, or the user's name, orders link and logout button.
export function showUser() {
	const name = document.querySelector('[data-testid="user-name"]');

	for (const el of document.querySelectorAll('[data-session="guest"]'))
		el.hidden = user !== null;
	for (const el of document.querySelectorAll('[data-session="user"]'))
		el.hidden = user === null;
	name.textContent = user ? user.name : '';
}

// Closes the session, then loads the home page. A session that had already
// expired is closed too, so a 401 is no failure here.
export async function logout() {
	try {
		await apiSend('POST', '/api/v1/auth/logout');
	} catch (err) {
		if (err.status !== 401)
			throw err;
	}
	setCsrfToken('');
	location.assign(siteUrl('/'));
}

// The path to load after logging in: the "siguiente" query parameter when
// it is a path of this origin, else the home page. It is resolved as the
// browser will resolve it, because the URL parser drops tabs and newlines:
// "/\t/host" passes a look at its first characters yet loads //host.
export function nextPath(params) {
	const next = params.get('siguiente') || '';
	let url;

	if (!next.startsWith('/'))
		return '/';
	try {
		url = new URL(next, location.origin);
	} catch {
		return '/';
	}
	return url.origin === location.origin ? url.pathname + url.search + url.hash : '/';
}

// Link to the login page that comes back to path afterwards.
export function loginHref(path) {
	return `/entrar?siguiente=${encodeURIComponent(path)}`;
}
