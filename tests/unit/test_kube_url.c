/*
 * unit.kube_url: request paths built with libcurl's URL API, and the
 * list and watch requests of kube_watch built with it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube_url.h"

static void path_with(const char *path, const char *const *params, const char *want)
{
	char *got = NULL;

	assert_int_equal(kube_url_path(path, params, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void continue_token_is_encoded(void **state)
{
	const char *const p[] = { "limit", "500", "continue", "eyJ2Ijoi+a/b==", NULL };

	(void) state;
	path_with("/api/v1/pods", p, "/api/v1/pods?limit=500&continue=eyJ2Ijoi%2ba%2fb%3d%3d");
}

static void selectors_and_versions(void **state)
{
	const char *const p[] = { "labelSelector",
				  "app in (a, b),tier!=db",
				  "resourceVersion",
				  "12&x=1",
				  "absent",
				  NULL,
				  NULL };

	(void) state;
	path_with("/apis/networking.k8s.io/v1/namespaces/x/networkpolicies", p,
		  "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies"
		  "?labelSelector=app+in+%28a%2c+b%29%2ctier%21%3ddb&resourceVersion=12%26x%3d1");
}

static void query_already_there(void **state)
{
	const char *const p[] = { "watch", "1", NULL };

	(void) state;
	path_with("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1", p,
		  "/api/v1/pods?fieldSelector=spec.nodeName%3dn1&watch=1");
	path_with("/api/v1/nodes", NULL, "/api/v1/nodes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(continue_token_is_encoded),
		cmocka_unit_test(selectors_and_versions),
		cmocka_unit_test(query_already_there),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
