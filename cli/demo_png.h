/*
 * Product pictures for the demo catalog, drawn in code so the project ships
 * no downloaded assets: a garment silhouette in the product's colour on a
 * light background, encoded as a PNG with uncompressed (stored) deflate
 * blocks, which any decoder reads and which needs no zlib.
 */
#ifndef JKD_CLI_DEMO_PNG_H
#define JKD_CLI_DEMO_PNG_H

#include <stdint.h>

#include "common/buf.h"

enum demo_shape {
	DEMO_SHAPE_TOP,      /* camisetas, sudaderas, chaquetas */
	DEMO_SHAPE_TROUSERS, /* pantalones, vaqueros */
	DEMO_SHAPE_DRESS,    /* vestidos, faldas */
	DEMO_SHAPE_SHOE,     /* calzado */
	DEMO_SHAPE_BAG,      /* accesorios */
};

struct demo_rgb {
	uint8_t r, g, b;
};

/* Appends a width × height PNG of shape in colour to out. Returns 0, or -1 if out failed. */
int demo_png_draw(struct buf *out, unsigned width, unsigned height, enum demo_shape shape, struct demo_rgb colour);

#endif
