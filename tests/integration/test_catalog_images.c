/*
 * Product images against the real jkd binary. Uploads are checked by
 * content: JPEG, PNG and WebP are accepted, a text file sent as PNG is
 * rejected. Also the size limit, serving with cache headers and 304, the
 * product view listing images, and their deletion with their product.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/catalog_helpers.h"
#include "tests/sample_images.h"

#define IMAGE_MAX_BYTES (5u << 20)

/* Uploads bytes as the admin to product_id with content_type and the query (or ""). */
static void upload(uint64_t product_id, const char *query, const char *content_type, const void *bytes, size_t len,
		   struct http_reply *reply)
{
	char path[128], headers[512];

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/images%s", (unsigned long long)product_id, query);
	snprintf(headers, sizeof(headers), "%sContent-Type: %s\r\n", catalog.admin, content_type);
	http_request(catalog.node.port, "POST", path, headers, bytes, len, reply);
}

/* Uploads and returns the new image's id; fails the test unless 201. */
static uint64_t upload_ok(uint64_t product_id, const char *query, const char *content_type, const void *bytes,
			  size_t len)
{
	struct http_reply reply;
	uint64_t id;

	upload(product_id, query, content_type, bytes, len, &reply);
	if (reply.status != 201)
		fail_msg("upload returned %d: %s", reply.status, reply.body);
	id = (uint64_t)reply_integer(&reply, "id");
	http_reply_free(&reply);
	return id;
}

static void get_image(uint64_t image_id, const char *headers, struct http_reply *reply)
{
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/images/%llu", (unsigned long long)image_id);
	http_request(catalog.node.port, "GET", path, headers, NULL, 0, reply);
}

/* Fails unless image_id is served with bytes and content_type. */
static void assert_image_served(uint64_t image_id, const char *content_type, const void *bytes, size_t len)
{
	struct http_reply reply;
	char value[128];

	get_image(image_id, NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "Content-Type", value, sizeof(value)));
	assert_string_equal(value, content_type);
	assert_int_equal(reply.body_len, len);
	assert_memory_equal(reply.body, bytes, len);
	http_reply_free(&reply);
}

static void jpeg_upload_accepted(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-jpeg", "");
	uint64_t id = upload_ok(product_id, "", "image/jpeg", jpeg_8x8, sizeof(jpeg_8x8));

	(void)state;
	assert_image_served(id, "image/jpeg", jpeg_8x8, sizeof(jpeg_8x8));
}

static void png_upload_accepted(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-png", "");
	uint64_t id = upload_ok(product_id, "", "image/png", png_1x1, sizeof(png_1x1));

	(void)state;
	assert_image_served(id, "image/png", png_1x1, sizeof(png_1x1));
}

static void webp_upload_accepted(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-webp", "");
	uint64_t id = upload_ok(product_id, "", "image/webp", webp_1x1, sizeof(webp_1x1));

	(void)state;
	assert_image_served(id, "image/webp", webp_1x1, sizeof(webp_1x1));
}

static void text_sent_as_png_rejected(void **state)
{
	static const char text[] = "Esto es un fichero de texto renombrado a .png\n";
	uint64_t product_id = create_product(&catalog, "foto-texto", "");
	struct http_reply reply;
	json_t *view;
	char path[64];

	(void)state;
	upload(product_id, "", "image/png", text, sizeof(text) - 1, &reply);
	assert_problem_field(&reply, 422, "body");
	http_reply_free(&reply);

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu", (unsigned long long)product_id);
	catalog_request(&catalog, catalog.admin, "GET", path, NULL, NULL, &reply);
	view = reply_json(&reply);
	assert_int_equal(json_array_size(json_object_get(view, "images")), 0);
	json_decref(view);
	http_reply_free(&reply);
}

static void png_sent_as_jpeg_rejected(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-tipo-cambiado", "");
	struct http_reply reply;

	(void)state;
	upload(product_id, "", "image/jpeg", png_1x1, sizeof(png_1x1), &reply);
	assert_problem_field(&reply, 422, "Content-Type");
	http_reply_free(&reply);
}

static void unsupported_type_gets_415(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-gif", "");
	struct http_reply reply;

	(void)state;
	upload(product_id, "", "image/gif", png_1x1, sizeof(png_1x1), &reply);
	assert_problem_field(&reply, 415, "Content-Type");
	http_reply_free(&reply);
}

static void truncated_png_rejected(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-cortada", "");
	struct http_reply reply;

	(void)state;
	upload(product_id, "", "image/png", png_1x1, sizeof(png_1x1) - 12, &reply);
	assert_problem_field(&reply, 422, "body");
	http_reply_free(&reply);
}

static void oversize_image_gets_413(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-enorme", "");
	struct http_reply reply;
	char head[1024];
	int fd = http_connect(catalog.node.port);
	int len;

	(void)state;
	/* The limit is checked against Content-Length before any of the body is read, so none is sent. */
	len = snprintf(head, sizeof(head),
		       "POST /api/v1/admin/products/%llu/images HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
		       "Content-Type: image/png\r\nContent-Length: %u\r\n\r\n",
		       (unsigned long long)product_id, catalog.admin, IMAGE_MAX_BYTES + 1);
	assert_int_equal(http_send(fd, head, (size_t)len), 0);
	assert_int_equal(http_read_reply(fd, &reply), 0);
	assert_problem_field(&reply, 413, NULL);
	http_reply_free(&reply);
	http_close(fd);
}

static void image_cache_headers_and_304(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-cache", "");
	uint64_t id = upload_ok(product_id, "", "image/png", png_1x1, sizeof(png_1x1));
	struct http_reply reply;
	char etag[80], value[128], headers[160];

	(void)state;
	get_image(id, NULL, &reply);
	assert_int_equal(reply.status, 200);
	assert_true(http_reply_header(&reply, "ETag", etag, sizeof(etag)));
	assert_int_equal(strlen(etag), 34);
	assert_true(http_reply_header(&reply, "Cache-Control", value, sizeof(value)));
	assert_string_equal(value, "public, max-age=31536000, immutable");
	assert_true(http_reply_header(&reply, "X-Content-Type-Options", value, sizeof(value)));
	assert_string_equal(value, "nosniff");
	http_reply_free(&reply);

	snprintf(headers, sizeof(headers), "If-None-Match: %s\r\n", etag);
	get_image(id, headers, &reply);
	assert_int_equal(reply.status, 304);
	assert_int_equal(reply.body_len, 0);
	assert_true(http_reply_header(&reply, "ETag", value, sizeof(value)));
	assert_string_equal(value, etag);
	http_reply_free(&reply);
}

static void product_view_lists_image_colour(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-color", "");
	uint64_t id = upload_ok(product_id, "?color=Azul%20marino", "image/webp", webp_1x1, sizeof(webp_1x1));
	struct http_reply reply;
	json_t *view, *image;
	char url[64];

	(void)state;
	catalog_request(&catalog, NULL, "GET", "/api/v1/products/foto-color", NULL, NULL, &reply);
	assert_int_equal(reply.status, 200);
	view = reply_json(&reply);
	image = json_array_get(json_object_get(view, "images"), 0);
	snprintf(url, sizeof(url), "/api/v1/images/%llu", (unsigned long long)id);
	assert_string_equal(json_string_value(json_object_get(image, "url")), url);
	assert_string_equal(json_string_value(json_object_get(image, "color")), "Azul marino");
	assert_int_equal(json_integer_value(json_object_get(image, "width")), 1);
	json_decref(view);
	http_reply_free(&reply);
}

static void product_delete_removes_images(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-borrada", "");
	uint64_t first = upload_ok(product_id, "", "image/png", png_1x1, sizeof(png_1x1));
	uint64_t second = upload_ok(product_id, "?color=Rojo", "image/jpeg", jpeg_8x8, sizeof(jpeg_8x8));
	struct http_reply reply;
	char path[64];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu", (unsigned long long)product_id);
	catalog_request(&catalog, catalog.admin, "DELETE", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);

	get_image(first, NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	get_image(second, NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
}

static void image_delete_removes_it(void **state)
{
	uint64_t product_id = create_product(&catalog, "foto-quitada", "");
	uint64_t id = upload_ok(product_id, "", "image/png", png_1x1, sizeof(png_1x1));
	struct http_reply reply;
	char path[64];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/admin/images/%llu", (unsigned long long)id);
	catalog_request(&catalog, catalog.admin, "DELETE", path, NULL, NULL, &reply);
	assert_int_equal(reply.status, 204);
	http_reply_free(&reply);
	get_image(id, NULL, &reply);
	assert_int_equal(reply.status, 404);
	http_reply_free(&reply);
	catalog_request(&catalog, NULL, "GET", "/api/v1/products/foto-quitada", NULL, NULL, &reply);
	assert_non_null(strstr(reply.body, "\"images\":[]"));
	http_reply_free(&reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jpeg_upload_accepted),
		cmocka_unit_test(png_upload_accepted),
		cmocka_unit_test(webp_upload_accepted),
		cmocka_unit_test(text_sent_as_png_rejected),
		cmocka_unit_test(png_sent_as_jpeg_rejected),
		cmocka_unit_test(unsupported_type_gets_415),
		cmocka_unit_test(truncated_png_rejected),
		cmocka_unit_test(oversize_image_gets_413),
		cmocka_unit_test(image_cache_headers_and_304),
		cmocka_unit_test(product_view_lists_image_colour),
		cmocka_unit_test(product_delete_removes_images),
		cmocka_unit_test(image_delete_removes_it),
	};

	return cmocka_run_group_tests(tests, catalog_group_setup, catalog_group_teardown);
}
