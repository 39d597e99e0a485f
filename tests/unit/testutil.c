#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

struct addr addr_lit(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

void labels_lit(struct labels *l, const char *kv)
{
	char *copy = strdup(kv), *save = NULL, *tok;

	assert_non_null(copy);
	labels_init(l);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = '\0';
		assert_int_equal(labels_set(l, tok, eq + 1), 0);
	}
	free(copy);
}

char *test_read_file(const char *path, size_t *ret_len)
{
	char full[4096];
	FILE *f;
	char *data;
	long n;

	if (path[0] == '/')
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s/%s", BH_TEST_DATA, path);
	f = fopen(full, "rb");
	if (!f)
		fail_msg("cannot open '%s'", full);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t) n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t) n, f), (size_t) n);
	data[n] = '\0';
	fclose(f);
	if (ret_len)
		*ret_len = (size_t) n;
	return data;
}
