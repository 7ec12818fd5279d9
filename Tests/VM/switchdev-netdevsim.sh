#!/usr/bin/env bash
# The Switchdev driver on netdevsim, run inside the test VM (without --rocker: a rocker
# device vetoes every route that uses nexthop objects):
#
#   scripts/vm run Tests/VM/switchdev-netdevsim.sh
#
# netdevsim device 10 with two ports; its IPv4 FIB resource is shrunk to 12 entries
# (devlink resource set + reload) before hoistd starts with --driver switchdev. Routes via
# its ports come back `rt_trap` (netdevsim's "in hardware", trapping to the CPU: hoist
# shows them trapped, confirmed by the flag), as do nexthop objects; with fail_route_offload they
# come back `rt_offload_failed`; past 12 entries the kernel refuses them. Then the driver
# conformance suite runs against the driver where it applies (hoist-conformance).
# Checks print "PASS name" or "FAIL name: why"; the exit status is the number of failures.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-switchdev.sock
log=/tmp/hoistd.log
dev=netdevsim/netdevsim10
dbg=/sys/kernel/debug/netdevsim/netdevsim10
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() { stop_hoistd; echo 10 > /sys/bus/netdevsim/del_device 2>/dev/null; }
trap cleanup EXIT

query() { show "$1" | python3 -c 'import json, sys; rows = json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$2"; }
wait_for() {
  local end=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $end ]; do query "$1" "$2" 2>/dev/null && return 0; sleep 0.3; done
  return 1
}
route_row() { show routes | python3 -c 'import json, sys; print([r for r in json.load(sys.stdin) if r["dst"] == sys.argv[1]])' "$1"; }
nsim_ports() { for d in /sys/bus/netdevsim/devices/netdevsim10/net/*; do basename "$d"; done | sort; }
configure_ports() {
  ip link set "$p1" up; ip link set "$p2" up
  ip addr add 198.51.100.1/24 dev "$p1"
  ip neigh replace 198.51.100.2 lladdr 02:00:00:00:00:02 dev "$p1" nud permanent
}

say "kernel $(uname -r)"
# A router: with forwarding off, Hoist shows every route trapped (the kernel would not forward).
sysctl -q -w net.ipv4.fib_notify_on_flag_change=1 net.ipv6.fib_notify_on_flag_change=1 net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
echo "10 2" > /sys/bus/netdevsim/new_device
sleep 0.5
devlink resource set $dev path /IPv4/fib size 12 && devlink dev reload $dev
sleep 0.5
set -- $(nsim_ports)
p1=${1:-} p2=${2:-}
[ -n "$p2" ] && pass netdevsim-ports || { fail netdevsim-ports "no ports under $dev"; exit 1; }
configure_ports

"$hoistd" --driver switchdev --socket "$sock" --log-level info > "$log" 2>&1 &
pid=$!
end=$((SECONDS + 20))
until show ports > /dev/null 2>&1 || [ $SECONDS -ge $end ]; do sleep 0.2; done
show ports > /dev/null 2>&1 && pass hoistd-started || { fail hoistd-started "$(tail -5 "$log")"; exit 1; }

say "a route via $p1: netdevsim flags it rt_trap — the kernel's driver traps it to the CPU: trapped"
ip route add 203.0.113.0/24 via 198.51.100.2
kflags=$(ip -j route show 203.0.113.0/24 | python3 -c 'import json, sys; print(",".join(json.load(sys.stdin)[0].get("flags", [])))')
trap_reason="the kernel's driver traps this route to the CPU (rt_trap)"
if wait_for routes "any(r['dst'] == '203.0.113.0/24' and r['offload'] == 'trapped' and r.get('reason') == \"$trap_reason\" and r['confirmed'] is True and r['evidence'] == 'kernel flag rt_trap' and r.get('flags') == ['trap'] for r in rows)"; then
  [ "$kflags" = rt_trap ] && pass route-trapped || fail route-trapped "kernel flags '$kflags'"
else
  fail route-trapped "kernel flags '$kflags'; hoist: $(route_row 203.0.113.0/24)"
fi
"$hoist" why route 203.0.113.0/24 --socket "$sock" 2>&1 | grep -qF "trapped: $trap_reason (kernel flag rt_trap)" && pass why-names-trap \
  || fail why-names-trap "$("$hoist" why route 203.0.113.0/24 --socket "$sock" 2>&1)"

say "a nexthop object via $p1 and a route through it: netdevsim flags both trap"
ip nexthop add id 7 via 198.51.100.2 dev "$p1"
ip route add 203.0.114.0/24 nhid 7
nhflags=$(ip -j nexthop show id 7 | python3 -c 'import json, sys; d = json.load(sys.stdin); d = d[0] if isinstance(d, list) else d; print(",".join(d.get("flags", [])))')
if wait_for nexthops "any(r['object'] == 'nexthop group 7' and r['offload'] == 'trapped' and r['confirmed'] is True for r in rows)" \
   && wait_for routes "any(r['dst'] == '203.0.114.0/24' and r['offload'] == 'trapped' and r.get('reason') == \"$trap_reason\" for r in rows)"; then
  pass nexthop-object-trapped
else
  fail nexthop-object-trapped "kernel nexthop flags '$nhflags'; hoist: $(show nexthops) $(route_row 203.0.114.0/24)"
fi

say "fail_route_offload: the next route comes back rt_offload_failed"
echo 1 > $dbg/fib/fail_route_offload
ip route add 203.0.115.0/24 via 198.51.100.2
echo 0 > $dbg/fib/fail_route_offload
kflags=$(ip -j route show 203.0.115.0/24 | python3 -c 'import json, sys; print(",".join(json.load(sys.stdin)[0].get("flags", [])))')
if wait_for routes "any(r['dst'] == '203.0.115.0/24' and r['offload'] == 'failed' and r.get('reason') == 'hardware failure: rt_offload_failed' for r in rows)"; then
  [ "$kflags" = rt_offload_failed ] && pass route-offload-failed || fail route-offload-failed "kernel flags '$kflags'"
else
  fail route-offload-failed "kernel flags '$kflags'; hoist: $(route_row 203.0.115.0/24)"
fi
"$hoist" why route 203.0.115.0/24 --socket "$sock" 2>&1 | grep -q "rt_offload_failed" && pass why-names-failure \
  || fail why-names-failure "$("$hoist" why route 203.0.115.0/24 --socket "$sock" 2>&1)"
query routes "any(r['dst'] == '203.0.113.0/24' and r['offload'] == 'trapped' for r in rows)" \
  && pass other-routes-unaffected || fail other-routes-unaffected "$(route_row 203.0.113.0/24)"

say "fill the 12-entry FIB: the kernel refuses the rest, hoist show resources says 12/12"
refused=0 added=0
for i in $(seq 1 20); do
  if ip route add 10.99.$i.0/24 via 198.51.100.2 2> /tmp/route-err; then added=$((added + 1)); else refused=$((refused + 1)); last_err=$(cat /tmp/route-err); fi
done
say "added $added, refused $refused: ${last_err:-}"
if [ $refused -gt 0 ] && echo "${last_err:-}" | grep -q "Exceeded number of supported fib entries"; then
  pass kernel-refuses-past-capacity
else
  fail kernel-refuses-past-capacity "added $added, refused $refused: ${last_err:-}"
fi
if wait_for resources "any(r['table'] == 'lpm_ipv4' and r['used'] == 12 and r['capacity'] == 12 for r in rows)"; then
  pass resources-12-of-12
else
  fail resources-12-of-12 "$(show resources)"
fi
wait_for routes "sum(1 for r in rows if r['dst'].startswith('10.99.')) == $added" \
  && pass refused-routes-never-appear || fail refused-routes-never-appear "$added added; hoist shows $(show routes | grep -c 10.99.)"

say "counters of the netdevsim ports"
query counters "sorted(r['ifname'] for r in rows if 'ifname' in r) == sorted(['$p1', '$p2'])" \
  && pass port-counters || fail port-counters "$(show counters)"
stop_hoistd

say "driver conformance against the Switchdev driver, where it applies"
"$HOIST_BIN/hoist-conformance" --driver switchdev > /tmp/conformance.out 2>&1
status=$?
sed 's/^/   /' /tmp/conformance.out
grep -q "^SKIP .*does not program hardware" /tmp/conformance.out && ! grep -q "^FAIL" /tmp/conformance.out && [ $status -eq 0 ] \
  && pass conformance-where-it-applies || fail conformance-where-it-applies "status $status"
grep "^PASS \|^SKIP " /tmp/conformance.out | sed 's/^/conformance: /'

say "hoistd log"; sed 's/^/   /' "$log" | tail -20
echo "failures: $failures"
exit $failures
