#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"

int atomic_file_open(struct atomic_file *af, const char *path, struct bh_err *reterr)
{
	size_t n = strlen(path);
	int fd, r;

	*af = (struct atomic_file){ 0 };
	if (n == 0 || strcmp(path, "-") == 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "output '%s': expected a file path", path);
	af->path = strdup(path);
	af->tmp_path = malloc(n + sizeof(".tmp.XXXXXX"));
	if (!af->path || !af->tmp_path) {
		r = bh_err_oom(reterr);
		goto fail;
	}
	memcpy(af->tmp_path, path, n);
	memcpy(af->tmp_path + n, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	fd = mkostemp(af->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		bh_err_set(reterr, BH_ERR_SYSTEM, r,
			   "output '%s': cannot create a temporary file: %s", path, strerror(-r));
		free(af->tmp_path);
		af->tmp_path = NULL;
		goto fail;
	}
	af->f = fdopen(fd, "w");
	if (!af->f) {
		r = -errno;
		close(fd);
		bh_err_set(reterr, BH_ERR_SYSTEM, r, "output '%s': %s", path, strerror(-r));
		goto fail;
	}
	return 0;

fail:
	atomic_file_abort(af);
	return r;
}

int atomic_file_commit(struct atomic_file *af, struct bh_err *reterr)
{
	int r = 0;

	if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) < 0)
		r = -errno ? -errno : -EIO;
	if (fclose(af->f) != 0 && r == 0)
		r = -errno;
	af->f = NULL;
	if (r == 0 && rename(af->tmp_path, af->path) < 0)
		r = -errno;
	if (r < 0) {
		bh_err_set(reterr, BH_ERR_SYSTEM, r, "output '%s': %s", af->path, strerror(-r));
		atomic_file_abort(af);
		return r;
	}
	free(af->tmp_path);
	af->tmp_path = NULL;
	atomic_file_abort(af);
	return 0;
}

void atomic_file_abort(struct atomic_file *af)
{
	if (!af)
		return;
	if (af->f)
		(void) fclose(af->f);
	if (af->tmp_path)
		(void) unlink(af->tmp_path);
	free(af->tmp_path);
	free(af->path);
	*af = (struct atomic_file){ 0 };
}

int atomic_file_write(const char *path, const void *data, size_t len, struct bh_err *reterr)
{
	struct atomic_file af;
	int r;

	r = atomic_file_open(&af, path, reterr);
	if (r < 0)
		return r;
	if (len && fwrite(data, 1, len, af.f) != len) {
		r = -errno ? -errno : -EIO;
		atomic_file_abort(&af);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "output '%s': %s", path, strerror(-r));
	}
	return atomic_file_commit(&af, reterr);
}
