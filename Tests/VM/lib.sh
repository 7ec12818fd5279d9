# Shared by the guest-side VM suites (sourced): PASS/FAIL lines the Swift side asserts,
# stopping the hoistd a suite started, and asking it (`$hoist`, `$sock`: each suite sets
# them). Each suite sets `pid` when it starts hoistd and exits with `$failures`.
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

# `hoist show KIND --json` of the suite's hoistd.
show() { "$hoist" show "$1" --json --socket "$sock"; }
# Whether a python expression over `rows` (KIND's JSON rows) holds.
query() {
  show "$1" | python3 -c 'import json, sys; rows = json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$2"
}
# Waits up to $3 seconds (default 10) for query KIND EXPR to hold.
wait_for() {
  local end=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $end ]; do query "$1" "$2" 2>/dev/null && return 0; sleep 0.3; done
  return 1
}
# A port's tx_packets from the chip's counters.
tx() { show counters | python3 -c 'import json, sys; print(next((r["tx_packets"] for r in json.load(sys.stdin) if r.get("ifname") == sys.argv[1]), 0))' "$1"; }
