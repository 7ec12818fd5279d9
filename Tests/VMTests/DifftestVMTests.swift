import Foundation
import Testing

/// The differential tester's scenarios that need the VM's kernel (VLAN filtering, 8021q):
/// Tests/VM/difftest.sh runs every scenario with such a `requires` line through
/// hoist-difftest in the guest; each must be identical to the kernel.
@Suite("Test VM: differential tester", .serialized)
struct DifftestVMTests {
    static let scenarios = ["vlan-access-trunk", "vlan-ingress-filter"]

    @Test("VLAN-filtering scenarios are identical in the kernel's bridge and the emulated switch")
    func vlanScenarios() throws {
        guard VMHarness.requireBinaries(["hoist", "hoistd", "hoist-asic", "hoist-difftest"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "1800", "Tests/VM/difftest.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.scenarios.map { "difftest \($0)" }, suite: "difftest")
    }
}
