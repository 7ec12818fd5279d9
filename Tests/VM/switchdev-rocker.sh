#!/usr/bin/env bash
# The Switchdev driver on rocker ports, run inside the test VM:
#
#   scripts/vm run --rocker 4 Tests/VM/switchdev-rocker.sh
#
# QEMU's rocker switch gives four switchdev ports (phys_port_name sw1pN; 1↔2 and 3↔4
# cabled back to back). Ports 1 and 3 are bridged with vlan_filtering 1, their partners
# stay standalone as the far ends of the cables, and hoistd runs with --driver switchdev:
# the kernel's rocker driver programs the device, hoistd observes: what the kernel flags
# (the static FDB entry) is confirmed, what it never flags (ports, VLANs) is offloaded
# but unconfirmed.
# Checks, each printed "PASS name" or "FAIL name: why"; the exit status is the number of
# failures. Tests/VMTests runs this and asserts every PASS line.
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-switchdev.sock
log=/tmp/hoistd.log
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() { stop_hoistd; ip link del br0 2>/dev/null; }
trap cleanup EXIT

start_hoistd() {
  "$hoistd" --driver switchdev --socket "$sock" --log-level info > "$log" 2>&1 &
  pid=$!
  local end=$((SECONDS + 40))
  while [ $SECONDS -lt $end ]; do show ports > /dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
# Every object's state and evidence (offload, reason, confirmed), for comparing across a restart.
states() { for k in ports vlans fdb; do show $k | python3 -c 'import json, sys
for r in json.load(sys.stdin): print(r["object"], r["offload"], r.get("reason", ""), r.get("confirmed"))'; done | sort; }

say "kernel $(uname -r)"
ports=$(for d in /sys/class/net/*; do
  [ "$(cat "$d/phys_switch_id" 2>/dev/null)" ] && [ -d "$d/device" ] && grep -q 0x1b36 "$d/device/vendor" 2>/dev/null && basename "$d"
done | sort)
set -- $ports
if [ $# -eq 4 ]; then pass rocker-ports; else fail rocker-ports "expected 4 rocker ports, found: $ports"; exit 1; fi
p1=$1 p2=$2 p3=$3 p4=$4

# Cable partners must not share the bridge (1<->2 and 3<->4 are back to back): that would
# be a loop, and with STP off a broadcast storm. br0 takes ports 1 and 3; ports 2 and 4
# stay standalone and act as the hosts on the other end of the cables.
say "br0 over $p1 $p3 (vlan_filtering 1); $p2 and $p4 standalone, cabled to them"
ip link add br0 type bridge vlan_filtering 1
for p in $p1 $p3; do ip link set "$p" master br0; done
for p in $ports; do ip link set "$p" up; done
ip link set br0 up
bridge -batch - <<EOF
vlan add vid 100 dev $p1
vlan add vid 100 dev $p3
vlan add vid 200 dev $p3 pvid untagged
fdb add 02:aa:bb:cc:dd:01 dev $p1 master static vlan 100
EOF
# A frame from 02:00:00:00:00:b1 sent out of $p2 arrives on $p1: the device learns the MAC
# there and reports it to the kernel (extern_learn offload, VLAN 1: $p1's PVID).
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.send(bytes.fromhex("ffffffffffff0200000000b188b5") + b"hoist switchdev learning" * 2)
    time.sleep(0.2)' "$p2"

if start_hoistd; then pass hoistd-started; else fail hoistd-started "no answer on $sock: $(tail -5 "$log")"; exit 1; fi
grep -q "switchdev ports: swp1=$p1" "$log" && pass driver-found-ports || fail driver-found-ports "$(grep 'switchdev ports' "$log")"

ports_py="[$(printf '"%s",' $ports)]"
# The kernel flags no port: offloaded, but only accepted (confirmed false).
wait_for ports "sorted(r['ifname'] for r in rows) == sorted($ports_py) and all(r['offload'] == 'offloaded' and r['confirmed'] is False for r in rows)" \
  && pass ports-offloaded || fail ports-offloaded "$(show ports)"

wait_for vlans "any(r['ifname'] == '$p1' and r['vlan'] == 100 and r['offload'] == 'offloaded' for r in rows) and any(r['ifname'] == '$p3' and r['vlan'] == 200 and 'PVID' in r['flags'] and r['offload'] == 'offloaded' for r in rows)" \
  && pass vlans-offloaded || fail vlans-offloaded "$(show vlans)"

# The kernel never flags a VLAN: hoist shows it offloaded but unconfirmed, and says why,
# in --json (confirmed false, evidence), in `hoist show` and in `hoist why`.
vlan_object=$(show vlans | python3 -c 'import json, sys; print(next(r["object"] for r in json.load(sys.stdin) if r["ifname"] == sys.argv[1] and r["vlan"] == 100))' "$p1")
vlan_why=$("$hoist" why "$vlan_object" --socket "$sock" 2>&1)
vlan_text=$("$hoist" show vlans --socket "$sock" 2>&1)
if query vlans "all(r['offload'] == 'offloaded' and r['confirmed'] is False and r['evidence'] == 'accepted by the switchdev driver; the kernel reports no offload flag for VLANs' for r in rows)" \
   && echo "$vlan_why" | grep -q "offloaded (unconfirmed: accepted by the switchdev driver; the kernel reports no offload flag for VLANs)" \
   && echo "$vlan_text" | grep -q "unconfirmed"; then
  pass vlan-unconfirmed
else
  fail vlan-unconfirmed "json: $(show vlans) why: $vlan_why"
fi

kernel_static=$(bridge -j fdb show br br0 | python3 -c 'import json, sys; print(any(e["mac"] == "02:aa:bb:cc:dd:01" and "offload" in e.get("flags", []) for e in json.load(sys.stdin)))')
# rocker flags the entry offload: offloaded, confirmed by the kernel's flag.
if [ "$kernel_static" = True ] && wait_for fdb "any(r['mac'] == '02:aa:bb:cc:dd:01' and r['vlan'] == 100 and r['ifname'] == '$p1' and r['offload'] == 'offloaded' and r['confirmed'] is True and r['evidence'] == 'kernel flag offload' for r in rows)"; then
  pass fdb-static-offloaded
else
  fail fdb-static-offloaded "kernel offload flag: $kernel_static; hoist: $(show fdb)"
fi

if wait_for fdb "any(r.get('learned') and r['mac'] == '02:00:00:00:00:b1' and r['ifname'] == '$p1' and 'extern_learn' in r['flags'] and 'offload' in r['flags'] and r['offload'] == 'offloaded' and r['confirmed'] is True for r in rows)" 10; then
  pass fdb-learned-offloaded
else
  fail fdb-learned-offloaded "hoist: $(show fdb); kernel: $(bridge fdb show br br0 | grep -i 02:00:00:00:00:b1)"
fi


say "STP state of $p3 → disabled: the kernel hands it to rocker through switchdev (with STP off, any other state is re-selected to forwarding at once)"
if stp_err=$(bridge link set dev "$p3" state 0 2>&1) && wait_for stp "any(r['ifname'] == '$p3' and r['state'] == 'disabled' and r['offload'] == 'offloaded' for r in rows)"; then
  pass stp-state-change
else
  fail stp-state-change "${stp_err:-} kernel: $(bridge -d link show dev "$p3" | tr '\n' ' ') hoist: $(show stp)"
fi

say "restart hoistd: the observer holds nothing of its own; every state comes back from the kernel's flags"
before=$(states)
stop_hoistd
if start_hoistd; then
  end=$((SECONDS + 10))
  while [ $SECONDS -lt $end ] && [ "$(states)" != "$before" ]; do sleep 0.3; done
  after=$(states)
  if [ "$after" = "$before" ] && grep -q "observing the kernel's driver" "$log" && query stp "any(r['ifname'] == '$p3' and r['state'] == 'disabled' for r in rows)"; then
    pass states-after-restart
  else
    fail states-after-restart "before: $before after: $after"
  fi
else
  fail states-after-restart "hoistd did not restart: $(tail -5 "$log")"
fi

failed=$(show ports; show vlans; show fdb)
if echo "$failed" | grep -q '"failed"'; then fail no-failed-objects "$failed"; else pass no-failed-objects; fi
show counters | python3 -c 'import json, sys; rows = json.load(sys.stdin); sys.exit(0 if len([r for r in rows if "ifname" in r]) == 4 and sum(r["tx_packets"] for r in rows if "ifname" in r) > 0 else 1)' \
  && pass port-counters || fail port-counters "$(show counters)"

say "hoistd log"; sed 's/^/   /' "$log" | tail -30
echo "failures: $failures"
exit $failures
