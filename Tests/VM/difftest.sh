#!/usr/bin/env bash
# The differential tester's scenarios this machine's kernel cannot run (VLAN filtering, tc flower,
# 8021q, VRF, bonds), inside the test VM:
#
#   scripts/vm run Tests/VM/difftest.sh [SCENARIO.diff…]      (scripts/difftest --vm)
#
# Without arguments: every scenario that `requires` vlan-filtering, 8021q, vrf, bond or flower (what the CI
# host's kernel lacks; `requires vxlan` scenarios run on the host). One boot, one
# hoist-difftest run for all of them. Prints "PASS difftest NAME" or "FAIL difftest NAME:
# …" per scenario, then hoist-difftest's last line; then 32 steps of the random operator
# (seed 3), whose VLAN, VRF and bond commands only run here ("PASS difftest random").
set -u
. "$HOIST_ROOT/Tests/VM/lib.sh"
scenarios=()
for a in "$@"; do [ -n "$a" ] && scenarios+=("$a"); done
given=${#scenarios[@]}   # (the harness passes one empty argument for none)
if [ ${#scenarios[@]} -eq 0 ]; then
  for f in "$HOIST_ROOT"/Tests/Difftest/scenarios/*.diff; do   # (no /dev/fd in the guest: no <(…))
    grep -Eq '^requires .*\b(vlan-filtering|8021q|vrf|bond|flower)\b' "$f" && scenarios+=("$f")
  done
fi
out=/tmp/difftest.out
"$HOIST_BIN/hoist-difftest" --verbose "${scenarios[@]}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
[ "$status" -le 1 ] || fail "hoist-difftest" "exit status $status"
# The random operator (hoist-difftest --random) with the commands the host's kernel
# cannot run: VLAN filtering, VRF and bonds (only without scenario arguments). Seed 3 makes
# all three in its first 32 steps (a bond, in br0, a slave joining it: a LAG).
if [ "$given" -eq 0 ]; then
  "$HOIST_BIN/hoist-difftest" --random --seed 3 --steps "${HOIST_VM_RANDOM_STEPS:-32}" 2>&1 | tee /tmp/random.out
  if tail -1 /tmp/random.out | grep -q "identical"; then pass "difftest random"; else fail "difftest random" "differs from the kernel (see above)"; fi
fi
while read -r word name _; do
  case "$word" in
    OK) pass "difftest $name" ;;
    DIFF|ERROR) fail "difftest ${name%:}" "differs from the kernel (see above)" ;;
    SKIP) fail "difftest ${name%:}" "skipped in the VM" ;;
  esac
done < "$out"
exit "$failures"
