/*
 * Kubernetes request paths built with libcurl's URL API (curl_url): query
 * parameters are percent-encoded by libcurl (CURLU_URLENCODE), never by
 * hand.  Continue tokens are base64 ('+', '/', '='), resource versions
 * and selectors are opaque strings from the server or the user.
 */
#ifndef BH_KUBE_URL_H
#define BH_KUBE_URL_H

/*
 * *ret = @path (server-relative, "/api/v1/pods", possibly holding a query
 * already) with the query parameters @params appended: name, value pairs
 * ending with a NULL name; a pair whose value is NULL is left out.  Each
 * name and value is percent-encoded.  0, or -ENOMEM, or -EINVAL when
 * libcurl refuses the path.  The caller frees *ret.
 */
int kube_url_path(const char *path, const char *const *params, char **ret);

#endif
