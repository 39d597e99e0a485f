#include <errno.h>

#include "cli.h"

/* Placeholder until the apply command lands; it refuses to run. */
int cli_apply(int argc, char **argv, struct bh_err *reterr)
{
	(void) argc;
	(void) argv;
	return bh_err_set(reterr, BH_ERR_INPUT, -ENOSYS, "apply: not built yet");
}

int cli_reset(int argc, char **argv, struct bh_err *reterr)
{
	(void) argc;
	(void) argv;
	return bh_err_set(reterr, BH_ERR_INPUT, -ENOSYS, "reset: not built yet");
}
