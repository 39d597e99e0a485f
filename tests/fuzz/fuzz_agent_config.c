/*
 * fuzz.agent_config: the agent's configuration file reader (YAML into
 * settings), then the whole check and a copy, over any text.
 */
#include <stddef.h>
#include <stdint.h>

#include "agent_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c, d;
	struct bh_err err = { 0 };

	if (agent_config_init(&c) < 0)
		return 0;
	if (agent_config_parse(&c, (const char *) data, size, "fuzz", &err) == 0) {
		if (agent_config_check(&c, &err) < 0)
			err.msg[0] = 0;
		if (agent_config_copy(&d, &c) == 0)
			agent_config_done(&d);
	}
	agent_config_done(&c);
	return 0;
}
