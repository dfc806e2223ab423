/*
 * kv: the LMDB storage layer declared in kv.h.
 *
 * Guarantees beyond kv.h:
 * - Commits are durable: the environment is opened without MDB_NOSYNC or
 *   MDB_NOMETASYNC, so kv_write_commit() returns after LMDB has synced the
 *   data file.
 * - The map is never remapped while a transaction of this process is open,
 *   because every remap takes the resize lock exclusively (struct
 *   resize_lock).
 * - No LMDB error code leaves this file: kv_err_from_mdb() translates them.
 */
#include "kv/kv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* How long a new transaction defers to a waiting kv_grow(), in nanoseconds. */
#define GROW_YIELD_NS (10 * 1000 * 1000L)

/* Attempts of kv_*_begin() while other processes keep growing the map. */
#define MAP_RESIZED_ATTEMPTS 3

#define DIR_MODE 0700
#define FILE_MODE 0600

/*
 * A shared/exclusive lock around the LMDB map. Every top-level transaction
 * holds it shared for its whole life. A remap holds it exclusively, because
 * mdb_env_set_mapsize() must not run while a transaction of this process is
 * open. Child transactions rely on their parent's hold.
 *
 * It is a counter under a mutex, not a pthread_rwlock_t, because a read
 * transaction may end on another thread than the one that began it, and
 * POSIX leaves unlocking a rwlock from a thread that does not hold it
 * undefined.
 *
 * Deadlock rules:
 * - The exclusive hold waits until no transaction of this process is open,
 *   so a thread must end all of its transactions before kv_grow().
 * - A waiting grower never blocks a new shared hold for longer than
 *   GROW_YIELD_NS. So a thread that already holds a transaction (a read
 *   transaction beside its write transaction, say) can always begin
 *   another one, and the grower gets its turn once the count reaches zero.
 *   The short yield keeps a stream of overlapping short transactions from
 *   starving the grower.
 * - Only an exclusive hold in progress (the remap itself, which holds no
 *   transaction) blocks shared holds without a time limit.
 */
struct resize_lock {
	pthread_mutex_t mutex;
	pthread_cond_t changed;    /* broadcast when holders drops to 0 or a remap ends */
	unsigned long holders;     /* open top-level transactions */
	unsigned growers_waiting;
	bool resizing;
};

/* A table handle and its name, kept so that kv_digest() can find handles by name. */
struct table_entry {
	char *name;
	MDB_dbi dbi;
};

struct kv_env {
	MDB_env *mdb;
	struct resize_lock resize;
	/*
	 * Every table opened in this process, at most max_tables. kv_digest()
	 * looks handles up here instead of calling mdb_dbi_open() inside a read
	 * transaction, because a handle LMDB opens there is closed when the
	 * transaction ends and must not race another mdb_dbi_open().
	 */
	pthread_mutex_t tables_mutex;
	struct table_entry *tables;
	unsigned table_count;
	unsigned table_max;
	size_t map_size_max;
	size_t os_page_size;
	/*
	 * Set when a remap failed. LMDB 0.9 unmaps the old map before mapping
	 * the new one and leaves no map behind on failure, so no transaction
	 * may begin afterwards. Written under the exclusive hold.
	 */
	bool map_lost;
};

struct kv_txn {
	struct kv_env *env;
	MDB_txn *mdb;
	struct kv_txn *parent;     /* NULL for a top-level transaction */
	bool writable;
};

struct kv_cursor {
	MDB_cursor *mdb;
	size_t prefix_len;
	size_t after_len;
	bool started;
	bool finished;
	unsigned char prefix[KV_KEY_MAX_BYTES];
	unsigned char after[KV_KEY_MAX_BYTES];
};

const char *kv_strerror(enum kv_err err)
{
	switch (err) {
	case KV_OK:
		return "success";
	case KV_NOT_FOUND:
		return "key not found";
	case KV_MAP_FULL:
		return "map full, grow it and retry";
	case KV_MAP_FULL_MAX:
		return "map full at its maximum size";
	case KV_INVALID:
		return "invalid argument";
	case KV_TABLES_FULL:
		return "too many tables";
	case KV_READERS_FULL:
		return "too many concurrent read transactions";
	case KV_TXN_FULL:
		return "transaction changed too many pages";
	case KV_CORRUPT:
		return "database file corrupt, truncated or of another version";
	case KV_NO_MEMORY:
		return "out of memory";
	case KV_IO:
		return "I/O or storage failure";
	case KV_BAD_RECORD:
		return "value is not a well-formed record";
	case KV_UNSUPPORTED:
		return "record schema version not supported";
	case KV_NO_SPACE:
		return "no space left on the device";
	}
	return "unknown kv error";
}

enum kv_err kv_err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOMEM:
		return KV_NO_MEMORY;
	case ENOSPC:
	case EDQUOT:
		return KV_NO_SPACE;
	default:
		return KV_IO;
	}
}

/*
 * Translates an LMDB return code. EINVAL and MDB_BAD_VALSIZE mean a bad
 * argument reached LMDB. MDB_PAGE_NOTFOUND means a damaged file. Other
 * codes are errno values of failed system calls.
 */
static enum kv_err kv_err_from_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return KV_OK;
	case MDB_NOTFOUND:
		return KV_NOT_FOUND;
	case MDB_MAP_FULL:
		return KV_MAP_FULL;
	case MDB_DBS_FULL:
		return KV_TABLES_FULL;
	case MDB_READERS_FULL:
		return KV_READERS_FULL;
	case MDB_TXN_FULL:
		return KV_TXN_FULL;
	case MDB_CORRUPTED:
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID:
	case MDB_PAGE_NOTFOUND:
		return KV_CORRUPT;
	case EINVAL:
	case MDB_BAD_VALSIZE:
		return KV_INVALID;
	default:
		return kv_err_from_errno(rc);
	}
}

static void mutex_lock(pthread_mutex_t *mutex)
{
	int rc = pthread_mutex_lock(mutex);

	assert(rc == 0);
	(void)rc;
}

static void mutex_unlock(pthread_mutex_t *mutex)
{
	int rc = pthread_mutex_unlock(mutex);

	assert(rc == 0);
	(void)rc;
}

static void cond_wait(struct resize_lock *lock)
{
	int rc = pthread_cond_wait(&lock->changed, &lock->mutex);

	assert(rc == 0);
	(void)rc;
}

static void cond_broadcast(struct resize_lock *lock)
{
	int rc = pthread_cond_broadcast(&lock->changed);

	assert(rc == 0);
	(void)rc;
}

static int resize_lock_init(struct resize_lock *lock)
{
	pthread_condattr_t attr;
	int rc;

	memset(lock, 0, sizeof(*lock));
	rc = pthread_mutex_init(&lock->mutex, NULL);
	if (rc != 0)
		return rc;
	rc = pthread_condattr_init(&attr);
	if (rc != 0)
		goto destroy_mutex;
	/* The yield deadline must not move when the wall clock is set. */
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&lock->changed, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		goto destroy_mutex;
	return 0;

destroy_mutex:
	pthread_mutex_destroy(&lock->mutex);
	return rc;
}

static void resize_lock_destroy(struct resize_lock *lock)
{
	assert(lock->holders == 0);
	assert(!lock->resizing);
	assert(lock->growers_waiting == 0);
	pthread_cond_destroy(&lock->changed);
	pthread_mutex_destroy(&lock->mutex);
}

static void deadline_after(struct timespec *deadline, long ns)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_nsec += ns;
	deadline->tv_sec += deadline->tv_nsec / 1000000000L;
	deadline->tv_nsec %= 1000000000L;
}

static void lock_shared(struct resize_lock *lock)
{
	struct timespec deadline;
	bool have_deadline = false;
	bool yield_over = false;
	int rc;

	mutex_lock(&lock->mutex);
	while (lock->resizing || (lock->growers_waiting > 0 && !yield_over)) {
		if (lock->resizing) {
			cond_wait(lock);
			continue;
		}
		if (!have_deadline) {
			deadline_after(&deadline, GROW_YIELD_NS);
			have_deadline = true;
		}
		rc = pthread_cond_timedwait(&lock->changed, &lock->mutex, &deadline);
		assert(rc == 0 || rc == ETIMEDOUT);
		yield_over = rc == ETIMEDOUT;
	}
	lock->holders++;
	mutex_unlock(&lock->mutex);
}

static void unlock_shared(struct resize_lock *lock)
{
	mutex_lock(&lock->mutex);
	assert(lock->holders > 0);
	lock->holders--;
	if (lock->holders == 0 && lock->growers_waiting > 0)
		cond_broadcast(lock);
	mutex_unlock(&lock->mutex);
}

static void lock_exclusive(struct resize_lock *lock)
{
	mutex_lock(&lock->mutex);
	lock->growers_waiting++;
	while (lock->resizing || lock->holders > 0)
		cond_wait(lock);
	lock->growers_waiting--;
	lock->resizing = true;
	mutex_unlock(&lock->mutex);
}

static void unlock_exclusive(struct resize_lock *lock)
{
	mutex_lock(&lock->mutex);
	assert(lock->resizing);
	lock->resizing = false;
	cond_broadcast(lock);
	mutex_unlock(&lock->mutex);
}

/* Records the handle of the table name unless it is recorded already. */
static enum kv_err table_register(struct kv_env *env, const char *name, MDB_dbi dbi)
{
	enum kv_err err = KV_OK;
	char *copy;

	mutex_lock(&env->tables_mutex);
	for (unsigned i = 0; i < env->table_count; i++) {
		if (strcmp(env->tables[i].name, name) == 0)
			goto unlock;
	}
	/* LMDB opens at most max_tables named tables, so the array has room. */
	assert(env->table_count < env->table_max);
	copy = strdup(name);
	if (copy == NULL) {
		err = KV_NO_MEMORY;
		goto unlock;
	}
	env->tables[env->table_count++] = (struct table_entry){ .name = copy, .dbi = dbi };
unlock:
	mutex_unlock(&env->tables_mutex);
	return err;
}

/* Finds the handle of the table whose name is the len bytes at name. */
static bool table_lookup(struct kv_env *env, const void *name, size_t len, MDB_dbi *out)
{
	bool found = false;

	mutex_lock(&env->tables_mutex);
	for (unsigned i = 0; i < env->table_count && !found; i++) {
		const char *candidate = env->tables[i].name;

		if (strlen(candidate) == len && memcmp(candidate, name, len) == 0) {
			*out = env->tables[i].dbi;
			found = true;
		}
	}
	mutex_unlock(&env->tables_mutex);
	return found;
}

static void tables_free(struct kv_env *env)
{
	for (unsigned i = 0; i < env->table_count; i++)
		free(env->tables[i].name);
	free(env->tables);
	pthread_mutex_destroy(&env->tables_mutex);
}

/* Creates one directory and returns 0 if it exists afterwards, else errno. */
static int make_directory(const char *path)
{
	if (mkdir(path, DIR_MODE) == 0 || errno == EEXIST)
		return 0;
	return errno;
}

/* Creates path and its missing parents, like mkdir -p. Returns 0 or errno. */
static int make_directories(const char *path)
{
	char *copy;
	char *slash;
	int rc = 0;

	copy = strdup(path);
	if (copy == NULL)
		return ENOMEM;
	for (slash = strchr(copy + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		rc = make_directory(copy);
		*slash = '/';
		if (rc != 0)
			goto out;
	}
	rc = make_directory(copy);
out:
	free(copy);
	return rc;
}

/* Returns the size of path/data.mdb, or 0 if it does not exist yet. */
static size_t data_file_size(const char *path)
{
	struct stat st;
	char *file;
	size_t size = 0;

	if (asprintf(&file, "%s/data.mdb", path) < 0)
		return 0;
	if (stat(file, &st) == 0 && st.st_size > 0)
		size = (size_t)st.st_size;
	free(file);
	return size;
}

static size_t round_up(size_t size, size_t unit)
{
	size_t rest = size % unit;

	return rest == 0 ? size : size + (unit - rest);
}

static bool options_valid(const struct kv_options *options)
{
	if (options == NULL || options->path == NULL || options->path[0] == '\0')
		return false;
	if (options->map_size_bytes == 0 || options->map_size_max_bytes < options->map_size_bytes)
		return false;
	/* Keeps round_up() and doubling free of overflow. */
	if (options->map_size_max_bytes > SIZE_MAX / 4)
		return false;
	return options->max_tables > 0 && options->max_readers > 0;
}

static size_t current_map_size(struct kv_env *env)
{
	MDB_envinfo info;
	int rc = mdb_env_info(env->mdb, &info);

	assert(rc == MDB_SUCCESS);
	(void)rc;
	return info.me_mapsize;
}

/*
 * Sets the limits that LMDB accepts only before mdb_env_open(). The map
 * starts at the data file's size if that is larger than map_size_bytes.
 */
static enum kv_err configure_env(struct kv_env *env, const struct kv_options *options)
{
	size_t initial = options->map_size_bytes;
	size_t file_size = data_file_size(options->path);
	int rc;

	if (file_size > initial)
		initial = file_size;
	rc = mdb_env_set_maxdbs(env->mdb, options->max_tables);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_maxreaders(env->mdb, options->max_readers);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_mapsize(env->mdb, round_up(initial, env->os_page_size));
	return kv_err_from_mdb(rc);
}

/*
 * Raises the map to the size stored in the file if that is larger. LMDB
 * keeps the largest map size any process committed with, but
 * mdb_env_open() starts at the configured size and only rounds it up to the
 * pages in use. A size of zero makes mdb_env_set_mapsize() adopt the
 * stored size. Runs before any transaction exists, so no lock is needed.
 */
static enum kv_err adopt_stored_map_size(struct kv_env *env)
{
	size_t configured = current_map_size(env);
	int rc;

	rc = mdb_env_set_mapsize(env->mdb, 0);
	if (rc == MDB_SUCCESS && current_map_size(env) < configured)
		rc = mdb_env_set_mapsize(env->mdb, configured);
	return kv_err_from_mdb(rc);
}

/*
 * Checks that the data file contains every page up to the last one in
 * use, as the newest meta page records it. mdb_env_open() reads only the
 * meta pages, and a later access to a page past the end of a truncated
 * file raises SIGBUS in the first transaction.
 */
static enum kv_err check_file_complete(struct kv_env *env)
{
	MDB_envinfo info;
	MDB_stat stat_mdb;
	struct stat st;
	int fd;

	if (mdb_env_info(env->mdb, &info) != MDB_SUCCESS || mdb_env_stat(env->mdb, &stat_mdb) != MDB_SUCCESS ||
	    mdb_env_get_fd(env->mdb, &fd) != MDB_SUCCESS)
		return KV_IO;
	if (fstat(fd, &st) != 0)
		return kv_err_from_errno(errno);
	if ((uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * stat_mdb.ms_psize)
		return KV_CORRUPT;
	return KV_OK;
}

/*
 * Opens one table named by a key of the main database. Keys that cannot be
 * a kv table name, and records that are not tables, are skipped.
 */
static enum kv_err open_existing_table(struct kv_env *env, MDB_txn *txn, const MDB_val *key)
{
	char name[KV_KEY_MAX_BYTES + 1];
	MDB_dbi dbi;
	int rc;

	if (key->mv_size == 0 || key->mv_size > KV_KEY_MAX_BYTES || memchr(key->mv_data, '\0', key->mv_size) != NULL)
		return KV_OK;
	memcpy(name, key->mv_data, key->mv_size);
	name[key->mv_size] = '\0';
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	if (rc == MDB_INCOMPATIBLE)
		return KV_OK;
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);
	return table_register(env, name, dbi);
}

/*
 * Opens every table the file contains, so that kv_digest() has a handle for
 * each. LMDB keeps handles opened in a read-only transaction that commits.
 * Runs before any other transaction, so no lock is needed. A file with
 * more tables than max_tables returns KV_TABLES_FULL.
 */
static enum kv_err open_existing_tables(struct kv_env *env)
{
	MDB_cursor *cursor;
	MDB_val key, value;
	MDB_dbi main_dbi;
	MDB_txn *txn;
	enum kv_err err = KV_OK;
	int rc;

	rc = mdb_txn_begin(env->mdb, NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);
	rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_open(txn, main_dbi, &cursor);
	if (rc != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return kv_err_from_mdb(rc);
	}

	rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
	while (rc == MDB_SUCCESS && err == KV_OK) {
		err = open_existing_table(env, txn, &key);
		rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	if (err == KV_OK && rc != MDB_NOTFOUND)
		err = kv_err_from_mdb(rc);

	if (err != KV_OK) {
		mdb_txn_abort(txn);
		return err;
	}
	return kv_err_from_mdb(mdb_txn_commit(txn));
}

static enum kv_err open_mdb_env(struct kv_env *env, const struct kv_options *options)
{
	enum kv_err err;
	int rc;

	rc = mdb_env_create(&env->mdb);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);

	/* kv.h promises keys of KV_KEY_MAX_BYTES, a compile-time LMDB limit. */
	if (mdb_env_get_maxkeysize(env->mdb) < KV_KEY_MAX_BYTES) {
		err = KV_IO;
		goto close_env;
	}
	err = configure_env(env, options);
	if (err != KV_OK)
		goto close_env;

	/* MDB_NOTLS ties reader slots to transactions, not threads. */
	rc = mdb_env_open(env->mdb, options->path, MDB_NOTLS, FILE_MODE);
	if (rc != MDB_SUCCESS) {
		err = kv_err_from_mdb(rc);
		goto close_env;
	}
	err = check_file_complete(env);
	if (err == KV_OK)
		err = adopt_stored_map_size(env);
	if (err == KV_OK)
		err = open_existing_tables(env);
	if (err != KV_OK)
		goto close_env;
	return KV_OK;

close_env:
	mdb_env_close(env->mdb);
	env->mdb = NULL;
	return err;
}

enum kv_err kv_open(const struct kv_options *options, struct kv_env **out)
{
	struct kv_env *env;
	enum kv_err err;
	long page_size;
	int rc;

	*out = NULL;
	if (!options_valid(options))
		return KV_INVALID;
	rc = make_directories(options->path);
	if (rc != 0)
		return kv_err_from_errno(rc);

	env = calloc(1, sizeof(*env));
	if (env == NULL)
		return KV_NO_MEMORY;
	page_size = sysconf(_SC_PAGESIZE);
	env->os_page_size = page_size > 0 ? (size_t)page_size : 4096;
	env->map_size_max = options->map_size_max_bytes;

	rc = resize_lock_init(&env->resize);
	if (rc != 0) {
		err = kv_err_from_errno(rc);
		goto free_env;
	}
	rc = pthread_mutex_init(&env->tables_mutex, NULL);
	if (rc != 0) {
		err = kv_err_from_errno(rc);
		goto destroy_lock;
	}
	env->table_max = options->max_tables;
	env->tables = calloc(env->table_max, sizeof(*env->tables));
	if (env->tables == NULL) {
		err = KV_NO_MEMORY;
		goto free_tables;
	}
	err = open_mdb_env(env, options);
	if (err != KV_OK)
		goto free_tables;
	*out = env;
	return KV_OK;

free_tables:
	tables_free(env);
destroy_lock:
	resize_lock_destroy(&env->resize);
free_env:
	free(env);
	return err;
}

void kv_close(struct kv_env *env)
{
	if (env == NULL)
		return;
	mdb_env_close(env->mdb);
	tables_free(env);
	resize_lock_destroy(&env->resize);
	free(env);
}

enum kv_err kv_table_open(struct kv_env *env, const char *name, kv_table *out)
{
	struct kv_txn *txn;
	MDB_dbi dbi;
	enum kv_err err;
	int rc;

	if (name == NULL || name[0] == '\0')
		return KV_INVALID;
	err = kv_write_begin(env, &txn);
	if (err != KV_OK)
		return err;
	rc = mdb_dbi_open(txn->mdb, name, MDB_CREATE, &dbi);
	if (rc != MDB_SUCCESS) {
		kv_write_abort(txn);
		return kv_err_from_mdb(rc);
	}
	err = kv_write_commit(txn);
	if (err == KV_OK)
		err = table_register(env, name, dbi);
	if (err == KV_OK)
		*out = dbi;
	return err;
}

/* Returns the next map size: double, capped at max, whole OS pages. */
static size_t next_map_size(size_t current, size_t max, size_t page_size)
{
	size_t next = current > max / 2 ? max : current * 2;

	return next - next % page_size;
}

/*
 * NOTE: two writers that both hit KV_MAP_FULL before either grows will
 * each double the map. That costs address space, not disk, because the
 * data file grows only with the pages in use.
 */
enum kv_err kv_grow(struct kv_env *env)
{
	size_t current, next;
	enum kv_err err = KV_OK;
	int rc;

	lock_exclusive(&env->resize);
	if (env->map_lost) {
		err = KV_IO;
		goto unlock;
	}
	current = current_map_size(env);
	next = next_map_size(current, env->map_size_max, env->os_page_size);
	if (next <= current) {
		err = KV_MAP_FULL_MAX;
		goto unlock;
	}
	rc = mdb_env_set_mapsize(env->mdb, next);
	if (rc != MDB_SUCCESS) {
		env->map_lost = true;
		err = kv_err_from_mdb(rc);
	}
unlock:
	unlock_exclusive(&env->resize);
	return err;
}

/*
 * Adopts the map size that another process committed, after
 * mdb_txn_begin() returned MDB_MAP_RESIZED.
 *
 * NOTE: this waits for every transaction of this process to end. A thread
 * that holds one transaction while beginning another deadlocks here if
 * another process has just grown the map.
 */
static enum kv_err adopt_resized_map(struct kv_env *env)
{
	enum kv_err err = KV_OK;
	int rc;

	lock_exclusive(&env->resize);
	if (env->map_lost) {
		err = KV_IO;
		goto unlock;
	}
	rc = mdb_env_set_mapsize(env->mdb, 0);
	if (rc != MDB_SUCCESS) {
		env->map_lost = true;
		err = kv_err_from_mdb(rc);
	}
unlock:
	unlock_exclusive(&env->resize);
	return err;
}

/*
 * Begins a top-level LMDB transaction. On KV_OK the caller owns one shared
 * hold of the resize lock, released by end_top_level().
 */
static enum kv_err begin_mdb_txn(struct kv_env *env, unsigned flags, MDB_txn **out)
{
	enum kv_err err;
	int attempt;
	int rc;

	for (attempt = 0; attempt < MAP_RESIZED_ATTEMPTS; attempt++) {
		lock_shared(&env->resize);
		if (env->map_lost)
			rc = EIO;
		else
			rc = mdb_txn_begin(env->mdb, NULL, flags, out);
		if (rc == MDB_SUCCESS)
			return KV_OK;
		unlock_shared(&env->resize);
		if (rc != MDB_MAP_RESIZED)
			return kv_err_from_mdb(rc);
		err = adopt_resized_map(env);
		if (err != KV_OK)
			return err;
	}
	/* Other processes kept growing the map faster than this one followed. */
	return KV_IO;
}

static enum kv_err begin_top_level(struct kv_env *env, unsigned flags, struct kv_txn **out)
{
	struct kv_txn *txn;
	enum kv_err err;

	*out = NULL;
	txn = calloc(1, sizeof(*txn));
	if (txn == NULL)
		return KV_NO_MEMORY;
	txn->env = env;
	txn->writable = (flags & MDB_RDONLY) == 0;
	err = begin_mdb_txn(env, flags, &txn->mdb);
	if (err != KV_OK) {
		free(txn);
		return err;
	}
	*out = txn;
	return KV_OK;
}

/* Frees a top-level transaction whose LMDB transaction has ended. */
static void end_top_level(struct kv_txn *txn)
{
	unlock_shared(&txn->env->resize);
	free(txn);
}

enum kv_err kv_read_begin(struct kv_env *env, struct kv_txn **out)
{
	return begin_top_level(env, MDB_RDONLY, out);
}

void kv_read_end(struct kv_txn *txn)
{
	if (txn == NULL)
		return;
	assert(!txn->writable);
	assert(txn->parent == NULL);
	mdb_txn_abort(txn->mdb);
	end_top_level(txn);
}

enum kv_err kv_write_begin(struct kv_env *env, struct kv_txn **out)
{
	return begin_top_level(env, 0, out);
}

/*
 * Translates the failure of a commit. LMDB 0.9.24 reports a short write,
 * which is how a full file system usually shows, as EIO (mdb_page_flush:
 * "short write, filesystem full?"). So EIO while the file system has no
 * block left for unprivileged users is reported as KV_NO_SPACE.
 */
static enum kv_err commit_error(struct kv_env *env, int rc)
{
	struct statvfs fs;
	int fd;

	if (rc == EIO && mdb_env_get_fd(env->mdb, &fd) == MDB_SUCCESS && fstatvfs(fd, &fs) == 0 &&
	    fs.f_bavail == 0)
		return KV_NO_SPACE;
	return kv_err_from_mdb(rc);
}

enum kv_err kv_write_commit(struct kv_txn *txn)
{
	struct kv_env *env = txn->env;
	int rc;

	assert(txn->writable);
	assert(txn->parent == NULL);
	rc = mdb_txn_commit(txn->mdb);
	end_top_level(txn);
	return rc == MDB_SUCCESS ? KV_OK : commit_error(env, rc);
}

void kv_write_abort(struct kv_txn *txn)
{
	if (txn == NULL)
		return;
	assert(txn->writable);
	assert(txn->parent == NULL);
	mdb_txn_abort(txn->mdb);
	end_top_level(txn);
}

enum kv_err kv_child_begin(struct kv_txn *parent, struct kv_txn **out)
{
	struct kv_txn *child;
	int rc;

	*out = NULL;
	if (!parent->writable)
		return KV_INVALID;
	child = calloc(1, sizeof(*child));
	if (child == NULL)
		return KV_NO_MEMORY;
	child->env = parent->env;
	child->parent = parent;
	child->writable = true;
	rc = mdb_txn_begin(parent->env->mdb, parent->mdb, 0, &child->mdb);
	if (rc != MDB_SUCCESS) {
		free(child);
		return kv_err_from_mdb(rc);
	}
	*out = child;
	return KV_OK;
}

enum kv_err kv_child_commit(struct kv_txn *child)
{
	int rc;

	assert(child->parent != NULL);
	rc = mdb_txn_commit(child->mdb);
	free(child);
	return kv_err_from_mdb(rc);
}

void kv_child_abort(struct kv_txn *child)
{
	if (child == NULL)
		return;
	assert(child->parent != NULL);
	mdb_txn_abort(child->mdb);
	free(child);
}

static bool key_valid(const void *key, size_t key_len)
{
	return key != NULL && key_len >= 1 && key_len <= KV_KEY_MAX_BYTES;
}

/* LMDB takes non-const pointers but does not write through input keys. */
static MDB_val mdb_val_of(const void *data, size_t len)
{
	MDB_val val = { .mv_size = len, .mv_data = (void *)data };

	return val;
}

enum kv_err kv_get(struct kv_txn *txn, kv_table table, const void *key, size_t key_len,
		   struct kv_val *out)
{
	MDB_val k = mdb_val_of(key, key_len);
	MDB_val v;
	int rc;

	if (!key_valid(key, key_len))
		return KV_INVALID;
	rc = mdb_get(txn->mdb, table, &k, &v);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);
	out->data = v.mv_data;
	out->len = v.mv_size;
	return KV_OK;
}

enum kv_err kv_put(struct kv_txn *txn, kv_table table, const void *key, size_t key_len,
		   const void *value, size_t value_len)
{
	MDB_val k = mdb_val_of(key, key_len);
	MDB_val v = mdb_val_of(value, value_len);

	if (!key_valid(key, key_len) || !txn->writable)
		return KV_INVALID;
	if (value == NULL && value_len > 0)
		return KV_INVALID;
	return kv_err_from_mdb(mdb_put(txn->mdb, table, &k, &v, 0));
}

enum kv_err kv_del(struct kv_txn *txn, kv_table table, const void *key, size_t key_len)
{
	MDB_val k = mdb_val_of(key, key_len);

	if (!key_valid(key, key_len) || !txn->writable)
		return KV_INVALID;
	return kv_err_from_mdb(mdb_del(txn->mdb, table, &k, NULL));
}

/* Compares like LMDB's default key order: bytewise, then shorter first. */
static int compare_keys(const void *a, size_t a_len, const void *b, size_t b_len)
{
	size_t common = a_len < b_len ? a_len : b_len;
	int cmp = common > 0 ? memcmp(a, b, common) : 0;

	if (cmp != 0)
		return cmp;
	return (a_len > b_len) - (a_len < b_len);
}

static bool has_prefix(const MDB_val *key, const struct kv_cursor *cursor)
{
	if (key->mv_size < cursor->prefix_len)
		return false;
	return cursor->prefix_len == 0 ||
	       memcmp(key->mv_data, cursor->prefix, cursor->prefix_len) == 0;
}

/*
 * Positions the cursor on the first key that is >= prefix and > after.
 * Seeking to whichever bound sorts later satisfies both, because every
 * key past the later bound is past the earlier one too.
 */
static int seek_first(struct kv_cursor *cursor, MDB_val *key, MDB_val *value)
{
	bool from_after = cursor->after_len > 0 &&
			  compare_keys(cursor->after, cursor->after_len,
				       cursor->prefix, cursor->prefix_len) >= 0;
	const unsigned char *start = from_after ? cursor->after : cursor->prefix;
	size_t start_len = from_after ? cursor->after_len : cursor->prefix_len;
	int rc;

	if (start_len == 0)
		return mdb_cursor_get(cursor->mdb, key, value, MDB_FIRST);
	*key = mdb_val_of(start, start_len);
	rc = mdb_cursor_get(cursor->mdb, key, value, MDB_SET_RANGE);
	/* MDB_SET_RANGE stops at an equal key, but `after` is exclusive. */
	if (rc == MDB_SUCCESS && from_after &&
	    compare_keys(key->mv_data, key->mv_size, start, start_len) == 0)
		rc = mdb_cursor_get(cursor->mdb, key, value, MDB_NEXT);
	return rc;
}

enum kv_err kv_scan_begin(struct kv_txn *txn, kv_table table, const void *prefix,
			  size_t prefix_len, const void *after, size_t after_len,
			  struct kv_cursor **out)
{
	struct kv_cursor *cursor;
	int rc;

	*out = NULL;
	if (prefix_len > KV_KEY_MAX_BYTES || after_len > KV_KEY_MAX_BYTES)
		return KV_INVALID;
	if ((prefix == NULL && prefix_len > 0) || (after == NULL && after_len > 0))
		return KV_INVALID;
	cursor = calloc(1, sizeof(*cursor));
	if (cursor == NULL)
		return KV_NO_MEMORY;
	rc = mdb_cursor_open(txn->mdb, table, &cursor->mdb);
	if (rc != MDB_SUCCESS) {
		free(cursor);
		return kv_err_from_mdb(rc);
	}
	/* Copies, so that the caller's buffers may go away before the scan ends. */
	if (prefix_len > 0)
		memcpy(cursor->prefix, prefix, prefix_len);
	if (after_len > 0)
		memcpy(cursor->after, after, after_len);
	cursor->prefix_len = prefix_len;
	cursor->after_len = after_len;
	*out = cursor;
	return KV_OK;
}

enum kv_err kv_scan_next(struct kv_cursor *cursor, struct kv_val *key, struct kv_val *value)
{
	MDB_val k, v;
	int rc;

	if (cursor->finished)
		return KV_NOT_FOUND;
	if (cursor->started)
		rc = mdb_cursor_get(cursor->mdb, &k, &v, MDB_NEXT);
	else
		rc = seek_first(cursor, &k, &v);
	cursor->started = true;
	/* Keys are sorted, so the first key without the prefix ends the scan. */
	if (rc == MDB_SUCCESS && !has_prefix(&k, cursor))
		rc = MDB_NOTFOUND;
	if (rc != MDB_SUCCESS) {
		cursor->finished = true;
		return kv_err_from_mdb(rc);
	}
	if (key != NULL)
		*key = (struct kv_val){ .data = k.mv_data, .len = k.mv_size };
	if (value != NULL)
		*value = (struct kv_val){ .data = v.mv_data, .len = v.mv_size };
	return KV_OK;
}

void kv_scan_end(struct kv_cursor *cursor)
{
	if (cursor == NULL)
		return;
	mdb_cursor_close(cursor->mdb);
	free(cursor);
}

static const char DIGEST_TAG[] = "jkd-kv-digest-v1";

/* Hashes n as 8 bytes, little-endian, so that digests agree across architectures. */
static void hash_u64(crypto_generichash_state *state, uint64_t n)
{
	unsigned char bytes[8];

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(n >> (8 * i));
	crypto_generichash_update(state, bytes, sizeof(bytes));
}

/* Hashes a length-prefixed byte string, so that no two sequences of strings hash the same input. */
static void hash_bytes(crypto_generichash_state *state, const MDB_val *val)
{
	hash_u64(state, val->mv_size);
	if (val->mv_size > 0)
		crypto_generichash_update(state, val->mv_data, val->mv_size);
}

static bool name_excluded(const MDB_val *name, const char *const *prefixes, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(prefixes[i]);

		if (len <= name->mv_size && memcmp(name->mv_data, prefixes[i], len) == 0)
			return true;
	}
	return false;
}

/* Hashes one table: its name, its record count, then every record in key order. */
static enum kv_err digest_table(crypto_generichash_state *state, MDB_txn *txn, MDB_dbi dbi,
				const MDB_val *name)
{
	MDB_cursor *cursor;
	MDB_val key, value;
	MDB_stat stat;
	uint64_t records = 0;
	int rc;

	rc = mdb_stat(txn, dbi, &stat);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_open(txn, dbi, &cursor);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);
	hash_bytes(state, name);
	hash_u64(state, stat.ms_entries);

	rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
	while (rc == MDB_SUCCESS) {
		hash_bytes(state, &key);
		hash_bytes(state, &value);
		records++;
		rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	if (rc != MDB_NOTFOUND)
		return kv_err_from_mdb(rc);
	/* The count went into the hash before the records, so it must be right. */
	return records == stat.ms_entries ? KV_OK : KV_CORRUPT;
}

/* Hashes every table named in the main database that is not excluded, in name order. */
static enum kv_err digest_tables(crypto_generichash_state *state, struct kv_txn *txn,
				 const char *const *excluded_prefixes, size_t excluded_count)
{
	MDB_cursor *names;
	MDB_val name, record;
	MDB_dbi main_dbi, dbi;
	enum kv_err err = KV_OK;
	int rc;

	rc = mdb_dbi_open(txn->mdb, NULL, 0, &main_dbi);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_open(txn->mdb, main_dbi, &names);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);

	rc = mdb_cursor_get(names, &name, &record, MDB_FIRST);
	while (rc == MDB_SUCCESS && err == KV_OK) {
		if (!name_excluded(&name, excluded_prefixes, excluded_count)) {
			if (table_lookup(txn->env, name.mv_data, name.mv_size, &dbi))
				err = digest_table(state, txn->mdb, dbi, &name);
			else
				err = KV_UNSUPPORTED;
		}
		rc = mdb_cursor_get(names, &name, &record, MDB_NEXT);
	}
	mdb_cursor_close(names);
	if (err == KV_OK && rc != MDB_NOTFOUND)
		err = kv_err_from_mdb(rc);
	return err;
}

enum kv_err kv_digest(struct kv_txn *txn, const char *const *excluded_prefixes, size_t excluded_count,
		      unsigned char out[KV_DIGEST_BYTES])
{
	crypto_generichash_state state;
	enum kv_err err;

	if (excluded_prefixes == NULL && excluded_count > 0)
		return KV_INVALID;
	/* sodium_init() picks the fastest BLAKE2b code; it is safe to call again. */
	if (sodium_init() < 0)
		return KV_IO;
	crypto_generichash_init(&state, NULL, 0, KV_DIGEST_BYTES);
	crypto_generichash_update(&state, (const unsigned char *)DIGEST_TAG, sizeof(DIGEST_TAG) - 1);
	err = digest_tables(&state, txn, excluded_prefixes, excluded_count);
	if (err != KV_OK)
		return err;
	crypto_generichash_final(&state, out, KV_DIGEST_BYTES);
	return KV_OK;
}

enum kv_err kv_copy_to_file(struct kv_env *env, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return kv_err_from_errno(errno);
	/* The shared hold keeps kv_grow() from remapping under the copy's read transaction. */
	lock_shared(&env->resize);
	rc = env->map_lost ? EIO : mdb_env_copyfd2(env->mdb, fd, MDB_CP_COMPACT);
	unlock_shared(&env->resize);
	if (rc == MDB_SUCCESS && fsync(fd) != 0)
		rc = errno;
	close(fd);
	if (rc != MDB_SUCCESS) {
		unlink(path);
		return rc > 0 ? kv_err_from_errno(rc) : kv_err_from_mdb(rc);
	}
	return KV_OK;
}

enum kv_err kv_stats(struct kv_env *env, struct kv_stats *out)
{
	MDB_envinfo info;
	MDB_stat stat;
	int rc;

	/* The shared hold keeps kv_grow() from remapping while LMDB reads the meta page. */
	lock_shared(&env->resize);
	if (env->map_lost)
		rc = EIO;
	else
		rc = mdb_env_info(env->mdb, &info);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_stat(env->mdb, &stat);
	unlock_shared(&env->resize);
	if (rc != MDB_SUCCESS)
		return kv_err_from_mdb(rc);

	out->map_size_bytes = info.me_mapsize;
	out->map_used_bytes = (info.me_last_pgno + 1) * (size_t)stat.ms_psize;
	out->map_size_max_bytes = env->map_size_max;
	return KV_OK;
}
