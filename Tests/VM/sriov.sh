#!/usr/bin/env bash
# SR-IOV NIC end to end, run inside the test VM (netdevsim: an eswitch with 4 VFs):
#
#   scripts/vm run Tests/VM/sriov.sh
#
# The operator configures VFs with `ip link set PF vf N …` and `devlink port function rate
# set`; hoistd --driver sriov keeps the NIC in line and `hoist show vfs` says per VF whether
# it is in hardware. Checks, each printed "PASS name" or "FAIL name: why"; the exit status
# is the number of failures. Tests/VMTests runs this and asserts every PASS line.
#
#   1. legacy eswitch: every VF is trapped, "eswitch in legacy mode"
#   2. switchdev: 4 VF representors; VF 0's MAC, VLAN, spoof check, trust and state set
#      with ip, and its devlink tx_max, show as offloaded
#   3. a rate the legacy path took (6000 Mbit/s) that the switchdev eswitch refuses
#      (netdevsim: at most 5000) is failed with the NIC's words; lowered with devlink, it
#      is offloaded
#   4. a restart reads the NIC back and finds it as the kernel says (nothing to program)
#   5. the driver conformance suite where it applies
set -u
hoistd=$HOIST_BIN/hoistd
hoist=$HOIST_BIN/hoist
sock=/run/hoist-sriov.sock
log=/tmp/hoistd-sriov.log
dev=netdevsim/netdevsim11
sysdev=/sys/bus/netdevsim/devices/netdevsim11
. "$HOIST_ROOT/Tests/VM/lib.sh"
cleanup() {
  stop_hoistd
  [ -e "$sysdev" ] && echo 11 > /sys/bus/netdevsim/del_device
}
trap cleanup EXIT

wait_for() { # kind, expression, seconds (default 15)
  local end=$((SECONDS + ${3:-15}))
  while [ $SECONDS -lt $end ]; do query "$1" "$2" 2>/dev/null && return 0; sleep 0.3; done
  return 1
}
vf_rows() { show vfs 2>&1 | python3 -c 'import json, sys; [print(r["vf"], r["address"], "vlan", r["vlan"], "spoofchk", r["spoofchk"], "trust", r["trust"], r["link_state"], "max", r["max_tx_rate"], r["offload"], r.get("reason", "")) for r in json.load(sys.stdin)]' 2>&1 | tr '\n' ';'; }
start_hoistd() {
  "$hoistd" --driver sriov --socket "$sock" --log-level debug >> "$log" 2>&1 &
  pid=$!
  local end=$((SECONDS + 20))
  while [ $SECONDS -lt $end ]; do show vfs > /dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

say "kernel $(uname -r); netdevsim with one port, 4 VFs, legacy eswitch"
echo "11 1" > /sys/bus/netdevsim/new_device
for _ in $(seq 50); do [ -n "$(ls "$sysdev/net" 2>/dev/null)" ] && break; sleep 0.1; done
pf=$(ls "$sysdev/net" | head -1)
echo 4 > "$sysdev/sriov_numvfs"
ip link set "$pf" up
# The legacy path takes any rate; the switchdev eswitch below holds at most 5000 Mbit/s.
ip link set "$pf" vf 1 max_tx_rate 6000 || fail setup "legacy max_tx_rate refused"

if start_hoistd; then pass hoistd-legacy-started; else fail hoistd-legacy-started "$(tail -5 $log)"; fi
if wait_for vfs 'len(rows) == 4 and all(r["offload"] == "trapped" and "eswitch in legacy mode" in r.get("reason", "") for r in rows)'; then
  pass legacy-vfs-not-supported
else
  fail legacy-vfs-not-supported "$(vf_rows)"
fi
stop_hoistd

say "switchdev mode: VF representors, devlink rate on VF 0"
devlink dev eswitch set "$dev" mode switchdev
reps=$(devlink port show | grep -c "flavour pcivf")
if [ "$reps" = 4 ]; then pass vf-representors; else fail vf-representors "$(devlink port show)"; fi
devlink port function rate set "$dev/128" tx_max 10mbit

if start_hoistd; then pass hoistd-started; else fail hoistd-started "$(tail -5 $log)"; fi
ip link set "$pf" vf 0 mac 02:00:00:00:00:10 vlan 10 spoofchk on trust on state enable
if wait_for vfs 'any(r["vf"] == 0 and r["address"] == "02:00:00:00:00:10" and r["vlan"] == 10 and r["spoofchk"] and r["trust"]
                     and r["link_state"] == "enable" and r["max_tx_rate"] == 10 and r["offload"] == "offloaded" for r in rows)'; then
  pass vf-settings-offloaded
else
  fail vf-settings-offloaded "$(vf_rows)"
fi
# What the NIC holds, in iproute2's words.
if ip -j -d link show "$pf" | python3 -c 'import json, sys; v = json.load(sys.stdin)[0]["vfinfo_list"][0]
sys.exit(0 if v["address"] == "02:00:00:00:00:10" and v["vlan_list"][0]["vlan"] == 10 and v["spoofchk"] and v["trust"]
         and v["link_state"] == "enable" and v["rate"]["max_tx"] == 10 else 1)'; then
  pass vf-settings-in-nic
else
  fail vf-settings-in-nic "$(ip -d link show "$pf" | grep 'vf 0')"
fi
if wait_for vfs 'sum(r["offload"] == "offloaded" for r in rows) >= 3'; then pass other-vfs-offloaded; else fail other-vfs-offloaded "$(vf_rows)"; fi

say "a rate the switchdev eswitch refuses"
if wait_for vfs 'any(r["vf"] == 1 and r["max_tx_rate"] == 6000 and r["offload"] == "failed" and "5000" in r.get("reason", "") for r in rows)'; then
  pass refused-rate-failed
else
  fail refused-rate-failed "$(vf_rows)"
fi
say "$(show vfs | python3 -c 'import json, sys; print(next((r.get("reason") for r in json.load(sys.stdin) if r["vf"] == 1), ""))')"
# The operator lowers it with devlink; devlink sends no rtnetlink notification, so Hoist
# sees the new rate with the PF's next link notification (here: trust on VF 1).
devlink port function rate set "$dev/129" tx_max 1000mbit
ip link set "$pf" vf 1 trust on
if wait_for vfs 'any(r["vf"] == 1 and r["max_tx_rate"] == 1000 and r["trust"] and r["offload"] == "offloaded" for r in rows)'; then
  pass lowered-rate-offloaded
else
  fail lowered-rate-offloaded "$(vf_rows)"
fi
if query resources 'any(r["table"] == "vf" and r["capacity"] == 4 and r["used"] == 4 for r in rows)'; then
  pass vf-table-occupancy
else
  fail vf-table-occupancy "$(show resources)"
fi
stop_hoistd

# The audit's question — does the NIC hold what the kernel says? — asked by a restart:
# hoistd reads the NIC back and programs only what differs. netdevsim's VF state *is* the
# kernel's configuration, so nothing can drift behind its back; the restart finds nothing.
: > "$log"
if start_hoistd && wait_for vfs 'len(rows) == 4 and all(r["offload"] == "offloaded" for r in rows)' \
    && grep -q "reconciled with the chip: 5 objects read back, 0 programmed, 0 removed" "$log"; then
  pass restart-no-drift
else
  fail restart-no-drift "$(grep reconciled "$log"); $(vf_rows)"
fi
stop_hoistd

say "driver conformance against SRIOV"
out=$("$HOIST_BIN/hoist-conformance" --driver sriov 2>&1)
status=$?
echo "$out" | sed 's/^/   conformance: /'
if [ $status = 0 ] && echo "$out" | grep -q "^PASS a VF set reads back exactly"; then pass conformance; else fail conformance "status $status"; fi

if [ $failures -ne 0 ]; then say "hoistd log:"; tail -40 "$log"; fi
exit $failures
