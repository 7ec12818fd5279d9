import Foundation
import Testing

/// FDB forms the chip has no entry for — a port's `self` entry, a MAC behind a bridge port
/// the chip does not have — each have an object with a state and a reason in `hoist show
/// fdb` / `hoist why fdb MAC`, and the hosts see what the kernel's own bridge does: the
/// same frames sent through a plain kernel bridge (the reference) and through the chip
/// reach the same hosts.
@Suite("FDB forms the chip does not hold: state, reason, and the kernel's behaviour", needsRoot, .serialized)
struct FDBFormsTests {
    /// Counts frames of ethertype 0x88b5 to `mac` arriving on eth0 for `seconds`.
    static func sniffer(_ mac: String, seconds: Double = 2.5) -> String {
        """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        n = 0
        end = time.time() + \(seconds)
        while time.time() < end:
            try:
                f = s.recv(2048)
                if f[:6] == bytes.fromhex("\(mac.replacingOccurrences(of: ":", with: ""))") and f[12:14] == b"\\x88\\xb5":
                    n += 1
            except socket.timeout:
                pass
        print(n)
        """
    }

    /// Sends `count` frames of ethertype 0x88b5 from eth0 to `mac`.
    static func sender(_ mac: String, count: Int = 5) -> String {
        """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind(("eth0", 0))
        src = s.getsockname()[4]
        for i in range(\(count)):
            s.send(bytes.fromhex("\(mac.replacingOccurrences(of: ":", with: ""))") + src + b"\\x88\\xb5" + b"hoist-fdb-form".ljust(46, b"."))
            time.sleep(0.05)
        """
    }

    static func python(_ script: String, in ns: TestNamespace) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", ns.name, "python3", "-c", script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        return (p, out)
    }

    /// Sends from `from` to `mac` while `receivers` sniff; how many each one received.
    static func deliver(to mac: String, from: TestNamespace, receivers: [TestNamespace]) throws -> [Int] {
        let sniffers = try receivers.map { try python(sniffer(mac), in: $0) }
        defer { for (p, _) in sniffers where p.isRunning { p.terminate() } }
        usleep(400_000)
        let (send, _) = try python(sender(mac), in: from)
        send.waitUntilExit()
        return sniffers.map { p, out in
            p.waitUntilExit()
            return Int(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
    }

    /// Hosts with fixed MACs (02:00:00:00:10:0n) on eth0.
    static func host(_ ns: TestNamespace, _ n: Int) throws {
        try ns.ipScript("link set eth0 address 02:00:00:00:10:0\(n)\nlink set eth0 up\nlink set lo up")
    }

    /// The reference: a kernel bridge br0 over rp1…rp3 (hosts r1…r3), `extra` run in it.
    static func reference(_ tag: String, extra: String) throws -> (bridge: TestNamespace, hosts: [TestNamespace]) {
        let br = try TestNamespace("\(tag)rb")
        let hosts = try (1...3).map { try TestNamespace("\(tag)r\($0)") }
        try br.ip("link add br0 type bridge")
        for (i, h) in hosts.enumerated() {
            try br.ipScript("link add rp\(i + 1) type veth peer name eth0 netns \(h.name)\nlink set rp\(i + 1) master br0\nlink set rp\(i + 1) up")
            try host(h, i + 1)
        }
        try br.ip("link set br0 up")
        for line in extra.split(separator: "\n") { _ = try br.bridge(String(line)) }
        return (br, hosts)
    }

    /// The switch: hoist-asic with chip ports 1…`chipHosts` (hosts h1…), hoistd, br0 over
    /// the swpN; `configure` runs in the switch namespace once br0 exists.
    final class Switch {
        let wires: TestNamespace, sw: TestNamespace
        var hosts: [TestNamespace] = []
        let chip: Process, daemon: Process
        let chipSocket: String, control: String

        init(_ tag: String, chipHosts: Int, configure: (Switch) throws -> Void) throws {
            for tool in ["hoistd", "hoist-asic", "hoist"] {
                try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                             "\(tool) is not built; run `swift build` first")
            }
            wires = try TestNamespace("\(tag)w")
            sw = try TestNamespace("\(tag)s")
            var ports: [String] = []
            for n in 1...chipHosts {
                let h = try TestNamespace("\(tag)h\(n)")
                try wires.ip("link add fp\(n) type veth peer name eth0 netns \(h.name)")
                try wires.ip("link set fp\(n) up")
                try FDBFormsTests.host(h, n)
                hosts.append(h)
                ports += ["--port", "\(n)=fp\(n)"]
            }
            chipSocket = "/tmp/hoist-asic-\(getpid())\(tag).sock"
            control = "/tmp/hoist-\(getpid())\(tag).sock"
            chip = try ChipRestartTests.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--socket", chipSocket] + ports,
                                               log: "/dev/null")
            ChipRestartTests.waitFor(chipSocket)
            daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: "/dev/null")
            ChipRestartTests.waitFor(control)
            try sw.ip("link add br0 type bridge")
            for n in 1...chipHosts { try sw.ipScript("link set swp\(n) master br0\nlink set swp\(n) up") }
            try sw.ip("link set br0 up")
            try configure(self)
            // Compared once the chip holds the ports as the kernel has them (forwarding, in
            // br0): a frame sent while a port is still pending is the offload's lag, not
            // its behaviour.
            for _ in 0..<200 {
                let r = try HoistdCLITests.run("hoist", ["show", "ports", "--json", "--socket", control])
                let rows = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
                if rows.count == chipHosts, rows.allSatisfy({ $0["offload"] as? String == "offloaded" && $0["state"] as? String == "forwarding"
                                                               && $0["master"] as? String == "br0" }) { break }
                usleep(25_000)
            }
        }

        deinit {
            ChipRestartTests.stop(daemon)
            ChipRestartTests.stop(chip)
            try? FileManager.default.removeItem(atPath: chipSocket)
        }

        /// `hoist why fdb MAC --json`, once it names an object whose reason contains `reason`.
        func why(_ mac: String, reason: String) throws -> [[String: Any]] {
            var rows: [[String: Any]] = []
            for _ in 0..<100 {
                let r = try HoistdCLITests.run("hoist", ["why", "fdb", mac, "--json", "--socket", control])
                rows = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
                if rows.contains(where: { ($0["reason"] as? String)?.contains(reason) == true }) { break }
                usleep(30_000)
            }
            return rows
        }
    }

    @Test("`bridge fdb add MAC dev swp2 self`: trapped with the reason in `hoist why`, and frames to MAC flood as in the kernel's bridge")
    func selfEntry() throws {
        let mac = "02:00:00:00:99:99"
        let ref = try Self.reference("fs", extra: "fdb add \(mac) dev rp2 self")
        let expected = try Self.deliver(to: mac, from: ref.hosts[0], receivers: Array(ref.hosts[1...]))
        let sw = try Switch("fs", chipHosts: 3) { try $0.sw.bridge("fdb add \(mac) dev swp2 self") }
        let rows = try sw.why(mac, reason: "self entry on swp2")
        let row = rows.first { ($0["reason"] as? String)?.contains("self entry on swp2") == true }
        #expect(row?["offload"] as? String == "trapped" && row?["ifname"] as? String == "swp2", "hoist why fdb \(mac): \(rows)")
        let shown = try HoistdCLITests.run("hoist", ["show", "fdb", "--socket", sw.control]).output
        #expect(shown.contains(mac) && shown.contains("trapped: self entry on swp2"), "\(shown)")
        // The host (learning h1's MAC on the way) gets what the kernel's bridge gives it.
        let got = try Self.deliver(to: mac, from: sw.hosts[0], receivers: Array(sw.hosts[1...]))
        #expect(expected == [5, 5], "the kernel's bridge floods frames to a port's self address: \(expected)")
        #expect(got == expected, "through the chip h2, h3 received \(got); through the kernel's bridge \(expected)")
    }

    @Test("a MAC behind a bridge port the chip does not have: the bridge stays on the CPU, and only that host receives, as in the kernel's bridge")
    func nonChipPort() throws {
        let mac = "02:00:00:00:10:03"
        let ref = try Self.reference("fn", extra: "fdb replace \(mac) dev rp3 master static")
        let expected = try Self.deliver(to: mac, from: ref.hosts[0], receivers: Array(ref.hosts[1...]))
        let h3 = try TestNamespace("fnh3")
        let sw = try Switch("fn", chipHosts: 2) { s in
            try s.sw.ipScript("link add vx0 type veth peer name eth0 netns \(h3.name)\nlink set vx0 master br0\nlink set vx0 up")
            try Self.host(h3, 3)
            _ = try s.sw.bridge("fdb replace \(mac) dev vx0 master static")
        }
        // A member the chip cannot reach keeps the whole bridge on the CPU.
        var rows: [[String: Any]] = []
        for _ in 0..<100 {
            let r = try HoistdCLITests.run("hoist", ["why", "bridge", "--json", "--socket", sw.control])
            rows = (try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
            if rows.contains(where: { ($0["reason"] as? String)?.contains("member vx0") == true }) { break }
            usleep(30_000)
        }
        let row = rows.first { ($0["reason"] as? String)?.contains("member vx0") == true }
        #expect(row?["offload"] as? String == "trapped", "hoist why bridge: \(rows)")
        let got = try Self.deliver(to: mac, from: sw.hosts[0], receivers: [sw.hosts[1], h3])
        #expect(expected == [0, 5], "the kernel's bridge sends frames for a static entry to that port only: \(expected)")
        #expect(got == expected, "through the chip h2, h3 received \(got); through the kernel's bridge \(expected)")
    }
}
