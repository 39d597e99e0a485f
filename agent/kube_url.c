#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_url.h"

static int curlu_errno(CURLUcode uc)
{
	return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int kube_url_path(const char *path, const char *const *params, char **ret)
{
	const char *q = strchr(path, '?');
	char *p = NULL, *query = NULL, *pair = NULL, *only = NULL;
	CURLU *u = curl_url();
	CURLUcode uc;
	int r;

	*ret = NULL;
	if (!u)
		return -ENOMEM;
	only = q ? strndup(path, (size_t) (q - path)) : strdup(path);
	if (!only) {
		r = -ENOMEM;
		goto out;
	}
	uc = curl_url_set(u, CURLUPART_PATH, only, 0);
	if (uc == CURLUE_OK && q && q[1])
		uc = curl_url_set(u, CURLUPART_QUERY, q + 1, 0);
	for (size_t i = 0; uc == CURLUE_OK && params && params[i]; i += 2) {
		if (!params[i + 1])
			continue;
		free(pair);
		if (asprintf(&pair, "%s=%s", params[i], params[i + 1]) < 0) {
			pair = NULL;
			r = -ENOMEM;
			goto out;
		}
		/* With CURLU_APPENDQUERY the first '=' stays; the rest of the
		 * name and the value are encoded. */
		uc = curl_url_set(u, CURLUPART_QUERY, pair, CURLU_APPENDQUERY | CURLU_URLENCODE);
	}
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_PATH, &p, 0);
	if (uc == CURLUE_OK) {
		uc = curl_url_get(u, CURLUPART_QUERY, &query, 0);
		if (uc == CURLUE_NO_QUERY) {
			query = NULL;
			uc = CURLUE_OK;
		}
	}
	if (uc != CURLUE_OK) {
		r = curlu_errno(uc);
		goto out;
	}
	if (asprintf(ret, "%s%s%s", p, query ? "?" : "", query ? query : "") < 0) {
		*ret = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = 0;
out:
	curl_free(p);
	curl_free(query);
	free(pair);
	free(only);
	curl_url_cleanup(u);
	return r;
}
