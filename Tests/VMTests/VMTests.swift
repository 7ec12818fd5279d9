import Foundation
import Testing

/// Tests that boot the test VM (Debian's kernel under QEMU, scripts/vm). One VM at a time:
/// the suite is serialized, and scripts/vm itself waits for any other VM on the machine.
@Suite("Test VM", .serialized)
struct VMTests {
    /// The checks Tests/VM/vlan-bridge.sh makes, each printed as "PASS name".
    static let vlanChecks = [
        "hoistd-started", "vlans-offloaded", "bridge-offloaded",
        "access-to-access-vlan10", "chip-counters-rise", "access-to-trunk-vlan10", "access-to-trunk-vlan20",
        "fdb-extern-learn-vlan10", "vlan-isolation", "vlan-del-reaches-chip", "vlan-add-reaches-chip",
        "8021ad-bridge-offloaded", "8021ad-trunk-traffic", "no-failed-objects",
    ]

    @Test("VLAN-aware bridge end to end in the VM: access and trunk ports through the chip, VLANs isolated, bridge vlan changes reach the chip, 802.1ad")
    func vlanBridge() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "400", "Tests/VM/vlan-bridge.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.vlanChecks, suite: "VLAN")
    }

    /// The checks Tests/VM/vrf.sh makes.
    static let vrfChecks = [
        "hoistd-started", "vrf-member-rifs-offloaded", "show-vrfs", "main-rif-offloaded", "main-route-offloaded", "vrf-route-offloaded",
        "vrf-traffic-follows-kernel", "vrf-traffic-offloaded", "vrf-unreachable-from-main", "main-traffic-offloaded",
        "vrf-release-offloaded",
    ]

    /// The checks Tests/VM/lag.sh makes.
    static let lagChecks = [
        "lag-hoistd-started", "lag-lacp-distributing", "lag-bridge-port", "lag-traffic-offloaded", "lag-flows-spread",
        "lag-member-failover", "lag-member-back", "lag-states-true",
    ]

    /// The checks Tests/VM/evpn-l3.sh makes.
    static let evpnChecks = [
        "evpn-hoistd-started", "type5-route-offloaded", "l3vni-rif-offloaded", "remote-router-mac-offloaded",
        "tenant-traffic-offloaded", "main-does-not-reach-vrf",
    ]

    /// One boot for the fabric suites: VRFs (Tests/VM/vrf.sh), a LAG to a dual-homed host
    /// with the kernel's LACP (Tests/VM/lag.sh), and EVPN symmetric IRB with real FRR
    /// (Tests/VM/evpn-l3.sh).
    @Test("ports in a VRF in the VM: their router interfaces carry the VRF's table and the chip routes their traffic by it, as the kernel; the main table's interfaces by main. An 802.3ad bond to a dual-homed host is a chip LAG: LACP converges through the chip, traffic and flows cross both members, a member losing carrier fails over. EVPN type-5 routes from FRR through an L3VNI are routed and encapsulated by the chip")
    func fabric() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "720", "-c", #"""
            bash "$HOIST_ROOT/Tests/VM/vrf.sh"; a=$?; bash "$HOIST_ROOT/Tests/VM/lag.sh"; b=$?
            bash "$HOIST_ROOT/Tests/VM/evpn-l3.sh"; exit $((a + b + $?))
            """#])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.vrfChecks + Self.lagChecks + Self.evpnChecks, suite: "VRF, LAG and EVPN")
    }

    /// The checks Tests/VM/fabric.sh makes.
    static let fabricChecks = [
        "fabric-lab-up", "bgp-established", "l2vni-stretched", "l2vni-stretched-back", "vrf-red-across-leaves",
        "vrf-red-to-bond", "vrf-red-from-bond", "vrf-red-stretched-routed", "vrf-blue-across-leaves", "vrfs-isolated",
        "chips-forward", "states-true", "link-failure-recovers", "states-true-after-failure", "bond-member-failure-recovers",
    ]

    @Test("the fabric lab (examples/fabric.lab) in the VM: two spines and four leaves with FRR, EVPN L2 and L3 across leaves, VRFs isolated, every packet through the chips, no false state, a spine link and a bond member failing without operator action")
    func fabricLab() throws {
        guard VMHarness.requireBinaries(["hoistd", "hoist", "hoist-asic"]) else { return }
        let run = try VMHarness.run(["run", "--timeout", "900", "Tests/VM/fabric.sh"])
        try VMHarness.skipIfUnavailable(run)
        VMHarness.expectPassed(run, Self.fabricChecks, suite: "fabric lab")
    }

    @Test("a missing kernel is a clear harness failure, at once")
    func missingKernel() throws {
        let run = try VMHarness.run(["run", "--kernel", "/nonexistent/vmlinux", "-c", "true"])
        try VMHarness.skipIfUnavailable(run)
        #expect(run.status == VMHarness.harnessFailureStatus)
        #expect(run.error.contains("kernel /nonexistent/vmlinux not found"), "\(run.error)")
        #expect(run.seconds < 60)
    }

    @Test("QEMU killed mid-run: the harness reports that the guest did not finish, without hanging")
    func qemuKilled() throws {
        let pidfile = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-vmtest-\(getpid()).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidfile) }
        var killedAt: Date?
        let run = try VMHarness.run(["run", "--timeout", "300", "--pidfile", pidfile, "-c", "echo guest-started; sleep 600"]) { _, output in
            guard killedAt == nil, output.contains("guest-started"),
                  let text = try? String(contentsOfFile: pidfile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            else { return }
            kill(pid, SIGKILL)
            killedAt = Date()
        }
        try VMHarness.skipIfUnavailable(run)
        #expect(killedAt != nil, "the guest never started: \(run.error)")
        #expect(run.status == VMHarness.harnessFailureStatus, "\(run.error)")
        #expect(run.error.contains("the guest did not finish"), "\(run.error)")
        if let killedAt { #expect(Date().timeIntervalSince(killedAt) < 20, "the harness took too long to notice") }
    }

    @Test("a guest that runs past --timeout is killed and reported as a timeout")
    func timeout() throws {
        let run = try VMHarness.run(["run", "--timeout", "15", "-c", "echo guest-started; sleep 600"])
        try VMHarness.skipIfUnavailable(run)
        #expect(run.status == VMHarness.timeoutStatus, "\(run.error)")
        #expect(run.error.contains("timed out after 15 s"), "\(run.error)")
        // Not a hang: the harness ends soon after its deadline (time spent waiting for
        // another test VM on the machine — scripts/vm says so — does not count).
        if !run.error.contains("waiting for another test VM") { #expect(run.seconds < 50, "\(run.error)") }
    }

    @Test("where QEMU cannot run, the harness says skip (77) with the reason")
    func skipWithoutQEMU() throws {
        let run = try VMHarness.run(["run", "-c", "true"], environment: ["HOIST_VM_QEMU": "/nonexistent/qemu-system-x86_64"])
        #expect(run.status == VMHarness.skipStatus, "\(run.error)")
        #expect(run.skipReason.contains("/nonexistent/qemu-system-x86_64 is not installed"), "\(run.error)")
    }

    @Test("a guest kernel panic ends the run with a clear failure")
    func guestPanic() throws {
        let run = try VMHarness.run(["run", "--timeout", "300", "-c", "echo c > /proc/sysrq-trigger; sleep 600"])
        try VMHarness.skipIfUnavailable(run)
        #expect(run.status == VMHarness.harnessFailureStatus, "\(run.error)")
        #expect(run.error.contains("the guest did not finish"), "\(run.error)")
        #expect(run.error.contains("Kernel panic - not syncing"), "the harness should show the panic: \(run.error)")
    }

    @Test("the guest script's exit status, arguments and output come back")
    func statusAndOutput() throws {
        let run = try VMHarness.run(["run", "-c", "echo \"args:$*\"; uname -r; exit 7", "a", "b c"])
        try VMHarness.skipIfUnavailable(run)
        #expect(run.status == 7, "\(run.error)")
        #expect(run.lines.first == "args:a b c", "\(run.output)")
        #expect(run.lines.contains { $0.hasSuffix("-amd64") }, "\(run.output)")
    }
}
