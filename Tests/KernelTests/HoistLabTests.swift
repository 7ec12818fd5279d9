import Foundation
import Testing

/// `hoist lab` as a user runs it, on the real kernel: the one-switch flag form, a
/// two-switch lab from `examples/two-switches.lab` whose hosts ping each other through both
/// emulated chips, the same routed with FRR's BGP on each switch, teardown after a crash (a hoistd killed, namespaces deleted by hand),
/// and an `up` that fails half-way leaving nothing behind.
@Suite("hoist lab", needsRoot, .serialized)
struct HoistLabTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A lab name unique to this test run; namespaces start with `hoist-` as scripts/test expects.
    static func labName(_ tag: String) -> String { "hoist-lab\(tag)-\(getpid())" }

    static func hoist(_ args: [String]) throws -> HoistdCLITests.Run { try HoistdCLITests.run("hoist", args) }

    static func built() -> Bool {
        let ok = ["hoist", "hoistd", "hoist-asic"].allSatisfy { FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent($0).path) }
        if !ok { Issue.record("hoist, hoistd and hoist-asic are not built at \(HoistdCLITests.binaries.path); run `swift build` first") }
        return ok
    }

    /// What of lab `name` is left: its namespaces, live processes naming it, its run files.
    static func leftovers(_ name: String) throws -> [String] {
        let namespaces = try TestNamespace.run("ip", ["netns", "list"]).split(separator: "\n")
            .map(String.init).filter { $0.hasPrefix("\(name)-") }
        let processes = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> String? in
            guard Int32(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return args.contains { $0.contains("\(name)-") } ? "process \(entry): \(args.joined(separator: " "))" : nil
        }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/hoist")) ?? []).filter { $0.hasPrefix("\(name)-") }
        return namespaces + processes + files
    }

    /// Pids inside namespace `ns`.
    static func pids(in ns: String) throws -> [Int32] {
        try TestNamespace.run("ip", ["netns", "pids", ns]).split(separator: "\n").compactMap { Int32($0) }
    }

    @Test("the flag form: one switch, hosts with addresses, the hoistd command to run; exists, list and down")
    func flagForm() throws {
        guard Self.built() else { return }
        let name = Self.labName("f")
        defer { _ = try? Self.hoist(["lab", "down", name]) }
        let up = try Self.hoist(["lab", "up", name, "--hosts", "2", "--subnet", "10.0.0"])
        #expect(up.status == 0, "\(up.error)")
        #expect(up.output.contains("hoist-asic -n \(name)-sw --wire-netns \(name)-sw-asic --port 1=fp1 --port 2=fp2 --profile small --socket /run/hoist/\(name)-sw-asic.sock"),
                "\(up.output)")
        #expect(up.output.contains("hoistd -n \(name)-sw --asic /run/hoist/\(name)-sw-asic.sock --socket /run/hoist/\(name)-sw.sock"),
                "\(up.output)")
        let addresses = try TestNamespace.run("ip", ["-n", "\(name)-h2", "-o", "-4", "addr", "show", "dev", "eth0"])
        #expect(addresses.contains("10.0.0.2/24"))
        let again = try Self.hoist(["lab", "up", name])
        #expect(again.status != 0 && again.error.contains("lab '\(name)' exists"), "\(again.error)")
        let list = try Self.hoist(["lab", "list"])
        #expect(list.output.contains("\(name): switches sw (stopped, netns \(name)-sw, socket /run/hoist/\(name)-sw.sock); hosts h1, h2"), "\(list.output)")
        let bad = try Self.hoist(["lab", "up", name, "--file", "x.lab", "--hosts", "2"])
        #expect(bad.status != 0 && bad.error.contains("either --file or --hosts"))

        let down = try Self.hoist(["lab", "down", name])
        #expect(down.status == 0 && down.output.contains("0 processes stopped, 4 namespaces deleted"), "\(down.output) \(down.error)")
        let left = try Self.leftovers(name)
        #expect(left.isEmpty, "\(left)")
    }

    @Test("two switches from a lab file: hosts on different switches ping through both chips; down leaves nothing")
    func twoSwitches() throws {
        guard Self.built() else { return }
        let name = Self.labName("2")
        defer { _ = try? Self.hoist(["lab", "down", name]) }
        let up = try Self.hoist(["lab", "up", name, "--file", Self.root.appendingPathComponent("examples/two-switches.lab").path])
        try #require(up.status == 0, "\(up.output) \(up.error)")
        let list = try Self.hoist(["lab", "list"])
        #expect(list.output.contains("\(name): switches s1 (hoistd pid"), "\(list.output)")
        #expect(try Self.pids(in: "\(name)-s1").count == 1 && Self.pids(in: "\(name)-s2").count == 1, "one hoistd inside each switch namespace")

        let ping = try HoistdCLITests.run("/usr/sbin/ip", ["netns", "exec", "\(name)-h1", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
        #expect(ping.status == 0 && ping.output.contains("3 received"), "ping from s1's host to s2's host failed: \(ping.output)")
        // s1's chip learned h2 behind the inter-switch port and wrote it back to s1's kernel.
        var fdb = ""
        for _ in 0..<100 {
            fdb = try TestNamespace.run("bridge", ["-n", "\(name)-s1", "fdb", "show", "br", "br0"])
            if fdb.contains("02:00:00:00:00:02 dev swp4 extern_learn") { break }
            usleep(30_000)
        }
        #expect(fdb.contains("02:00:00:00:00:02 dev swp4 extern_learn"), "\(fdb)")
        let ports = try Self.hoist(["show", "ports", "-n", "\(name)-s2"])     // the lab switch's hoistd, by its namespace
        #expect(ports.status == 0 && ports.output.split(separator: "\n").contains { $0.hasPrefix("swp4 ") } && ports.output.contains("offloaded"), "\(ports.output) \(ports.error)")

        let down = try Self.hoist(["lab", "down", name, "--logs"])
        #expect(down.status == 0, "\(down.error)")
        #expect(down.output.contains("== /run/hoist/\(name)-s1.log") && down.output.contains("[hoistd] stopping") && down.output.contains("[hoist_asic] stopping"), "\(down.output)")
        #expect(down.output.contains("4 processes stopped, 6 namespaces deleted"), "\(down.output)")
        let left = try Self.leftovers(name)
        #expect(left.isEmpty, "\(left)")
    }

    @Test("FRR on both switches (examples/two-switches-bgp.lab): BGP routes in the kernel are offloaded, hosts ping through both chips; down stops FRR and leaves nothing", needsFRR)
    func routedWithFRR() throws {
        guard Self.built() else { return }
        let name = Self.labName("b")
        defer { _ = try? Self.hoist(["lab", "down", name]) }
        let up = try Self.hoist(["lab", "up", name, "--file", Self.root.appendingPathComponent("examples/two-switches-bgp.lab").path])
        try #require(up.status == 0, "\(up.output) \(up.error)")
        #expect(up.output.contains("frr s1: vtysh --vty_socket /run/hoist/\(name)-s1-frr"), "\(up.output)")
        // zebra installs each switch's peer subnet in its kernel; each hoistd offloads it. The
        // two sessions' updates arrive independently, so both directions are waited for (a
        // ping before s2 has h1's subnet loses its reply in s2's kernel as much as in its chip).
        for (sw, peer) in [("s1", "10.2.0.0/24"), ("s2", "10.1.0.0/24")] {
            func offloaded(_ table: String) -> Bool {
                table.split(separator: "\n").contains { $0.hasPrefix("\(peer) ") && $0.hasSuffix("offloaded") }
            }
            var routes = ""
            for _ in 0..<150 {
                routes = try Self.hoist(["show", "routes", "--socket", "/run/hoist/\(name)-\(sw).sock"]).output
                if offloaded(routes) { break }
                usleep(200_000)
            }
            #expect(offloaded(routes), "\(sw): \(routes)")
            let kernel = try TestNamespace.run("ip", ["-n", "\(name)-\(sw)", "route", "show", peer])
            #expect(kernel.contains("proto bgp"), "\(sw): \(kernel)")
        }
        let ping = try HoistdCLITests.run("/usr/sbin/ip", ["netns", "exec", "\(name)-h1", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.2.0.2"])
        #expect(ping.status == 0 && ping.output.contains("3 received"), "ping from s1's host to s2's host failed: \(ping.output)")

        let down = try Self.hoist(["lab", "down", name])
        // Two hoistds, two chips, and zebra, bgpd and staticd on each switch.
        #expect(down.status == 0 && down.output.contains("10 processes stopped, 6 namespaces deleted"), "\(down.output) \(down.error)")
        let left = try Self.leftovers(name)
        #expect(left.isEmpty, "\(left)")
    }

    @Test("down cleans up after a crash: one hoistd killed -9, a switch's and a host's namespace already deleted")
    func afterCrash() throws {
        guard Self.built() else { return }
        let name = Self.labName("c")
        defer { _ = try? Self.hoist(["lab", "down", name]) }
        let up = try Self.hoist(["lab", "up", name, "--file", Self.root.appendingPathComponent("examples/two-switches.lab").path])
        try #require(up.status == 0, "\(up.output) \(up.error)")
        let s1 = try #require(try Self.pids(in: "\(name)-s1").first)
        kill(s1, SIGKILL)
        // s2's hoistd keeps running in a namespace no longer listed: only its arguments name the lab.
        try TestNamespace.run("ip", ["netns", "del", "\(name)-s2"])
        try TestNamespace.run("ip", ["netns", "del", "\(name)-h1"])
        let list = try Self.hoist(["lab", "list"])
        #expect(list.output.contains("s2 (hoistd pid") && list.output.contains("no switch namespace"), "\(list.output)")

        let down = try Self.hoist(["lab", "down", name])
        #expect(down.status == 0 && down.output.contains("4 namespaces deleted"), "\(down.output) \(down.error)")
        let left = try Self.leftovers(name)
        #expect(left.isEmpty, "\(left)")
    }

    @Test("an up that fails half-way (a bad exec line) names the line and leaves nothing behind")
    func failedUp() throws {
        guard Self.built() else { return }
        let name = Self.labName("x")
        defer { _ = try? Self.hoist(["lab", "down", name]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).lab").path
        try """
            switch s1 ports 2
            host h1 s1:1 10.0.0.1/24
            start
            exec s1 ip link set swp1 up
            exec s1 ip link set swp9 up
            """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let up = try Self.hoist(["lab", "up", name, "--file", file])
        #expect(up.status != 0)
        #expect(up.error.contains("\(file):5: exec s1: `ip netns exec \(name)-s1 ip link set swp9 up` failed"), "\(up.error)")
        let left = try Self.leftovers(name)
        #expect(left.isEmpty, "\(left)")
    }
}
