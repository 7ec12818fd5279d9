# Shared by the guest-side VM suites (sourced): PASS/FAIL lines the Swift side asserts,
# and stopping the hoistd a suite started. Each suite sets `pid` when it starts hoistd and
# exits with `$failures`.
failures=0
pid=""

say() { echo "-- $*"; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

# SIGTERM, then SIGKILL after 5 s: a stuck hoistd must not keep the VM from powering off.
stop_hoistd() {
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
}
