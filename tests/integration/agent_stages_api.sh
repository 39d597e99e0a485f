#!/usr/bin/env bash
# netns.agent_stages_api: netns.agent_stages with the cluster read from the
# test API server (tests/apiserver) instead of a snapshot file: the
# proposal policies reach the enforcement as events of the cache's cluster.
BH_STAGES_SOURCE=api exec "$(dirname "$0")/agent_stages.sh"
