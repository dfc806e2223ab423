/*
 * Product image checks: the content of an upload, not its name or its
 * declared type, decides whether it is a JPEG, PNG or WebP image. Each
 * format is checked by its magic bytes and by its structure, and the
 * dimensions are read on the way:
 *   PNG   the IHDR chunk first and IEND last;
 *   JPEG  SOI, well-formed segments up to a frame header, EOI at the end;
 *   WebP  a RIFF header whose size matches, then a VP8, VP8L or VP8X chunk.
 */
#ifndef JKD_STORE_IMAGES_H
#define JKD_STORE_IMAGES_H

#include <stddef.h>
#include <stdint.h>

enum image_format {
	IMAGE_INVALID = 0,
	IMAGE_JPEG,
	IMAGE_PNG,
	IMAGE_WEBP,
};

#define IMAGE_DIMENSION_MAX 20000 /* pixels per side */

struct image_info {
	enum image_format format;
	uint32_t width;
	uint32_t height;
};

/* Identifies and checks data; returns IMAGE_INVALID unless it is an undamaged image of one of the three formats. */
enum image_format image_identify(const unsigned char *data, size_t len, struct image_info *out);

/* "image/jpeg", "image/png", "image/webp", or NULL for IMAGE_INVALID. */
const char *image_content_type(enum image_format format);

/* The format of a Content-Type value (parameters ignored), or IMAGE_INVALID. */
enum image_format image_format_of_content_type(const char *value, size_t len);

#endif
