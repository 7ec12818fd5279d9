#!/usr/bin/env bash
# VRF members end to end, run inside the test VM (this machine's kernel has no VRF):
#
#   scripts/vm run Tests/VM/vrf.sh
#
# hoistd runs the emulated chip on four front-panel veths; swp1 and swp4 are routed in
# the main table, swp2 and swp3 are enslaved to vrf-red (table 10). The chip holds both
# tables: a router interface in the VRF carries its table, and the chip looks up what
# arrives there in it, as the kernel's l3mdev rule does.
#
#   h1 (swp1, main)     10.1.0.2, and 10.9.0.1 on lo
#   h2 (swp2, vrf-red)  10.2.0.2
#   h3 (swp3, vrf-red)  10.3.0.2, and 10.9.0.1 on lo
#   h4 (swp4, main)     10.4.0.2
#
# main: 10.9.0.0/24 via h1; table 10: 10.9.0.0/24 via h3. h2 → 10.9.0.1 must reach h3
# (the kernel's answer), never h1 (what a chip routing the main table would do), and
# cross the chip. (The differential scenarios vrf-*.diff compare the forwarding itself
# with the kernel's, frame by frame.)
#
# Each check prints "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-vm-vrf.sock
log=/tmp/hoistd-vrf.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() {
  stop_hoistd
  for ns in sw wires h1 h2 h3 h4; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

rows() { show "$1" | python3 -c 'import json, sys; [print(r["object"], r.get("table", ""), r["offload"], r.get("reason", "")) for r in json.load(sys.stdin)]' | tr '\n' ';'; }
trapped() { show traps | python3 -c 'import json, sys; print(next((r["packets"] for r in json.load(sys.stdin) if r["trap"] == sys.argv[1]), 0))' "$1"; }
echos() { ip netns exec "$1" awk '/^Icmp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; n = 1 } else print $c }' /proc/net/snmp; }
ping_from() { ip netns exec "$1" ping -q -c "${3:-3}" -i 0.2 -W 2 "$2" > /dev/null 2>&1; }

say "kernel $(uname -r); topology"
for ns in sw wires h1 h2 h3 h4; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
for n in 1 2 3 4; do
  ip -n wires link add "fp$n" type veth peer name eth0 netns "h$n"
  ip -n wires link set "fp$n" up
  ip -n "h$n" link set eth0 address "02:00:00:00:10:0$n"
  ip -n "h$n" addr add "10.$n.0.2/24" dev eth0
  ip -n "h$n" link set eth0 up
  ip -n "h$n" route add default via "10.$n.0.1"
done
ip -n h1 addr add 10.9.0.1/32 dev lo
ip -n h3 addr add 10.9.0.1/32 dev lo

say "hoistd: the emulated chip on fp1..fp4, swp1..swp4 in sw"
start_emulated_hoistd hoistd-started sw wires 4 || exit 1

say "the switch: vrf-red (table 10) over swp2, swp3; swp1, swp4 in the main table"
# Both families forward (with IPv6 forwarding off, every router interface would show IPv6 trapped).
ip netns exec sw sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n sw -batch - <<'EOF'
link add vrf-red type vrf table 10
link set vrf-red up
link set swp2 master vrf-red
link set swp3 master vrf-red
addr add 10.1.0.1/24 dev swp1
addr add 10.2.0.1/24 dev swp2
addr add 10.3.0.1/24 dev swp3
addr add 10.4.0.1/24 dev swp4
link set swp1 up
link set swp2 up
link set swp3 up
link set swp4 up
route add 10.9.0.0/24 via 10.1.0.2
route add 10.9.0.0/24 via 10.3.0.2 vrf vrf-red
EOF
ip -n sw -d link show vrf-red | sed -n 3p
ip -n sw rule show
ip -n sw route show vrf vrf-red

if wait_for rifs "any(r['object'] == 'router interface swp2' and r['offload'] == 'offloaded' and r.get('table') == '10' for r in rows) and any(r['object'] == 'router interface swp3' and r['offload'] == 'offloaded' and r.get('table') == '10' for r in rows)" 15; then
  pass vrf-member-rifs-offloaded
else
  fail vrf-member-rifs-offloaded "hoist show rifs: $(rows rifs)"
fi
if wait_for vrfs "any(r['ifname'] == 'vrf-red' and r.get('table') == 10 and r['members'] == ['swp2', 'swp3'] and r['offload'] == 'offloaded' for r in rows)" 5; then
  pass show-vrfs
else
  fail show-vrfs "hoist show vrfs: $(show vrfs)"
fi
# The VRF adds the l3mdev rule (pref 1000), a default one: the main table's interfaces stay in the chip.
if wait_for rifs "any(r['object'] == 'router interface swp1' and r['offload'] == 'offloaded' and r.get('table') == 'main' for r in rows)" 5; then
  pass main-rif-offloaded
else
  fail main-rif-offloaded "hoist show rifs: $(rows rifs); ip rule: $(ip -n sw rule show | tr '\n' ';')"
fi

say "traffic entering the VRF follows the kernel's VRF table"
# Resolve the main table's next hop (h1), so a chip routing the main table could forward
# h2's packets there: the difference between the tables must show in the traffic.
ip netns exec sw ping -q -c 1 -W 2 10.1.0.2 > /dev/null
if wait_for routes "any(r['object'] == 'route 10.9.0.0/24' and r['offload'] == 'offloaded' for r in rows)" 10; then
  pass main-route-offloaded
else
  fail main-route-offloaded "hoist show routes: $(rows routes)"
fi
ping_from h2 10.3.0.2 1    # resolve neighbours
ping_from h2 10.9.0.1 1
if wait_for routes "any(r['object'] == 'route 10.9.0.0/24 table 10' and r['offload'] == 'offloaded' for r in rows)" 10; then
  pass vrf-route-offloaded
else
  fail vrf-route-offloaded "hoist show routes: $(rows routes)"
fi
h1_before=$(echos h1); h3_before=$(echos h3); trap_before=$(trapped routing_disabled); tx1_before=$(tx swp1); tx3_before=$(tx swp3)
if ping_from h2 10.9.0.1 3; then ok=1; else ok=0; fi
h1_after=$(echos h1); h3_after=$(echos h3); trap_after=$(trapped routing_disabled); tx1_after=$(tx swp1); tx3_after=$(tx swp3)
if [ $ok = 1 ] && [ $((h3_after - h3_before)) -ge 3 ] && [ $((h1_after - h1_before)) -eq 0 ]; then
  pass vrf-traffic-follows-kernel
else
  fail vrf-traffic-follows-kernel "ping ok=$ok; echo requests at h3 $h3_before -> $h3_after, at h1 $h1_before -> $h1_after"
fi
# Routed by the chip in table 10: out of swp3, nothing trapped for lack of routing, nothing out of swp1.
if [ $((tx3_after - tx3_before)) -ge 3 ] && [ "$trap_after" = "$trap_before" ] && [ "$tx1_after" = "$tx1_before" ]; then
  pass vrf-traffic-offloaded
else
  fail vrf-traffic-offloaded "swp3 tx $tx3_before -> $tx3_after, routing_disabled traps $trap_before -> $trap_after, swp1 tx $tx1_before -> $tx1_after"
fi
# The main table has no route to the VRF's subnets: the kernel answers unreachable, and so must the chip.
if ping_from h1 10.2.0.2 2; then
  fail vrf-unreachable-from-main "h1 (main) reached h2 (vrf-red)"
else
  pass vrf-unreachable-from-main
fi

say "the main table's router interfaces are still routed by the chip"
ping_from h1 10.4.0.2 1
before=$(tx swp4)
if ping_from h1 10.4.0.2 3 && [ $(( $(tx swp4) - before )) -ge 3 ]; then
  pass main-traffic-offloaded
else
  fail main-traffic-offloaded "h1 -> h4: swp4 tx $before -> $(tx swp4)"
fi

say "swp2 leaves the VRF: its router interface is offloaded again"
ip -n sw link set swp2 nomaster
ip -n sw addr replace 10.2.0.1/24 dev swp2
ip -n sw link set swp2 up
if wait_for rifs "any(r['object'] == 'router interface swp2' and r['offload'] == 'offloaded' and r.get('table') == 'main' for r in rows)" 10; then
  pass vrf-release-offloaded
else
  fail vrf-release-offloaded "hoist show rifs: $(rows rifs)"
fi

exit $failures
