/*
 * A NodeFlows object as a flows.json document (include/nodeflows_doc.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodeflows_doc.h"

const char *nodeflows_node(const json_t *obj)
{
	const char *node = json_string_value(json_object_get(json_object_get(obj, "spec"), "node"));

	return node ? node :
		      json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

int nodeflows_doc(const json_t *obj, char **ret)
{
	static const char *const keys[] = { "generated", "stats", "flows" };
	const json_t *spec = json_object_get(obj, "spec");
	const char *node = nodeflows_node(obj);
	json_t *doc;
	int r = 0;

	*ret = NULL;
	if (!json_is_object(spec))
		return 0;
	doc = json_pack("{s:s, s:s, s:i}", "apiVersion", FLOWS_JSON_API_VERSION, "kind",
			FLOWS_JSON_KIND, "version", FLOWS_JSON_VERSION);
	if (!doc)
		return -ENOMEM;
	if (node && json_object_set_new(doc, "node", json_string(node)) < 0)
		r = -ENOMEM;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && r == 0; i++) {
		json_t *v = json_object_get(spec, keys[i]);

		if (v && json_object_set(doc, keys[i], v) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && !json_object_get(doc, "flows") &&
	    json_object_set_new(doc, "flows", json_array()) < 0)
		r = -ENOMEM;
	if (r == 0 && !(*ret = json_dumps(doc, JSON_COMPACT)))
		r = -ENOMEM;
	json_decref(doc);
	return r;
}

int nodeflows_doc_load(struct flow_set *s, const char *doc, const char *node, struct bh_err *reterr)
{
	int r = flows_json_load_buf(s, doc, strlen(doc), "spec", reterr);

	if (r < 0 && r != -ENOMEM)
		(void) bh_err_prefix(reterr, "NodeFlows '%s': ", node ? node : "");
	return r;
}

int nodeflows_read(const json_t *obj, struct flow_set *s, struct bh_err *reterr)
{
	char *doc;
	int r = nodeflows_doc(obj, &doc);

	if (r < 0)
		return bh_err_oom(reterr);
	if (doc)
		r = nodeflows_doc_load(s, doc, nodeflows_node(obj), reterr);
	free(doc);
	return r;
}
