#!/usr/bin/env bash
# VLAN-aware bridge end to end, run inside the test VM (Debian's kernel has bridge VLAN
# filtering and 8021q; this machine's does not):
#
#   scripts/vm run Tests/VM/vlan-bridge.sh
#
# hoistd runs the emulated chip on four front-panel veths (namespace "wires") with its
# host interfaces swp1…swp4 in namespace "sw"; the switch is configured with plain
# ip/bridge: br0 with vlan_filtering 1, swp1/swp2 access ports of VLAN 10, swp3 an access
# port of VLAN 20, swp4 a trunk carrying 10 and 20 tagged.
#
#   h1 (swp1, VLAN 10 untagged)  10.0.10.1
#   h2 (swp2, VLAN 10 untagged)  10.0.10.2
#   h3 (swp3, VLAN 20 untagged)  10.0.20.3, and 10.0.10.3 (in VLAN 10's subnet, unreachable)
#   h4 (swp4, trunk)             eth0.10 10.0.10.4, eth0.20 10.0.20.4
#
# Each check prints "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-vm-test.sock
log=/tmp/hoistd.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() {
  stop_hoistd
  for ns in sw wires h1 h2 h3 h4; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

# `hoist show KIND --json`, then a Python expression over its rows (exit status 0 if true).
ping_from() { # host, address, count
  ip netns exec "$1" ping -q -c "${3:-3}" -i 0.2 -W 2 "$2" > /dev/null 2>&1
}
vlan_rows() { # the rows of `hoist show vlans`, as "swpN vid flags offload" lines, for messages
  show vlans | python3 -c 'import json, sys; [print(r["ifname"], r["vlan"], ",".join(r["flags"]), r["offload"], r.get("reason", "")) for r in json.load(sys.stdin)]' | tr '\n' ';'
}

say "kernel $(uname -r); topology"
for ns in sw wires h1 h2 h3 h4; do
  ip netns add "$ns"
  # No IPv6: its autoconfiguration chatter would disturb the per-port counters below.
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
for n in 1 2 3 4; do
  ip -n wires link add "fp$n" type veth peer name eth0 netns "h$n"
  ip -n wires link set "fp$n" up
  ip -n "h$n" link set eth0 address "02:00:00:00:10:0$n"
  ip -n "h$n" link set eth0 up
done
ip -n h1 addr add 10.0.10.1/24 dev eth0
ip -n h2 addr add 10.0.10.2/24 dev eth0
ip -n h3 addr add 10.0.20.3/24 dev eth0
ip -n h3 addr add 10.0.10.3/24 dev eth0
ip -n h4 -batch - <<'EOF'
link add link eth0 name eth0.10 type vlan id 10
link add link eth0 name eth0.20 type vlan id 20
addr add 10.0.10.4/24 dev eth0.10
addr add 10.0.20.4/24 dev eth0.20
link set eth0.10 up
link set eth0.20 up
EOF

say "hoistd: the emulated chip on fp1..fp4, swp1..swp4 in sw"
start_emulated_hoistd hoistd-started sw wires 4 || exit 1

say "the switch: br0 vlan_filtering 1; swp1, swp2 access VLAN 10; swp3 access VLAN 20; swp4 trunk 10,20"
ip -n sw -batch - <<'EOF'
link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0
link set swp1 master br0
link set swp2 master br0
link set swp3 master br0
link set swp4 master br0
link set swp1 up
link set swp2 up
link set swp3 up
link set swp4 up
link set br0 up
EOF
bridge -n sw -batch - <<'EOF'
vlan add vid 10 dev swp1 pvid untagged
vlan add vid 10 dev swp2 pvid untagged
vlan add vid 20 dev swp3 pvid untagged
vlan add vid 10 dev swp4
vlan add vid 20 dev swp4
EOF
bridge -n sw vlan show

# The kernel's VLAN table, as the chip must have it: (port, vid, flags).
want='{("swp1",10,"PVID,Egress Untagged"),("swp2",10,"PVID,Egress Untagged"),("swp3",20,"PVID,Egress Untagged"),("swp4",10,""),("swp4",20,"")}'
have='{(r["ifname"], r["vlan"], ",".join(r["flags"])) for r in rows if r["offload"] == "offloaded"}'
if wait_for vlans "$have == $want and all(r['offload'] == 'offloaded' for r in rows)" 15; then
  pass vlans-offloaded
else
  fail vlans-offloaded "hoist show vlans: $(vlan_rows)"
fi
brindex=$(ip -n sw -j link show br0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["ifindex"])')
if "$hoist" why "bridge $brindex" --json --socket "$sock" | grep -q '"offload":"offloaded"'; then
  pass bridge-offloaded
else
  fail bridge-offloaded "$("$hoist" why "bridge $brindex" --socket "$sock" 2>&1)"
fi

say "traffic within VLAN 10 and VLAN 20, through the chip"
before=$(tx swp2)
if ping_from h1 10.0.10.2 3; then pass access-to-access-vlan10; else fail access-to-access-vlan10 "h1 cannot ping h2"; fi
after=$(tx swp2)
if [ $((after - before)) -ge 3 ]; then
  pass chip-counters-rise
else
  fail chip-counters-rise "swp2 tx_packets $before -> $after for 3 echo requests"
fi
if ping_from h1 10.0.10.4 3; then pass access-to-trunk-vlan10; else fail access-to-trunk-vlan10 "h1 cannot ping h4's eth0.10"; fi
if ping_from h3 10.0.20.4 3; then pass access-to-trunk-vlan20; else fail access-to-trunk-vlan20 "h3 cannot ping h4's eth0.20"; fi
learned() { # h1's MAC in VLAN 10, written back by hoistd as extern_learn
  bridge -n sw -j fdb show br br0 | python3 -c '
import json, sys
fdb = json.load(sys.stdin)
sys.exit(0 if any(e["mac"] == "02:00:00:00:10:01" and e.get("vlan") == 10 and "extern_learn" in e.get("flags", []) for e in fdb) else 1)'
}
for _ in $(seq 20); do learned && break; sleep 0.5; done
if learned; then
  pass fdb-extern-learn-vlan10
else
  fail fdb-extern-learn-vlan10 "$(bridge -n sw fdb show br br0 | tr '\n' ';')"
fi

say "isolation: h3 (VLAN 20) holds 10.0.10.3, which VLAN 10 must not reach"
# Had h1's ARP request for 10.0.10.3 reached h3, h3 would have answered it and learnt h1
# as a neighbour: no entry means nothing of VLAN 10 got there.
if ping_from h1 10.0.10.3 2; then
  fail vlan-isolation "h1 (VLAN 10) reached h3 (VLAN 20)"
elif [ -n "$(ip -n h3 neigh show 10.0.10.1)" ]; then
  fail vlan-isolation "h3 saw h1's ARP request: $(ip -n h3 neigh show 10.0.10.1)"
else
  pass vlan-isolation
fi

say "bridge vlan del/add on swp2 reaches the chip"
bridge -n sw vlan del vid 10 dev swp2
if wait_for vlans 'not any(r["ifname"] == "swp2" and r["vlan"] == 10 for r in rows)'; then
  if ping_from h1 10.0.10.2 2; then fail vlan-del-reaches-chip "h1 still reaches h2 after vlan del"; else pass vlan-del-reaches-chip; fi
else
  fail vlan-del-reaches-chip "swp2 VLAN 10 still in hoist show vlans: $(vlan_rows)"
fi
bridge -n sw vlan add vid 10 dev swp2 pvid untagged
if wait_for vlans 'any(r["ifname"] == "swp2" and r["vlan"] == 10 and r["offload"] == "offloaded" and "PVID" in r["flags"] for r in rows)'; then
  if ping_from h1 10.0.10.2 3; then pass vlan-add-reaches-chip; else fail vlan-add-reaches-chip "h1 cannot ping h2 after vlan add"; fi
else
  fail vlan-add-reaches-chip "swp2 VLAN 10 not offloaded again: $(vlan_rows)"
fi

say "802.1ad: vlan_protocol 802.1ad, h4's trunk subinterface with S-tags"
ip -n sw link set br0 type bridge vlan_protocol 802.1ad
proto=$(ip -n sw -d -j link show br0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["linkinfo"]["info_data"]["vlan_protocol"])')
row=$("$hoist" why "bridge $brindex" --json --socket "$sock")
case $row in
  *'"offload":"offloaded"'*) pass 8021ad-bridge-offloaded; echo "   bridge offloaded with vlan_protocol $proto" ;;
  *'"offload":"trapped"'*'"reason"'*) pass 8021ad-bridge-offloaded; echo "   bridge trapped: $row" ;;
  *) fail 8021ad-bridge-offloaded "kernel vlan_protocol $proto; hoist why: $row" ;;
esac
ip -n h4 -batch - <<'EOF'
link del eth0.10
link add link eth0 name eth0.10 type vlan proto 802.1ad id 10
addr add 10.0.10.4/24 dev eth0.10
link set eth0.10 up
EOF
if [ "$proto" = 802.1ad ] && ping_from h1 10.0.10.4 3; then
  pass 8021ad-trunk-traffic
else
  fail 8021ad-trunk-traffic "kernel vlan_protocol $proto; h1 cannot ping h4's 802.1ad eth0.10"
fi
if query vlans 'all(r["offload"] == "offloaded" for r in rows)'; then pass no-failed-objects; else fail no-failed-objects "$(vlan_rows)"; fi

kill "$pid" && wait "$pid" 2>/dev/null
pid=""
if grep -qi "error\|fatal" "$log"; then echo "-- hoistd log:"; cat "$log"; fi
say "$failures failed"
exit "$failures"
