/*
 * Replay driver for fuzz targets (systemd's fuzz-main.c): runs
 * LLVMFuzzerTestOneInput over every file named on the command line, or every
 * file in a named directory, so each corpus entry (and each crash ever found)
 * is a permanent regression test under CTest and the sanitizers.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t n = 0, cap = 0, got;

	if (!f) {
		fprintf(stderr, "fuzz replay: '%s': %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (n == cap) {
			uint8_t *p = realloc(data, cap ? cap * 2 : 4096);

			if (!p) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
			cap = cap ? cap * 2 : 4096;
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (!d) {
		fprintf(stderr, "fuzz replay: '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char **p;

		if (e->d_name[0] == '.')
			continue;
		p = realloc(names, (n + 1) * sizeof(*names));
		if (!p) {
			r = -1;
			break;
		}
		names = p;
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
			r = -1;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && run_file(names[i]) < 0)
			r = -1;
		free(names[i]);
	}
	free(names);
	*count += n;
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "fuzz replay: '%s': %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) < 0)
				return 1;
		} else {
			if (run_file(argv[i]) < 0)
				return 1;
			count++;
		}
	}
	printf("fuzz replay: %zu inputs, no crash\n", count);
	return 0;
}
