/*
 * jkdctl cluster: the cluster key file and the operator endpoints of
 * /ops/v1/cluster and /ops/v1/digest.
 *
 * "cluster keygen" works offline. The other commands send their request to
 * one node, which forwards membership changes to the leader.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/jkdctl.h"
#include "replication/transport.h"

#define NODE_ID_MAX 255
#define ADDRESS_MAX_CHARS 255

/* Parses a node id: decimal digits only, 1 to NODE_ID_MAX. */
static bool node_id_parse(const char *text, unsigned *id)
{
	unsigned long value = 0;
	size_t len = strlen(text);

	if (len == 0 || len > 3 || strspn(text, "0123456789") != len)
		return false;
	value = strtoul(text, NULL, 10);
	if (value < 1 || value > NODE_ID_MAX)
		return false;
	*id = (unsigned)value;
	return true;
}

/* Parses text as a node id. Prints a usage error and returns false if it is not one. */
static bool node_id_arg(const struct options *o, const char *text, unsigned *id)
{
	char message[320];

	if (node_id_parse(text, id))
		return true;
	snprintf(message, sizeof(message), tr(o, "invalid node id \"%.200s\": expected a whole number from 1 to 255"),
		 text);
	jkdctl_usage(o, message);
	return false;
}

/* Accepts a nanomsg address such as tcp://127.0.0.1:7404. The node validates the rest. */
static bool address_valid(const char *address)
{
	const char *scheme_end = strstr(address, "://");
	size_t len = strlen(address);

	return len <= ADDRESS_MAX_CHARS && scheme_end != NULL && scheme_end != address && scheme_end[3] != '\0';
}

static int cluster_keygen(const struct options *o, int argc, char **argv)
{
	unsigned char key[TRANSPORT_KEY_BYTES];
	enum transport_err err;

	if (argc != 1)
		return jkdctl_usage(o, tr(o, "cluster keygen takes one argument: the path of the new key file"));
	err = transport_key_generate(key);
	if (err == TRANSPORT_OK)
		err = transport_key_save(argv[0], key);
	sodium_memzero(key, sizeof(key));
	if (err == TRANSPORT_KEY_FILE_EXISTS) {
		fprintf(stderr, tr(o, "jkdctl: the key file %s already exists and was not replaced\n"), argv[0]);
		return EXIT_REJECTED;
	}
	if (err != TRANSPORT_OK) {
		fprintf(stderr, tr(o, "jkdctl: cannot write the key file %s: %s\n"), argv[0], strerror(errno));
		return EXIT_REJECTED;
	}
	printf(tr(o, "Wrote a new cluster key to %s (mode 0600). Copy it to every node of the cluster.\n"), argv[0]);
	return 0;
}

/*
 * Sends one request and parses the JSON object it returns into *out (NULL
 * for an empty body). Returns 0 or an exit code after printing the error.
 */
static int request_json(const struct options *o, const char *method, const char *path, json_t *body, json_t **out)
{
	struct response res;
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	*out = NULL;
	rc = jkdctl_request(o, method, path, text != NULL ? "application/json" : NULL, text,
			    text != NULL ? strlen(text) : 0, &res);
	free(text);
	if (rc != 0)
		return rc;
	if (res.status >= 300)
		return jkdctl_report_failure(o, &res);
	if (res.body.len > 0) {
		*out = json_loadb(res.body.data, res.body.len, 0, NULL);
		if (!json_is_object(*out)) {
			fprintf(stderr, tr(o, "jkdctl: the node at %s:%d sent no valid response\n"), o->host, o->port);
			json_decref(*out);
			*out = NULL;
			rc = EXIT_UNREACHABLE;
		}
	}
	buf_free(&res.body);
	return rc;
}

static int cluster_digest(const struct options *o)
{
	json_t *reply;
	json_int_t index = 0;
	const char *digest = NULL;
	int rc = request_json(o, "GET", "/ops/v1/digest", NULL, &reply);

	if (rc != 0)
		return rc;
	if (json_unpack(reply, "{s:I, s:s}", "applied_index", &index, "digest", &digest) != 0) {
		fprintf(stderr, tr(o, "jkdctl: the node at %s:%d sent no valid response\n"), o->host, o->port);
		json_decref(reply);
		return EXIT_UNREACHABLE;
	}
	printf(tr(o, "Digest %s at applied index %lld\n"), digest, (long long)index);
	json_decref(reply);
	return 0;
}

static const char *role_text(const struct options *o, const char *role)
{
	static const char *const roles[] = {N_("leader"), N_("follower"), N_("candidate"), N_("pre-candidate")};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(role, roles[i]) == 0)
			return tr(o, roles[i]);
	}
	return role;
}

static void members_print(const struct options *o, json_t *members)
{
	size_t i;
	json_t *member;

	printf("%s\n", tr(o, "Members (id, address, role):"));
	json_array_foreach(members, i, member) {
		json_int_t id = json_integer_value(json_object_get(member, "id"));
		const char *address = json_string_value(json_object_get(member, "address"));
		bool voter = json_is_true(json_object_get(member, "voter"));

		printf("  %3lld  %-32s %s\n", (long long)id, address != NULL ? address : "-",
		       voter ? tr(o, "voter") : tr(o, "learner"));
	}
}

static int cluster_status(const struct options *o)
{
	json_t *reply, *members = NULL;
	json_int_t node_id = 0, term = 0, leader = 0, commit = 0, applied = 0, last = 0;
	const char *role = NULL;
	char leader_text[32];
	int rc = request_json(o, "GET", "/ops/v1/cluster", NULL, &reply);

	if (rc != 0)
		return rc;
	if (json_unpack(reply, "{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "node_id", &node_id, "role", &role,
			"term", &term, "leader", &leader, "commit_index", &commit, "applied_index", &applied,
			"last_index", &last, "members", &members) != 0 ||
	    !json_is_array(members)) {
		fprintf(stderr, tr(o, "jkdctl: the node at %s:%d sent no valid response\n"), o->host, o->port);
		json_decref(reply);
		return EXIT_UNREACHABLE;
	}
	/* Leader 0 means the node has no known leader, during an election or without a quorum. */
	if (leader > 0)
		snprintf(leader_text, sizeof(leader_text), "%lld", (long long)leader);
	else
		snprintf(leader_text, sizeof(leader_text), "%s", tr(o, "none"));
	printf(tr(o, "Node %lld, role %s, term %lld, leader %s\n"), (long long)node_id, role_text(o, role),
	       (long long)term, leader_text);
	printf(tr(o, "Commit index %lld, applied index %lld, last index %lld\n"), (long long)commit,
	       (long long)applied, (long long)last);
	members_print(o, members);
	json_decref(reply);
	return 0;
}

/* Sends a membership or leadership request that the node accepts with 202, then prints done_format with id. */
static int cluster_change(const struct options *o, const char *method, const char *path, json_t *body,
			  const char *done_format, unsigned id)
{
	json_t *reply;
	int rc = request_json(o, method, path, body, &reply);

	json_decref(body);
	json_decref(reply);
	if (rc != 0)
		return rc;
	printf(done_format, id);
	return 0;
}

static int cluster_add(const struct options *o, int argc, char **argv)
{
	char message[400];
	unsigned id;

	if (argc != 2)
		return jkdctl_usage(o, tr(o, "cluster add takes a node id and its address, such as: "
					     "cluster add 4 tcp://127.0.0.1:7404"));
	if (!node_id_arg(o, argv[0], &id))
		return EXIT_USAGE;
	if (!address_valid(argv[1])) {
		snprintf(message, sizeof(message),
			 tr(o, "invalid address \"%.200s\": expected a nanomsg address such as tcp://127.0.0.1:7404"),
			 argv[1]);
		return jkdctl_usage(o, message);
	}
	return cluster_change(o, "POST", "/ops/v1/cluster/members",
			      json_pack("{s:I, s:s}", "id", (json_int_t)id, "address", argv[1]),
			      tr(o, "Node %u is being added as a learner; the leader makes it a voter once it has "
				    "caught up.\n"),
			      id);
}

static int cluster_remove(const struct options *o, int argc, char **argv)
{
	char path[64];
	unsigned id;

	if (argc != 1)
		return jkdctl_usage(o, tr(o, "cluster remove takes one node id"));
	if (!node_id_arg(o, argv[0], &id))
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "/ops/v1/cluster/members/%u", id);
	return cluster_change(o, "DELETE", path, NULL, tr(o, "Node %u is being removed from the cluster.\n"), id);
}

static int cluster_transfer(const struct options *o, int argc, char **argv)
{
	unsigned id;

	if (argc != 1)
		return jkdctl_usage(o, tr(o, "cluster transfer takes one node id"));
	if (!node_id_arg(o, argv[0], &id))
		return EXIT_USAGE;
	return cluster_change(o, "POST", "/ops/v1/cluster/transfer", json_pack("{s:I}", "id", (json_int_t)id),
			      tr(o, "Leadership transfer to node %u requested.\n"), id);
}

bool jkdctl_cluster_is_offline(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[0], "cluster") == 0 && strcmp(argv[1], "keygen") == 0;
}

int jkdctl_cluster(const struct options *o, int argc, char **argv)
{
	const char *command = argc > 0 ? argv[0] : "";

	if (strcmp(command, "keygen") == 0)
		return cluster_keygen(o, argc - 1, argv + 1);
	if (strcmp(command, "status") == 0 && argc == 1)
		return cluster_status(o);
	if (strcmp(command, "digest") == 0 && argc == 1)
		return cluster_digest(o);
	if (strcmp(command, "add") == 0)
		return cluster_add(o, argc - 1, argv + 1);
	if (strcmp(command, "remove") == 0)
		return cluster_remove(o, argc - 1, argv + 1);
	if (strcmp(command, "transfer") == 0)
		return cluster_transfer(o, argc - 1, argv + 1);
	return jkdctl_usage(o, tr(o, "cluster needs keygen, status, digest, add, remove or transfer"));
}

void jkdctl_cluster_help(const struct options *o)
{
	jkdctl_help_row(tr(o, "cluster keygen PATH"),
	       tr(o, "Write a new cluster key file (mode 0600); an existing file is not replaced."));
	jkdctl_help_row("cluster status",
	       tr(o, "Show the node's role, term, leader, indexes and the cluster members."));
	jkdctl_help_row("cluster digest",
	       tr(o, "Print the digest of the shop data and its applied index, to compare nodes."));
	jkdctl_help_row(tr(o, "cluster add ID ADDRESS"),
	       tr(o, "Add node ID (1 to 255) at a nanomsg ADDRESS, first as a learner."));
	jkdctl_help_row(tr(o, "cluster remove ID"), tr(o, "Remove node ID from the cluster."));
	jkdctl_help_row(tr(o, "cluster transfer ID"), tr(o, "Hand leadership to node ID."));
}
