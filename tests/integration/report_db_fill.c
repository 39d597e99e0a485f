/*
 * report_db_fill: a state directory for an agent to start from, as if it
 * had learned the flows of a flows.json file (docs/flows-format.md) and had
 * the modes given stored, for tests/integration/agent_report.sh and the
 * report benchmark (bench/bench-report.sh).
 *
 *   report_db_fill DIR FLOWS.json [SCOPE=MODE@SINCE]...
 *
 * The flows are checkpointed with their peers as the file has them (the
 * agent resolves them again at report time); MODE is learn, proposed,
 * preview or enforce, SINCE unix seconds ("" for the cluster scope:
 * "=enforce@0").  Exit 0 done, 2 usage, 3 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_json.h"
#include "state_db.h"

static int mode_parse(const char *s, enum state_db_mode_kind *ret)
{
	for (int i = 0; i < _STATE_DB_MODE_MAX; i++) {
		if (strcmp(s, state_db_mode_name((enum state_db_mode_kind) i)) == 0) {
			*ret = (enum state_db_mode_kind) i;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	struct state_db_flows v;
	struct flow_set s;
	int ret = 3;

	if (argc < 3) {
		fprintf(stderr, "usage: report_db_fill DIR FLOWS.json [SCOPE=MODE@SINCE]...\n");
		return 2;
	}
	flow_set_init(&s);
	if (flows_json_load(&s, argv[2], &err) < 0 || state_db_open(argv[1], &db, &err) < 0)
		goto fail;
	v = state_db_flows_of_array(s.flows, s.n);
	if (state_db_flows_checkpoint(db, &v, &err) < 0)
		goto fail;
	for (int i = 3; i < argc; i++) {
		char *spec = strdup(argv[i]), *eq = spec ? strchr(spec, '=') : NULL;
		char *at = eq ? strchr(eq, '@') : NULL;
		struct state_db_mode m = { 0 };
		int r;

		if (!at) {
			fprintf(stderr, "report_db_fill: '%s': expected SCOPE=MODE@SINCE\n",
				argv[i]);
			free(spec);
			ret = 2;
			goto out;
		}
		*eq = *at = '\0';
		m.scope = spec;
		m.since = strtoll(at + 1, NULL, 10);
		if (mode_parse(eq + 1, &m.mode) < 0) {
			fprintf(stderr, "report_db_fill: '%s': unknown mode\n", eq + 1);
			free(spec);
			ret = 2;
			goto out;
		}
		r = state_db_mode_set(db, &m, &err);
		free(spec);
		if (r < 0)
			goto fail;
	}
	printf("%zu flows\n", s.n);
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", err.msg);
out:
	state_db_free(db);
	flow_set_done(&s);
	return ret;
}
