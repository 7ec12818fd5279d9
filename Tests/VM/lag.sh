#!/usr/bin/env bash
# A LAG end to end, run inside the test VM (this machine's kernel has no bonding):
#
#   scripts/vm run Tests/VM/lag.sh
#
# hoistd runs the emulated chip on three front-panel veths. Host a is dual-homed: its eth0
# and eth1 (on swp1, swp2) are an 802.3ad bond; the switch bonds swp1 and swp2 the same
# way (bond0, LACP with a's kernel through the chip's link-local trap), and bridges bond0
# with swp3, where host c is.
#
#   a (swp1 + swp2, bond0)  10.0.1.1
#   c (swp3)                10.0.1.3
#
# Checks: LACP converges and the LAG distributes through both members; c ↔ a crosses the
# chip (the kernel's bridge sees none of it) and flows spread over both members; a member
# losing carrier under a 50 ms ping stream (the loss is printed); no object failed, none
# trapped without a reason. (The differential scenarios lag-*.diff compare the member each
# frame leaves by with the kernel's, frame by frame.)
#
# Each check prints "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-vm-lag.sock
log=/tmp/hoistd-lag.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() {
  stop_hoistd
  for ns in lsw lwires la lc; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

kernel_rx() { ip -n lsw -s -j link show "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
# 16 UDP flows from c to a (source ports 40000…40015).
flows() {
  ip netns exec lc python3 -c '
import socket
for port in range(40000, 40016):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.1.3", port))
    s.sendto(b"hoist lag", ("10.0.1.1", 9))
    s.close()'
}

say "kernel $(uname -r); topology"
for ns in lsw lwires la lc; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n lwires link add fp1 type veth peer name eth0 netns la
ip -n lwires link add fp2 type veth peer name eth1 netns la
ip -n lwires link add fp3 type veth peer name eth0 netns lc
for n in 1 2 3; do ip -n lwires link set "fp$n" up; done
ip -n la link add bond0 type bond mode 802.3ad miimon 100 lacp_rate fast xmit_hash_policy layer3+4
ip -n la link set eth0 master bond0
ip -n la link set eth1 master bond0
ip -n la link set bond0 address 02:00:00:00:20:01
ip -n la addr add 10.0.1.1/24 dev bond0
ip -n la link set bond0 up
ip -n lc link set eth0 address 02:00:00:00:20:03
ip -n lc addr add 10.0.1.3/24 dev eth0
ip -n lc link set eth0 up

say "hoistd: the emulated chip on fp1..fp3, swp1..swp3 in lsw"
start_emulated_hoistd lag-hoistd-started lsw lwires 3 || exit 1

say "the switch: bond0 (802.3ad, layer3+4) over swp1, swp2 in br0 with swp3"
ip -n lsw -batch - <<'EOF'
link add bond0 type bond mode 802.3ad miimon 100 lacp_rate fast xmit_hash_policy layer3+4
link set swp1 master bond0
link set swp2 master bond0
link add br0 type bridge
link set bond0 master br0
link set swp3 master br0
link set bond0 up
link set swp3 up
link set br0 up
EOF
if wait_for lags "any(r['ifname'] == 'bond0' and r['offload'] == 'offloaded' and r['distributing'] == ['swp1', 'swp2'] and r['collecting'] == ['swp1', 'swp2'] for r in rows)" 20; then
  pass lag-lacp-distributing
else
  fail lag-lacp-distributing "hoist show lags: $(show lags); the switch's bond: $(ip netns exec lsw grep -E 'Aggregator ID|Slave Interface|MII Status' /proc/net/bonding/bond0 2>/dev/null | tr '\n' ';')"
fi
if wait_for ports "any(r['ifname'] == 'bond0' and r['offload'] == 'offloaded' for r in rows)" 5; then
  pass lag-bridge-port
else
  fail lag-bridge-port "hoist show ports: $(show ports)"
fi

say "c ↔ a crosses the chip; flows spread over both members"
ip netns exec lc ping -q -c 2 -W 2 10.0.1.1 > /dev/null 2>&1    # learn both MACs
k_before=$(kernel_rx br0); t1=$(tx swp1); t2=$(tx swp2); t3=$(tx swp3)
if ip netns exec lc ping -q -c 10 -i 0.05 -W 2 10.0.1.1 > /dev/null 2>&1; then ok=1; else ok=0; fi
k_after=$(kernel_rx br0); t3_after=$(tx swp3); t12_after=$(( $(tx swp1) + $(tx swp2) ))
say "chip tx: swp1+swp2 $((t12_after - t1 - t2)), swp3 $((t3_after - t3)); kernel br0 rx $((k_after - k_before))"
if [ $ok = 1 ] && [ $((t12_after - t1 - t2)) -ge 10 ] && [ $((t3_after - t3)) -ge 10 ] && [ $((k_after - k_before)) -lt 5 ]; then
  pass lag-traffic-offloaded
else
  fail lag-traffic-offloaded "ping ok=$ok; chip tx swp1+swp2 $((t12_after - t1 - t2)), swp3 $((t3_after - t3)); kernel br0 rx $((k_after - k_before))"
fi
t1=$(tx swp1); t2=$(tx swp2)
flows
sleep 0.5
d1=$(( $(tx swp1) - t1 )); d2=$(( $(tx swp2) - t2 ))
say "16 flows: swp1 $d1, swp2 $d2"
if [ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] && [ $((d1 + d2)) -ge 16 ]; then
  pass lag-flows-spread
else
  fail lag-flows-spread "16 flows left by swp1 $d1, swp2 $d2"
fi

say "a member loses carrier under a ping stream every 50 ms"
# The member that carries the ping's flow: the one whose counter moves.
t1=$(tx swp1); t2=$(tx swp2)
ip netns exec lc ping -q -c 5 -i 0.05 -W 1 10.0.1.1 > /dev/null 2>&1
if [ $(( $(tx swp1) - t1 )) -ge $(( $(tx swp2) - t2 )) ]; then leg=eth0; member=swp1; other=swp2; else leg=eth1; member=swp2; other=swp1; fi
ip netns exec lc ping -c 100 -i 0.05 -W 1 10.0.1.1 > /tmp/lag-ping.out 2>&1 &
stream=$!
sleep 1.5
ip -n la link set "$leg" down
wait "$stream"
loss=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' /tmp/lag-ping.out)
say "a's $leg (behind $member) down at 1.5 s: $((100 - ${loss:-0})) of 100 pings lost"
if wait_for lags "any(r['ifname'] == 'bond0' and r['distributing'] == ['$other'] for r in rows)" 10 \
   && ip netns exec lc ping -q -c 5 -i 0.1 -W 1 10.0.1.1 > /dev/null 2>&1 && [ "${loss:-0}" -ge 80 ]; then
  pass lag-member-failover
else
  fail lag-member-failover "received ${loss:-?} of 100; hoist show lags: $(show lags)"
fi
ip -n la link set "$leg" up
if wait_for lags "any(r['ifname'] == 'bond0' and r['distributing'] == ['swp1', 'swp2'] for r in rows)" 20; then
  pass lag-member-back
else
  fail lag-member-back "hoist show lags: $(show lags)"
fi

say "nothing failed, nothing trapped without a reason"
bad=""
for kind in ports lags fdb vlans rifs; do
  bad+=$(show "$kind" | python3 -c 'import json, sys; [print(r["object"], r["offload"]) for r in json.load(sys.stdin) if r["offload"] == "failed" or (r["offload"] == "trapped" and not r.get("reason"))]')
done
if [ -z "$bad" ]; then pass lag-states-true; else fail lag-states-true "$bad"; fi

stop_hoistd
exit "$failures"
