#!/usr/bin/env bash
# netns.agent_enforce_snapshot: tests/integration/agent_enforce.sh with the
# agent on a --snapshot file the test edits, and no API server.
BH_AGENT_SOURCE=snapshot exec "$(dirname "$0")/agent_enforce.sh" "$@"
