#!/usr/bin/env bash
# Stop everything up.sh started and delete the lab namespace. Idempotent.
# Only the lab's own processes are signalled: those in $MXLAB_RUN/pids and those living in the
# lab namespace (by PID, never by name). LAB_KEEP_LOGS=1 copies the logs to $MXLAB_RUN.last-logs.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"
R=$MXLAB_RUN
case "$R" in /run/*mxlab*|/tmp/*mxlab*) ;; *) echo "down.sh: refusing MXLAB_RUN=$R" >&2; exit 1 ;; esac

# alive = exists and is not a zombie (this sandbox's PID 1 reaps orphans only every ~2 s)
alive() { local st; st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ]; }

pids=""
for f in "$R"/pids/*.pid; do [ -f "$f" ] && pids="$pids $(head -n1 "$f")"; done
[ -e "/run/netns/$MXLAB_NS" ] && pids="$pids $(ip netns pids "$MXLAB_NS" 2>/dev/null)"
pids=$(printf '%s\n' $pids | grep -E '^[0-9]+$' | sort -un)
for p in $pids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
left=""
for _ in $(seq 40); do
  left=""; for p in $pids; do alive "$p" && left="$left $p"; done
  [ -z "$left" ] && break; sleep 0.05
done
for p in $left; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
if [ -e "/run/netns/$MXLAB_NS" ]; then
  # anything forked after we listed it
  for p in $(ip netns pids "$MXLAB_NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$MXLAB_NS" 2>/dev/null || { sleep 0.2; ip netns del "$MXLAB_NS"; }
fi
rm -rf "/etc/netns/$MXLAB_NS"
if [ "${LAB_KEEP_LOGS:-0}" = 1 ] && [ -d "$R/logs" ]; then
  rm -rf "$R.last-logs"; cp -r "$R/logs" "$R.last-logs"
  [ -d "$R/exim/log" ] && cp -r "$R/exim/log" "$R.last-logs/exim"
fi
rm -rf "$R"
lablog "lab down"
exit 0
