/*
 * Image checks by content (magic bytes and structure) and the rounding of
 * bulk percentage price changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/catalog_internal.h"
#include "store/images.h"
#include "tests/sample_images.h"

static enum image_format identify(const unsigned char *data, size_t len, struct image_info *info)
{
	return image_identify(data, len, info);
}

static void png_accepted_with_size(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(png_1x1, sizeof(png_1x1), &info), IMAGE_PNG);
	assert_int_equal(info.width, 1);
	assert_int_equal(info.height, 1);
}

static void png_without_iend_rejected(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(png_1x1, sizeof(png_1x1) - 1, &info), IMAGE_INVALID);
}

static void png_zero_width_rejected(void **state)
{
	unsigned char copy[sizeof(png_1x1)];
	struct image_info info;

	(void)state;
	memcpy(copy, png_1x1, sizeof(copy));
	copy[19] = 0; /* the low byte of the IHDR width */
	assert_int_equal(identify(copy, sizeof(copy), &info), IMAGE_INVALID);
}

static void jpeg_accepted_with_size(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(jpeg_8x8, sizeof(jpeg_8x8), &info), IMAGE_JPEG);
	assert_int_equal(info.width, 8);
	assert_int_equal(info.height, 8);
}

static void jpeg_without_eoi_rejected(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(jpeg_8x8, sizeof(jpeg_8x8) - 2, &info), IMAGE_INVALID);
}

static void jpeg_segment_past_end_rejected(void **state)
{
	unsigned char copy[sizeof(jpeg_8x8)];
	struct image_info info;

	(void)state;
	memcpy(copy, jpeg_8x8, sizeof(copy));
	copy[4] = 0x7f; /* the JFIF segment now claims more bytes than the file has */
	assert_int_equal(identify(copy, sizeof(copy), &info), IMAGE_INVALID);
}

static void jpeg_magic_alone_rejected(void **state)
{
	static const unsigned char fake[] = {0xff, 0xd8, 0xff, 0xe0, 'h', 'o', 'l', 'a', 0xff, 0xd9};
	struct image_info info;

	(void)state;
	assert_int_equal(identify(fake, sizeof(fake), &info), IMAGE_INVALID);
}

static void webp_lossy_accepted(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(webp_1x1, sizeof(webp_1x1), &info), IMAGE_WEBP);
	assert_int_equal(info.width, 1);
	assert_int_equal(info.height, 1);
}

static void webp_lossless_accepted(void **state)
{
	struct image_info info;

	(void)state;
	assert_int_equal(identify(webp_lossless_1x1, sizeof(webp_lossless_1x1), &info), IMAGE_WEBP);
	assert_int_equal(info.width, 1);
	assert_int_equal(info.height, 1);
}

static void webp_riff_size_mismatch_rejected(void **state)
{
	unsigned char copy[sizeof(webp_1x1) + 4];
	struct image_info info;

	(void)state;
	memcpy(copy, webp_1x1, sizeof(webp_1x1));
	memset(copy + sizeof(webp_1x1), 0, 4);
	assert_int_equal(identify(copy, sizeof(copy), &info), IMAGE_INVALID);
}

static void text_rejected(void **state)
{
	static const char text[] = "no soy una imagen, solo texto con extension .png";
	struct image_info info;

	(void)state;
	assert_int_equal(identify((const unsigned char *)text, sizeof(text) - 1, &info), IMAGE_INVALID);
	assert_int_equal(identify((const unsigned char *)text, 0, &info), IMAGE_INVALID);
}

static void content_type_parsed(void **state)
{
	static const char png_type[] = "image/png; charset=binary";
	static const char jpeg_type[] = "IMAGE/JPEG";
	static const char gif_type[] = "image/gif";

	(void)state;
	assert_int_equal(image_format_of_content_type(png_type, strlen(png_type)), IMAGE_PNG);
	assert_int_equal(image_format_of_content_type(jpeg_type, strlen(jpeg_type)), IMAGE_JPEG);
	assert_int_equal(image_format_of_content_type(gif_type, strlen(gif_type)), IMAGE_INVALID);
	assert_string_equal(image_content_type(IMAGE_WEBP), "image/webp");
}

static void price_scaled_rounds_half_up(void **state)
{
	(void)state;
	assert_int_equal(catalog_price_scaled(1999, -1500), 1699);  /* 1699.15 */
	assert_int_equal(catalog_price_scaled(1005, -1500), 854);   /* 854.25 */
	assert_int_equal(catalog_price_scaled(100, 50), 101);       /* 100.5, a half, goes up */
	assert_int_equal(catalog_price_scaled(100, -50), 100);      /* 99.5, a half, goes up */
	assert_int_equal(catalog_price_scaled(1, -9000), 1);        /* 0.1 rounds to 0; the floor is 1 */
	assert_int_equal(catalog_price_scaled(1000000000, 100000), 11000000000); /* no overflow at the limits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(png_accepted_with_size),
		cmocka_unit_test(png_without_iend_rejected),
		cmocka_unit_test(png_zero_width_rejected),
		cmocka_unit_test(jpeg_accepted_with_size),
		cmocka_unit_test(jpeg_without_eoi_rejected),
		cmocka_unit_test(jpeg_segment_past_end_rejected),
		cmocka_unit_test(jpeg_magic_alone_rejected),
		cmocka_unit_test(webp_lossy_accepted),
		cmocka_unit_test(webp_lossless_accepted),
		cmocka_unit_test(webp_riff_size_mismatch_rejected),
		cmocka_unit_test(text_rejected),
		cmocka_unit_test(content_type_parsed),
		cmocka_unit_test(price_scaled_rounds_half_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
