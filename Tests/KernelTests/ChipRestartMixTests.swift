import ChipLink
import Foundation
import Testing

/// A `hoist-asic` chip on three front-panel wires (no hosts: both veth ends stay in the
/// wires namespace, up), and a `hoistd --asic` driving it from the switch namespace, which
/// has IPv6 off so nothing changes in the kernel on its own (DAD, link-local routes).
final class ChipRig {
    let wires: TestNamespace
    let sw: TestNamespace
    let chipSocket: String
    let control: String
    let daemonLog: String
    let chip: Process
    var daemon: Process

    init(_ label: String, daemonArgs: [String] = []) throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        wires = try TestNamespace("\(label)w")
        sw = try TestNamespace("\(label)s")
        try sw.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        try sw.exec(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        for i in 1...3 {
            try wires.ipScript("link add fp\(i) type veth peer name pe\(i)\nlink set fp\(i) up\nlink set pe\(i) up")
        }
        let tag = "\(getpid())\(label)"
        chipSocket = "/tmp/hoist-asic-\(tag).sock"
        control = "/tmp/hoist-\(tag).sock"
        daemonLog = "/tmp/hoistd-\(tag).log"
        chip = try ChipRestartTests.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2",
                                                          "--port", "3=fp3", "--socket", chipSocket], log: "/dev/null")
        ChipRestartTests.waitFor(chipSocket)
        daemon = try Self.startDaemon(chipSocket, sw, control, daemonLog, daemonArgs)
    }

    static func startDaemon(_ chip: String, _ sw: TestNamespace, _ control: String, _ log: String, _ extra: [String]) throws -> Process {
        try? FileManager.default.removeItem(atPath: control)
        let p = try ChipRestartTests.launch("hoistd", ["--asic", chip, "-n", sw.name, "--socket", control] + extra, log: log)
        ChipRestartTests.waitFor(control)
        return p
    }

    func restartDaemon(_ extra: [String] = []) throws {
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        daemon = try Self.startDaemon(chipSocket, sw, control, daemonLog, extra)
    }

    /// `hoist show KIND --json`.
    func show(_ kind: String) throws -> [[String: Any]] {
        let r = try HoistdCLITests.run("hoist", ["show", kind, "--json", "--socket", control])
        return (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
    }

    /// Waits until `condition` holds, polling for up to `seconds`.
    func wait(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    var log: String { (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? "" }

    deinit {
        ChipRestartTests.stop(daemon)
        ChipRestartTests.stop(chip)
        for f in [chipSocket, control, daemonLog] { try? FileManager.default.removeItem(atPath: f) }
    }
}

extension ChipRestartTests {
    /// Four inline ECMP sets of 2–3 next hops over twelve routes, created in the reverse of
    /// the order a dump returns them; nexthop objects and a group; a bridge with a VXLAN
    /// device, its flood list and static FDB entries; permanent neighbours.
    static func configureMix(_ sw: TestNamespace) throws {
        // A router forwards (with ip_forward=0 the kernel would not, and every route shows trapped).
        try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try sw.ipScript("""
            addr add 10.0.1.1/24 dev swp1
            link set swp1 up
            addr add 10.0.2.1/24 dev swp2
            link set swp2 up
            link add br0 type bridge
            link set swp3 master br0
            link set swp3 up
            link add vxlan100 type vxlan id 100 local 10.0.1.1 dstport 4789 nolearning
            link set vxlan100 master br0
            link set vxlan100 up
            link set br0 up
            """)
        let gateways = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6", "10.0.1.9", "10.0.1.50",
                        "10.0.2.2", "10.0.2.3", "10.0.2.5", "10.0.2.6", "10.0.2.7", "10.0.2.9"]
        try sw.ipScript(gateways.enumerated().map { i, g in
            "neigh add \(g) lladdr 02:00:00:00:10:\(String(format: "%02x", i)) dev \(g.hasPrefix("10.0.1.") ? "swp1" : "swp2") nud permanent"
        }.joined(separator: "\n"))
        let sets = [
            "nexthop via 10.0.1.2 dev swp1 nexthop via 10.0.2.2 dev swp2",
            "nexthop via 10.0.1.3 dev swp1 nexthop via 10.0.2.3 dev swp2 weight 2 nexthop via 10.0.1.4 dev swp1",
            "nexthop via 10.0.2.5 dev swp2 nexthop via 10.0.1.5 dev swp1",
            "nexthop via 10.0.2.6 dev swp2 nexthop via 10.0.1.6 dev swp1 nexthop via 10.0.2.7 dev swp2",
        ]
        try sw.ipScript((0..<12).reversed().map { "route add 172.16.\($0).0/24 \(sets[$0 % 4])" }.joined(separator: "\n"))
        try sw.ipScript("""
            nexthop add id 1 via 10.0.1.9 dev swp1
            nexthop add id 2 via 10.0.2.9 dev swp2
            nexthop add id 10 group 1/2
            route add 172.17.0.0/16 nhid 10
            route add 172.18.0.0/16 nhid 1
            """)
        try sw.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.1.50")
        try sw.bridge("fdb add 02:00:00:00:00:31 dev swp3 master static")
        try sw.bridge("fdb add 02:00:00:00:00:32 dev vxlan100 master static")
        try sw.bridge("fdb append 02:00:00:00:00:32 dev vxlan100 dst 10.0.1.50")
    }

    @Test("a restart over an unchanged kernel with inline ECMP sets, nexthop objects, VXLAN and FDB programs nothing")
    func restartWithMix() throws {
        let rig = try ChipRig("m")
        try Self.configureMix(rig.sw)
        // Settled: every route and group has its final state, nothing pending.
        let settled = try rig.wait(15) {
            let routes = try rig.show("routes").filter { ($0["dst"] as? String)?.hasPrefix("172.1") == true }
            let groups = try rig.show("nexthops")
            return routes.count == 14 && routes.allSatisfy { ($0["offload"] as? String) == "offloaded" }
                && groups.allSatisfy { ($0["offload"] as? String) != "pending" }
        }
        #expect(settled, "\((try? rig.show("routes")) ?? []) \((try? rig.show("nexthops")) ?? [])")
        let groups = try rig.show("nexthops").compactMap { $0["object"] as? String }.filter { $0.hasPrefix("ecmp group") }
        #expect(groups.count == 4, "\(groups)")
        let vxlan = try rig.show("vxlan")
        #expect(!vxlan.isEmpty && vxlan.allSatisfy { ($0["offload"] as? String) != "pending" }, "\(vxlan)")
        usleep(500_000)
        let before = try Self.chipStatistics(rig.chipSocket)

        for round in 1...2 {
            try rig.restartDaemon()
            var log = ""
            _ = rig.wait(10) {
                log = rig.log
                return log.contains("reconciled with the chip")
            }
            let line = log.split(separator: "\n").last { $0.contains("reconciled with the chip") }.map(String.init) ?? ""
            #expect(line.contains(" 0 programmed, 0 removed"), "restart \(round) changed the chip: \(log)")
            #expect(!log.contains("repaired "), "\(log)")
            let after = try Self.chipStatistics(rig.chipSocket)
            #expect(after.sets == before.sets && after.removes == before.removes,
                    "restart \(round) applied \(after.sets - before.sets) sets and \(after.removes - before.removes) removes")
            let now = try rig.show("nexthops").compactMap { $0["object"] as? String }.filter { $0.hasPrefix("ecmp group") }
            #expect(Set(now) == Set(groups))
        }
    }
}
