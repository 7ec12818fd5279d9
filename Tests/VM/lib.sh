# Shared by the guest-side VM suites (sourced): PASS/FAIL lines the Swift side asserts,
# starting and stopping the suite's hoistd, and asking it (`$hoistd`, `$hoist`, `$sock`,
# `$log`: each suite sets them). Each suite exits with `$failures`.
failures=0
pid=""

say() { echo "-- $*"; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

# Starts hoistd on the emulated chip with ports 1…$4 on wires fp1…fp$4 of namespace $3 and
# their TAPs swp1…swp$4 in namespace $2, serving $sock, logging to $log; prints "PASS $1",
# or "FAIL $1" with the log and returns 1 when swp$4 does not appear within 20 s.
start_emulated_hoistd() {
  local check=$1 ns=$2 wires=$3 n=$4 ports=()
  for i in $(seq "$n"); do ports+=(--port "$i=fp$i"); done
  "$hoistd" -n "$ns" --wire-netns "$wires" "${ports[@]}" --socket "$sock" 2> "$log" &
  pid=$!
  for _ in $(seq 200); do [ -S "$sock" ] && ip -n "$ns" link show "swp$n" > /dev/null 2>&1 && break; sleep 0.1; done
  if ! ip -n "$ns" link show "swp$n" > /dev/null 2>&1; then
    fail "$check" "swp$n did not appear: $(cat "$log")"
    return 1
  fi
  pass "$check"
}

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
