import Foundation
import Testing

/// The differential tester's scenarios that need the VM's kernel (VLAN filtering, 8021q, VRF, bonds):
/// Tests/VM/difftest.sh runs every scenario with such a `requires` line through
/// hoist-difftest in the guest, in one boot; each must be identical to the kernel.
/// (VLAN access/trunk, ingress filtering, unaware→aware learning write-back, MST,
/// per-VLAN STP state; VRF routing, with and without the unreachable default; LAGs: the
/// member each flow leaves by, failover, a routed LAG.) Then the random operator, seed 3, 32 steps, whose VLAN-filtering,
/// VRF and bond commands the host's kernel cannot run.
@Suite("Test VM: differential tester", .serialized)
struct DifftestVMTests {
    static let scenarios = ["vlan-access-trunk", "vlan-ingress-filter", "vlan-learning-writeback", "vlan-mst", "vlan-stp-state",
                            "vrf-route", "vrf-unreachable-default", "lag-xor-layer34", "lag-routed-layer23", "lag-active-backup"]

    @Test("VLAN-filtering and VRF scenarios and the random operator with VLANs and VRF are identical in the kernel's bridge/router and the emulated switch")
    func vlanScenarios() throws {
        guard VMHarness.requireBinaries(["hoist", "hoistd", "hoist-asic", "hoist-difftest"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "900", "Tests/VM/difftest.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.scenarios.map { "difftest \($0)" } + ["difftest random"], suite: "difftest")
    }
}
