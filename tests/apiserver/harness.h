/*
 * Test harness around tests/apiserver/apiserver.py: starts it on loopback
 * with fresh TLS material in a temporary directory, drives its control
 * endpoint, and compares a client's cache with the server's state.
 */
#ifndef BH_TEST_APISRV_H
#define BH_TEST_APISRV_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cluster.h"
#include "kube_cache.h"
#include "kube_client.h"
#include "kube_config.h"

struct apisrv {
	char dir[PATH_MAX]; /* temporary directory, removed by apisrv_stop */
	char data[PATH_MAX + 16]; /* objects */
	char certs[PATH_MAX + 16];
	char ca[PATH_MAX + 32], other_ca[PATH_MAX + 32];
	char server_token[PATH_MAX + 32]; /* what the server accepts */
	char client_token[PATH_MAX + 32]; /* what the client reads */
	char url[64];
	int port;
	pid_t pid;
	char extra[8][64]; /* extra server arguments */
	size_t n_extra;
	struct kube_client *ctl; /* for the control endpoint */
};

/* Creates the directory and certificates and writes @objects_json (a List,
 * may be NULL) into the data directory.  0 or -errno (message on stderr). */
int apisrv_init(struct apisrv *s, const char *objects_json);
/* Adds a server argument ("--watch-timeout=2"), before apisrv_start. */
void apisrv_arg(struct apisrv *s, const char *arg);
/* Starts the server (same port when restarting) and waits until it listens. */
int apisrv_start(struct apisrv *s);
/* SIGTERM (the server saves its state) and wait. */
void apisrv_kill(struct apisrv *s);
/* Kills the server and removes the directory. */
void apisrv_done(struct apisrv *s);

/* A client configuration with the CA and the client token file. */
int apisrv_config(const struct apisrv *s, struct kube_config **ret);

/* POSTs a control request built with json_pack-style @fmt; returns the
 * answer (new reference) or NULL on failure. */
json_t *apisrv_control(struct apisrv *s, const char *fmt, ...);
/* Replaces the token the server accepts and, when @client, the client's. */
int apisrv_rotate_token(struct apisrv *s, const char *token, bool server, bool client);

/* A pod object (new reference). */
json_t *apisrv_pod(const char *ns, const char *name, const char *app, const char *ip);

/*
 * True when @cache holds exactly the server's objects: the same keys and
 * resourceVersions in every watch, and a cluster equal to the one the
 * snapshot reader builds from the server's lists.  @why says what differs.
 */
bool apisrv_cache_equal(struct apisrv *s, struct kube_cache *cache, char *why, size_t len);

/* Runs @client until apisrv_cache_equal() holds or @timeout_ms passed. */
bool apisrv_wait_equal(struct apisrv *s, struct kube_client *client, struct kube_cache *cache,
		       int timeout_ms, char *why, size_t len);

/* Two clusters equal in everything Bulkhead uses; @why says what differs. */
bool cluster_equal(const struct cluster *a, const struct cluster *b, char *why, size_t len);

#endif
