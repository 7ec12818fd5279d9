import Foundation
import Testing

/// The products as a user runs them: `hoistd` serving an emulated switch, `hoist show` and
/// `hoist why` asking it over the control socket; bad input gets clear errors and the
/// daemon keeps running.
@Suite("hoistd and the hoist CLI", needsRoot, .serialized)
struct HoistdCLITests {
    static let binaries = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug")

    struct Run {
        var status: Int32
        var output: String
        var error: String
    }

    static func run(_ tool: String, _ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = tool.hasPrefix("/") ? URL(fileURLWithPath: tool) : binaries.appendingPathComponent(tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, output: String(decoding: o, as: UTF8.self), error: String(decoding: e, as: UTF8.self))
    }

    @Test("hoist show, why and watch answer from a running hoistd; bad input is refused clearly; SIGTERM stops it")
    func showAndWhy() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binaries.appendingPathComponent("hoistd").path) else {
            Issue.record("hoistd is not built at \(Self.binaries.path); run `swift build` first")
            return
        }
        let wires = try TestNamespace("cw")
        let sw = try TestNamespace("cs")
        let h1 = try TestNamespace("c1")
        try wires.ip("link add fp1 type veth peer name eth0 netns \(h1.name)")
        try wires.ip("link set fp1 up")
        let socket = "/tmp/hoist-test-\(getpid()).sock"
        let daemon = Process()
        daemon.executableURL = Self.binaries.appendingPathComponent("hoistd")
        daemon.arguments = ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--socket", socket]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) { usleep(25_000) }
        #expect(FileManager.default.fileExists(atPath: socket))
        var st = stat()
        #expect(stat(socket, &st) == 0 && st.st_mode & 0o777 == 0o660, "the control socket must be mode 0660")

        // `hoist watch` follows the changes the configuration below causes.
        let watch = Process()
        watch.executableURL = Self.binaries.appendingPathComponent("hoist")
        watch.arguments = ["watch", "ports", "--json", "--seconds", "3", "--socket", socket]
        let watched = Pipe()
        watch.standardOutput = watched
        try watch.run()
        usleep(300_000)

        try sw.ip("link add br0 type bridge")
        try sw.ip("link set swp1 master br0")
        try sw.ip("link set swp1 up")
        try sw.ip("link set br0 up")
        var ports: [[String: Any]] = []
        for _ in 0..<100 {
            let r = try Self.run("hoist", ["show", "ports", "--json", "--socket", socket])
            #expect(r.status == 0, "\(r.error)")
            ports = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
            if ports.first?["state"] as? String == "forwarding" { break }
            usleep(20_000)
        }
        #expect(ports.count == 1)
        #expect(ports.first?["ifname"] as? String == "swp1")
        #expect(ports.first?["offload"] as? String == "offloaded")

        watch.waitUntilExit()
        let changes = String(decoding: watched.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(watch.terminationStatus == 0)
        #expect(changes.contains("\"object\":\"port swp1\"") && changes.contains("\"offload\":\"offloaded\""),
                "hoist watch saw: \(changes)")

        let why = try Self.run("hoist", ["why", "port", "swp1", "--socket", socket])
        #expect(why.status == 0 && why.output.contains("offloaded"), "\(why.output) \(why.error)")

        // A macvlan has no hardware object of its own: `hoist why mv9` finds what it traps.
        try sw.ip("link add link br0 name mv9 type macvlan mode bridge")
        var byName = Run(status: 1, output: "", error: "")
        for _ in 0..<100 {
            byName = try Self.run("hoist", ["why", "mv9", "--socket", socket])
            if byName.status == 0 && byName.output.contains("macvlan mv9 on br0") { break }
            usleep(20_000)
        }
        #expect(byName.status == 0 && byName.output.contains("trapped") && byName.output.contains("macvlan mv9 on br0"),
                "\(byName.output) \(byName.error)")
        try sw.ip("link del mv9")

        // Filters: one route by its prefix, objects by state (issue 12 item 2).
        try sw.ip("addr add 10.1.0.1/24 dev br0")
        try sw.ip("route add 10.9.0.0/16 via 10.1.0.2")
        try sw.ip("route add 10.8.0.0/16 via 10.1.0.2")
        var one: [[String: Any]] = []
        for _ in 0..<100 {
            let r = try Self.run("hoist", ["show", "routes", "10.9.0.0/16", "--json", "--timeout", "5", "--socket", socket])
            one = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
            if !one.isEmpty { break }
            usleep(20_000)
        }
        #expect(one.count == 1 && one.first?["object"] as? String == "route 10.9.0.0/16", "\(one)")
        let whyRoute = try Self.run("hoist", ["why", "route", "10.9.0.0/16", "--socket", socket])
        #expect(whyRoute.status == 0 && whyRoute.output.contains("\n10.9.0.0/16 ") && !whyRoute.output.contains("10.8.0.0"),
                "\(whyRoute.output) \(whyRoute.error)")
        let trapped = try Self.run("hoist", ["show", "routes", "--state", "trapped", "--json", "--socket", socket])
        let trappedRows = (try? JSONSerialization.jsonObject(with: Data(trapped.output.utf8)) as? [[String: Any]]) ?? []
        #expect(!trappedRows.isEmpty && trappedRows.allSatisfy { $0["offload"] as? String == "trapped" }, "\(trapped.output)")
        let offloadedPorts = try Self.run("hoist", ["show", "ports", "--state", "offloaded", "--json", "--socket", socket])
        #expect(offloadedPorts.output.contains("swp1"))
        let badState = try Self.run("hoist", ["show", "routes", "--state", "sideways", "--socket", socket])
        #expect(badState.status != 0 && badState.error.contains("unknown state 'sideways'"))

        let bogus = try Self.run("hoist", ["show", "bogus", "--socket", socket])
        #expect(bogus.status != 0 && bogus.error.contains("unknown object 'bogus'"))
        #expect(bogus.status == 64 && bogus.error.contains("Usage:"), "a bad argument is a usage error (64)")
        let nothing = try Self.run("hoist", ["why", "route", "203.0.113.0/24", "--socket", socket])
        #expect(nothing.status == 1 && nothing.error.contains("no object matches") && !nothing.error.contains("Usage:"),
                "nothing matching is a runtime error: exit 1, no usage text: \(nothing.status) \(nothing.error)")

        // Garbage on the control socket: a clear error back, and the daemon keeps serving.
        let script = "import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect('\(socket)'); "
            + "s.sendall(b'garbage' + bytes([10])); print(s.recv(4096).decode())"
        let garbage = try Self.run("/usr/bin/env", ["python3", "-c", script])
        #expect(garbage.output.contains("\"ok\":false") && garbage.output.contains("invalid JSON"), "\(garbage.output)")
        #expect(try Self.run("hoist", ["show", "resources", "--socket", socket]).status == 0)

        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0, "hoistd did not stop cleanly on SIGTERM")
        let down = try Self.run("hoist", ["show", "ports", "--socket", socket])
        #expect(down.status != 0 && down.error.contains("hoistd is not running"), "\(down.error)")
    }

    /// Waits until `path` exists (a daemon's socket).
    static func waitFor(_ path: String) -> Bool {
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { usleep(25_000) }
        return FileManager.default.fileExists(atPath: path)
    }

    @Test("as operators reach hoistd: -n NETNS (a hoistd started with -n listens on /run/hoist/NETNS.sock; one started inside the namespace otherwise is found there), HOIST_SOCKET, --version everywhere, exit 1 for runtime errors and 64 for bad arguments; show ports has the kernel's admin/oper state, MTU and master; counters only existing ports")
    func operatorSurface() throws {
        guard HoistLabTests.built() else { return }
        for tool in ["hoist", "hoistd", "hoist-asic", "hoist-bench", "hoist-difftest", "hoist-conformance"] {
            let v = try Self.run(tool, ["--version"])
            #expect(v.status == 0 && v.output.hasPrefix("\(tool) ") && v.output.split(separator: ".").count == 3, "\(tool) --version: \(v.output) \(v.error)")
        }

        let wires = try TestNamespace("ow")
        let sw = try TestNamespace("os")
        let other = try TestNamespace("oo")
        let otherWires = try TestNamespace("ox")
        for n in 1...2 {
            try wires.ip("link add fp\(n) type veth peer name peer\(n)")
            try wires.ip("link set fp\(n) up")
        }
        try wires.ip("link set peer1 up")      // swp1 gets carrier; swp2 stays without
        try otherWires.ip("link add fp1 type veth peer name peer1")
        try otherWires.ip("link set fp1 up")

        // hoistd -n NS without --socket: /run/hoist/NS.sock.
        let conventional = "/run/hoist/\(sw.name).sock"
        let daemon = Process()
        daemon.executableURL = Self.binaries.appendingPathComponent("hoistd")
        daemon.arguments = ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2"]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        #expect(Self.waitFor(conventional), "hoistd -n \(sw.name) listens on \(conventional)")

        // A hoistd started inside a namespace without -n, on a socket of its own.
        let hidden = "/tmp/hoist-test-ops-\(getpid()).sock"
        let inside = Process()
        inside.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        inside.arguments = ["netns", "exec", other.name, Self.binaries.appendingPathComponent("hoistd").path,
                            "--wire-netns", otherWires.name, "--port", "1=fp1", "--socket", hidden]
        inside.standardError = FileHandle.nullDevice
        try inside.run()
        defer { if inside.isRunning { inside.terminate(); inside.waitUntilExit() } }
        #expect(Self.waitFor(hidden))

        try sw.ip("link add br0 type bridge")
        try sw.ip("link set swp1 master br0")
        try sw.ip("link set swp1 up")
        try sw.ip("link set br0 up")
        try sw.ip("link set swp2 mtu 9000")
        var ports: [String: [String: Any]] = [:]
        // Settled: swp1 in br0 with carrier (the chip mirrors wire carrier to the TAP every
        // 100 ms; under load that takes a while), swp2's new MTU.
        for _ in 0..<250 {
            let r = try Self.run("hoist", ["show", "ports", "--json", "-n", sw.name])
            #expect(r.status == 0, "\(r.error)")
            let rows = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
            ports = Dictionary(rows.compactMap { row in (row["ifname"] as? String).map { ($0, row) } }, uniquingKeysWith: { a, _ in a })
            if ports["swp1"]?["master"] as? String == "br0", ports["swp1"]?["operstate"] as? String == "UP",
               ports["swp2"]?["mtu"] as? Int == 9000 { break }
            usleep(20_000)
        }
        #expect(ports["swp1"]?["flags"] as? [String] == ["UP", "LOWER_UP"] && ports["swp1"]?["operstate"] as? String == "UP"
                && ports["swp1"]?["master"] as? String == "br0", "\(ports["swp1"] ?? [:])")
        #expect(ports["swp2"]?["flags"] as? [String] == [] && ports["swp2"]?["operstate"] as? String == "DOWN"
                && ports["swp2"]?["mtu"] as? Int == 9000 && ports["swp2"]?["master"] == nil, "\(ports["swp2"] ?? [:])")
        // For people: a table with a header; the object's name left out where a column says it.
        let text = try Self.run("hoist", ["show", "ports", "-n", sw.name]).output.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(text.first?.prefix(6) == ["IFNAME", "FLAGS", "MTU", "OPERSTATE", "MASTER", "STATE"] && text.first?.last == "OFFLOAD", "\(text)")
        #expect(text.count == 3 && text[1].prefix(6) == ["swp1", "UP,LOWER_UP", "1500", "UP", "br0", "forwarding"]
                && text[2].prefix(6) == ["swp2", "-", "9000", "DOWN", "-", "forwarding"] && text[2].last == "offloaded", "\(text)")

        // Names, not indexes, in iproute2's fields; singular and plural both accepted.
        try sw.ip("addr add 10.1.0.1/24 dev br0")
        try sw.ip("route add 10.9.0.0/16 via 10.1.0.2")
        func rows(_ args: [String]) throws -> [[String: Any]] {
            let r = try Self.run("hoist", args + ["--json", "-n", sw.name])
            return (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
        }
        var route: [String: Any] = [:]
        for _ in 0..<100 {
            route = try rows(["show", "route", "10.9.0.0/16"]).first ?? [:]     // `route`, singular
            if !route.isEmpty { break }
            usleep(20_000)
        }
        #expect(route["dst"] as? String == "10.9.0.0/16" && route["gateway"] as? String == "10.1.0.2" && route["dev"] as? String == "br0"
                && route["action"] == nil, "\(route)")
        let rif = try rows(["show", "rifs"]).first { $0["ifname"] as? String == "br0" } ?? [:]
        #expect(rif["object"] as? String == "router interface br0" && rif["bridge"] as? String == "br0" && rif["table"] as? String == "main", "\(rif)")
        let bridge = try rows(["show", "bridge"]).first ?? [:]
        #expect(bridge["object"] as? String == "bridge br0" && bridge["ifname"] as? String == "br0" && bridge["vlan_filtering"] as? Int == 0, "\(bridge)")
        let own = try rows(["show", "fdb"]).filter { $0["ifname"] as? String == "br0" }
        #expect(!own.isEmpty && own.allSatisfy { $0["master"] as? String == "br0" }, "the bridge's own addresses: \(own)")
        #expect(try rows(["why", "router", "interface", "br0"]).count == 1)
        #expect(try rows(["why", "routes", "10.9.0.0/16"]).first?["dst"] as? String == "10.9.0.0/16", "`why routes`, plural")

        // Objects per kind and state, and the live view built on it.
        let summary = try rows(["show", "summary"]).first { $0["kind"] as? String == "ports" } ?? [:]
        #expect(summary["offloaded"] as? Int == 2 && summary["total"] as? Int == 2, "\(summary)")
        let top = try Self.run("hoist", ["top", "--once", "--interval", "0.3", "-n", sw.name])
        let topLines = top.output.split(separator: "\n").map(String.init)
        #expect(top.status == 0 && topLines.first == "hoist top: netns \(sw.name), every 0.3 s", "\(top.output) \(top.error)")
        let headers = topLines.map { $0.split(separator: " ").map(String.init) }
        for header in [["PORT", "RX_PPS", "TX_PPS", "RX_BPS", "TX_BPS", "DROP_PS"], ["TABLE", "USE", "USED", "CAPACITY", "PERCENT"],
                       ["KIND", "OFFLOADED", "TRAPPED", "PENDING", "FAILED", "TOTAL"]] {
            #expect(headers.contains { Array($0.prefix(header.count)) == header }, "no \(header): \(top.output)")
        }
        #expect(topLines.contains { $0.hasPrefix("swp1 ") } && topLines.contains { $0.hasPrefix("lpm_ipv4 ") && $0.contains("[") }
                && topLines.contains { $0.hasPrefix("ports ") }, "\(top.output)")
        let topJSON = try Self.run("hoist", ["top", "--once", "--json", "--interval", "0.3", "-n", sw.name])
        let frame = (try? JSONSerialization.jsonObject(with: Data(topJSON.output.utf8)) as? [String: Any]) ?? [:]
        #expect((frame["ports"] as? [[String: Any]])?.compactMap { $0["port"] as? String } == ["swp1", "swp2"]
                && (frame["tables"] as? [Any])?.isEmpty == false && (frame["objects"] as? [Any])?.isEmpty == false, "\(topJSON.output)")

        // The embedded chip has more ports than the two wired: counters name only swp1, swp2.
        let counters = try Self.run("hoist", ["show", "counters", "--json", "-n", sw.name])
        let named = ((try? JSONSerialization.jsonObject(with: Data(counters.output.utf8)) as? [[String: Any]]) ?? []).compactMap { $0["ifname"] as? String }
        #expect(named == ["swp1", "swp2"], "\(counters.output)")

        // Found by its namespace, although it listens elsewhere.
        let found = try Self.run("hoist", ["show", "ports", "-n", other.name])
        #expect(found.status == 0 && found.output.contains("\nswp1 "), "\(found.output) \(found.error)")
        // HOIST_SOCKET, and --socket over it.
        let env = Process()
        env.executableURL = Self.binaries.appendingPathComponent("hoist")
        env.arguments = ["show", "ports"]
        env.environment = ["HOIST_SOCKET": hidden]
        let envOut = Pipe()
        env.standardOutput = envOut
        try env.run()
        let envText = String(decoding: envOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        env.waitUntilExit()
        #expect(env.terminationStatus == 0 && envText.contains("\nswp1 ") && !envText.contains("swp2"), "\(envText)")

        // Runtime errors: exit 1 without usage; bad arguments: 64 with it.
        let absent = try Self.run("hoist", ["show", "ports", "-n", "hoist-no-such-netns"])
        #expect(absent.status == 1 && absent.error.contains("network namespace 'hoist-no-such-netns' does not exist") && !absent.error.contains("Usage:"),
                "\(absent.status) \(absent.error)")
        let noDaemon = try Self.run("hoist", ["show", "ports", "-n", wires.name])
        #expect(noDaemon.status == 1 && noDaemon.error.contains("no hoistd serves network namespace '\(wires.name)'"), "\(noDaemon.error)")
        let badSubnet = try Self.run("hoist", ["lab", "up", "opsx", "--hosts", "2", "--subnet", "999.1.1"])
        #expect(badSubnet.status == 64 && badSubnet.error.contains("--subnet") && badSubnet.error.contains("Usage:"), "\(badSubnet.status) \(badSubnet.error)")
        let badHosts = try Self.run("hoist", ["lab", "up", "opsx", "--hosts", "0"])
        #expect(badHosts.status == 64, "\(badHosts.error)")
        // An ordinary user may list labs but not build them.
        // (A copy in /tmp: the checkout may sit where that user cannot reach.)
        let copy = "/tmp/hoist-test-user-\(getpid())"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: Self.binaries.appendingPathComponent("hoist").path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        chmod(copy, 0o755)
        let asUser = try Self.run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", copy, "lab", "up", "opsx", "--hosts", "1"])
        let listed = try Self.run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", copy, "lab", "list"])
        #expect(listed.status == 0, "\(listed.error)")
        #expect(asUser.status == 1 && asUser.error.contains("must be run as root"), "\(asUser.status) \(asUser.error)")

        daemon.terminate()
        daemon.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: conventional), "hoistd removes its socket when it stops")
    }
}
