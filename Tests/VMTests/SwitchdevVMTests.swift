import Foundation
import Testing

/// The Switchdev driver against real switchdev targets in the test VM: rocker ports
/// bridged (Tests/VM/switchdev-rocker.sh, one boot with --rocker 4) and netdevsim routes,
/// devlink resources and the driver conformance suite (Tests/VM/switchdev-netdevsim.sh,
/// one boot). A skip (status 77: no QEMU) cancels the test with the harness's reason.
@Suite("Test VM: Switchdev driver", .serialized)
struct SwitchdevVMTests {
    static let rockerChecks = [
        "rocker-ports", "hoistd-started", "driver-found-ports", "ports-offloaded", "vlans-offloaded",
        "fdb-static-offloaded", "fdb-learned-offloaded", "readback-at-start", "stp-state-change",
        "readback-after-restart", "no-failed-objects", "port-counters",
    ]
    static let netdevsimChecks = [
        "netdevsim-ports", "hoistd-started", "route-offloaded", "route-offload-failed", "why-names-failure",
        "other-routes-unaffected", "kernel-refuses-past-capacity", "resources-12-of-12", "refused-routes-never-appear",
        "port-counters", "conformance-where-it-applies",
    ]

    static func requireBinaries() -> Bool {
        for tool in ["hoistd", "hoist", "hoist-conformance"] {
            let path = VMHarness.debugBinaries.appendingPathComponent(tool).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record("\(path) is not built; run `swift build` first")
                return false
            }
        }
        return true
    }

    static func check(_ run: VMHarness.Run, _ checks: [String], _ what: String) {
        print("VM \(what) suite: \(String(format: "%.1f", run.seconds)) s, status \(run.status)")
        #expect(run.status == 0, "the guest script failed (status \(run.status))")
        let lines = Set(run.lines.map(String.init))
        for check in checks { #expect(lines.contains("PASS \(check)"), "no PASS \(check)") }
        for failed in run.lines where failed.hasPrefix("FAIL ") { Issue.record("\(failed)") }
        if run.status != 0 { Issue.record("guest output:\n\(run.output)\nharness:\n\(run.error)") }
    }

    @Test("rocker: bridged switchdev ports observed — static and learned FDB offloaded, VLANs, STP state, read-back")
    func rocker() throws {
        guard Self.requireBinaries() else { return }
        let run = try VMHarness.run(["run", "--rocker", "4", "--timeout", "300", "Tests/VM/switchdev-rocker.sh"])
        try VMHarness.skipIfUnavailable(run)
        Self.check(run, Self.rockerChecks, "Switchdev rocker")
    }

    @Test("netdevsim: rt_trap → offloaded, rt_offload_failed → failed, devlink 12/12, conformance where it applies")
    func netdevsim() throws {
        guard Self.requireBinaries() else { return }
        let run = try VMHarness.run(["run", "--timeout", "300", "Tests/VM/switchdev-netdevsim.sh"])
        try VMHarness.skipIfUnavailable(run)
        Self.check(run, Self.netdevsimChecks, "Switchdev netdevsim")
        // Every skipped conformance case says why.
        let skips = run.lines.filter { $0.hasPrefix("conformance: SKIP ") }
        #expect(!skips.isEmpty, "no conformance case was skipped: \(run.output)")
        for skip in skips { #expect(skip.contains(": "), "a skip without a reason: \(skip)") }
    }
}
