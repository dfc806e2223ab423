/* Demo product pictures as PNG; see demo_png.h. */
#include "cli/demo_png.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STORED_BLOCK_MAX 65535

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

static void put_u32(unsigned char *out, uint32_t v)
{
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

/* Appends one PNG chunk: length, type, data and the CRC of type and data. */
static void chunk(struct buf *out, const char type[4], const unsigned char *data, size_t len)
{
	unsigned char word[4];
	uint32_t crc = crc32_update(0xffffffffu, (const unsigned char *)type, 4);

	crc = crc32_update(crc, data, len) ^ 0xffffffffu;
	put_u32(word, (uint32_t)len);
	buf_append(out, word, 4);
	buf_append(out, type, 4);
	buf_append(out, data, len);
	put_u32(word, crc);
	buf_append(out, word, 4);
}

/* Wraps raw in a zlib stream of stored deflate blocks. */
static bool zlib_stored(struct buf *z, const unsigned char *raw, size_t len)
{
	uint32_t a = 1, b = 0;
	unsigned char word[4];
	size_t done = 0;

	buf_append(z, "\x78\x01", 2);
	do {
		size_t block = len - done > STORED_BLOCK_MAX ? STORED_BLOCK_MAX : len - done;
		unsigned char header[5] = {done + block == len ? 1 : 0, (unsigned char)block,
					   (unsigned char)(block >> 8), (unsigned char)~block,
					   (unsigned char)(~block >> 8)};

		buf_append(z, header, sizeof(header));
		buf_append(z, raw + done, block);
		done += block;
	} while (done < len);
	for (size_t i = 0; i < len; i++) {
		a = (a + raw[i]) % 65521u;
		b = (b + a) % 65521u;
	}
	put_u32(word, (b << 16) | a);
	buf_append(z, word, 4);
	return !z->failed;
}

/* Returns true if the point (x, y), in units of the picture's size (0..1), is inside shape. */
static bool inside(enum demo_shape shape, double x, double y)
{
	double dx = x - 0.5;

	switch (shape) {
	case DEMO_SHAPE_TOP:
		if (y > 0.2 && y < 0.85 && dx > -0.22 && dx < 0.22)
			return !(y < 0.3 && dx > -0.07 && dx < 0.07 && y < 0.2 + 0.1 * (1 - dx * dx * 200));
		return y > 0.2 && y < 0.45 && dx > -0.38 && dx < 0.38 && y > 0.2 + (dx < 0 ? -dx - 0.22 : dx - 0.22);
	case DEMO_SHAPE_TROUSERS:
		if (y < 0.15 || y > 0.9 || dx < -0.2 || dx > 0.2)
			return false;
		return y < 0.35 || dx < -0.02 || dx > 0.02;
	case DEMO_SHAPE_DRESS:
		if (y < 0.15 || y > 0.88)
			return false;
		return dx > -(0.1 + (y - 0.15) * 0.4) && dx < 0.1 + (y - 0.15) * 0.4;
	case DEMO_SHAPE_SHOE:
		if (y > 0.55 && y < 0.72 && x > 0.15 && x < 0.85)
			return true;
		return y > 0.35 && y <= 0.55 && x > 0.15 && x < 0.45 + (y - 0.35) * 2;
	case DEMO_SHAPE_BAG:
		if (y > 0.4 && y < 0.8 && dx > -0.28 && dx < 0.28)
			return true;
		{
			double r2 = dx * dx + (y - 0.4) * (y - 0.4);

			return y < 0.4 && r2 < 0.04 && r2 > 0.025;
		}
	}
	return false;
}

int demo_png_draw(struct buf *out, unsigned width, unsigned height, enum demo_shape shape, struct demo_rgb colour)
{
	size_t stride = (size_t)width * 3 + 1;
	unsigned char *raw = malloc(stride * height);
	unsigned char header[13];
	struct buf z;

	if (raw == NULL)
		return -1;
	if (crc_table[1] == 0)
		crc_table_init();
	for (unsigned y = 0; y < height; y++) {
		unsigned char *row = raw + y * stride;

		row[0] = 0; /* filter type None */
		for (unsigned x = 0; x < width; x++) {
			bool in = inside(shape, (double)x / width, (double)y / height);
			unsigned char shade = (unsigned char)(244 - 10 * y / height);

			row[1 + 3 * x] = in ? colour.r : shade;
			row[2 + 3 * x] = in ? colour.g : shade;
			row[3 + 3 * x] = in ? colour.b : (unsigned char)(shade - 4);
		}
	}
	buf_init(&z, 64u << 20);
	zlib_stored(&z, raw, stride * height);
	free(raw);

	put_u32(header, width);
	put_u32(header + 4, height);
	memcpy(header + 8, "\x08\x02\x00\x00\x00", 5); /* 8-bit RGB, deflate, adaptive filter, no interlace */
	buf_append(out, "\x89PNG\r\n\x1a\n", 8);
	chunk(out, "IHDR", header, sizeof(header));
	chunk(out, "IDAT", (const unsigned char *)z.data, z.len);
	chunk(out, "IEND", NULL, 0);
	buf_free(&z);
	return out->failed || z.failed ? -1 : 0;
}
