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
        for tool in ["hoistd", "hoist", "hoist-conformance"] {
            let path = VMHarness.debugBinaries.appendingPathComponent(tool).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record("\(path) is not built; run `swift build` first")
                return
            }
        }
        let run = try VMHarness.run(["run", "--timeout", "300", "Tests/VM/sriov.sh"])
        try VMHarness.skipIfUnavailable(run)
        print("VM SR-IOV suite: \(String(format: "%.1f", run.seconds)) s, status \(run.status)")
        #expect(run.status == 0, "the guest script failed (status \(run.status))")
        let lines = Set(run.lines.map(String.init))
        for check in Self.sriovChecks {
            #expect(lines.contains("PASS \(check)"), "no PASS \(check)")
        }
        for failed in run.lines where failed.hasPrefix("FAIL ") {
            Issue.record("\(failed)")
        }
        if run.status != 0 { Issue.record("guest output:\n\(run.output)\nharness:\n\(run.error)") }
    }
}
