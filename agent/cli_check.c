#include <errno.h>

#include "cli.h"

/* Placeholder until the check command lands; it refuses to run. */
int cli_check(int argc, char **argv, struct bh_err *reterr)
{
	(void) argc;
	(void) argv;
	return bh_err_set(reterr, BH_ERR_INPUT, -ENOSYS, "check: not built yet");
}
