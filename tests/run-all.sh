#!/usr/bin/env bash
# The project's test command (see README):
#   1. cargo test --workspace          unit tests and the in-process labs (no root, no network)
#   2. the interop tier                the built mailcheck-audit against real Postfix, Exim,
#                                      OpenSMTPD, Knot, Unbound and rbldnsd in netns "mxlab", the
#                                      run history on a real PostgreSQL there, and the HTML report
#                                      in a real (headless) Chromium
# Step 2 needs root, network namespaces and the lab packages (sudo bash tests/lab/install.sh).
# Where it cannot run, it says so, and what it skipped; with CI=true that is a failure.
# If the lab is not up, this script brings it up and takes it down again at the end (keep it
# with MXLAB_KEEP=1); a lab that was already up (e.g. started by .ci/run) is left as it is.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LAB=tests/lab
# shellcheck source=lab/env.sh
. "$LAB/env.sh"

failed=()
skipped=()
TESTLOG=$(mktemp)   # every test runner's output, for the closing count
step() { printf '\n==> [%s] %s\n' "$(date +%T)" "$*"; STEP_T0=$SECONDS; }
done_step() { printf '<== %s: %s (%d s)\n' "$1" "$2" $((SECONDS - STEP_T0)); }
run() {  # NAME CMD...: run a step, record a failure
  local name=$1; shift
  step "$name: $*"
  if "$@" 2>&1 | tee -a "$TESTLOG"; then done_step "$name" ok; else done_step "$name" FAILED; failed+=("$name"); return 1; fi
}
print_lab_logs() {
  local d=$MXLAB_RUN
  [ -d "$d/logs" ] || d=$MXLAB_RUN.last-logs
  [ -d "$d" ] || { echo "(no lab logs found)"; return; }
  echo "---------------- lab logs ($d) ----------------"
  find "$d" "$MXLAB_RUN/exim/log" -maxdepth 1 -type f 2>/dev/null | sort | while read -r f; do
    echo "--- $f (last 60 lines)"; tail -n 60 "$f"
  done
  echo "------------------------------------------------"
}

# ---- 1. unit and in-process tests
run "workspace tests" cargo test --workspace --exclude mailcheck-interop

# ---- 2. interop tier
# As root, install the lab's servers first (idempotent, ~0.4 s when already done), so the
# README's one test command works on a fresh machine too.
if [ "$(id -u)" = 0 ] && [ "${MXLAB_NO_INSTALL:-0}" != 1 ]; then
  run "lab install" bash "$LAB/install.sh" || true
fi
why=""
if [ "$(id -u)" != 0 ]; then
  why="not running as root (the lab needs network namespaces)"
elif ! ip netns list >/dev/null 2>&1; then
  why="network namespaces are not available (ip netns)"
elif ! command -v knotd >/dev/null || ! command -v unbound >/dev/null || ! command -v rbldnsd >/dev/null ||
     ! command -v postfix >/dev/null || ! command -v nginx >/dev/null || [ ! -x "$MXLAB_EXTRACT/usr/sbin/exim4" ] || [ ! -x "$MXLAB_EXTRACT/usr/sbin/smtpd" ] ||
     [ ! -x "$MXLAB_PGBIN/postgres" ]; then
  why="the lab's servers are not installed (run: sudo bash tests/lab/install.sh)"
fi

started_lab=0
cleanup() {
  if [ "$started_lab" = 1 ] && [ "${MXLAB_KEEP:-0}" != 1 ]; then
    LAB_KEEP_LOGS=1 bash "$LAB/down.sh"
  fi
}
trap cleanup EXIT

if [ -z "$why" ]; then
  if [ ! -e "/run/netns/$MXLAB_NS" ] || [ ! -f "$MXLAB_CA" ]; then
    if run "lab up" bash "$LAB/up.sh"; then started_lab=1; else started_lab=1; print_lab_logs; why="the lab did not come up"; fi
  fi
fi
if [ -z "$why" ]; then
  run "lab smoke check" bash "$LAB/check.sh" || print_lab_logs
  run "build mailcheck-audit" cargo build -p mailcheck-audit --bin mailcheck-audit
  step "interop tier: cargo test -p mailcheck-interop"
  out=$(mktemp)
  if MXLAB_REQUIRED=1 cargo test -p mailcheck-interop 2>&1 | tee -a "$TESTLOG" "$out"; then
    done_step "interop tier" ok
  else
    done_step "interop tier" FAILED; failed+=("interop tier"); print_lab_logs
  fi
  # the harness itself may skip (e.g. the mailcheck-audit CLI is not there yet): pass that on
  while IFS= read -r l; do skipped+=("${l#interop: SKIPPED — }"); done < <(grep '^interop: SKIPPED' "$out")
  rm -f "$out"
else
  # still run the tier's lab-free tests; the harness prints its own SKIPPED line
  run "interop (lab-free parts)" cargo test -p mailcheck-interop
  skipped+=("interop tier against the real-server lab: $why")
  [ "${CI:-}" = true ] && failed+=("interop tier required in CI: $why")
fi

# ---- summary (the lab goes down first, so the count is the last line)
cleanup
trap - EXIT
# Totals over every runner's result lines (cargo's `test result:` and the interop harness's
# `interop result:`), printed last as one plain `N passed, N failed` line.
count() { grep -hoE "(test|interop) result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed" "$TESTLOG" |
  awk -v f="$1" '{ for (i = 1; i <= NF; i++) if ($(i+1) ~ f) s += $i } END { print s + 0 }'; }
n_passed=$(count '^passed'); n_failed=$(count '^failed')
rm -f "$TESTLOG"
echo
echo "================ summary ================"
for s in "${skipped[@]}"; do echo "SKIPPED: $s"; done
for f in "${failed[@]}"; do echo "FAILED:  $f"; done
[ ${#failed[@]} -gt 0 ] && [ "$n_failed" = 0 ] && n_failed=${#failed[@]}
echo "tests: $n_passed passed, $n_failed failed"
[ ${#failed[@]} -eq 0 ]
