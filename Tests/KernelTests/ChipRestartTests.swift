import ChipLink
import Foundation
import Testing

/// The chip as its own process: `hoist-asic` forwards while `hoistd --asic` is killed and
/// restarted; the restarted hoistd reads the chip back and changes nothing (zero drift),
/// then drives it again. When the chip process dies, hoistd says so and waits for it.
@Suite("hoist-asic and a restarting hoistd", needsRoot, .serialized)
struct ChipRestartTests {
    struct Switch {
        let wires: TestNamespace
        let sw: TestNamespace
        let hosts: [TestNamespace]
        let chipSocket: String
        let controlSocket: String
    }

    static func waitFor(_ path: String) {
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: path) { usleep(25_000) }
    }

    static func launch(_ tool: String, _ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = HoistdCLITests.binaries.appendingPathComponent(tool)
        p.arguments = args
        // Opened, not created: FileManager.createFile writes a new file and renames it over
        // the path, which would replace /dev/null (a caller's log) with a regular file.
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        p.standardError = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try p.run()
        return p
    }

    static func stop(_ p: Process) {
        if p.isRunning { p.terminate(); p.waitUntilExit() }
    }

    /// The chip process's statistics, asked over a connection of our own.
    static func chipStatistics(_ path: String) throws -> ChipStatistics {
        try RemoteChipDriver(path: path, controller: false).statistics()
    }

    static func pingResult(_ output: String) -> (sent: Int, received: Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("packets transmitted") }) else { return nil }
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        return numbers.count >= 2 ? (numbers[0], numbers[1]) : nil
    }

    @Test("kill -9 hoistd while traffic flows: the chip keeps forwarding; the restarted hoistd reconciles with zero drift")
    func restart() throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        let wires = try TestNamespace("rw"), sw = try TestNamespace("rs")
        let h1 = try TestNamespace("r1"), h2 = try TestNamespace("r2")
        for (i, h) in [h1, h2].enumerated() {
            try wires.ip("link add fp\(i + 1) type veth peer name eth0 netns \(h.name)")
            try wires.ip("link set fp\(i + 1) up")
            try h.ipScript("addr add 10.0.0.\(i + 1)/24 dev eth0\nlink set eth0 up\nlink set lo up")
        }
        let tag = "\(getpid())"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-rs-\(tag).sock"
        let chipLog = "/tmp/hoist-asic-\(tag).log", daemonLog = "/tmp/hoistd-\(tag).log"
        defer { for f in [chipLog, daemonLog] { try? FileManager.default.removeItem(atPath: f) } }

        let chip = try Self.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--port", "2=fp2",
                                                  "--socket", chipSocket], log: chipLog)
        defer { Self.stop(chip) }
        Self.waitFor(chipSocket)
        var daemon = try Self.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: daemonLog)
        defer { Self.stop(daemon) }
        Self.waitFor(control)
        try sw.ipScript("""
            link add br0 type bridge
            link set swp1 master br0
            link set swp2 master br0
            link set swp1 up
            link set swp2 up
            link set br0 up
            """)
        _ = try h1.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
        var fdb = ""
        for _ in 0..<100 {
            fdb = try sw.bridge("fdb show br br0")
            if fdb.components(separatedBy: "extern_learn").count - 1 >= 2 { break }
            usleep(20_000)
        }
        #expect(fdb.components(separatedBy: "extern_learn").count - 1 >= 2, "both hosts' MACs written back: \(fdb)")
        // Let IPv6 duplicate address detection finish (it adds local routes), so the kernel
        // does not change while hoistd is down and the restart has nothing to do.
        try sw.waitForDAD()
        usleep(300_000)
        let before = try Self.chipStatistics(chipSocket)
        #expect(before.sets > 0)

        // Traffic flows while hoistd dies: the chip keeps forwarding on its own.
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ping.arguments = ["ip", "netns", "exec", h1.name, "ping", "-c", "40", "-i", "0.05", "-W", "1", "10.0.0.2"]
        let pingOut = Pipe()
        ping.standardOutput = pingOut
        try ping.run()
        usleep(500_000)
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        #expect(daemon.terminationReason == .uncaughtSignal)
        let txBefore = try HoistdCLITests.run("hoist", ["show", "ports", "--socket", control])
        #expect(txBefore.status != 0 && txBefore.error.contains("hoistd is not running"))
        ping.waitUntilExit()
        let result = Self.pingResult(String(decoding: pingOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        #expect(result != nil && result!.sent == 40 && result!.received == 40, "ping across the hoistd crash: \(String(describing: result))")
        #expect(chip.isRunning)

        // Restart: read back, diff, repair — nothing to repair.
        daemon = try Self.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: daemonLog)
        Self.waitFor(control)
        var log = ""
        for _ in 0..<200 {
            log = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
            if log.contains("reconciled with the chip") { break }
            usleep(25_000)
        }
        #expect(log.contains("0 programmed, 0 removed"), "the restart changed the chip: \(log)")
        let after = try Self.chipStatistics(chipSocket)
        #expect(after.sets == before.sets && after.removes == before.removes,
                "the restart applied \(after.sets - before.sets) sets and \(after.removes - before.removes) removes")
        let ports = try HoistdCLITests.run("hoist", ["show", "ports", "--json", "--socket", control])
        #expect(ports.status == 0 && ports.output.components(separatedBy: "\"offloaded\"").count - 1 == 2, "\(ports.output) \(ports.error)")
        // Kernel (with the chip-learned MACs written back), hoistd and chip agree.
        let audit = try HoistdCLITests.run("hoist", ["audit", "--socket", control])
        #expect(audit.status == 0 && audit.output.contains("no drift"), "\(audit.output) \(audit.error)")

        // And it drives the chip again: a static FDB entry reaches it.
        _ = try sw.bridge("fdb add 02:00:00:00:00:99 dev swp2 master static")
        var shown = ""
        for _ in 0..<100 {
            shown = try HoistdCLITests.run("hoist", ["show", "fdb", "--socket", control]).output
            if shown.contains("02:00:00:00:00:99") && shown.contains("offloaded") { break }
            usleep(20_000)
        }
        #expect(shown.contains("02:00:00:00:00:99"), "\(shown)")
        #expect(try Self.chipStatistics(chipSocket).sets > after.sets)
        _ = try h1.exec(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"])

        // A cable pulled: host 2's end goes down, the chip's port loses its link and swp2 its
        // carrier (the kernel sees NO-CARRIER, as with a PHY); plugged back, both return.
        func carrier(_ up: Bool) throws -> Bool {
            for _ in 0..<100 {
                let text = try sw.ip("link show swp2")
                if text.contains("NO-CARRIER") != up { return true }
                usleep(30_000)
            }
            return false
        }
        try h2.ip("link set eth0 down")
        #expect(try carrier(false), "swp2 kept its carrier with the cable pulled")
        try h2.ip("link set eth0 up")
        #expect(try carrier(true), "swp2 did not get its carrier back")
        let chipLogText = (try? String(contentsOfFile: chipLog, encoding: .utf8)) ?? ""
        #expect(chipLogText.contains("swp2 link down") && chipLogText.contains("swp2 link up"), "\(chipLogText)")

        // The chip process dies: hoistd stays up and shows every object pending
        // (ChipProcessRestartTests follows a chip restart with traffic).
        kill(chip.processIdentifier, SIGKILL)
        chip.waitUntilExit()
        var pending = ""
        for _ in 0..<100 {
            pending = try HoistdCLITests.run("hoist", ["show", "ports", "--socket", control]).output
            if pending.contains("chip not connected") { break }
            usleep(25_000)
        }
        #expect(daemon.isRunning, "hoistd exited without its chip")
        #expect(pending.contains("pending: chip not connected"), "\(pending)")
        let lost = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
        #expect(lost.contains("lost the chip"), "\(lost)")
        try? FileManager.default.removeItem(atPath: chipSocket)
    }
}

extension ChipRestartTests {
    @Test("hoist-asic --shrink: routes beyond the LPM show failed with the reason in `hoist show routes`, and are offloaded once space frees")
    func tableFull() throws {
        let wires = try TestNamespace("tw"), sw = try TestNamespace("ts"), h1 = try TestNamespace("t1")
        try wires.ip("link add fp1 type veth peer name eth0 netns \(h1.name)")
        try wires.ip("link set fp1 up")
        try h1.ipScript("addr add 10.1.0.2/24 dev eth0\nlink set eth0 up")
        let tag = "\(getpid())t"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-ts-\(tag).sock"
        let chip = try Self.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1", "--socket", chipSocket,
                                                  "--shrink", "lpm_ipv4=12"], log: "/dev/null")
        defer { Self.stop(chip); try? FileManager.default.removeItem(atPath: chipSocket) }
        Self.waitFor(chipSocket)
        let daemon = try Self.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: "/dev/null")
        defer { Self.stop(daemon) }
        Self.waitFor(control)
        // A router forwards (with ip_forward=0 the kernel would not, and every route shows trapped).
        try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try sw.ipScript("addr add 10.1.0.1/24 dev swp1\nlink set swp1 up")
        // Resolve the gateway; a loaded machine may take hoistd a while to program swp1's
        // router interface, so the first echo may go unanswered (any reply of five passes).
        _ = try sw.exec(["ping", "-c", "5", "-i", "0.2", "-W", "2", "10.1.0.2"])
        try sw.ipScript((0..<20).map { "route add 172.16.\($0).0/24 via 10.1.0.2" }.joined(separator: "\n"))

        func routes() throws -> [[String: Any]] {
            let r = try HoistdCLITests.run("hoist", ["show", "routes", "--json", "--socket", control])
            let all = (try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
            return all.filter { ($0["dst"] as? String)?.hasPrefix("172.16.") == true }
        }
        var shown: [[String: Any]] = []
        for _ in 0..<100 {
            shown = try routes()
            if shown.count == 20, shown.allSatisfy({ ($0["offload"] as? String) != "pending" }) { break }
            usleep(50_000)
        }
        let failed = shown.filter { ($0["offload"] as? String) == "failed" }
        let offloaded = shown.filter { ($0["offload"] as? String) == "offloaded" }
        #expect(shown.count == 20 && !failed.isEmpty && !offloaded.isEmpty, "\(shown)")
        #expect(failed.allSatisfy { ($0["reason"] as? String) == "LPM table full 12/12" && ($0["flags"] as? [String]) == ["offload_failed"] },
                "\(failed)")
        #expect(offloaded.allSatisfy { ($0["flags"] as? [String]) == ["offload"] })
        let human = try HoistdCLITests.run("hoist", ["show", "routes", "--socket", control]).output
        #expect(human.contains("failed") && human.contains("LPM table full 12/12"), "\(human)")

        // Withdraw the offloaded routes and the failed ones that would not fit anyway: the
        // rest are retried as space frees and offloaded.
        let failedNames = failed.compactMap { $0["dst"] as? String }
        let withdrawn = offloaded.compactMap { $0["dst"] as? String } + failedNames.dropFirst(offloaded.count)
        try sw.ipScript(withdrawn.map { "route del \($0)" }.joined(separator: "\n"))
        for _ in 0..<100 {
            shown = try routes()
            if shown.allSatisfy({ ($0["offload"] as? String) == "offloaded" }) { break }
            usleep(50_000)
        }
        #expect(shown.count == 20 - withdrawn.count && shown.allSatisfy { ($0["offload"] as? String) == "offloaded" }, "\(shown)")
    }
}
