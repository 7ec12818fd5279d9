# Shared settings of the test VM harness (sourced by scripts/vm and scripts/vm.d/prepare).
# See Docs/VM.md.

# Exit codes that are the harness's own (a guest script's status is passed through as is).
VM_EXIT_SKIP=77      # QEMU cannot run here (not installable, no root to install, no packages): skip
VM_EXIT_TIMEOUT=124  # the run exceeded --timeout; QEMU was killed
VM_EXIT_HARNESS=125  # the harness failed: kernel missing, QEMU died, guest crashed, build error

# Where kernels, modules and initramfs are cached, one directory per kernel package version.
# Shared by every checkout on the machine; HOIST_VM_CACHE overrides.
if [ -n "${HOIST_VM_CACHE:-}" ]; then
  VM_CACHE=$HOIST_VM_CACHE
elif [ "$(id -u)" = 0 ]; then
  VM_CACHE=/var/cache/hoist-vm
else
  VM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hoist-vm
fi

# The QEMU binary (HOIST_VM_QEMU overrides: another build, or a missing one to test skips).
VM_QEMU=${HOIST_VM_QEMU:-qemu-system-x86_64}

# The directory holding scripts/vm.d (this file's directory).
VM_D=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The project root (two levels up).
VM_PROJECT=$(cd "$VM_D/../.." && pwd)

vm_say() { echo "vm: $*" >&2; }
vm_skip() { echo "vm: SKIP: $*" >&2; exit "$VM_EXIT_SKIP"; }
vm_fail() { echo "vm: FAIL: $*" >&2; exit "$VM_EXIT_HARNESS"; }

# Runs apt-get non-interactively, waiting for the dpkg lock other processes may hold.
vm_apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"
}
