import Foundation
import Testing

/// Every `hoist show` table and JSON form, pinned: one switch with fixed names, MACs and
/// addresses (a bridge with a vxlan port and a static group, a routed port, gateway,
/// multipath and blackhole routes, hosts whose MACs the chip learned), each kind's text
/// and `--json` compared with `Golden/show/KIND.txt`. Counters and the audit's figures
/// move with time: their digits are masked. `HOIST_RECORD=1` re-records the files.
@Suite("hoist show output, pinned", needsRoot, .serialized)
struct ShowGoldenTests {
    static let kinds = ["ports", "bridges", "fdb", "vlans", "stp", "mdb", "vxlan", "routes", "nexthops", "neighbors", "rifs",
                        "vrfs", "lags", "acl", "resources", "counters", "traps", "vfs", "audit", "summary"]
    /// Kinds whose figures move with time and traffic.
    static let masked: Set = ["counters", "traps", "audit"]

    /// `show counters` without its drops by reason: which reasons have any (a frame that
    /// met a port before it was up) depends on timing, not on what is shown.
    static func withoutDrops(_ text: String) -> String {
        var out: [Substring] = []
        var inDrops = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("DROP ") { inDrops = true; continue }
            if inDrops { if line.isEmpty { inDrops = false }; continue }
            if line.hasPrefix("{\"drop\":") { continue }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    static func mask(_ text: String) -> String {
        // Digits to `#`, then runs of blanks (table alignment follows the numbers' widths) to two.
        text.replacing(#/[0-9]+/#, with: "#").replacing(#/ {2,}/#, with: "  ")
    }

    @Test("each kind's table and JSON, as recorded")
    func pinned() throws {
        guard HoistLabTests.built() else { return }
        let wires = try TestNamespace("gw")
        let sw = try TestNamespace("gs")
        let hosts = try (1...3).map { try TestNamespace("g\($0)") }
        for ns in [sw] + hosts {
            _ = try TestNamespace.run("ip", ["netns", "exec", ns.name, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        }
        for (n, host) in hosts.enumerated() {
            try wires.ip("link add fp\(n + 1) type veth peer name eth0 netns \(host.name)")
            try wires.ip("link set fp\(n + 1) up")
            try host.ip("link set eth0 address 02:00:00:00:00:0\(n + 1)")
            try host.ip("link set eth0 up")
        }
        try hosts[0].ip("addr add 10.7.0.1/24 dev eth0")
        try hosts[1].ip("addr add 10.7.0.2/24 dev eth0")
        try hosts[2].ip("addr add 10.8.0.2/24 dev eth0")
        let socket = "/tmp/hoist-test-golden-\(getpid()).sock"
        let daemon = Process()
        daemon.executableURL = HoistdCLITests.binaries.appendingPathComponent("hoistd")
        daemon.arguments = ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2", "--port", "3=fp3",
                            "--socket", socket, "--audit-interval", "0"]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        ChipRestartTests.waitFor(socket)
        for _ in 0..<200 where (try? sw.ip("link show swp3")) == nil { usleep(25_000) }
        _ = try TestNamespace.run("ip", ["netns", "exec", sw.name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try sw.ipScript("""
            link set swp1 address 02:00:00:00:01:01
            link set swp2 address 02:00:00:00:01:02
            link set swp3 address 02:00:00:00:01:03
            link add br0 type bridge
            link set br0 address 02:00:00:00:0b:00
            link set swp1 master br0
            link set swp2 master br0
            link add vxlan100 type vxlan id 100 local 10.8.0.1 dstport 4789 nolearning
            link set vxlan100 address 02:00:00:00:0a:64
            link set vxlan100 master br0
            link set swp1 up
            link set swp2 up
            link set swp3 up
            link set vxlan100 up
            link set br0 up
            addr add 10.7.0.254/24 dev br0
            addr add 10.8.0.1/24 dev swp3
            route add 10.9.0.0/16 via 10.8.0.2
            route add 10.10.0.0/16 nexthop via 10.8.0.2 nexthop via 10.7.0.1
            route add blackhole 10.11.0.0/16
            """)
        _ = try sw.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.8.0.2")
        _ = try sw.bridge("mdb add dev br0 port swp1 grp 239.1.1.1 permanent")
        // A u32 filter on swp3's ingress (this kernel has no flower): `show acl`'s trapped row.
        _ = try TestNamespace.run("tc", ["-n", sw.name, "qdisc", "add", "dev", "swp3", "clsact"])
        _ = try TestNamespace.run("tc", ["-n", sw.name, "filter", "add", "dev", "swp3", "ingress", "pref", "3", "protocol", "all",
                                         "u32", "match", "u32", "0", "0", "classid", "1:1"])
        for (host, target) in [(hosts[0], "10.7.0.2"), (hosts[0], "10.7.0.254"), (hosts[2], "10.8.0.1")] {
            _ = try HoistdCLITests.run("/usr/sbin/ip", ["netns", "exec", host.name, "ping", "-c", "2", "-i", "0.2", "-W", "2", target])
        }
        _ = try HoistdCLITests.run("/usr/sbin/ip", ["netns", "exec", sw.name, "ping", "-c", "1", "-W", "2", "10.7.0.1"])
        // Settled: both hosts' MACs learned, every neighbour resolved, nothing pending.
        for _ in 0..<200 {
            let fdb = try HoistdCLITests.run("hoist", ["show", "fdb", "--socket", socket]).output
            let pending = try HoistdCLITests.run("hoist", ["show", "summary", "--json", "--socket", socket]).output
            if fdb.contains("02:00:00:00:00:01 vlan 0 swp1 learned") && fdb.contains("02:00:00:00:00:02 vlan 0 swp2 learned")
                && !pending.contains("\"pending\":1") && !pending.contains("\"pending\":2") { break }
            usleep(25_000)
        }

        let record = ProcessInfo.processInfo.environment["HOIST_RECORD"] == "1"
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/show")
        for kind in Self.kinds {
            let text = try HoistdCLITests.run("hoist", ["show", kind, "--socket", socket])
            let json = try HoistdCLITests.run("hoist", ["show", kind, "--json", "--socket", socket])
            #expect(text.status == 0 && json.status == 0, "\(kind): \(text.error) \(json.error)")
            // JSON one row per line, for diffs a person can read.
            let lines = json.output.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst().dropLast()
                .replacingOccurrences(of: "},{\"", with: "},\n{\"")
            var actual = "# hoist show \(kind)\n\(text.output)\n# hoist show \(kind) --json\n\(lines)\n"
            if kind == "counters" { actual = Self.withoutDrops(actual) }
            if Self.masked.contains(kind) { actual = Self.mask(actual) }
            let file = directory.appendingPathComponent("\(kind).txt")
            if record {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try actual.write(to: file, atomically: true, encoding: .utf8)
                continue
            }
            let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? "(no Golden/show/\(kind).txt: record it with HOIST_RECORD=1)"
            #expect(actual == expected, "hoist show \(kind) differs from Golden/show/\(kind).txt:\n\(actual)")
        }
        if record { Issue.record("re-recorded Golden/show/*.txt") }
    }
}
