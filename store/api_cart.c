/*
 * HTTP side of the cart: GET /api/v1/cart and the line routes.
 *
 * A logged-in shopper (bearer token or session cookie) uses the cart of the
 * account. Anyone else uses a guest cart found by the cart token from the
 * X-Cart-Token header or the jkd_cart cookie. The first add without a token
 * makes one here, on the node that takes the request: the response carries
 * it once (body "cart_token", X-Cart-Token header, jkd_cart cookie), and
 * only its SHA-256 goes into the command.
 *
 * The guest cookie is SameSite=Lax and every state-changing cart route needs
 * a JSON body or a method that browsers preflight across sites, so another
 * site cannot change a guest's cart through the cookie.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/api.h"
#include "store/cart.h"
#include "store/codec.h"

#define CART_BODY_MAX_BYTES 1024
#define CART_COOKIE_MAX_AGE_S (30u * 24 * 3600)

/* A cart token made for this request, returned once with the response. */
struct cart_token_out {
	char token[CART_TOKEN_CHARS + 1];
	bool cookie_secure;
};

static bool token_well_formed(const char *token, size_t len)
{
	if (len != CART_TOKEN_CHARS)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

bool cart_token_hash(const struct http_request *req, bool from_header_only, unsigned char hash[32])
{
	size_t len = 0;
	const char *token = http_header_get(req, CART_TOKEN_HEADER, &len);

	if (token == NULL && !from_header_only)
		len = api_cookie_get(req, CART_COOKIE, &token);
	if (token == NULL || !token_well_formed(token, len))
		return false;
	crypto_hash_sha256(hash, (const unsigned char *)token, len);
	return true;
}

/* Message ids of the line notices, by code; each takes the numbers listed. */
static const struct {
	const char *code;
	const char *msgid;
} notice_messages[] = {
	{"quantity_clamped", N_("Only %lld units are in stock, so the quantity was lowered to %lld.")},
	{"quantity_max", N_("A line can have at most %lld units, so the quantity was lowered to %lld.")},
	{"insufficient_stock", N_("Only %lld units are in stock now. Lower the quantity before checking out.")},
	{"unavailable", N_("This item is no longer for sale. Remove it from the cart.")},
};

static void notice_translate(json_t *notice, enum i18n_lang lang)
{
	const char *code = json_string_value(json_object_get(notice, "code"));
	long long available = json_integer_value(json_object_get(notice, "available"));
	char text[512];

	for (size_t i = 0; code != NULL && i < sizeof(notice_messages) / sizeof(notice_messages[0]); i++) {
		if (strcmp(code, notice_messages[i].code) != 0)
			continue;
		/* The format comes from our own catalog; surplus arguments are ignored by printf. */
		snprintf(text, sizeof(text), i18n_text(lang, notice_messages[i].msgid), available, available);
		json_object_set_new(notice, "message", json_string(text));
		return;
	}
}

void cart_notices_translate(json_t *cart, enum i18n_lang lang)
{
	json_t *lines = json_object_get(cart, "lines");
	json_t *line;
	size_t i;

	json_array_foreach(lines, i, line) {
		json_t *notice = json_object_get(line, "notice");

		if (notice != NULL)
			notice_translate(notice, lang);
	}
}

/*
 * Finds the cart of the request: the account's for a logged-in shopper, else
 * the guest cart of the token. Returns false if the request has neither.
 */
static bool cart_key_of(const struct http_request *req, const struct api_principal *who, struct cart_key *key)
{
	unsigned char hash[32];

	if (who->user_id != 0) {
		cart_key_user(key, who->user_id);
		return true;
	}
	if (!cart_token_hash(req, false, hash))
		return false;
	cart_key_guest(key, hash);
	return true;
}

static struct cart_token_out *token_new(struct http_request *req, struct cart_key *key)
{
	struct node *node = ((struct node_worker *)req->worker_data)->node;
	struct cart_token_out *t = calloc(1, sizeof(*t));
	unsigned char raw[32], hash[32];

	if (t == NULL)
		return NULL;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(t->token, sizeof(t->token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	crypto_hash_sha256(hash, (const unsigned char *)t->token, strlen(t->token));
	cart_key_guest(key, hash);
	t->cookie_secure = node->config.cookie_secure != 0;
	return t;
}

/* Sends the cart of a command's result, with translated notices and, for a new guest cart, its token. */
static void cart_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct api_call *call = req->user_data;
	struct cart_token_out *t = call->extra;
	char headers[512];
	int len;
	json_t *body = api_result_json(req, err, index, result);

	if (body == NULL)
		return;
	cart_notices_translate(json_object_get(body, "cart"), req->lang);
	len = snprintf(headers, sizeof(headers), "Cache-Control: no-store\r\nX-Jkd-Applied-Index: %llu\r\n",
		       (unsigned long long)index);
	if (t != NULL) {
		json_object_set_new(body, "cart_token", json_string(t->token));
		snprintf(headers + len, sizeof(headers) - (size_t)len,
			 CART_TOKEN_HEADER ": %s\r\nSet-Cookie: " CART_COOKIE
			 "=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Lax%s\r\n",
			 t->token, t->token, CART_COOKIE_MAX_AGE_S, t->cookie_secure ? "; Secure" : "");
	}
	http_respond_json(req, call->success_status, body, headers);
}

/* Proposes a cart command; t (may be NULL) is owned by the call from here on. */
static void cart_propose(struct http_request *req, uint32_t type, const struct cart_key *key, uint64_t variant_id,
			 int64_t quantity, struct cart_token_out *t)
{
	struct rec_writer w;
	struct buf command;

	buf_init(&command, 1024);
	rec_begin(&w, &command, type, 1, quantity > 0 ? 4 : 3);
	rec_put_bin(&w, "cart", key->bytes, key->len);
	rec_put_u64(&w, "variant", variant_id);
	if (quantity > 0)
		rec_put_i64(&w, "quantity", quantity);
	rec_put_u64(&w, "at", api_now_ms());
	if (rec_end(&w) != 0)
		command.failed = true;
	if (api_propose(req, &command, 200, cart_done))
		((struct api_call *)req->user_data)->extra = t;
	else
		free(t);
	buf_free(&command);
}

static void handle_cart_get(struct http_request *req)
{
	struct node *node = ((struct node_worker *)req->worker_data)->node;
	struct api_principal who;
	struct cart_key key;
	struct cart cart = {.line_count = 0};
	struct kv_txn *txn;
	json_t *view = NULL;
	enum kv_err err;

	if (!api_authenticate(req, API_ROLE_ANONYMOUS, &who))
		return;
	err = kv_read_begin(node->env, &txn);
	if (err == KV_OK) {
		if (cart_key_of(req, &who, &key))
			err = cart_get(&node->store, txn, &key, &cart);
		if (err == KV_OK)
			err = cart_render(&node->store, txn, &cart, &view);
		kv_read_end(txn);
	}
	if (err != KV_OK) {
		log_error("cart_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
		return;
	}
	cart_notices_translate(view, req->lang);
	http_respond_json(req, 200, json_pack("{s:o}", "cart", view), "Cache-Control: no-store\r\n");
}

static void handle_line_add(struct http_request *req)
{
	struct api_principal who;
	struct cart_key key;
	struct cart_token_out *t = NULL;
	int64_t variant_id = 0, quantity = 1;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_ANONYMOUS, &who) || (body = api_json_body(req)) == NULL)
		return;
	if (!api_integer(req, body, "variant_id", true, 1, INT64_MAX, &variant_id) ||
	    !api_integer(req, body, "quantity", false, 1, CART_QUANTITY_MAX, &quantity))
		goto out;
	if (!cart_key_of(req, &who, &key)) {
		t = token_new(req, &key);
		if (t == NULL) {
			http_respond_problem(req, 503, "unavailable", NULL, "The node is busy or stopping. Retry in a moment.");
			goto out;
		}
	}
	cart_propose(req, CART_LINE_ADD, &key, (uint64_t)variant_id, quantity, t);
out:
	json_decref(body);
}

/* Reads the cart and the {variant_id} of a line route; responds 404 if the request has no cart. */
static bool line_target(struct http_request *req, struct cart_key *key, uint64_t *variant_id)
{
	struct api_principal who;

	if (!api_authenticate(req, API_ROLE_ANONYMOUS, &who) || !api_path_id(req, "variant_id", variant_id))
		return false;
	if (!cart_key_of(req, &who, key)) {
		http_respond_problem(req, 404, "line_not_found", "variant_id",
				     "This variant is not in the cart. Add it first.");
		return false;
	}
	return true;
}

static void handle_line_set(struct http_request *req)
{
	struct cart_key key;
	uint64_t variant_id;
	int64_t quantity;
	json_t *body;

	if (!line_target(req, &key, &variant_id) || (body = api_json_body(req)) == NULL)
		return;
	if (api_integer(req, body, "quantity", true, 1, CART_QUANTITY_MAX, &quantity))
		cart_propose(req, CART_LINE_SET, &key, variant_id, quantity, NULL);
	json_decref(body);
}

static void handle_line_delete(struct http_request *req)
{
	struct cart_key key;
	uint64_t variant_id;

	if (line_target(req, &key, &variant_id))
		cart_propose(req, CART_LINE_DELETE, &key, variant_id, 0, NULL);
}

int cart_routes_register(struct http_router *router, void *node)
{
	const struct http_route_def routes[] = {
		{HTTP_METHOD_GET, "/api/v1/cart", handle_cart_get, node, 0},
		{HTTP_METHOD_POST, "/api/v1/cart/lines", handle_line_add, node, CART_BODY_MAX_BYTES},
		{HTTP_METHOD_PATCH, "/api/v1/cart/lines/{variant_id}", handle_line_set, node, CART_BODY_MAX_BYTES},
		{HTTP_METHOD_DELETE, "/api/v1/cart/lines/{variant_id}", handle_line_delete, node, CART_BODY_MAX_BYTES},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (http_router_add(router, &routes[i]) != 0)
			return -1;
	}
	return 0;
}
