#!/usr/bin/env bash
# EVPN symmetric IRB with real FRR, run inside the test VM (this machine's kernel has no VRF):
#
#   scripts/vm run Tests/VM/evpn-l3.sh
#
# The switch (hoistd, the emulated chip on three front-panel veths) and a Linux leaf each
# run zebra and bgpd; they peer over the underlay (swp3 ── leaf eth0) and exchange EVPN
# type-5 routes for the tenant VRF vrf-red through its L3VNI 4001:
#
#   h1 (swp1, vrf-red) 10.0.1.1 ── [sw] swp3 192.168.100.1 ══ 192.168.100.2 eth0 [leaf] l1 ── h9 10.0.2.2 (vrf-red)
#   h2 (swp2, main)    10.0.3.1 ──┘
#
# Each side's L3VNI is a bridge (br4001, MAC = its router MAC, no address) in vrf-red whose
# only member is vxlan4001. zebra installs the leaf's prefix in the switch's kernel as
# `10.0.2.0/24 via 192.168.100.2 dev br4001 onlink` in table 10, the leaf as a NOARP
# neighbour on br4001 with its router MAC, and that MAC behind the VTEP in the FDB; hoistd
# offloads them, and the chip routes h1's traffic into the tunnel and the leaf's back out
# of it. The kernel's own vxlan4001 counters stay flat; h2, in main, does not reach the VRF.
#
# Each check prints "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-vm-evpn.sock
log=/tmp/hoistd-evpn.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
frr_pids=()
cleanup() {
  for p in "${frr_pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${frr_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  stop_hoistd
  for ns in sw wires h1 h2 leaf h9; do ip netns del "$ns" 2>/dev/null; done
  rm -rf /tmp/hoist-frr-sw /tmp/hoist-frr-leaf
}
trap cleanup EXIT

# zebra and bgpd in namespace $1 (AS $2, router id $3, neighbour $4), in the foreground as
# children of this script: their own configuration, pid files, sockets and logs.
start_frr() {
  local ns=$1 asn=$2 id=$3 peer=$4 dir=/tmp/hoist-frr-$1
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'hostname %s\nvrf vrf-red\n vni 4001\nexit-vrf\n' "$ns" > "$dir/zebra.conf"
  cat > "$dir/bgpd.conf" <<EOF
hostname $ns
router bgp $asn
 bgp router-id $id
 no bgp ebgp-requires-policy
 neighbor $peer remote-as external
 neighbor $peer timers connect 1
 address-family l2vpn evpn
  neighbor $peer activate
  advertise-all-vni
 exit-address-family
!
router bgp $asn vrf vrf-red
 bgp router-id $id
 no bgp ebgp-requires-policy
 address-family ipv4 unicast
  redistribute connected
 exit-address-family
 address-family l2vpn evpn
  advertise ipv4 unicast
 exit-address-family
EOF
  chown -R frr:frr "$dir"
  for d in zebra bgpd; do
    ip netns exec "$ns" /usr/lib/frr/$d -f "$dir/$d.conf" -i "$dir/$d.pid" -z "$dir/zserv.api" \
      --vty_socket "$dir" -P 0 --log "file:$dir/$d.log" < /dev/null > /dev/null 2>&1 &
    frr_pids+=($!)
    for _ in $(seq 100); do [ -e "$dir/$d.vty" ] && break; sleep 0.1; done
    [ -e "$dir/$d.vty" ] || { fail "frr-$ns-$d" "$d did not start: $(tail -5 "$dir/$d.log" 2>/dev/null)"; return 1; }
  done
}
vtysh() { ip netns exec "$1" vtysh --vty_socket "/tmp/hoist-frr-$1" -c "$2"; }
ping_from() { ip netns exec "$1" ping -q -c "${3:-3}" -i 0.2 -W 2 "$2" > /dev/null 2>&1; }
# The kernel's own packet counters of a device in sw (rx + tx): its data path.
kernel_packets() { ip -n sw -j -s link show "$1" | python3 -c 'import json, sys; s = json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["packets"] + s["tx"]["packets"])'; }
# One side's L3VNI: vrf-red (table 10), br4001 with router MAC $2 in it, vxlan4001 from $3.
l3vni() {
  ip -n "$1" -batch - <<EOF
link add vrf-red type vrf table 10
link set vrf-red up
link add br4001 type bridge
link set br4001 address $2
link set br4001 addrgenmode none
link set br4001 master vrf-red
link add vxlan4001 type vxlan id 4001 local $3 dstport 4789 nolearning
link set vxlan4001 master br4001
link set vxlan4001 up
link set br4001 up
EOF
  bridge -n "$1" link set dev vxlan4001 learning off
}

say "kernel $(uname -r), $(/usr/lib/frr/zebra --version | head -1); topology"
for ns in sw wires h1 h2 leaf h9; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n wires link add fp1 type veth peer name eth0 netns h1
ip -n wires link add fp2 type veth peer name eth0 netns h2
ip -n wires link add fp3 type veth peer name eth0 netns leaf
for n in 1 2 3; do ip -n wires link set "fp$n" up; done
ip -n h1 addr add 10.0.1.1/24 dev eth0; ip -n h1 link set eth0 up; ip -n h1 route add default via 10.0.1.254
ip -n h2 addr add 10.0.3.1/24 dev eth0; ip -n h2 link set eth0 up; ip -n h2 route add default via 10.0.3.254
ip -n leaf link add l1 type veth peer name eth0 netns h9
ip -n h9 addr add 10.0.2.2/24 dev eth0; ip -n h9 link set eth0 up; ip -n h9 route add default via 10.0.2.254

say "hoistd: the emulated chip on fp1..fp3, swp1..swp3 in sw"
start_emulated_hoistd evpn-hoistd-started sw wires 3 || exit 1

say "the switch and the leaf: vrf-red with its L3VNI 4001; the underlay in main"
# Both families forward (with IPv6 forwarding off, every router interface would show IPv6 trapped).
for ns in sw leaf; do ip netns exec "$ns" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1; done
l3vni sw 02:00:00:00:40:01 192.168.100.1
ip -n sw -batch - <<'EOF'
link set swp1 master vrf-red
addr add 10.0.1.254/24 dev swp1
addr add 10.0.3.254/24 dev swp2
addr add 192.168.100.1/24 dev swp3
link set swp1 up
link set swp2 up
link set swp3 up
EOF
l3vni leaf 02:00:00:00:40:02 192.168.100.2
ip -n leaf -batch - <<'EOF'
addr add 192.168.100.2/24 dev eth0
link set eth0 up
link set l1 master vrf-red
addr add 10.0.2.254/24 dev l1
link set l1 up
EOF
start_frr sw 65001 192.168.100.1 192.168.100.2 || exit 1
start_frr leaf 65002 192.168.100.2 192.168.100.1 || exit 1

if wait_for routes "any(r['object'] == 'route 10.0.2.0/24 table 10' and r['offload'] == 'offloaded' for r in rows)" 90; then
  pass type5-route-offloaded
else
  fail type5-route-offloaded "hoist show routes: $(show routes | head -c 3000); kernel: $(ip -n sw route show vrf vrf-red | tr '\n' ';'); evpn: $(vtysh sw 'show bgp l2vpn evpn summary' | tr '\n' ';')"
fi
if query rifs "any(r['object'] == 'router interface br4001' and r['offload'] == 'offloaded' and r.get('table') == '10' for r in rows)"; then
  pass l3vni-rif-offloaded
else
  fail l3vni-rif-offloaded "hoist show rifs: $(show rifs)"
fi
if query neighbors "any(r.get('dst') == '192.168.100.2' and r.get('lladdr') == '02:00:00:00:40:02' and r['offload'] == 'offloaded' for r in rows)" \
   && query fdb "any(r.get('mac') == '02:00:00:00:40:02' and r.get('dst') == '192.168.100.2' and r['offload'] == 'offloaded' for r in rows)"; then
  pass remote-router-mac-offloaded
else
  fail remote-router-mac-offloaded "neighbours: $(show neighbors); fdb: $(show fdb); kernel: $(ip -n sw neigh show dev br4001 | tr '\n' ';') $(bridge -n sw fdb show dev vxlan4001 | tr '\n' ';')"
fi

say "h1 (vrf-red) reaches h9 behind the leaf through the chip; the kernel's vxlan4001 stays idle"
ping_from h1 10.0.2.2 2   # resolve the underlay and h1
before=$(tx swp3); k_before=$(kernel_packets vxlan4001); b_before=$(kernel_packets br4001)
if ping_from h1 10.0.2.2 10; then ok=1; else ok=0; fi
after=$(tx swp3); k_after=$(kernel_packets vxlan4001); b_after=$(kernel_packets br4001)
if [ $ok = 1 ] && [ $((after - before)) -ge 10 ] && [ "$k_after" = "$k_before" ] && [ "$b_after" = "$b_before" ]; then
  pass tenant-traffic-offloaded
else
  fail tenant-traffic-offloaded "ping ok=$ok; swp3 tx $before -> $after; kernel vxlan4001 packets $k_before -> $k_after, br4001 $b_before -> $b_after; traps: $(show traps)"
fi
if ping_from h2 10.0.2.2 2; then
  fail main-does-not-reach-vrf "h2 (main) reached h9 (vrf-red)"
else
  pass main-does-not-reach-vrf
fi

exit $failures
