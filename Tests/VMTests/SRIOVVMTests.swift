import Foundation
import Testing

extension VMTests {
    /// The checks Tests/VM/sriov.sh makes, each printed as "PASS name".
    static let sriovChecks = [
        "hoistd-legacy-started", "legacy-vfs-not-supported", "vf-representors", "hoistd-started",
        "vf-settings-offloaded", "vf-settings-in-nic", "other-vfs-offloaded", "refused-rate-failed",
        "lowered-rate-offloaded", "vf-table-occupancy", "restart-no-drift", "conformance",
    ]

    @Test("SR-IOV NIC in the VM (netdevsim): legacy eswitch not supported; switchdev VF settings and devlink rates offloaded; a refused rate failed with the NIC's reason; conformance")
    func sriov() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist", "hoist-conformance"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "300", "Tests/VM/sriov.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.sriovChecks, suite: "SR-IOV")
    }
}
