#!/usr/bin/env bash
# Stop everything up.sh started and delete the lab namespace and the prober namespaces beside it
# (mxnat, mxrej, mxdrop). Idempotent. Only the lab's own processes are signalled: those in
# $MXLAB_RUN/pids and those living in the lab's namespaces (by PID, never by name). LAB_KEEP_LOGS=1 copies the logs to $MXLAB_RUN.last-logs.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"
R=$MXLAB_RUN
case "$R" in /run/*mxlab*|/tmp/*mxlab*) ;; *) echo "down.sh: refusing MXLAB_RUN=$R" >&2; exit 1 ;; esac

# alive = exists and is not a zombie (this sandbox's PID 1 reaps orphans only every ~2 s)
alive() { local st; st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ]; }

NSS="$MXLAB_NS $MXLAB_NAT_NS $MXLAB_REJ_NS $MXLAB_DROP_NS"
# PostgreSQL first, the clean way (fast shutdown: clients are cut off); the loop below gets it
# anyway if this does not.
if [ -f "$R/pg/data/postmaster.pid" ] && [ -x "$MXLAB_PGBIN/pg_ctl" ]; then
  (cd "$R/pg" && as_postgres "$MXLAB_PGBIN/pg_ctl" -D "$R/pg/data" stop -m fast -w -t 10) >/dev/null 2>&1
fi
pids=""
for f in "$R"/pids/*.pid; do [ -f "$f" ] && pids="$pids $(head -n1 "$f")"; done
for ns in $NSS; do
  [ -e "/run/netns/$ns" ] && pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
done
pids=$(printf '%s\n' $pids | grep -E '^[0-9]+$' | sort -un)
for p in $pids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
left=""
for _ in $(seq 40); do
  left=""; for p in $pids; do alive "$p" && left="$left $p"; done
  [ -z "$left" ] && break; sleep 0.05
done
for p in $left; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
for ns in $NSS; do
  if [ -e "/run/netns/$ns" ]; then
    # anything forked after we listed it
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || { sleep 0.2; ip netns del "$ns"; }
  fi
  rm -rf "/etc/netns/$ns"
done
if [ "${LAB_KEEP_LOGS:-0}" = 1 ] && [ -d "$R/logs" ]; then
  rm -rf "$R.last-logs"; cp -r "$R/logs" "$R.last-logs"
  [ -d "$R/exim/log" ] && cp -r "$R/exim/log" "$R.last-logs/exim"
fi
rm -rf "$R"
lablog "lab down"
exit 0
