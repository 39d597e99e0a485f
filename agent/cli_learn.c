#include <errno.h>

#include "cli.h"

/* Placeholder until the learn command lands; it refuses to run. */
int cli_learn(int argc, char **argv, struct bh_err *reterr)
{
	(void) argc;
	(void) argv;
	return bh_err_set(reterr, BH_ERR_INPUT, -ENOSYS, "learn: not built yet");
}
