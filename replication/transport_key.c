/* Cluster key generation and key files; see transport.h. */
#include "replication/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_HEX_DIGITS (2 * TRANSPORT_KEY_BYTES)

enum transport_err transport_key_generate(unsigned char key[TRANSPORT_KEY_BYTES])
{
	if (sodium_init() < 0)
		return TRANSPORT_CRYPTO_INIT_FAILED;
	randombytes_buf(key, TRANSPORT_KEY_BYTES);
	return TRANSPORT_OK;
}

/* Reads at most one byte more than a key file may hold, so longer files are detected. */
static enum transport_err read_key_text(int fd, char *text, size_t text_size, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return TRANSPORT_KEY_FILE_UNREADABLE;
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return TRANSPORT_KEY_FILE_PERMISSIONS;
	*len = 0;
	while (*len < text_size) {
		ssize_t n = read(fd, text + *len, text_size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return TRANSPORT_KEY_FILE_UNREADABLE;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return TRANSPORT_OK;
}

static enum transport_err parse_key_text(char *text, size_t len, unsigned char key[TRANSPORT_KEY_BYTES])
{
	size_t key_len = 0;

	if (len == KEY_HEX_DIGITS + 1 && text[KEY_HEX_DIGITS] == '\n')
		len--;
	if (len != KEY_HEX_DIGITS)
		return TRANSPORT_KEY_FILE_INVALID;
	if (sodium_hex2bin(key, TRANSPORT_KEY_BYTES, text, len, NULL, &key_len, NULL) != 0 ||
	    key_len != TRANSPORT_KEY_BYTES)
		return TRANSPORT_KEY_FILE_INVALID;
	return TRANSPORT_OK;
}

enum transport_err transport_key_load(const char *path, unsigned char key[TRANSPORT_KEY_BYTES])
{
	char text[KEY_HEX_DIGITS + 2];
	size_t len = 0;
	enum transport_err err;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return TRANSPORT_KEY_FILE_UNREADABLE;
	err = read_key_text(fd, text, sizeof(text), &len);
	close(fd);
	if (err == TRANSPORT_OK)
		err = parse_key_text(text, len, key);
	sodium_memzero(text, sizeof(text));
	return err;
}

enum transport_err transport_key_save(const char *path, const unsigned char key[TRANSPORT_KEY_BYTES])
{
	char text[KEY_HEX_DIGITS + 2];
	size_t len = KEY_HEX_DIGITS + 1;
	ssize_t written;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno == EEXIST ? TRANSPORT_KEY_FILE_EXISTS : TRANSPORT_KEY_FILE_WRITE_FAILED;
	sodium_bin2hex(text, sizeof(text), key, TRANSPORT_KEY_BYTES);
	text[KEY_HEX_DIGITS] = '\n';
	written = write(fd, text, len);
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0 || written != (ssize_t)len) {
		unlink(path);
		return TRANSPORT_KEY_FILE_WRITE_FAILED;
	}
	return TRANSPORT_OK;
}
