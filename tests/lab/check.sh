#!/usr/bin/env bash
# Smoke-check the running lab: every server answers as its scenario needs. Prints
# "N passed, N failed" and exits non-zero on any failure. Takes ~MXLAB_GREET_PAUSE seconds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"
[ -e "/run/netns/$MXLAB_NS" ] || { echo "check.sh: lab is not up (run tests/lab/up.sh)" >&2; exit 1; }
exec $NX /usr/bin/python3 "$HERE/check.py"
