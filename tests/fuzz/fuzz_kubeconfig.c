/*
 * fuzz.kubeconfig: the kubeconfig reader (YAML into jansson, $KUBECONFIG
 * merging of two files, contexts, exec users) and the ExecCredential
 * parser, the two readers of outside input on the way to the API.  The
 * first byte chooses: bit 0 the ExecCredential parser, else kubeconfig
 * files; bit 1 a --context; the rest is split at the first NUL into two
 * files (held in memfds).  Plugins are never run.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kube_config.h"
#include "kube_exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const char *p, size_t n, char *path, size_t len)
{
	int fd = memfd_create("kubeconfig", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (n && write(fd, p, n) != (ssize_t) n) {
		close(fd);
		return -1;
	}
	(void) snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data + 1, *nul;
	char pa[64], pb[64];
	const char *paths[2] = { pa, pb };
	struct kube_config *c = NULL, *d;
	struct kube_exec_cred cred = { .token = NULL };
	struct bh_err err = { 0 };
	size_t n = size ? size - 1 : 0, na;
	int fa = -1, fb = -1;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (kube_exec_cred_parse(p, n, "client.authentication.k8s.io/v1", "fuzz", &cred,
					 &err) == 0)
			kube_exec_cred_done(&cred);
		return 0;
	}
	nul = memchr(p, '\0', n);
	na = nul ? (size_t) (nul - p) : n;
	fa = memfd_with(p, na, pa, sizeof(pa));
	if (fa < 0)
		return 0;
	if (nul) {
		fb = memfd_with(nul + 1, n - na - 1, pb, sizeof(pb));
		if (fb < 0)
			goto out;
	}
	if (kube_config_from_files(paths, nul ? 2 : 1, data[0] & 2 ? "ctx" : NULL, &c, &err) == 0) {
		d = kube_config_dup(c);
		kube_config_free(d);
		kube_config_free(c);
	}
out:
	close(fa);
	if (fb >= 0)
		close(fb);
	return 0;
}
