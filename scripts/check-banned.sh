#!/usr/bin/env bash
# style.banned: unsafe or forbidden libc calls (curl's checksrc idea), and
# exit()/abort() outside agent/main.c; _exit() also in the children that
# agent/agent_report_job.c and agent/cluster_nodeflows.c fork, which must
# leave without running the parent's atexit handlers or flushing its stdio
# buffers a second time.
set -uo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
dirs=(lib agent learner enforcer)
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atoll|select|signal|system|popen|ctime|localtime|inet_ntoa)[[:space:]]*\('
bad=0
# Strip comments and string literals crudely, then look for calls.
while IFS= read -r hit; do
	echo "style.banned: $hit"
	bad=1
done < <(grep -rnE --include='*.c' --include='*.h' "$banned" "${dirs[@]}" 2>/dev/null |
	 grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' )
while IFS= read -r hit; do
	echo "style.banned: exit()/abort() outside agent/main.c: $hit"
	bad=1
done < <(grep -rnE --include='*.c' '\b(exit|_exit|abort)[[:space:]]*\(' "${dirs[@]}" 2>/dev/null |
	 grep -v '^agent/main\.c:' | grep -vE '^agent/(agent_report_job|cluster_nodeflows)\.c:[0-9]+:.*\b_exit\(' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
[ "$bad" = 0 ] && echo "style.banned: clean"
exit "$bad"
