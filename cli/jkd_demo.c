/*
 * jkd-demo: loads the demo catalog into a running node through the admin
 * API: a category tree (Mujer, Hombre, Niños × Ropa, Calzado, Accesorios)
 * and about a hundred products of clothing and footwear with Spanish names
 * and descriptions, tallas, colours, prices, stock and a picture per colour
 * drawn in code. The same run always produces the same catalog; a second
 * run finds the first product and changes nothing.
 *
 * Usage: jkd-demo --url http://127.0.0.1:8080 --email ADMIN (password on standard input)
 * Exit codes: 0 loaded or already there, 1 the node rejected a request, 2 usage, 3 unreachable.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/demo_png.h"
#include "cli/http_client.h"
#include "common/config.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define PICTURE_WIDTH 240
#define PICTURE_HEIGHT 300

enum group {
	GROUP_ROPA,
	GROUP_CALZADO,
	GROUP_ACCESORIOS,
};

/* A kind of product; each is made for every gender it suits. */
struct template {
	const char *slug;
	const char *name;
	enum group group;
	enum demo_shape shape;
	int price_cents;
	const char *material;
	const char *care;
	const char *description;
	const char *tags;       /* separated by '|' */
	const char *genders;    /* letters m (mujer), h (hombre), n (niños) */
};

static const struct template templates[] = {
	{"camiseta-basica", "Camiseta básica de algodón", GROUP_ROPA, DEMO_SHAPE_TOP, 1295, "100 % algodón orgánico",
	 "Lavar a máquina a 30 °C. No usar secadora.",
	 "Camiseta de manga corta y cuello redondo, de punto suave y corte recto. Combina con todo.",
	 "básico|verano|algodón", "mhn"},
	{"camiseta-rayas", "Camiseta de rayas marineras", GROUP_ROPA, DEMO_SHAPE_TOP, 1595, "Algodón y modal",
	 "Lavar a máquina a 30 °C del revés.", "Camiseta de rayas horizontales de inspiración marinera, con manga larga.",
	 "rayas|marinero", "mhn"},
	{"sudadera-capucha", "Sudadera con capucha", GROUP_ROPA, DEMO_SHAPE_TOP, 3495, "80 % algodón, 20 % poliéster",
	 "Lavar a máquina a 30 °C. Planchar a baja temperatura.",
	 "Sudadera de felpa perchada con capucha ajustable, bolsillo canguro y puños de canalé.",
	 "sudadera|invierno|capucha", "mhn"},
	{"jersey-trenzado", "Jersey de punto trenzado", GROUP_ROPA, DEMO_SHAPE_TOP, 3995, "Lana merino y acrílico",
	 "Lavar a mano en agua fría. Secar en plano.", "Jersey de cuello alto con ochos trenzados en el delantero.",
	 "punto|lana|invierno", "mhn"},
	{"camisa-lino", "Camisa de lino", GROUP_ROPA, DEMO_SHAPE_TOP, 3595, "100 % lino",
	 "Lavar a máquina a 40 °C. Planchar húmeda.", "Camisa fresca de lino lavado, con cuello clásico y botones de nácar.",
	 "lino|verano|camisa", "mh"},
	{"chaqueta-vaquera", "Chaqueta vaquera", GROUP_ROPA, DEMO_SHAPE_TOP, 4995, "Denim 100 % algodón",
	 "Lavar a máquina a 30 °C con colores oscuros.", "Chaqueta vaquera clásica con bolsillos de solapa y botones metálicos.",
	 "vaquero|denim|entretiempo", "mhn"},
	{"abrigo-lana", "Abrigo de lana", GROUP_ROPA, DEMO_SHAPE_TOP, 11900, "70 % lana, 30 % poliamida",
	 "Limpieza en seco.", "Abrigo largo de paño de lana con solapas y forro interior.", "abrigo|lana|invierno", "mh"},
	{"cazadora-acolchada", "Cazadora acolchada", GROUP_ROPA, DEMO_SHAPE_TOP, 6995, "Poliéster reciclado",
	 "Lavar a máquina a 30 °C. No planchar.", "Cazadora ligera acolchada, repelente al agua, con cremallera y capucha.",
	 "acolchado|invierno|impermeable", "mhn"},
	{"polo-pique", "Polo de piqué", GROUP_ROPA, DEMO_SHAPE_TOP, 2495, "100 % algodón piqué",
	 "Lavar a máquina a 40 °C.", "Polo de manga corta en piqué de algodón con tapeta de dos botones.", "polo|verano", "mhn"},
	{"chaleco-acolchado", "Chaleco acolchado", GROUP_ROPA, DEMO_SHAPE_TOP, 3995, "Poliéster y plumón sintético",
	 "Lavar a máquina a 30 °C.", "Chaleco sin mangas acolchado, ideal para el entretiempo.", "chaleco|entretiempo", "mhn"},
	{"vaqueros-rectos", "Vaqueros rectos", GROUP_ROPA, DEMO_SHAPE_TROUSERS, 3995, "98 % algodón, 2 % elastano",
	 "Lavar a máquina a 30 °C del revés.", "Pantalón vaquero de tiro medio y pierna recta, con cinco bolsillos.",
	 "vaquero|pantalón|denim", "mhn"},
	{"pantalon-chino", "Pantalón chino", GROUP_ROPA, DEMO_SHAPE_TROUSERS, 3595, "97 % algodón, 3 % elastano",
	 "Lavar a máquina a 30 °C.", "Pantalón chino de sarga elástica con pinzas y bajo vuelto.", "pantalón|chino", "mh"},
	{"pantalon-chandal", "Pantalón de chándal", GROUP_ROPA, DEMO_SHAPE_TROUSERS, 2795, "Felpa de algodón",
	 "Lavar a máquina a 30 °C.", "Pantalón de chándal con cintura elástica, cordón y puños en el bajo.",
	 "deporte|chándal|cómodo", "mhn"},
	{"bermudas-algodon", "Bermudas de algodón", GROUP_ROPA, DEMO_SHAPE_TROUSERS, 2295, "100 % algodón",
	 "Lavar a máquina a 40 °C.", "Bermudas por encima de la rodilla con bolsillos laterales.", "verano|bermudas", "hn"},
	{"leggings-deportivos", "Leggings deportivos", GROUP_ROPA, DEMO_SHAPE_TROUSERS, 2495, "Poliamida y elastano",
	 "Lavar a máquina a 30 °C. No usar suavizante.", "Mallas de talle alto, opacas y de secado rápido.",
	 "deporte|mallas|yoga", "mn"},
	{"vestido-midi", "Vestido midi estampado", GROUP_ROPA, DEMO_SHAPE_DRESS, 4595, "100 % viscosa",
	 "Lavar a mano en agua fría.", "Vestido midi de viscosa con estampado floral, escote en pico y manga corta.",
	 "vestido|estampado|verano", "mn"},
	{"falda-plisada", "Falda plisada", GROUP_ROPA, DEMO_SHAPE_DRESS, 2995, "Poliéster satinado",
	 "Lavar a máquina a 30 °C. No escurrir.", "Falda midi plisada con cintura elástica y caída fluida.",
	 "falda|plisado", "mn"},
	{"vestido-camisero", "Vestido camisero", GROUP_ROPA, DEMO_SHAPE_DRESS, 3995, "Algodón y lino",
	 "Lavar a máquina a 30 °C.", "Vestido camisero con botones delanteros y cinturón a juego.", "vestido|camisero", "m"},
	{"pijama-franela", "Pijama de franela", GROUP_ROPA, DEMO_SHAPE_TOP, 2995, "100 % algodón franela",
	 "Lavar a máquina a 40 °C.", "Pijama de dos piezas en franela de cuadros, cálido y suave.", "pijama|casa|invierno",
	 "mhn"},
	{"zapatillas-running", "Zapatillas de running", GROUP_CALZADO, DEMO_SHAPE_SHOE, 7995,
	 "Malla transpirable y suela de caucho", "Limpiar con un paño húmedo.",
	 "Zapatillas ligeras con amortiguación para correr en asfalto.", "zapatillas|deporte|running", "mhn"},
	{"zapatillas-lona", "Zapatillas urbanas de lona", GROUP_CALZADO, DEMO_SHAPE_SHOE, 3995, "Lona de algodón",
	 "Lavar a mano con jabón neutro.", "Zapatillas bajas de lona con cordones y puntera de goma.",
	 "zapatillas|lona|verano", "mhn"},
	{"botines-piel", "Botines de piel", GROUP_CALZADO, DEMO_SHAPE_SHOE, 8995, "Piel de vacuno",
	 "Limpiar con crema para piel.", "Botines de piel con cremallera lateral y tacón bajo.", "botines|piel|invierno", "mh"},
	{"sandalias-tiras", "Sandalias de tiras", GROUP_CALZADO, DEMO_SHAPE_SHOE, 3495, "Piel y suela de goma",
	 "Limpiar con un paño seco.", "Sandalias planas de tiras cruzadas con hebilla en el tobillo.", "sandalias|verano",
	 "mhn"},
	{"mocasines", "Mocasines clásicos", GROUP_CALZADO, DEMO_SHAPE_SHOE, 6995, "Ante",
	 "Cepillar el ante en seco.", "Mocasines de ante con antifaz y suela flexible.", "mocasines|ante", "mh"},
	{"botas-agua", "Botas de agua", GROUP_CALZADO, DEMO_SHAPE_SHOE, 2995, "Caucho natural",
	 "Aclarar con agua.", "Botas de agua impermeables con plantilla extraíble.", "botas|lluvia|impermeable", "mn"},
	{"zapatos-vestir", "Zapatos de vestir", GROUP_CALZADO, DEMO_SHAPE_SHOE, 8495, "Piel lisa",
	 "Limpiar con crema y cepillo.", "Zapatos de cordones tipo oxford para ocasiones especiales.", "zapatos|vestir|piel",
	 "mhn"},
	{"bolso-mano", "Bolso de mano", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 5995, "Piel sintética",
	 "Limpiar con un paño húmedo.", "Bolso de mano con asa corta, bandolera extraíble y cierre de cremallera.",
	 "bolso|piel", "m"},
	{"mochila-urbana", "Mochila urbana", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 4495, "Poliéster resistente al agua",
	 "Limpiar con un paño húmedo.", "Mochila con compartimento acolchado para portátil de 15 pulgadas.",
	 "mochila|viaje", "mhn"},
	{"cinturon-piel", "Cinturón de piel", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 2495, "Piel de vacuno",
	 "No mojar.", "Cinturón de piel lisa con hebilla metálica.", "cinturón|piel", "mh"},
	{"bufanda-lana", "Bufanda de lana", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 1995, "100 % lana",
	 "Lavar a mano en agua fría.", "Bufanda larga de lana con flecos.", "bufanda|lana|invierno", "mhn"},
	{"calcetines-pack", "Calcetines de algodón (pack de 3)", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 995,
	 "80 % algodón, 20 % poliamida", "Lavar a máquina a 40 °C.", "Tres pares de calcetines de canalé, suaves y resistentes.",
	 "calcetines|básico", "mhn"},
	{"gafas-sol", "Gafas de sol", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 2995, "Acetato y lentes polarizadas",
	 "Limpiar con una gamuza.", "Gafas de sol de montura redonda con protección UV400.", "gafas|verano", "mh"},
	{"top-tirantes", "Top de tirantes", GROUP_ROPA, DEMO_SHAPE_TOP, 1495, "Algodón elástico",
	 "Lavar a máquina a 30 °C.", "Top de tirantes finos y escote recto, ajustado.", "top|verano", "m"},
	{"gorra-beisbol", "Gorra de béisbol", GROUP_ACCESORIOS, DEMO_SHAPE_BAG, 1495, "Sarga de algodón",
	 "Lavar a mano.", "Gorra de seis paneles con cierre regulable.", "gorra|verano", "mhn"},
};

struct colour {
	const char *name;
	struct demo_rgb rgb;
};

static const struct colour colours[] = {
	{"Negro", {30, 30, 30}},       {"Blanco", {235, 235, 230}}, {"Azul marino", {28, 42, 90}},
	{"Rojo", {180, 30, 40}},       {"Verde oliva", {95, 105, 45}}, {"Gris", {130, 130, 135}},
	{"Beige", {215, 195, 160}},    {"Rosa", {230, 150, 170}},   {"Mostaza", {205, 160, 40}},
	{"Añil", {50, 50, 140}},
};

struct gender {
	char letter;
	const char *api_name;  /* the catalog's gender value */
	const char *category;  /* root category slug */
	const char *suffix;    /* appended to the product name */
};

static const struct gender genders[] = {
	{'m', "mujer", "mujer", " para mujer"},
	{'h', "hombre", "hombre", " para hombre"},
	{'n', "ninos", "ninos", " infantil"},
};

struct loader {
	char host[256];
	int port;
	char auth[256]; /* "Authorization: Bearer ...\r\n" */
	unsigned seed;
	uint64_t categories[3][3]; /* [gender][group] */
	unsigned products;
	unsigned variants;
	unsigned images;
};

static unsigned next_random(struct loader *l)
{
	l->seed = l->seed * 1103515245u + 12345u;
	return (l->seed >> 16) & 0x7fff;
}

/*
 * Sends a request; returns the status, or -1 if the node was unreachable.
 * *body_out (if set) gets the body. Statuses of 300 and above are printed,
 * except 404 when quiet_404 is set.
 */
static int call_checked(struct loader *l, const char *method, const char *path, const char *type, const void *body,
			size_t len, json_t **body_out, bool quiet_404)
{
	char headers[512];
	struct http_client_response res;
	enum http_client_err err;

	snprintf(headers, sizeof(headers), "%sContent-Type: %s\r\nAccept-Language: es\r\n", l->auth,
		 type != NULL ? type : "application/json");
	err = http_client_request(l->host, l->port, method, path, headers, body, len, &res);
	if (err != HTTP_CLIENT_OK) {
		fprintf(stderr, "jkd-demo: no se puede conectar con %s:%d: %s\n", l->host, l->port, strerror(errno));
		buf_free(&res.body);
		return -1;
	}
	if (res.status >= 300 && !(quiet_404 && res.status == 404))
		fprintf(stderr, "jkd-demo: %s %s respondió %d: %.*s\n", method, path, res.status, (int)res.body.len,
			res.body.data != NULL ? res.body.data : "");
	if (body_out != NULL)
		*body_out = res.body.data != NULL ? json_loadb(res.body.data, res.body.len, 0, NULL) : NULL;
	buf_free(&res.body);
	return res.status;
}

static int call(struct loader *l, const char *method, const char *path, const char *type, const void *body,
		size_t len, json_t **body_out)
{
	return call_checked(l, method, path, type, body, len, body_out, false);
}

/* Posts json (stolen) to path and returns the "id" of the result, or 0 on failure. */
static uint64_t create(struct loader *l, const char *path, json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT);
	json_t *result = NULL;
	uint64_t id = 0;
	int status;

	json_decref(json);
	if (text == NULL)
		return 0;
	status = call(l, "POST", path, NULL, text, strlen(text), &result);
	free(text);
	if (status == 201 || status == 200)
		id = (uint64_t)json_integer_value(json_object_get(result, "id"));
	json_decref(result);
	return id;
}

static bool categories_create(struct loader *l)
{
	static const char *const group_slugs[] = {"ropa", "calzado", "accesorios"};
	static const char *const group_names[] = {"Ropa", "Calzado", "Accesorios"};
	static const char *const root_names[] = {"Mujer", "Hombre", "Niños"};

	for (size_t g = 0; g < 3; g++) {
		uint64_t root = create(l, "/api/v1/admin/categories",
				       json_pack("{s:s, s:s, s:i}", "slug", genders[g].category, "name", root_names[g],
						 "position", (int)g));

		if (root == 0)
			return false;
		for (size_t k = 0; k < 3; k++) {
			l->categories[g][k] = create(l, "/api/v1/admin/categories",
						     json_pack("{s:s, s:s, s:I, s:i}", "slug", group_slugs[k], "name",
							       group_names[k], "parent_id", (json_int_t)root,
							       "position", (int)k));
			if (l->categories[g][k] == 0)
				return false;
		}
	}
	return true;
}

/* Returns the tallas of a product of group for gender, NULL-terminated. */
static const char *const *tallas_for(enum group group, char gender)
{
	static const char *const adult[] = {"XS", "S", "M", "L", "XL", "XXL", NULL};
	static const char *const kids[] = {"4 años", "6 años", "8 años", "10 años", "12 años", NULL};
	static const char *const shoes_women[] = {"36", "37", "38", "39", "40", "41", NULL};
	static const char *const shoes_men[] = {"40", "41", "42", "43", "44", "45", "46", NULL};
	static const char *const shoes_kids[] = {"28", "30", "32", "34", "35", NULL};
	static const char *const one[] = {"Única", NULL};

	if (group == GROUP_ACCESORIOS)
		return one;
	if (group == GROUP_CALZADO) {
		if (gender == 'm')
			return shoes_women;
		if (gender == 'h')
			return shoes_men;
		return shoes_kids;
	}
	return gender == 'n' ? kids : adult;
}

static json_t *tags_json(const char *tags)
{
	json_t *list = json_array();
	char copy[256];

	snprintf(copy, sizeof(copy), "%s", tags);
	for (char *save = NULL, *tag = strtok_r(copy, "|", &save); tag != NULL; tag = strtok_r(NULL, "|", &save))
		json_array_append_new(list, json_string(tag));
	return list;
}

static bool picture_upload(struct loader *l, uint64_t product, const struct template *t, const struct colour *c)
{
	char path[256], colour_query[128];
	struct buf png;
	int status;

	/* The colour goes in the query string, percent-encoded. */
	http_client_percent_encode(c->name, "", colour_query, sizeof(colour_query));
	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/images?color=%s", (unsigned long long)product,
		 colour_query);
	buf_init(&png, 16u << 20);
	if (demo_png_draw(&png, PICTURE_WIDTH, PICTURE_HEIGHT, t->shape, c->rgb) != 0) {
		buf_free(&png);
		return false;
	}
	status = call(l, "POST", path, "image/png", png.data, png.len, NULL);
	buf_free(&png);
	l->images += status == 201 || status == 200;
	return status == 201 || status == 200;
}

static bool variants_create(struct loader *l, uint64_t product, const struct template *t, size_t g, int price)
{
	/* One product in five is on sale: its compare-at price is the price before a 20 % discount. */
	int compare_at = l->products % 5 == 0 ? price * 5 / 4 : 0;
	const char *const *tallas = tallas_for(t->group, genders[g].letter);
	size_t colour_count = 2 + next_random(l) % 2;
	size_t first = next_random(l) % (sizeof(colours) / sizeof(colours[0]));
	char path[128], sku[64];

	snprintf(path, sizeof(path), "/api/v1/admin/products/%llu/variants", (unsigned long long)product);
	for (size_t c = 0; c < colour_count; c++) {
		const struct colour *colour = &colours[(first + c * 3) % (sizeof(colours) / sizeof(colours[0]))];

		for (size_t s = 0; tallas[s] != NULL; s++) {
			/* About one variant in eight is sold out, so the shop shows "agotado". */
			int stock = next_random(l) % 8 == 0 ? 0 : (int)(next_random(l) % 25) + 1;

			snprintf(sku, sizeof(sku), "JKD-%llu-%zu-%zu", (unsigned long long)product, c, s);
			json_t *variant = json_pack("{s:s, s:s, s:s, s:i, s:i}", "sku", sku, "talla", tallas[s], "color",
						    colour->name, "price", price, "stock", stock);

			if (compare_at > 0)
				json_object_set_new(variant, "compare_at_price", json_integer(compare_at));
			if (create(l, path, variant) == 0)
				return false;
			l->variants++;
		}
		if (!picture_upload(l, product, t, colour))
			return false;
	}
	return true;
}

static bool product_create(struct loader *l, const struct template *t, size_t g)
{
	static const char *const type_names[] = {"ropa", "calzado", "accesorios"};
	char slug[128], name[256];
	int price = genders[g].letter == 'n' ? t->price_cents * 7 / 10 : t->price_cents;
	json_t *body;
	uint64_t id;

	price -= price % 5;
	snprintf(slug, sizeof(slug), "%s-%s", t->slug, genders[g].api_name);
	snprintf(name, sizeof(name), "%s%s", t->name, genders[g].suffix);
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:I}", "slug", slug, "name", name,
			 "description", t->description, "brand", "JKD Clothing", "gender", genders[g].api_name, "type",
			 type_names[t->group], "material", t->material, "care", t->care, "tags", tags_json(t->tags),
			 "active", 1, "category_id", (json_int_t)l->categories[g][t->group]);
	id = create(l, "/api/v1/admin/products", body);
	if (id == 0)
		return false;
	l->products++;
	return variants_create(l, id, t, g, price);
}

static int login(struct loader *l, const char *email, const char *password)
{
	json_t *body = json_pack("{s:s, s:s}", "email", email, "password", password), *result = NULL;
	char *text = json_dumps(body, JSON_COMPACT);
	const char *token;
	int status;

	json_decref(body);
	status = call(l, "POST", "/api/v1/auth/login", NULL, text, strlen(text), &result);
	free(text);
	token = json_string_value(json_object_get(result, "token"));
	if (status == 200 && token != NULL)
		snprintf(l->auth, sizeof(l->auth), "Authorization: Bearer %s\r\n", token);
	json_decref(result);
	if (status < 0)
		return EXIT_UNREACHABLE;
	return status == 200 && token != NULL ? 0 : EXIT_REJECTED;
}

static int usage(const char *message)
{
	fprintf(stderr, "jkd-demo: %s\nUso: jkd-demo --url http://HOST:PUERTO --email CORREO_ADMIN "
			"(la contraseña se lee de la entrada estándar)\n",
		message);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct loader l = {.seed = 20261204};
	const char *url = NULL, *email = NULL;
	char password[600], endpoint[300];
	int rc, status;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--url") == 0)
			url = argv[i + 1];
		else if (strcmp(argv[i], "--email") == 0)
			email = argv[i + 1];
		else
			return usage("opción desconocida");
	}
	if (url == NULL || email == NULL || argc % 2 == 0 || strncmp(url, "http://", 7) != 0)
		return usage("faltan --url o --email");
	snprintf(endpoint, sizeof(endpoint), "%s", url + 7);
	endpoint[strcspn(endpoint, "/")] = '\0';
	if (config_parse_endpoint(endpoint, l.host, sizeof(l.host), &l.port) != 0)
		return usage("la URL debe tener la forma http://HOST:PUERTO");
	if (fgets(password, sizeof(password), stdin) == NULL)
		return usage("falta la contraseña en la entrada estándar");
	password[strcspn(password, "\r\n")] = '\0';
	rc = login(&l, email, password);
	explicit_bzero(password, sizeof(password));
	if (rc != 0)
		return rc;

	status = call_checked(&l, "GET", "/api/v1/products/camiseta-basica-mujer", NULL, NULL, 0, NULL, true);
	if (status == 200) {
		printf("El catálogo de demostración ya está cargado.\n");
		return 0;
	}
	if (status < 0)
		return EXIT_UNREACHABLE;
	if (!categories_create(&l))
		return EXIT_REJECTED;
	for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
		for (size_t g = 0; g < 3; g++) {
			if (strchr(templates[t].genders, genders[g].letter) != NULL && !product_create(&l, &templates[t], g))
				return EXIT_REJECTED;
		}
	}
	printf("Catálogo de demostración cargado: %u productos, %u variantes, %u imágenes.\n", l.products,
	       l.variants, l.images);
	return 0;
}
