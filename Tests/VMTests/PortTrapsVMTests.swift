import Foundation
import Testing

extension VMTests {
    /// The checks Tests/VM/port-traps.sh makes, each printed as "PASS name".
    static let portTrapChecks = [
        "hoistd-started", "baseline-ping", "vlan-state-trapped", "vlan-state-blocks", "vlan-state-forwarding-offloaded",
        "vlan-state-chip-forwards-again", "tc-acl-offloaded", "tc-acl-drops", "tc-acl-chip-counted", "tc-filter-trapped",
        "tc-filter-drops", "tc-acl-again", "tc-filter-removed-offloaded", "tc-chip-forwards-again", "tc-acl-tcam-filled",
        "tc-acl-tcam-full-failed", "tc-acl-tcam-full-kernel-drops", "tc-acl-offloaded-when-room-frees", "mst-trapped", "mst-kernel-forwards", "mst-off-offloaded",
    ]

    @Test("port traps in the VM: a per-VLAN blocking state stops the chip where the kernel stops; a tc flower drop is the chip's ACL, a key it lacks traps the port; lifted, the chip forwards again; mst_enabled traps through the kernel")
    func portTraps() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "300", "Tests/VM/port-traps.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.portTrapChecks, suite: "port traps")
    }
}
