/*
 * Image checks (see images.h) and the apply functions of the image
 * commands. The bytes of an image are stored in its record in table images.
 * The product's views list its images by URL, so adding or deleting one
 * re-renders the product.
 */
#include "store/images.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/i18n.h"
#include "store/catalog_internal.h"

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char png_iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le24(const unsigned char *p)
{
	return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static bool dimensions_valid(const struct image_info *info)
{
	return info->width > 0 && info->height > 0 && info->width <= IMAGE_DIMENSION_MAX &&
	       info->height <= IMAGE_DIMENSION_MAX;
}

/* PNG: signature, IHDR as the first chunk (13 bytes), IEND as the last. */
static bool png_check(const unsigned char *data, size_t len, struct image_info *out)
{
	if (len < sizeof(png_signature) + 25 + sizeof(png_iend) ||
	    memcmp(data, png_signature, sizeof(png_signature)) != 0)
		return false;
	if (be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0)
		return false;
	out->width = be32(data + 16);
	out->height = be32(data + 20);
	return memcmp(data + len - sizeof(png_iend), png_iend, sizeof(png_iend)) == 0;
}

/* A start-of-frame marker: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), as in ITU-T T.81, table B.1. */
static bool jpeg_is_sof(unsigned char marker)
{
	return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

/* JPEG: SOI, then length-prefixed segments with a frame header before start of scan, and EOI at the end. */
static bool jpeg_check(const unsigned char *data, size_t len, struct image_info *out)
{
	size_t at = 2;
	bool frame = false;

	if (len < 4 || data[0] != 0xff || data[1] != 0xd8 || data[2] != 0xff)
		return false;
	if (data[len - 2] != 0xff || data[len - 1] != 0xd9)
		return false;
	while (at + 4 <= len) {
		unsigned char marker = data[at + 1];
		size_t segment;

		if (data[at] != 0xff)
			return false;
		if (marker == 0xff) { /* fill byte before a marker */
			at++;
			continue;
		}
		segment = (size_t)data[at + 2] << 8 | data[at + 3];
		if (segment < 2 || at + 2 + segment > len)
			return false;
		if (jpeg_is_sof(marker) && segment >= 7) {
			out->height = (uint32_t)data[at + 5] << 8 | data[at + 6];
			out->width = (uint32_t)data[at + 7] << 8 | data[at + 8];
			frame = true;
		}
		/* Entropy-coded data follows start of scan; EOI was checked above. */
		if (marker == 0xda)
			return frame;
		at += 2 + segment;
	}
	return false;
}

/* WebP: RIFF size matching the data, "WEBP", then a VP8, VP8L or VP8X chunk that fits. */
static bool webp_check(const unsigned char *data, size_t len, struct image_info *out)
{
	uint32_t chunk;

	if (len < 30 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBPVP8", 7) != 0)
		return false;
	/* The RIFF size counts everything after its own field; an odd size is padded by one byte. */
	if ((size_t)le32(data + 4) + 8 != len && (size_t)le32(data + 4) + 9 != len)
		return false;
	chunk = le32(data + 16);
	if ((size_t)chunk + 20 > len)
		return false;
	if (data[15] == 'X' && chunk >= 10) {
		out->width = le24(data + 24) + 1;
		out->height = le24(data + 27) + 1;
		return true;
	}
	if (data[15] == 'L' && chunk >= 5 && data[20] == 0x2f) {
		uint32_t bits = le32(data + 21);

		out->width = (bits & 0x3fff) + 1;
		out->height = ((bits >> 14) & 0x3fff) + 1;
		return true;
	}
	if (data[15] == ' ' && chunk >= 10 && data[23] == 0x9d && data[24] == 0x01 && data[25] == 0x2a) {
		out->width = (uint32_t)(data[26] | data[27] << 8) & 0x3fff;
		out->height = (uint32_t)(data[28] | data[29] << 8) & 0x3fff;
		return true;
	}
	return false;
}

enum image_format image_identify(const unsigned char *data, size_t len, struct image_info *out)
{
	memset(out, 0, sizeof(*out));
	if (png_check(data, len, out))
		out->format = IMAGE_PNG;
	else if (jpeg_check(data, len, out))
		out->format = IMAGE_JPEG;
	else if (webp_check(data, len, out))
		out->format = IMAGE_WEBP;
	if (out->format != IMAGE_INVALID && !dimensions_valid(out))
		out->format = IMAGE_INVALID;
	return out->format;
}

static const char *const content_types[] = {
	[IMAGE_JPEG] = "image/jpeg",
	[IMAGE_PNG] = "image/png",
	[IMAGE_WEBP] = "image/webp",
};

const char *image_content_type(enum image_format format)
{
	return format == IMAGE_INVALID ? NULL : content_types[format];
}

enum image_format image_format_of_content_type(const char *value, size_t len)
{
	size_t end = 0;

	while (end < len && value[end] != ';' && value[end] != ' ')
		end++;
	for (int format = IMAGE_JPEG; format <= IMAGE_WEBP; format++) {
		if (strlen(content_types[format]) == end && strncasecmp(value, content_types[format], end) == 0)
			return (enum image_format)format;
	}
	return IMAGE_INVALID;
}

static enum kv_err image_put(struct store *store, struct kv_txn *txn, const struct catalog_image *image)
{
	unsigned char key[8];
	struct rec_writer w;
	struct buf value;
	enum kv_err err = KV_NO_MEMORY;

	buf_init(&value, SIZE_MAX);
	rec_begin(&w, &value, STORE_RECORD_IMAGE, CATALOG_SCHEMA_VERSION, 7);
	rec_put_u64(&w, "product", image->product_id);
	rec_put_cstr(&w, "color", image->color);
	rec_put_cstr(&w, "content_type", image->content_type);
	rec_put_cstr(&w, "hash", image->hash);
	rec_put_u64(&w, "width", image->width);
	rec_put_u64(&w, "height", image->height);
	rec_put_bin(&w, "bytes", image->bytes, image->len);
	if (rec_end(&w) == 0) {
		key_put_u64(key, image->id);
		err = kv_put(txn, store->images, key, sizeof(key), value.data, value.len);
	}
	buf_free(&value);
	return err;
}

/* Reads the image of a CATALOG_IMAGE_ADD command; its bytes point into the command. */
static bool image_command_read(const struct rec *command, struct catalog_image *out)
{
	const char *s;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!rec_get_u64(command, "product", &out->product_id) || !rec_get_u64(command, "width", &out->width) ||
	    !rec_get_u64(command, "height", &out->height) || !rec_get_bin(command, "bytes", &out->bytes, &out->len))
		return false;
	if (!rec_get_str(command, "color", &s, &len) || len >= sizeof(out->color))
		return false;
	memcpy(out->color, s, len);
	if (!rec_get_str(command, "content_type", &s, &len) || len >= sizeof(out->content_type))
		return false;
	memcpy(out->content_type, s, len);
	if (!rec_get_str(command, "hash", &s, &len) || len >= sizeof(out->hash))
		return false;
	memcpy(out->hash, s, len);
	return true;
}

enum kv_err catalog_apply_image_add(struct store *store, struct kv_txn *txn, const struct rec *command,
				    struct repl_result *result)
{
	struct catalog_image image;
	struct catalog_product product;
	struct audit_actor actor;
	uint64_t ids[CATALOG_IMAGES_MAX];
	size_t count;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!image_command_read(command, &image) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_product_get(store, txn, image.product_id, &product);
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_NOT_FOUND, "product_not_found", "id",
					  N_("This product does not exist. It may have been deleted."));
	if (err != KV_OK)
		return err;
	catalog_product_release(&product);
	err = catalog_link_members(store, txn, CATALOG_LINK_PRODUCT_IMAGE, image.product_id, 0, ids,
				   CATALOG_IMAGES_MAX, &count);
	if (err != KV_OK)
		return err;
	if (count >= CATALOG_IMAGES_MAX)
		return store_result_error(result, STORE_CONFLICT, "too_many_images", "id",
					  N_("This product already has the maximum of 20 images. Delete one first."));

	err = store_next_id(store, txn, "image", &image.id);
	if (err == KV_OK)
		err = image_put(store, txn, &image);
	if (err == KV_OK)
		err = catalog_link_put(store, txn, CATALOG_LINK_PRODUCT_IMAGE, image.product_id, image.id);
	if (err == KV_OK)
		err = catalog_product_refresh(store, txn, image.product_id);
	snprintf(summary, sizeof(summary), "product=%llu type=%s bytes=%zu color=%s",
		 (unsigned long long)image.product_id, image.content_type, image.len, image.color);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_IMAGE_ADD, "image.add", image.id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, catalog_image_json(&image));
}

enum kv_err catalog_apply_image_delete(struct store *store, struct kv_txn *txn, const struct rec *command,
				       struct repl_result *result)
{
	struct catalog_image image;
	struct audit_actor actor;
	unsigned char key[8];
	uint64_t id;
	char summary[AUDIT_SUMMARY_MAX_BYTES];
	enum kv_err err;

	if (!rec_get_u64(command, "id", &id) || !audit_actor_read(command, &actor))
		return catalog_bad_command(result);
	err = catalog_image_get(store, txn, id, &image);
	if (err == KV_NOT_FOUND)
		return store_result_error(result, STORE_NOT_FOUND, "image_not_found", "id",
					  N_("This image does not exist. It may have been deleted."));
	if (err != KV_OK)
		return err;

	key_put_u64(key, id);
	err = kv_del(txn, store->images, key, sizeof(key));
	if (err == KV_OK)
		err = catalog_link_del(store, txn, CATALOG_LINK_PRODUCT_IMAGE, image.product_id, id);
	if (err == KV_OK)
		err = catalog_product_refresh(store, txn, image.product_id);
	snprintf(summary, sizeof(summary), "product=%llu", (unsigned long long)image.product_id);
	if (err == KV_OK)
		err = audit_append(store, txn, &actor, CATALOG_IMAGE_DELETE, "image.delete", id, summary);
	if (err != KV_OK)
		return err;
	return store_result_json(result, STORE_OK, NULL);
}
