/*
 * exec credential plugins: run with posix_spawnp (never a shell: the
 * command and its arguments come from the kubeconfig as a list, as kubectl
 * runs them), read through a pipe with poll() and a deadline, parsed with
 * jansson, cached per process.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "kube_exec.h"
#include "rfc3339.h"

extern char **environ;

static void wipe_free(char *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

void kube_exec_cred_done(struct kube_exec_cred *c)
{
	wipe_free(c->token, c->token ? strlen(c->token) : 0);
	free(c->cert_data);
	wipe_free(c->key_data, c->key_data_len);
	*c = (struct kube_exec_cred){ .token = NULL };
}

static int cred_err(struct bh_err *reterr, const char *command, const char *what)
{
	return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "exec plugin '%s': %s", command, what);
}

/* A header value: no control characters, or the request could be split. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int kube_exec_cred_parse(const char *data, size_t len, const char *api_version, const char *command,
			 struct kube_exec_cred *ret, struct bh_err *reterr)
{
	struct kube_exec_cred c = { .token = NULL };
	json_error_t jerr;
	json_t *doc, *st, *v;
	const char *s, *cert, *key;
	int r;

	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		/* jerr.text quotes the input ("near '...'"), which may be
		 * the token itself: say only where. */
		return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
				  "exec plugin '%s': output is not JSON (line %d column %d)",
				  command, jerr.line, jerr.column);
	r = -EINVAL;
	if (!json_is_object(doc)) {
		cred_err(reterr, command, "output: expected an ExecCredential object");
		goto out;
	}
	s = json_string_value(json_object_get(doc, "kind"));
	if (!s || strcmp(s, "ExecCredential") != 0) {
		cred_err(reterr, command, "output: kind: expected 'ExecCredential'");
		goto out;
	}
	s = json_string_value(json_object_get(doc, "apiVersion"));
	if (!s || strcmp(s, api_version) != 0) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "exec plugin '%s': output: apiVersion: expected '%s' as configured, "
			   "got '%.64s'",
			   command, api_version, s ? s : "");
		goto out;
	}
	st = json_object_get(doc, "status");
	if (!json_is_object(st)) {
		cred_err(reterr, command, "output: no status");
		goto out;
	}
	v = json_object_get(st, "token");
	if (v && !json_is_string(v)) {
		cred_err(reterr, command, "output: status.token: expected a string");
		goto out;
	}
	s = json_string_value(v);
	cert = json_string_value(json_object_get(st, "clientCertificateData"));
	key = json_string_value(json_object_get(st, "clientKeyData"));
	if (s && !*s)
		s = NULL;
	if (!s && !(cert && *cert && key && *key)) {
		cred_err(reterr, command,
			 "output: status: no token and no clientCertificateData with "
			 "clientKeyData");
		goto out;
	}
	if (!!(cert && *cert) != !!(key && *key)) {
		cred_err(reterr, command,
			 "output: status: clientCertificateData and clientKeyData go together");
		goto out;
	}
	if (s && !header_safe(s)) {
		cred_err(reterr, command, "output: status.token: contains control characters");
		goto out;
	}
	v = json_object_get(st, "expirationTimestamp");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) || rfc3339_parse(json_string_value(v), &c.expires) < 0)) {
		cred_err(reterr, command,
			 "output: status.expirationTimestamp: expected an RFC 3339 time");
		goto out;
	}
	if ((s && !(c.token = strdup(s))) || (cert && *cert && !(c.cert_data = strdup(cert))) ||
	    (key && *key && !(c.key_data = strdup(key)))) {
		r = bh_err_oom(reterr);
		goto out;
	}
	c.cert_data_len = c.cert_data ? strlen(c.cert_data) : 0;
	c.key_data_len = c.key_data ? strlen(c.key_data) : 0;
	*ret = c;
	c = (struct kube_exec_cred){ .token = NULL };
	r = 0;
out:
	kube_exec_cred_done(&c);
	json_decref(doc);
	return r;
}

/* environ without the names @x sets, then @x's env and KUBERNETES_EXEC_INFO:
 * the kubeconfig's values win, as in kubectl. */
static char **env_build(const struct kube_exec *x, char **ret_info)
{
	size_t n = 0, o = 0;
	char **envp;

	for (char **e = environ; e && *e; e++)
		n++;
	envp = calloc(n + x->n_env + 2, sizeof(*envp));
	if (!envp)
		return NULL;
	if (asprintf(ret_info, "KUBERNETES_EXEC_INFO=%s", x->exec_info ? x->exec_info : "") < 0) {
		*ret_info = NULL;
		free(envp);
		return NULL;
	}
	for (char **e = environ; e && *e; e++) {
		size_t kl = strcspn(*e, "=");
		bool shadowed = strncmp(*e, "KUBERNETES_EXEC_INFO=", 21) == 0;

		for (size_t i = 0; i < x->n_env && !shadowed; i++)
			shadowed = strncmp(x->env[i], *e, kl + 1) == 0;
		if (!shadowed)
			envp[o++] = *e;
	}
	for (size_t i = 0; i < x->n_env; i++)
		envp[o++] = x->env[i];
	envp[o++] = *ret_info;
	envp[o] = NULL;
	return envp;
}

static int64_t now_ms(void)
{
	return (int64_t) clock_mono_ms();
}

/* Reads the plugin's stdout until EOF, @max bytes or @deadline. */
static int read_output(int fd, int64_t deadline, struct buf *out)
{
	char tmp[16384];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;
		int k;

		if (left <= 0)
			return -ETIMEDOUT;
		k = poll(&p, 1, (int) left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ETIMEDOUT;
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (buf_append(out, tmp, (size_t) n) < 0)
			return -E2BIG;
	}
}

int kube_exec_run(const struct kube_exec *x, int timeout_ms, struct kube_exec_cred *ret,
		  struct bh_err *reterr)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char **argv = NULL, **envp = NULL, *info = NULL;
	const char *cmd = x->command;
	int pfd[2] = { -1, -1 }, st = 0, r, rr;
	bool fa_init = false, attr_init = false;
	struct buf out;
	pid_t pid = -1;

	buf_init(&out, KUBE_EXEC_OUTPUT_MAX);
	argv = calloc(x->n_args + 2, sizeof(*argv));
	envp = argv ? env_build(x, &info) : NULL;
	if (!envp) {
		r = bh_err_oom(reterr);
		goto out;
	}
	argv[0] = x->command;
	for (size_t i = 0; i < x->n_args; i++)
		argv[i + 1] = x->args[i];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "exec plugin '%s': pipe: %s", cmd,
			       strerror(errno));
		goto out;
	}
	r = posix_spawn_file_actions_init(&fa);
	if (r != 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	fa_init = true;
	/* stdin from /dev/null (no interaction), stdout to us, stderr
	 * inherited so the plugin's own messages reach the user. */
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1) != 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	/* Its own process group, so that a timeout kills what it started
	 * too (a wrapper script's children would hold stderr open). */
	if (posix_spawnattr_init(&attr) != 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	attr_init = true;
	if (posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = posix_spawnp(&pid, cmd, &fa, &attr, argv, envp);
	if (r != 0) {
		pid = -1;
		if (r == ENOENT || r == EACCES)
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -r, "exec plugin '%s': %s%s%s", cmd,
				       r == ENOENT ? "not found" : strerror(r),
				       x->install_hint ? ": " : "",
				       x->install_hint ? x->install_hint : "");
		else
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -r, "exec plugin '%s': %s", cmd,
				       strerror(r));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	r = read_output(pfd[0], now_ms() + timeout_ms, &out);
	if (r < 0)
		(void) kill(-pid, SIGKILL);
	while ((rr = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	pid = -1;
	if (r == -ETIMEDOUT) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r,
			       "exec plugin '%s': no credential within %d ms, killed", cmd,
			       timeout_ms);
		goto out;
	}
	if (r == -E2BIG) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r,
			       "exec plugin '%s': output larger than %u bytes, killed", cmd,
			       KUBE_EXEC_OUTPUT_MAX);
		goto out;
	}
	if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "exec plugin '%s': reading its output: %s",
			       cmd, strerror(-r));
		goto out;
	}
	if (rr < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (rr >= 0 && WIFSIGNALED(st))
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -ECHILD,
				       "exec plugin '%s': killed by signal %d", cmd, WTERMSIG(st));
		else
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -ECHILD,
				       "exec plugin '%s': exited with status %d%s", cmd,
				       rr >= 0 ? WEXITSTATUS(st) : -1,
				       rr >= 0 && WEXITSTATUS(st) == 127 ? " (command not found?)" :
									   "");
		goto out;
	}
	r = kube_exec_cred_parse(out.data ? out.data : "", out.len, x->api_version, cmd, ret,
				 reterr);
out:
	if (pid > 0) {
		(void) kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (out.data)
		explicit_bzero(out.data, out.len);
	buf_done(&out);
	free(argv);
	free(envp);
	free(info);
	return r;
}

/* --- the process-wide cache --- */

struct cache_entry {
	char *key; /* command, args, env and exec info, joined */
	struct kube_exec_cred cred;
	uint64_t gen;
	bool valid;
	struct cache_entry *next;
};

static struct cache_entry *cache;
static uint64_t cache_gen;

static char *cache_key(const struct kube_exec *x)
{
	struct buf b;
	int r;

	buf_init(&b, 1u << 20);
	r = buf_printf(&b, "%s\x1f%s\x1f%s", x->command, x->api_version,
		       x->exec_info ? x->exec_info : "");
	for (size_t i = 0; r == 0 && i < x->n_args; i++)
		r = buf_printf(&b, "\x1e%s", x->args[i]);
	for (size_t i = 0; r == 0 && i < x->n_env; i++)
		r = buf_printf(&b, "\x1d%s", x->env[i]);
	if (r < 0) {
		buf_done(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static struct cache_entry *cache_find(const struct kube_exec *x, bool create)
{
	struct cache_entry *e;
	char *key = cache_key(x);

	if (!key)
		return NULL;
	for (e = cache; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (e || !create) {
		free(key);
		return e;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(key);
		return NULL;
	}
	e->key = key;
	e->next = cache;
	cache = e;
	return e;
}

int kube_exec_get(const struct kube_exec *x, bool refresh, const struct kube_exec_cred **ret,
		  uint64_t *ret_gen, struct bh_err *reterr)
{
	struct cache_entry *e = cache_find(x, true);
	struct kube_exec_cred c = { .token = NULL };
	int r;

	if (!e)
		return bh_err_oom(reterr);
	/* Expired at its timestamp, as client-go does; a plugin that gives
	 * no expiry is asked again only after a 401. */
	if (e->valid && !refresh && (!e->cred.expires || time(NULL) < e->cred.expires)) {
		*ret = &e->cred;
		*ret_gen = e->gen;
		return 0;
	}
	r = kube_exec_run(x, KUBE_EXEC_TIMEOUT_MS, &c, reterr);
	if (r < 0)
		return r;
	kube_exec_cred_done(&e->cred);
	e->cred = c;
	e->valid = true;
	e->gen = ++cache_gen;
	*ret = &e->cred;
	*ret_gen = e->gen;
	return 0;
}

void kube_exec_invalidate(const struct kube_exec *x, uint64_t gen)
{
	struct cache_entry *e = cache_find(x, false);

	if (e && e->gen == gen)
		e->valid = false;
}

void kube_exec_cache_clear(void)
{
	while (cache) {
		struct cache_entry *e = cache;

		cache = e->next;
		kube_exec_cred_done(&e->cred);
		free(e->key);
		free(e);
	}
}
