import Foundation
import Testing

/// Front-panel ports that cannot be opened or that disappear under a running `hoist-asic`:
/// a clear error at start, carrier down and a port state with a reason while a wire is
/// missing (and an idle chip, not a busy loop), recovery when it returns, and a deleted
/// host interface `swpN` that the chip creates again.
@Suite("hoist-asic: front-panel ports that fail or disappear", needsRoot, .serialized)
struct ChipPortLossTests {
    @Test("a port whose wire does not exist: hoist-asic exits with an error naming the wire and the cause, no crash")
    func missingWireAtStart() throws {
        let asic = HoistdCLITests.binaries.appendingPathComponent("hoist-asic").path
        try #require(FileManager.default.isExecutableFile(atPath: asic), "hoist-asic is not built; run `swift build` first")
        let sw = try TestNamespace("pm")
        let socket = "/tmp/hoist-pm-\(getpid()).sock"
        defer { try? FileManager.default.removeItem(atPath: socket) }
        // Through a shell, so a crash shows as the shell's 128 + signal (134 for SIGABRT).
        let r = try HoistdCLITests.run("/bin/sh", ["-c", "ip netns exec \(sw.name) \(asic) --port 1=nosuch --socket \(socket) --seconds 2"])
        #expect(r.status != 0 && r.status < 128, "exit status \(r.status): \(r.error)")
        #expect(r.error.contains("front-panel wire nosuch") && r.error.contains("No such device"), "\(r.error)")
        #expect(!r.error.contains("double free"), "\(r.error)")
    }

    /// CPU seconds a process has used (utime + stime of /proc/PID/stat).
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` have passed.
    static func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    static func pings(_ host: TestNamespace, _ address: String, count: Int = 3) -> Bool {
        (try? host.exec(["ping", "-c", "\(count)", "-i", "0.2", "-W", "1", address])) != nil
    }

    @Test("swp2 set down takes the carrier of h2; a wire set down, then deleted under a running chip: swp1 NO-CARRIER, port failed with the reason, the chip idles; the wire returns and forwarding resumes; a deleted swp2 is made again")
    func portsDisappear() throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        let wires = try TestNamespace("lw"), sw = try TestNamespace("ls")
        let h1 = try TestNamespace("l1"), h2 = try TestNamespace("l2")
        func plug(_ i: Int, _ h: TestNamespace) throws {
            try wires.ip("link add fp\(i) type veth peer name eth0 netns \(h.name)")
            try wires.ip("link set fp\(i) up")
            try h.ipScript("addr add 10.0.0.\(i)/24 dev eth0\nlink set eth0 up\nlink set lo up")
        }
        try plug(1, h1)
        try plug(2, h2)
        let tag = "\(getpid())l"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-ls-\(tag).sock", chipLog = "/tmp/hoist-asic-\(tag).log"
        defer { for f in [chipSocket, chipLog] { try? FileManager.default.removeItem(atPath: f) } }
        let chip = try ChipRestartTests.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2",
                                                              "--socket", chipSocket], log: chipLog)
        defer { ChipRestartTests.stop(chip) }
        ChipRestartTests.waitFor(chipSocket)
        let daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: "/dev/null")
        defer { ChipRestartTests.stop(daemon) }
        ChipRestartTests.waitFor(control)
        let bridge = """
            link set swp1 master br0
            link set swp2 master br0
            link set swp1 up
            link set swp2 up
            """
        try sw.ipScript("link add br0 type bridge\n" + bridge + "\nlink set br0 up")
        #expect(Self.pings(h1, "10.0.0.2"), "no forwarding before the faults")

        // swp2 set down powers its PHY down: h2 loses carrier, as behind the kernel's own
        // veth (its neighbour table is flushed as there); set up again, carrier and
        // forwarding return.
        try sw.ip("link set swp2 down")
        let hostLost = try Self.eventually(3) { try h2.ip("link show eth0").contains("NO-CARRIER") }
        #expect(hostLost, "h2 kept its carrier with swp2 down: \((try? h2.ip("link show eth0")) ?? "")")
        try sw.ip("link set swp2 up")
        let hostBack = try Self.eventually(3) { !(try h2.ip("link show eth0")).contains("NO-CARRIER") }
        #expect(hostBack, "h2 did not get its carrier back with swp2 up")
        #expect(Self.eventually(5) { Self.pings(h1, "10.0.0.2", count: 1) }, "no forwarding after swp2 was set up again")
        func why(_ port: String) -> String {
            (try? HoistdCLITests.run("hoist", ["why", "port", port, "--socket", control]).output) ?? ""
        }

        // The wire is set down (admin down, not a missing carrier): its socket reports
        // ENETDOWN once; the chip clears it and idles, and the port works when it is up.
        try wires.ip("link set fp1 down")
        let downCPU = Self.cpuSeconds(chip.processIdentifier)
        usleep(1_500_000)
        let downLoad = (Self.cpuSeconds(chip.processIdentifier) - downCPU) / 1.5
        print("hoist-asic CPU with a wire set down: \(Int(downLoad * 100)) %")
        #expect(downLoad < 0.2, "hoist-asic used \(Int(downLoad * 100)) % CPU with a wire set down")
        #expect(try sw.ip("link show swp1").contains("NO-CARRIER"))
        try wires.ip("link set fp1 up")
        #expect(Self.eventually(5) { Self.pings(h1, "10.0.0.2", count: 1) }, "no forwarding after the wire was set up again")

        // The wire goes (both veth ends): carrier down on swp1, the port failed with why.
        try wires.ip("link del fp1")
        let carrierLost = try Self.eventually(3) { try sw.ip("link show swp1").contains("NO-CARRIER") }
        #expect(carrierLost, "swp1 kept its carrier: \((try? sw.ip("link show swp1")) ?? "")")
        #expect(Self.eventually(3) { why("swp1").contains("front-panel wire fp1 missing") }, "\(why("swp1"))")
        #expect(why("swp1").contains("failed"), "\(why("swp1"))")
        // The chip idles: no busy loop on the dead socket.
        let cpuBefore = Self.cpuSeconds(chip.processIdentifier)
        usleep(2_000_000)
        let cpu = (Self.cpuSeconds(chip.processIdentifier) - cpuBefore) / 2
        print("hoist-asic CPU with a wire missing: \(Int(cpu * 100)) %")
        #expect(cpu < 0.2, "hoist-asic used \(Int(cpu * 100)) % CPU with a wire missing")
        #expect(chip.isRunning)

        // The wire returns under the same name: the port works again and forwards.
        try plug(1, h1)
        let carrierBack = try Self.eventually(3) { !(try sw.ip("link show swp1")).contains("NO-CARRIER") }
        #expect(carrierBack, "swp1 did not get its carrier back")
        #expect(Self.eventually(3) { why("swp1").contains("offloaded") }, "\(why("swp1"))")
        let resumed = Self.eventually(5) { Self.pings(h1, "10.0.0.2", count: 1) }
        #expect(resumed, "no forwarding after the wire returned")
        if !resumed {
            print((try? HoistdCLITests.run("hoist", ["show", "counters", "--socket", control]).output) ?? "")
            print((try? HoistdCLITests.run("hoist", ["show", "ports", "--socket", control]).output) ?? "")
            print((try? sw.ip("link show")) ?? "", (try? sw.bridge("fdb show")) ?? "", (try? h1.ip("addr show")) ?? "")
            print((try? String(contentsOfFile: chipLog, encoding: .utf8)) ?? "")
            print((try? wires.exec(["cat", "/proc/net/packet"])) ?? "", (try? wires.ip("-s link show")) ?? "")
        }

        // The host interface swp2 is deleted: the chip makes it again; the kernel's
        // configuration of it is gone, and configured again it forwards.
        let oldIndex = (try sw.ipJSON("link show swp2")).first?["ifindex"] as? Int
        try sw.ip("link del swp2")
        let remade = Self.eventually(3) {
            guard let index = (try? sw.ipJSON("link show swp2"))?.first?["ifindex"] as? Int else { return false }
            return index != oldIndex
        }
        #expect(remade, "swp2 was not made again")
        try sw.ipScript("link set swp2 master br0\nlink set swp2 up")
        #expect(Self.eventually(3) { why("swp2").contains("offloaded") }, "\(why("swp2"))")
        #expect(Self.eventually(5) { Self.pings(h1, "10.0.0.2", count: 1) }, "no forwarding after swp2 was made again")
        let log = (try? String(contentsOfFile: chipLog, encoding: .utf8)) ?? ""
        #expect(log.contains("front-panel wire fp1 missing") && log.contains("swp2 made again"), "\(log)")
    }
}
