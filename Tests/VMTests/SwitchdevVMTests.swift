import Foundation
import Testing

/// The Switchdev driver against real switchdev targets in the test VM: rocker ports
/// bridged (Tests/VM/switchdev-rocker.sh, one boot with --rocker 4) and netdevsim routes,
/// devlink resources and the driver conformance suite (Tests/VM/switchdev-netdevsim.sh,
/// one boot). A skip (status 77: no QEMU) cancels the test with the harness's reason.
@Suite("Test VM: Switchdev driver", .serialized)
struct SwitchdevVMTests {
    static let rockerChecks = [
        "rocker-ports", "hoistd-started", "driver-found-ports", "ports-offloaded", "vlans-offloaded", "vlan-unconfirmed",
        "fdb-static-offloaded", "fdb-learned-offloaded", "stp-state-change",
        "states-after-restart", "no-failed-objects", "port-counters",
    ]
    static let netdevsimChecks = [
        "netdevsim-ports", "hoistd-started", "route-trapped", "why-names-trap", "nexthop-object-trapped",
        "route-offload-failed", "why-names-failure",
        "other-routes-unaffected", "kernel-refuses-past-capacity", "resources-12-of-12", "refused-routes-never-appear",
        "port-counters", "conformance-where-it-applies",
    ]

    @Test("rocker: bridged switchdev ports observed — static FDB offloaded and confirmed by its flag, VLANs offloaded but unconfirmed, STP state, states after a restart")
    func rocker() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist", "hoist-conformance"]) else { return }
        let run = try VMHarness.run(["run", "--rocker", "4", "--timeout", "300", "Tests/VM/switchdev-rocker.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.rockerChecks, suite: "Switchdev rocker")
    }

    @Test("netdevsim: rt_trap → trapped (routes and nexthop objects), rt_offload_failed → failed, devlink 12/12, conformance where it applies")
    func netdevsim() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist", "hoist-conformance"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "300", "Tests/VM/switchdev-netdevsim.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.netdevsimChecks, suite: "Switchdev netdevsim")
        // Every skipped conformance case says why.
        let skips = run.lines.filter { $0.hasPrefix("conformance: SKIP ") }
        #expect(!skips.isEmpty, "no conformance case was skipped: \(run.output)")
        for skip in skips { #expect(skip.contains(": "), "a skip without a reason: \(skip)") }
    }
}
