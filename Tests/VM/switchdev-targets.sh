#!/usr/bin/env bash
# The real switchdev targets in the test VM, and what a Switchdev driver would read back
# from them. Not a test of Hoist: it prints the commands and their output, for Docs/VM.md.
#
#   scripts/vm run --rocker 4 Tests/VM/switchdev-targets.sh
#
# rocker (QEMU's emulated OF-DPA switch, needs --rocker): ports sw1pN, bridged with VLAN
# filtering; FDB entries learned by the device and static ones show `offload`.
# netdevsim: a 2-port device; routes show `rt_trap` (netdevsim never sets rt_offload),
# `fail_route_offload` makes the next ones `rt_offload_failed`; devlink resources count
# the FIB.
set -u
run() { echo "\$ $*"; "$@" 2>&1; echo; }
sysctl -q -w net.ipv4.fib_notify_on_flag_change=1 net.ipv6.fib_notify_on_flag_change=1

echo "== rocker"
rocker_ports=$(for d in /sys/class/net/*; do
  [ "$(cat "$d/phys_port_name" 2>/dev/null)" ] && [ -d "$d/device" ] && grep -q 0x1b36 "$d/device/vendor" 2>/dev/null && basename "$d"
done)
if [ -z "$rocker_ports" ]; then
  echo "no rocker ports (run with --rocker N)"
else
  for p in $rocker_ports; do echo "$p: phys_port_name $(cat /sys/class/net/$p/phys_port_name) phys_switch_id $(cat /sys/class/net/$p/phys_switch_id)"; done
  set -- $rocker_ports
  run ip -d link show "$1"
  run ip -j -d link show "$1"
  ip link add br0 type bridge vlan_filtering 1
  for p in $rocker_ports; do ip link set "$p" master br0; ip link set "$p" up; done
  ip link set br0 up
  run bridge vlan add vid 100 dev "$1"
  run bridge fdb add 02:aa:bb:cc:dd:01 dev "$1" master static vlan 100
  # Ports 1 and 2 are cabled to each other: a frame out of one is learned on the other.
  ip link add link br0 name br0.100 type vlan id 100 2>/dev/null || true
  run bridge vlan add vid 100 dev br0 self
  ip addr add 192.0.2.1/24 dev br0
  ping -c 2 -W 1 -I br0 192.0.2.99 > /dev/null 2>&1 || true
  sleep 1
  run bridge fdb show br br0
  run bridge -j fdb show br br0
  run bridge vlan show
  run ip link set br0 type bridge stp_state 1
  sleep 2
  run bridge link show
  ip link del br0
fi

echo "== netdevsim"
echo "10 2" > /sys/bus/netdevsim/new_device
sleep 0.5
nsim=$(for d in /sys/bus/netdevsim/devices/netdevsim10/net/*; do basename "$d"; done | head -1)
run devlink dev
run devlink port
run ip -d link show "$nsim"
ip link set "$nsim" up
ip addr add 198.51.100.1/24 dev "$nsim"
ip route add 203.0.113.0/24 via 198.51.100.2
ip nexthop add id 1 via 198.51.100.3 dev "$nsim"
# With a rocker device present, rocker vetoes routes using nexthop objects for every
# FIB user ("rocker: IPv4 route with nexthop objects is not supported").
ip route add 203.0.114.0/24 nhid 1
run ip route show
run ip -j route show 203.0.113.0/24
run ip nexthop show
run ip -j nexthop show
run ip -j route show 203.0.114.0/24
run devlink resource show netdevsim/netdevsim10
run devlink -j resource show netdevsim/netdevsim10
echo "\$ echo 1 > /sys/kernel/debug/netdevsim/netdevsim10/fib/fail_route_offload"
echo 1 > /sys/kernel/debug/netdevsim/netdevsim10/fib/fail_route_offload
ip route add 203.0.115.0/24 via 198.51.100.2
run ip route show 203.0.115.0/24
run ip -j route show 203.0.115.0/24
echo 0 > /sys/kernel/debug/netdevsim/netdevsim10/fib/fail_route_offload
run devlink resource set netdevsim/netdevsim10 path /IPv4/fib size 12
run devlink dev reload netdevsim/netdevsim10
ip link set "$nsim" up 2>/dev/null; ip addr add 198.51.100.1/24 dev "$nsim" 2>/dev/null
for i in $(seq 1 20); do ip route add 10.99.$i.0/24 via 198.51.100.2 2>&1 | sed "s/^/route $i: /"; done | head -3
run devlink resource show netdevsim/netdevsim10
run devlink trap group show
echo "10" > /sys/bus/netdevsim/del_device
