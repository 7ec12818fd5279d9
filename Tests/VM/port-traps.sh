#!/usr/bin/env bash
# Port traps in the test VM (Debian's kernel has VLAN filtering, per-VLAN STP states,
# flower and gact; this machine's does not):
#
#   scripts/vm run Tests/VM/port-traps.sh
#
# hoistd runs the emulated chip on two front-panel veths; br0 (vlan_filtering 1) bridges
# swp1 and swp2, access ports of VLAN 10, with h1 10.0.10.1 and h2 10.0.10.2 behind them.
#
# - per-VLAN STP: `bridge vlan set dev swp2 vid 10 state blocking` — the kernel stops
#   forwarding VLAN 10 there; the chip must too (swp2 trapped, pings lost), and forward
#   again when the state is back to forwarding;
# - tc: `tc filter add dev swp1 ingress … flower ip_proto icmp action drop` — the chip's
#   ingress ACL drops the echo requests itself (its rule counts them, the kernel's tc sees
#   none); a filter with a key the ACL lacks (ip_ttl) traps swp1's ingress and the kernel's
#   tc drops them; deleting the filters gives the port back to the chip unclassified;
#   256 filters on swp2 fill the ACL TCAM: swp1's ACL fails ("ACL TCAM full"), swp1 is
#   trapped and the kernel's tc drops the pings; swp2's filters go, swp1's ACL is offloaded.
#
# Each check prints "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-vm-traps.sock
log=/tmp/hoistd.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() {
  stop_hoistd
  for ns in sw wires h1 h2; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

# The offload state and reason of port swpN, as "state|reason".
port_state() {
  show ports | python3 -c 'import json, sys; r = next((r for r in json.load(sys.stdin) if r.get("ifname") == sys.argv[1]), {}); print(r.get("offload", "none") + "|" + r.get("reason", ""))' "$1"
}
wait_state() { # port, expected prefix of "state|reason", seconds
  local end=$((SECONDS + ${3:-10}))
  while [ $SECONDS -lt $end ]; do case "$(port_state "$1")" in "$2"*) return 0 ;; esac; sleep 0.3; done
  return 1
}
ping_from() { ip netns exec "$1" ping -q -c "${3:-3}" -i 0.2 -W 1 "$2" > /dev/null 2>&1; }

say "kernel $(uname -r); topology"
for ns in sw wires h1 h2; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
for n in 1 2; do
  ip -n wires link add "fp$n" type veth peer name eth0 netns "h$n"
  ip -n wires link set "fp$n" up
  ip -n "h$n" link set eth0 address "02:00:00:00:10:0$n"
  ip -n "h$n" addr add "10.0.10.$n/24" dev eth0
  ip -n "h$n" link set eth0 up
done

start_emulated_hoistd hoistd-started sw wires 2 || exit 1
ip -n sw -batch - <<'EOS'
link add br0 type bridge vlan_filtering 1 vlan_default_pvid 0
link set swp1 master br0
link set swp2 master br0
link set swp1 up
link set swp2 up
link set br0 up
EOS
bridge -n sw vlan add vid 10 dev swp1 pvid untagged
bridge -n sw vlan add vid 10 dev swp2 pvid untagged
if wait_state swp2 "offloaded|" 15 && ping_from h1 10.0.10.2 3; then pass baseline-ping; else fail baseline-ping "$(port_state swp2)"; fi

say "per-VLAN STP state blocking on swp2 in VLAN 10"
if bridge -n sw vlan set dev swp2 vid 10 state blocking 2>/tmp/vlanset.err; then
  bridge -n sw -d vlan show dev swp2
  if wait_state swp2 "trapped|ingress: per-VLAN STP state blocking in VLAN 10 on swp2 not offloaded" 10; then
    pass vlan-state-trapped
  else
    fail vlan-state-trapped "swp2: $(port_state swp2)"
  fi
  if ping_from h1 10.0.10.2 3; then fail vlan-state-blocks "h1 pinged h2 through a VLAN the kernel blocks on swp2"; else pass vlan-state-blocks; fi
  bridge -n sw vlan set dev swp2 vid 10 state forwarding
  if wait_state swp2 "offloaded|" 10; then pass vlan-state-forwarding-offloaded; else fail vlan-state-forwarding-offloaded "$(port_state swp2)"; fi
  before=$(tx swp2)
  if ping_from h1 10.0.10.2 3 && [ $(($(tx swp2) - before)) -ge 3 ]; then
    pass vlan-state-chip-forwards-again
  else
    fail vlan-state-chip-forwards-again "swp2 tx $before -> $(tx swp2)"
  fi
else
  fail vlan-state-trapped "bridge vlan set … state refused: $(cat /tmp/vlanset.err)"
fi

say "tc: flower on swp1 ingress is the chip's ACL; a key it lacks traps the port"
# One tc filter of swp1's ingress in `hoist show acl`, as "state|packets|reason".
acl_row() { # pref
  show acl | python3 -c 'import json, sys; r = next((r for r in json.load(sys.stdin) if r.get("ifname") == "swp1" and r.get("pref") == int(sys.argv[1])), {}); print("%s|%s|%s" % (r.get("offload", "none"), r.get("packets", 0), r.get("reason", "")))' "$1"
}
drops() { show counters | python3 -c 'import json, sys; print(next((r["packets"] for r in json.load(sys.stdin) if r.get("drop") == sys.argv[1]), 0))' "$1"; }
ip netns exec sw tc qdisc add dev swp1 clsact
if ip netns exec sw tc filter add dev swp1 ingress pref 10 protocol ip flower ip_proto icmp action drop 2>/tmp/tc.err; then
  if wait_for acl 'any(r.get("pref") == 10 and r.get("offload") == "offloaded" for r in rows)' 10 && wait_state swp1 "offloaded|" 10; then
    pass tc-acl-offloaded
  else
    fail tc-acl-offloaded "acl $(acl_row 10); swp1 $(port_state swp1)"
  fi
  before=$(drops acl_drop)
  if ping_from h1 10.0.10.2 3; then fail tc-acl-drops "pings passed a filter that drops them in the kernel"; else pass tc-acl-drops; fi
  # The chip dropped them: its rule counted them, the kernel's tc never saw one.
  hits=$(acl_row 10 | cut -d'|' -f2)
  seen=$(ip netns exec sw tc -s filter show dev swp1 ingress | grep -o 'Sent [0-9]* bytes [0-9]* pkt' | head -1)
  if [ "${hits:-0}" -ge 3 ] && [ $(($(drops acl_drop) - before)) -ge 3 ] && [ "$seen" = "Sent 0 bytes 0 pkt" ]; then
    pass tc-acl-chip-counted
  else
    fail tc-acl-chip-counted "rule packets $hits, acl_drop $before -> $(drops acl_drop), kernel: $seen"
  fi
  # ip_ttl is a flower key the chip's ACL does not match: swp1's ingress goes to the CPU,
  # the kernel's tc applies both filters (the pings are still dropped, by the kernel).
  ip netns exec sw tc filter add dev swp1 ingress pref 5 protocol ip flower ip_proto udp ip_ttl 1 action drop
  if wait_state swp1 "trapped|ingress: tc ingress filter pref 5 flower on swp1 not offloaded: flower key" 10 \
     && [ "$(acl_row 5 | cut -d'|' -f1)" = trapped ]; then
    pass tc-filter-trapped
  else
    fail tc-filter-trapped "swp1: $(port_state swp1); acl pref 5: $(acl_row 5)"
  fi
  if ping_from h1 10.0.10.2 3; then fail tc-filter-drops "pings passed a filter that drops them in the kernel"; else pass tc-filter-drops; fi
  ip netns exec sw tc filter del dev swp1 ingress pref 5
  if wait_state swp1 "offloaded|" 10 && [ "$(acl_row 10 | cut -d'|' -f1)" = offloaded ]; then pass tc-acl-again; else fail tc-acl-again "$(port_state swp1); $(acl_row 10)"; fi
  ip netns exec sw tc filter del dev swp1 ingress
  if wait_state swp1 "offloaded|" 10 && wait_for acl 'not rows' 10; then pass tc-filter-removed-offloaded; else fail tc-filter-removed-offloaded "$(port_state swp1)"; fi
  before=$(tx swp2)
  if ping_from h1 10.0.10.2 3 && [ $(($(tx swp2) - before)) -ge 3 ]; then
    pass tc-chip-forwards-again
  else
    fail tc-chip-forwards-again "swp2 tx $before -> $(tx swp2)"
  fi
  say "tc: the ACL TCAM full (small profile: 256 rules): the ACL that does not fit fails, the kernel's tc applies it; room frees, it is offloaded"
  ip netns exec sw tc qdisc add dev swp2 clsact
  for i in $(seq 1 256); do echo "filter add dev swp2 ingress pref 1 protocol ip flower ip_proto udp dst_port $((10000 + i)) action pass"; done > /tmp/fill.tc
  if ip netns exec sw tc -batch /tmp/fill.tc 2>/tmp/tc.err && wait_for resources 'any(r["table"] == "acl" and r["used"] == 256 for r in rows)' 30; then
    pass tc-acl-tcam-filled
  else
    fail tc-acl-tcam-filled "$(cat /tmp/tc.err) $(show resources)"
  fi
  ip netns exec sw tc filter add dev swp1 ingress pref 10 protocol ip flower ip_proto icmp action drop
  if wait_for acl 'any(r.get("ifname") == "swp1" and r.get("offload") == "failed" and "ACL TCAM full" in r.get("reason", "") for r in rows)' 10 \
     && wait_state swp1 "trapped|" 10; then
    pass tc-acl-tcam-full-failed
  else
    fail tc-acl-tcam-full-failed "acl $(acl_row 10); swp1 $(port_state swp1)"
  fi
  # The host sees the kernel's verdict: its tc counts and drops the echo requests.
  if ping_from h1 10.0.10.2 3; then fail tc-acl-tcam-full-kernel-drops "pings passed"; else
    seen=$(ip netns exec sw tc -s filter show dev swp1 ingress | grep -o 'Sent [0-9]* bytes [0-9]* pkt' | head -1)
    if [ -n "$seen" ] && [ "$seen" != "Sent 0 bytes 0 pkt" ]; then pass tc-acl-tcam-full-kernel-drops; else fail tc-acl-tcam-full-kernel-drops "kernel: $seen"; fi
  fi
  ip netns exec sw tc filter del dev swp2 ingress
  if wait_for acl 'any(r.get("ifname") == "swp1" and r.get("offload") == "offloaded" for r in rows)' 30 && wait_state swp1 "offloaded|" 10; then
    before=$(acl_row 10 | cut -d'|' -f2)
    if ping_from h1 10.0.10.2 3; then fail tc-acl-offloaded-when-room-frees "pings passed"
    elif [ $(($(acl_row 10 | cut -d'|' -f2) - before)) -ge 3 ]; then pass tc-acl-offloaded-when-room-frees
    else fail tc-acl-offloaded-when-room-frees "the chip's rule counted $before -> $(acl_row 10)"; fi
  else
    fail tc-acl-offloaded-when-room-frees "acl $(acl_row 10); swp1 $(port_state swp1)"
  fi
  ip netns exec sw tc qdisc del dev swp1 clsact
  ip netns exec sw tc qdisc del dev swp2 clsact
else
  fail tc-acl-offloaded "tc filter add refused: $(cat /tmp/tc.err)"
fi
say "MST: mst_enabled on br0 traps both ports; hosts still reach each other through the kernel"
# iproute2 6.1 cannot set mst_enabled: RTM_NEWLINK with IFLA_BR_MULTI_BOOLOPT (46),
# BR_BOOLOPT_MST_ENABLE (bit 2), by hand. MST mode changes only while no port has VLANs.
set_mst() { # 0 or 1
  ip netns exec sw python3 - "$(ip -n sw -j link show br0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["ifindex"])')" "$1" <<'EOP'
import socket, struct, sys
index, on = int(sys.argv[1]), int(sys.argv[2])
def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)
data = attr(46, struct.pack("II", (1 << 2) if on else 0, 1 << 2))
body = struct.pack("BxHiII", 0, 0, index, 0, 0) + attr(18, attr(1, b"bridge\0") + attr(2, data))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.send(struct.pack("IHHII", 16 + len(body), 16, 1 | 4, 1, 0) + body)
reply = s.recv(4096)
code = struct.unpack("i", reply[16:20])[0]
sys.exit(0 if code == 0 else -code)
EOP
}
for p in swp1 swp2; do bridge -n sw vlan del vid 10 dev $p; done
if set_mst 1; then
  for p in swp1 swp2; do bridge -n sw vlan add vid 10 dev $p pvid untagged; done
  if wait_state swp1 "trapped|ingress: br0 has mst_enabled" 10 && wait_state swp2 "trapped|ingress: br0 has mst_enabled" 5; then
    pass mst-trapped
  else
    fail mst-trapped "swp1: $(port_state swp1) swp2: $(port_state swp2)"
  fi
  traps() { show traps | python3 -c 'import json, sys; print(next((r["packets"] for r in json.load(sys.stdin) if r["trap"] == "port_trap"), 0))'; }
  before=$(traps)
  if ping_from h1 10.0.10.2 3 && [ $(($(traps) - before)) -ge 6 ]; then
    pass mst-kernel-forwards
  else
    fail mst-kernel-forwards "port_trap $before -> $(traps)"
  fi
  for p in swp1 swp2; do bridge -n sw vlan del vid 10 dev $p; done
  set_mst 0
  for p in swp1 swp2; do bridge -n sw vlan add vid 10 dev $p pvid untagged; done
  if wait_state swp1 "offloaded|" 10 && wait_state swp2 "offloaded|" 5; then pass mst-off-offloaded; else fail mst-off-offloaded "$(port_state swp1) $(port_state swp2)"; fi
else
  fail mst-trapped "setting mst_enabled failed ($?)"
fi
exit $failures
