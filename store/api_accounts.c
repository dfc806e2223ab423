/*
 * HTTP side of accounts: register, login, logout, /me, password change, and
 * the operator route that creates administrators.
 *
 * Password hashing and verification run on the libuv thread pool (at most
 * auth.hash_jobs_max at once); the handler resumes on its loop and proposes
 * the command. The session token is made here, returned once, and only its
 * SHA-256 goes into the command, so the log and the state never hold it.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/accounts.h"
#include "store/api.h"
#include "store/signed_session.h"
#include "store/cart.h"
#include "store/codec.h"

#define PASSWORD_MIN_CHARS 10
#define PASSWORD_MAX_CHARS 128
#define PASSWORD_MAX_BYTES (4 * PASSWORD_MAX_CHARS)
#define ACCOUNT_WINDOW_MS (15 * 60 * 1000)
#define ADDRESS_WINDOW_MS (60 * 1000)
#define AUTH_BODY_MAX_BYTES 8192

enum auth_kind {
	AUTH_REGISTER,
	AUTH_LOGIN,
	AUTH_PASSWORD_CHANGE,
	AUTH_ADMIN_CREATE,
};

/* One request's work on the thread pool and the state it carries back to the loop. */
struct auth_job {
	uv_work_t work;
	struct http_request *req;
	struct node *node;
	enum auth_kind kind;
	char password[PASSWORD_MAX_BYTES + 1];
	char new_password[PASSWORD_MAX_BYTES + 1];
	char stored_hash[crypto_pwhash_STRBYTES];
	char new_hash[crypto_pwhash_STRBYTES];
	bool verify;   /* check password against stored_hash */
	bool rehash;   /* hash new_password into new_hash */
	bool verified;
	int hash_rc;
	char email[ACCOUNTS_EMAIL_MAX + 1];
	char name[4 * ACCOUNTS_NAME_MAX_CHARS + 1];
	char address[64];
	uint64_t user_id;
	uint64_t password_changed_at_ms;
	bool has_guest_cart; /* login and register merge the guest cart of this token hash */
	unsigned char guest_cart[32];
};

/* The token made for a new session, kept until the response is sent. */
struct session_out {
	char token[SIGNED_SESSION_TOKEN_CHARS + 1];
	char csrf[ACCOUNTS_CSRF_CHARS + 1];
	unsigned char token_hash[32];
	uint64_t created_at_ms;
	uint64_t expires_at_ms;
	bool cookie_secure;
	unsigned max_age_s;
	bool may_sign;                 /* a login: without a majority it gets a signed session instead */
	uint64_t user_id;
	uint64_t password_changed_at_ms;
};

static struct node *node_of(struct http_request *req)
{
	return ((struct node_worker *)req->worker_data)->node;
}

bool accounts_email_normalise(const char *in, char *out, size_t out_size)
{
	size_t len = strlen(in), start = 0, at = 0, ats = 0;

	while (start < len && isspace((unsigned char)in[start]))
		start++;
	while (len > start && isspace((unsigned char)in[len - 1]))
		len--;
	if (len - start == 0 || len - start >= out_size || len - start > ACCOUNTS_EMAIL_MAX)
		return false;
	for (size_t i = start; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= ' ' || c == 0x7f || c == '"' || c == ',' || c == ';' || c == '<' || c == '>')
			return false;
		if (c == '@') {
			ats++;
			at = i - start;
		}
		out[i - start] = (char)(c < 0x80 ? tolower(c) : c);
	}
	len -= start;
	out[len] = '\0';
	if (ats != 1 || at == 0 || at > 64 || at + 1 >= len)
		return false;
	return strchr(out + at + 1, '.') != NULL && out[at + 1] != '.' && out[len - 1] != '.';
}

static bool password_valid(const char *password)
{
	bool letter = false, digit = false;
	long chars = api_utf8_chars(password, strlen(password), false);

	if (chars < PASSWORD_MIN_CHARS || chars > PASSWORD_MAX_CHARS)
		return false;
	for (const unsigned char *p = (const unsigned char *)password; *p != '\0'; p++) {
		if (isdigit(*p))
			digit = true;
		else if (isalpha(*p) || *p >= 0x80)
			letter = true;
	}
	return letter && digit;
}

static void respond_password_rules(struct http_request *req, const char *field)
{
	http_respond_problem(req, 400, "weak_password", field,
			     "The password must have %d to %d characters, with at least one letter and one digit.",
			     PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
}

/* Copies the client address without its port into out. */
static void address_of(struct http_request *req, char *out, size_t out_size)
{
	char *colon;

	snprintf(out, out_size, "%s", req->peer);
	colon = strrchr(out, ':');
	if (colon != NULL && strchr(out, '.') != NULL)
		*colon = '\0';
}

/* Checks the per-address and (if email is set) per-account limits; responds 429 when exceeded. */
static bool login_allowed(struct http_request *req, const char *address, const char *email)
{
	struct node *node = node_of(req);
	uint64_t now = api_now_ms();
	uint64_t wait_ms = ratelimit_retry_after_ms(&node->login_by_address, address, now);
	char headers[64];

	if (wait_ms == 0 && email != NULL)
		wait_ms = ratelimit_retry_after_ms(&node->login_by_account, email, now);
	if (wait_ms == 0)
		return true;
	snprintf(headers, sizeof(headers), "Retry-After: %llu\r\n", (unsigned long long)(wait_ms + 999) / 1000);
	log_warn("login_throttled", "rid=%s peer=%s", req->request_id, req->peer);
	http_respond_problem_headers(req, 429, headers, "too_many_attempts", NULL,
				     "Too many attempts. Wait %llu seconds and try again.",
				     (unsigned long long)(wait_ms + 999) / 1000);
	return false;
}

static struct session_out *session_new(struct node *node)
{
	struct session_out *s = calloc(1, sizeof(*s));
	unsigned char raw[32];

	if (s == NULL)
		return NULL;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(s->token, sizeof(s->token), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(s->token_hash, (const unsigned char *)s->token, strlen(s->token));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(s->csrf, sizeof(s->csrf), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	s->created_at_ms = api_now_ms();
	s->max_age_s = node->config.session_ttl_hours * 3600u;
	s->expires_at_ms = s->created_at_ms + (uint64_t)s->max_age_s * 1000u;
	s->cookie_secure = node->config.cookie_secure != 0;
	return s;
}

/* Packs the "session" field of a command. */
static void session_pack(struct rec_writer *w, const struct session_out *s)
{
	rec_put_name(w, "session");
	msgpack_pack_map(&w->pk, 4);
	msgpack_pack_str_with_body(&w->pk, "token_hash", 10);
	msgpack_pack_bin_with_body(&w->pk, s->token_hash, sizeof(s->token_hash));
	msgpack_pack_str_with_body(&w->pk, "csrf", 4);
	msgpack_pack_str_with_body(&w->pk, s->csrf, strlen(s->csrf));
	msgpack_pack_str_with_body(&w->pk, "created_at", 10);
	msgpack_pack_uint64(&w->pk, s->created_at_ms);
	msgpack_pack_str_with_body(&w->pk, "expires_at", 10);
	msgpack_pack_uint64(&w->pk, s->expires_at_ms);
}

/*
 * Turns a login that could not reach a majority into a signed session
 * (signed_session.h), so shoppers can log in on a node cut off from the
 * rest. Returns the response body with the user, or NULL after responding
 * with the error.
 */
static json_t *session_sign(struct http_request *req, enum repl_err err, struct session_out *s)
{
	struct node *node = node_of(req);
	struct signed_session signed_session = {
		.user_id = s->user_id,
		.created_at_ms = s->created_at_ms,
		.expires_at_ms = s->expires_at_ms,
		.password_changed_at_ms = s->password_changed_at_ms,
	};
	struct accounts_user user;
	struct kv_txn *txn;
	enum kv_err kerr = kv_read_begin(node->env, &txn);

	if (kerr == KV_OK) {
		kerr = accounts_user_get(&node->store, txn, s->user_id, &user);
		kv_read_end(txn);
	}
	if (kerr != KV_OK) {
		log_error("session_sign_failed", "rid=%s user=%llu err=\"%s\"", req->request_id,
			  (unsigned long long)s->user_id, kv_strerror(kerr));
		api_respond_failure(req, err, NULL);
		return NULL;
	}
	signed_session_make(node->session_key, &signed_session, s->token, s->csrf);
	log_info("session_signed", "rid=%s user=%llu reason=%s", req->request_id, (unsigned long long)s->user_id,
		 err == REPL_NO_QUORUM ? "no_quorum" : "write_timeout");
	return json_pack("{s:o, s:b}", "user", accounts_user_json(&user), "provisional", 1);
}

/* Responds with the command's user plus the new session's token, and sets the session cookie. */
static void session_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	struct api_call *call = req->user_data;
	struct session_out *s = call->extra;
	json_t *body;
	char headers[512];

	/* A session whose outcome is unknown may exist too; a signed one beside it does no harm. */
	if ((err == REPL_NO_QUORUM || err == REPL_TIMEOUT) && s->may_sign && node_of(req)->has_session_key) {
		body = session_sign(req, err, s);
		if (body == NULL)
			return;
	} else if (err != REPL_OK || result->status != STORE_OK) {
		api_respond_failure(req, err, result);
		return;
	} else {
		body = json_loadb(result->data, result->len, 0, NULL);
	}
	if (body == NULL) {
		log_error("session_result_invalid", "rid=%s index=%llu", req->request_id, (unsigned long long)index);
		http_respond_problem(req, 500, "internal", NULL, "The response could not be encoded.");
		return;
	}
	json_object_set_new(body, "token", json_string(s->token));
	json_object_set_new(body, "csrf_token", json_string(s->csrf));
	json_object_set_new(body, "expires_at", json_integer((json_int_t)s->expires_at_ms));
	snprintf(headers, sizeof(headers),
		 "Set-Cookie: " API_SESSION_COOKIE "=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Lax%s\r\n"
		 "Cache-Control: no-store\r\nX-Jkd-Applied-Index: %llu\r\n",
		 s->token, s->max_age_s, s->cookie_secure ? "; Secure" : "", (unsigned long long)index);
	http_respond_json(req, call->success_status, body, headers);
	sodium_memzero(s, sizeof(*s));
}

/* Proposes the command in w's buffer; on failure responds and frees s. */
static void propose_with_session(struct http_request *req, struct buf *command, int status, struct session_out *s)
{
	if (api_propose(req, command, status, s != NULL ? session_done : NULL)) {
		((struct api_call *)req->user_data)->extra = s;
		return;
	}
	free(s);
}

static void job_free(struct auth_job *job)
{
	atomic_fetch_sub(&job->node->hash_jobs, 1);
	sodium_memzero(job, sizeof(*job));
	free(job);
}

static void finish_register(struct auth_job *job, bool with_session)
{
	struct http_request *req = job->req;
	struct session_out *s = with_session ? session_new(job->node) : NULL;
	struct rec_writer w;
	struct buf command;
	bool admin = job->kind == AUTH_ADMIN_CREATE;

	buf_init(&command, 64 * 1024);
	rec_begin(&w, &command, ACCOUNTS_REGISTER, 1, (with_session ? 6 : 5) + (job->has_guest_cart ? 1 : 0));
	rec_put_cstr(&w, "email", job->email);
	rec_put_cstr(&w, "name", job->name);
	rec_put_cstr(&w, "hash", job->new_hash);
	rec_put_u64(&w, "role", admin ? ACCOUNTS_ROLE_ADMIN : ACCOUNTS_ROLE_CUSTOMER);
	rec_put_u64(&w, "created_at", api_now_ms());
	if (s != NULL)
		session_pack(&w, s);
	if (job->has_guest_cart)
		rec_put_bin(&w, "guest_cart", job->guest_cart, sizeof(job->guest_cart));
	if (rec_end(&w) != 0 || (with_session && s == NULL))
		command.failed = true;
	propose_with_session(req, &command, 201, s);
	buf_free(&command);
}

static void finish_login(struct auth_job *job)
{
	struct http_request *req = job->req;
	struct node *node = job->node;
	struct session_out *s;
	struct rec_writer w;
	struct buf command;

	if (!job->verified) {
		ratelimit_hit(&node->login_by_account, job->email, api_now_ms());
		log_info("login_failed", "rid=%s peer=%s", req->request_id, req->peer);
		http_respond_problem(req, 401, "invalid_credentials", "password",
				     "The email or the password is not correct.");
		return;
	}
	ratelimit_reset(&node->login_by_account, job->email);
	s = session_new(node);
	if (s != NULL) {
		s->may_sign = true;
		s->user_id = job->user_id;
		s->password_changed_at_ms = job->password_changed_at_ms;
	}
	buf_init(&command, 4096);
	rec_begin(&w, &command, ACCOUNTS_SESSION_CREATE, 1, job->has_guest_cart ? 4 : 3);
	rec_put_u64(&w, "user", job->user_id);
	rec_put_u64(&w, "password_changed_at", job->password_changed_at_ms);
	if (s != NULL)
		session_pack(&w, s);
	else
		rec_put_cstr(&w, "session", NULL);
	if (job->has_guest_cart)
		rec_put_bin(&w, "guest_cart", job->guest_cart, sizeof(job->guest_cart));
	if (rec_end(&w) != 0 || s == NULL)
		command.failed = true;
	propose_with_session(req, &command, 200, s);
	buf_free(&command);
}

static void finish_password_change(struct auth_job *job)
{
	struct http_request *req = job->req;
	struct session_out *s;
	struct rec_writer w;
	struct buf command;

	if (!job->verified) {
		ratelimit_hit(&job->node->login_by_account, job->email, api_now_ms());
		http_respond_problem(req, 403, "invalid_credentials", "current_password",
				     "The current password is not correct.");
		return;
	}
	s = session_new(job->node);
	buf_init(&command, 4096);
	rec_begin(&w, &command, ACCOUNTS_PASSWORD_CHANGE, 1, 5);
	rec_put_u64(&w, "user", job->user_id);
	rec_put_u64(&w, "password_changed_at", job->password_changed_at_ms);
	rec_put_cstr(&w, "hash", job->new_hash);
	rec_put_u64(&w, "changed_at", api_now_ms());
	if (s != NULL)
		session_pack(&w, s);
	else
		rec_put_cstr(&w, "session", NULL);
	if (rec_end(&w) != 0 || s == NULL)
		command.failed = true;
	propose_with_session(req, &command, 200, s);
	buf_free(&command);
}

/* A hash of a random password, verified against when the email is unknown so timing does not reveal it. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static unsigned long long dummy_ops;
static size_t dummy_memory;

static void dummy_hash_make(void)
{
	unsigned char password[16];

	randombytes_buf(password, sizeof(password));
	if (crypto_pwhash_str(dummy_hash, (const char *)password, sizeof(password), dummy_ops, dummy_memory) != 0)
		dummy_hash[0] = '\0';
}

static void job_work(uv_work_t *work)
{
	struct auth_job *job = work->data;
	unsigned long long ops = job->node->config.hash_ops;
	size_t memory = (size_t)job->node->config.hash_memory_mb << 20;

	if (job->verify && job->user_id == 0) {
		dummy_ops = ops;
		dummy_memory = memory;
		pthread_once(&dummy_once, dummy_hash_make);
		/* The result is ignored: an unknown email never logs in, but costs the same time. */
		(void)!crypto_pwhash_str_verify(dummy_hash, job->password, strlen(job->password));
		job->verified = false;
	} else if (job->verify) {
		job->verified = crypto_pwhash_str_verify(job->stored_hash, job->password, strlen(job->password)) == 0;
	}
	if (job->rehash && (!job->verify || job->verified))
		job->hash_rc = crypto_pwhash_str(job->new_hash, job->new_password, strlen(job->new_password), ops,
						 memory);
}

static void job_after(uv_work_t *work, int status)
{
	struct auth_job *job = work->data;

	if (status != 0 || job->hash_rc != 0) {
		log_error("password_hash_failed", "rid=%s status=%d rc=%d", job->req->request_id, status, job->hash_rc);
		http_respond_problem(job->req, 503, "unavailable", NULL, "The node is busy or stopping. Retry in a moment.");
		job_free(job);
		return;
	}
	switch (job->kind) {
	case AUTH_REGISTER:
		finish_register(job, true);
		break;
	case AUTH_ADMIN_CREATE:
		finish_register(job, false);
		break;
	case AUTH_LOGIN:
		finish_login(job);
		break;
	case AUTH_PASSWORD_CHANGE:
		finish_password_change(job);
		break;
	}
	job_free(job);
}

/* Allocates a job if the pool has room; responds 503 and returns NULL if not. */
static struct auth_job *job_new(struct http_request *req, enum auth_kind kind)
{
	struct node *node = node_of(req);
	struct auth_job *job;

	if (atomic_fetch_add(&node->hash_jobs, 1) >= node->config.hash_jobs_max) {
		atomic_fetch_sub(&node->hash_jobs, 1);
		log_warn("password_hash_queue_full", "rid=%s", req->request_id);
		http_respond_problem_headers(req, 503, "Retry-After: 1\r\n", "unavailable", NULL,
					     "The node is busy or stopping. Retry in a moment.");
		return NULL;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		atomic_fetch_sub(&node->hash_jobs, 1);
		http_respond_problem(req, 503, "unavailable", NULL, "The node is busy or stopping. Retry in a moment.");
		return NULL;
	}
	job->req = req;
	job->node = node;
	job->kind = kind;
	job->work.data = job;
	return job;
}

static void job_start(struct auth_job *job, uv_loop_t *loop)
{
	int rc = uv_queue_work(loop, &job->work, job_work, job_after);

	if (rc != 0) {
		log_error("password_hash_queue_failed", "rid=%s err=\"%s\"", job->req->request_id, uv_strerror(rc));
		http_respond_problem(job->req, 503, "unavailable", NULL, "The node is busy or stopping. Retry in a moment.");
		job_free(job);
	}
}

static uv_loop_t *loop_of(struct http_request *req)
{
	return ((struct node_worker *)req->worker_data)->loop;
}

/* Reads and checks email, password and name of a registration body into job; responds on failure. */
static bool registration_read(struct http_request *req, json_t *body, struct auth_job *job)
{
	const char *email, *password, *name;

	if (!api_string(req, body, "email", true, 3, ACCOUNTS_EMAIL_MAX, false, &email) ||
	    !api_string(req, body, "password", true, 0, PASSWORD_MAX_CHARS * 4, false, &password) ||
	    !api_string(req, body, "name", true, 1, ACCOUNTS_NAME_MAX_CHARS, false, &name))
		return false;
	if (!accounts_email_normalise(email, job->email, sizeof(job->email))) {
		http_respond_problem(req, 400, "invalid_email", "email",
				     "Invalid email address: expected a form like nombre@dominio.es.");
		return false;
	}
	if (!password_valid(password)) {
		respond_password_rules(req, "password");
		return false;
	}
	snprintf(job->new_password, sizeof(job->new_password), "%s", password);
	snprintf(job->name, sizeof(job->name), "%s", name);
	job->rehash = true;
	return true;
}

static void handle_register(struct http_request *req)
{
	char address[64];
	struct auth_job *job;
	json_t *body;

	address_of(req, address, sizeof(address));
	if (!login_allowed(req, address, NULL))
		return;
	ratelimit_hit(&node_of(req)->login_by_address, address, api_now_ms());
	body = api_json_body(req);
	if (body == NULL)
		return;
	job = job_new(req, AUTH_REGISTER);
	if (job != NULL && !registration_read(req, body, job)) {
		job_free(job);
		job = NULL;
	}
	if (job != NULL)
		job->has_guest_cart = cart_token_hash(req, false, job->guest_cart);
	json_decref(body);
	if (job != NULL)
		job_start(job, loop_of(req));
}

static void handle_admin_create(struct http_request *req)
{
	struct auth_job *job;
	json_t *body;

	if (!node_require_operator(req))
		return;
	body = api_json_body(req);
	if (body == NULL)
		return;
	job = job_new(req, AUTH_ADMIN_CREATE);
	if (job != NULL && !registration_read(req, body, job)) {
		job_free(job);
		job = NULL;
	}
	json_decref(body);
	if (job != NULL)
		job_start(job, loop_of(req));
}

/* Loads user_id's hash and password change time into job. Returns false after responding. */
static bool job_load_user(struct http_request *req, struct auth_job *job)
{
	struct node *node = node_of(req);
	struct accounts_user user;
	struct kv_txn *txn;
	enum kv_err err = kv_read_begin(node->env, &txn);

	if (err == KV_OK) {
		err = accounts_user_by_email(&node->store, txn, job->email, &job->user_id);
		if (err == KV_OK)
			err = accounts_user_get(&node->store, txn, job->user_id, &user);
		if (err == KV_OK)
			err = accounts_user_hash(&node->store, txn, job->user_id, job->stored_hash,
						 sizeof(job->stored_hash));
		kv_read_end(txn);
	}
	if (err == KV_NOT_FOUND) {
		job->user_id = 0;
		return true;
	}
	if (err != KV_OK) {
		log_error("user_read_failed", "rid=%s err=\"%s\"", req->request_id, kv_strerror(err));
		http_respond_problem(req, 503, "unavailable", NULL, "The node cannot read right now. Retry in a moment.");
		return false;
	}
	job->password_changed_at_ms = user.password_changed_at_ms;
	return true;
}

static void handle_login(struct http_request *req)
{
	const char *email, *password;
	char address[64];
	struct auth_job *job;
	json_t *body = api_json_body(req);

	if (body == NULL)
		return;
	job = job_new(req, AUTH_LOGIN);
	if (job == NULL || !api_string(req, body, "email", true, 1, ACCOUNTS_EMAIL_MAX, false, &email) ||
	    !api_string(req, body, "password", true, 1, PASSWORD_MAX_CHARS * 4, false, &password))
		goto fail;
	if (!accounts_email_normalise(email, job->email, sizeof(job->email)))
		snprintf(job->email, sizeof(job->email), "%s", "invalid");
	address_of(req, address, sizeof(address));
	if (!login_allowed(req, address, job->email))
		goto fail;
	ratelimit_hit(&node_of(req)->login_by_address, address, api_now_ms());
	snprintf(job->password, sizeof(job->password), "%s", password);
	job->verify = true;
	job->has_guest_cart = cart_token_hash(req, false, job->guest_cart);
	if (!job_load_user(req, job))
		goto fail;
	json_decref(body);
	job_start(job, loop_of(req));
	return;

fail:
	json_decref(body);
	if (job != NULL)
		job_free(job);
}

/* Responds to a logout with 204 and an expired session cookie, so the browser deletes it. */
static void logout_done(struct http_request *req, enum repl_err err, uint64_t index, struct repl_result *result)
{
	char headers[256];
	struct http_response res = {.status = 204, .headers = headers};

	if (err != REPL_OK || result->status != STORE_OK) {
		api_respond_failure(req, err, result);
		return;
	}
	snprintf(headers, sizeof(headers),
		 "Set-Cookie: " API_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax\r\n"
		 "X-Jkd-Applied-Index: %llu\r\n",
		 (unsigned long long)index);
	http_respond(req, &res);
}

static void handle_logout(struct http_request *req)
{
	struct api_principal who;
	struct rec_writer w;
	struct buf command;

	if (!api_authenticate(req, API_ROLE_CUSTOMER, &who))
		return;
	buf_init(&command, 1024);
	rec_begin(&w, &command, ACCOUNTS_SESSION_DELETE, 1, who.signed_session ? 3 : 2);
	rec_put_u64(&w, "user", who.user_id);
	rec_put_bin(&w, "token_hash", who.token_hash, sizeof(who.token_hash));
	/* A signed session has no record to delete, so the logout leaves a revoked one. */
	if (who.signed_session)
		rec_put_u64(&w, "revoke", 1);
	if (rec_end(&w) != 0)
		command.failed = true;
	api_propose(req, &command, 204, logout_done);
	buf_free(&command);
}

/*
 * Sets this node's session cookie for a session the client proves with its
 * bearer token. The nodes of a cluster are separate origins, so after
 * logging in on one node the storefront calls this on each other node once,
 * and the browser then keeps an HttpOnly cookie for every node without the
 * page keeping the token.
 */
static void handle_cookie(struct http_request *req)
{
	struct api_principal who;
	uint64_t now = api_now_ms();
	char headers[512];
	size_t token_len;

	if (!api_authenticate(req, API_ROLE_CUSTOMER, &who))
		return;
	token_len = who.signed_session ? SIGNED_SESSION_TOKEN_CHARS : ACCOUNTS_TOKEN_CHARS;
	if (who.by_cookie) {
		http_respond_problem(req, 400, "bearer_required", "Authorization",
				     "Send the session token as \"Authorization: Bearer\" to get a cookie for this node.");
		return;
	}
	snprintf(headers, sizeof(headers),
		 "Set-Cookie: " API_SESSION_COOKIE "=%.*s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Lax%s\r\n"
		 "Cache-Control: no-store\r\n",
		 (int)token_len, http_header_get(req, "Authorization", NULL) + 7,
		 (unsigned long long)(who.expires_at_ms > now ? (who.expires_at_ms - now) / 1000 : 0),
		 node_of(req)->config.cookie_secure ? "; Secure" : "");
	http_respond_json(req, 200, json_pack("{s:s}", "csrf_token", who.csrf), headers);
}

static void handle_me(struct http_request *req)
{
	struct api_principal who;
	json_t *user, *body;

	if (!api_authenticate(req, API_ROLE_CUSTOMER, &who))
		return;
	user = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)who.user_id, "email", who.email, "name", who.name,
			 "role", who.role == API_ROLE_ADMIN ? "admin" : "customer");
	body = json_pack("{s:o}", "user", user);
	/*
	 * A page in a new browser tab has the cookie but not the CSRF token it
	 * got at login. Only a script of this origin can read this response,
	 * so handing the token back here gives a cross-site page nothing.
	 */
	if (who.by_cookie)
		json_object_set_new(body, "csrf_token", json_string(who.csrf));
	http_respond_json(req, 200, body, "Cache-Control: no-store\r\n");
}

static void handle_password_change(struct http_request *req)
{
	struct api_principal who;
	const char *current, *next;
	struct auth_job *job = NULL;
	json_t *body;

	if (!api_authenticate(req, API_ROLE_CUSTOMER, &who) || (body = api_json_body(req)) == NULL)
		return;
	if (!api_string(req, body, "current_password", true, 1, PASSWORD_MAX_CHARS * 4, false, &current) ||
	    !api_string(req, body, "new_password", true, 0, PASSWORD_MAX_CHARS * 4, false, &next))
		goto out;
	if (!password_valid(next)) {
		respond_password_rules(req, "new_password");
		goto out;
	}
	job = job_new(req, AUTH_PASSWORD_CHANGE);
	if (job == NULL)
		goto out;
	memcpy(job->email, who.email, sizeof(job->email) - 1);
	snprintf(job->password, sizeof(job->password), "%s", current);
	snprintf(job->new_password, sizeof(job->new_password), "%s", next);
	job->verify = true;
	job->rehash = true;
	if (!job_load_user(req, job) || job->user_id != who.user_id) {
		if (job->user_id != who.user_id)
			http_respond_problem(req, 401, "session_expired", NULL,
					     "The session has expired or was closed. Log in again.");
		job_free(job);
		job = NULL;
	}
out:
	json_decref(body);
	if (job != NULL)
		job_start(job, loop_of(req));
}

int accounts_routes_register(struct http_router *public_router, struct http_router *operator_router, void *ctx)
{
	struct node *node = ctx;
	const struct http_route_def public_routes[] = {
		{HTTP_METHOD_POST, "/api/v1/auth/register", handle_register, node, AUTH_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/auth/login", handle_login, node, AUTH_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/auth/logout", handle_logout, node, AUTH_BODY_MAX_BYTES},
		{HTTP_METHOD_GET, "/api/v1/me", handle_me, node, 0},
		{HTTP_METHOD_POST, "/api/v1/auth/cookie", handle_cookie, node, AUTH_BODY_MAX_BYTES},
		{HTTP_METHOD_POST, "/api/v1/me/password", handle_password_change, node, AUTH_BODY_MAX_BYTES},
	};
	const struct http_route_def operator_route = {HTTP_METHOD_POST, "/ops/v1/admins", handle_admin_create, node,
						      AUTH_BODY_MAX_BYTES};

	ratelimit_init(&node->login_by_account, node->config.login_account_attempts, ACCOUNT_WINDOW_MS);
	ratelimit_init(&node->login_by_address, node->config.login_address_attempts, ADDRESS_WINDOW_MS);
	for (size_t i = 0; i < sizeof(public_routes) / sizeof(public_routes[0]); i++) {
		if (http_router_add(public_router, &public_routes[i]) != 0)
			return -1;
	}
	return http_router_add(operator_router, &operator_route);
}
