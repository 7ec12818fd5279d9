import Foundation
import Testing

/// A switch survives its ASIC restarting: `kill -9 hoist-asic` while traffic flows; hoistd
/// stays up with every object `pending: chip not connected` and keeps mirroring the kernel;
/// `swpN` keep their master and addresses (persistent TAPs); a new `hoist-asic` attaches to
/// the same `swpN`, hoistd reconnects, reprograms the empty chip, and traffic resumes with
/// no operator action. Nothing is left behind once the switch's namespace goes.
@Suite("hoist-asic restarting under a running hoistd", needsRoot, .serialized)
struct ChipProcessRestartTests {
    /// The names of the links in the caller's namespace that look like host interfaces.
    static func rootHostInterfaces() -> Set<String> {
        let out = (try? TestNamespace.run("ip", ["-o", "link", "show"])) ?? ""
        return Set(out.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count >= 2 else { return nil }
            let name = parts[1].trimmingCharacters(in: .whitespaces)
            return name.hasPrefix("swp") ? name : nil
        })
    }

    static func pingOnce(_ host: TestNamespace, _ address: String) -> Bool {
        (try? host.exec(["ping", "-c", "1", "-W", "0.3", address])) != nil
    }

    @Test("kill -9 hoist-asic under traffic: hoistd stays up (pending: chip not connected), swpN keep their configuration, a restarted chip is reprogrammed and traffic resumes")
    func chipRestart() throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        let hostInterfacesBefore = Self.rootHostInterfaces()
        let wires = try TestNamespace("kw")
        var sw: TestNamespace? = try TestNamespace("ks")
        let switchNamespace = sw!.name
        let h1 = try TestNamespace("k1"), h2 = try TestNamespace("k2"), h3 = try TestNamespace("k3")
        for (i, (h, address)) in [(h1, "10.0.0.1/24"), (h2, "10.0.0.2/24"), (h3, "10.9.0.2/24")].enumerated() {
            try wires.ip("link add fp\(i + 1) type veth peer name eth0 netns \(h.name)")
            try wires.ip("link set fp\(i + 1) up")
            try h.ipScript("addr add \(address) dev eth0\nlink set eth0 up\nlink set lo up")
        }
        try h1.ip("route add default via 10.0.0.254")
        try h2.ip("route add default via 10.0.0.254")
        try h3.ip("route add default via 10.9.0.1")
        let tag = "\(getpid())k"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-ks-\(tag).sock"
        let chipLog = "/tmp/hoist-asic-\(tag).log", daemonLog = "/tmp/hoistd-\(tag).log"
        defer { for f in [chipSocket, chipLog, daemonLog] { try? FileManager.default.removeItem(atPath: f) } }
        let chipArguments = ["-n", switchNamespace, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2", "--port", "3=fp3",
                             "--socket", chipSocket]
        var chip = try ChipRestartTests.launch("hoist-asic", chipArguments, log: chipLog)
        defer { ChipRestartTests.stop(chip) }
        ChipRestartTests.waitFor(chipSocket)
        let daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", switchNamespace, "--socket", control], log: daemonLog)
        defer { ChipRestartTests.stop(daemon) }
        ChipRestartTests.waitFor(control)
        try sw!.ipScript("""
            link add br0 type bridge
            link set swp1 master br0
            link set swp2 master br0
            link set swp1 up
            link set swp2 up
            link set br0 up
            addr add 10.0.0.254/24 dev br0
            addr add 10.9.0.1/24 dev swp3
            link set swp3 up
            """)
        try sw!.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        #expect(ChipPortLossTests.eventually(5) { Self.pingOnce(h1, "10.0.0.2") && Self.pingOnce(h1, "10.9.0.2") },
                "no forwarding before the chip restart")
        func ports() -> String { (try? HoistdCLITests.run("hoist", ["show", "ports", "--socket", control]).output) ?? "" }
        #expect(ChipPortLossTests.eventually(5) { ports().components(separatedBy: "offloaded").count - 1 == 3 }, "\(ports())")

        // A ping stream across the crash.
        let stream = Process()
        stream.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        stream.arguments = ["ip", "netns", "exec", h1.name, "ping", "-c", "200", "-i", "0.05", "-W", "1", "10.0.0.2"]
        let streamOut = Pipe()
        stream.standardOutput = streamOut
        try stream.run()
        usleep(1_000_000)

        let killed = Date()
        kill(chip.processIdentifier, SIGKILL)
        chip.waitUntilExit()
        // hoistd stays up; every object pending with the reason; the kernel keeps swpN.
        let allPending = ChipPortLossTests.eventually(3) {
            let text = ports()
            return text.components(separatedBy: "pending: chip not connected").count - 1 == 3
        }
        #expect(allPending, "\(ports())")
        #expect(daemon.isRunning, "hoistd exited without its chip")
        for port in ["swp1", "swp2"] {
            let link = try sw!.ipJSON("link show \(port)").first
            #expect(link?["master"] as? String == "br0", "\(port) lost its master: \(String(describing: link))")
        }
        #expect(try sw!.ip("addr show br0").contains("10.0.0.254/24"))
        #expect(try sw!.ip("addr show swp3").contains("10.9.0.1/24"), "swp3 lost its address")
        // The kernel changes meanwhile: mirrored, programmed when the chip returns.
        try sw!.ip("route add 172.16.0.0/24 via 10.9.0.2")

        // The chip returns: hoistd reconnects and reprograms it; traffic resumes unaided.
        let restarted = Date()
        chip = try ChipRestartTests.launch("hoist-asic", chipArguments, log: chipLog)
        let resumed = ChipPortLossTests.eventually(15) { Self.pingOnce(h1, "10.0.0.2") }
        let timeToResume = Date().timeIntervalSince(restarted)
        print("time to resume after hoist-asic restarted: \(Int(timeToResume * 1000)) ms (chip down for \(Int(restarted.timeIntervalSince(killed) * 1000)) ms before)")
        #expect(resumed, "bridged traffic did not resume")
        #expect(ChipPortLossTests.eventually(5) { Self.pingOnce(h1, "10.9.0.2") }, "routed traffic did not resume")
        stream.waitUntilExit()
        let result = ChipRestartTests.pingResult(String(decoding: streamOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        print("ping stream across the chip restart: \(String(describing: result))")
        #expect(result != nil && result!.received > 0 && result!.received < result!.sent, "\(String(describing: result))")
        #expect(ChipPortLossTests.eventually(5) { ports().components(separatedBy: "offloaded").count - 1 == 3 }, "\(ports())")
        let routes = try HoistdCLITests.run("hoist", ["why", "route", "172.16.0.0/24", "--socket", control]).output
        #expect(routes.contains("offloaded"), "the route added while the chip was gone: \(routes)")
        let log = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
        #expect(log.contains("lost the chip") && log.contains("the chip is back"), "\(log)")

        // Nothing is left behind: the TAPs outlive hoist-asic but go with their namespace.
        ChipRestartTests.stop(daemon)
        ChipRestartTests.stop(chip)
        #expect(try sw!.ip("link show swp1").contains("swp1"), "swp1 did not outlive hoist-asic")
        sw = nil
        let namespaces = try TestNamespace.run("ip", ["netns", "list"])
        #expect(!namespaces.contains(switchNamespace))
        #expect(Self.rootHostInterfaces() == hostInterfacesBefore, "host interfaces left behind: \(Self.rootHostInterfaces())")
    }
}
