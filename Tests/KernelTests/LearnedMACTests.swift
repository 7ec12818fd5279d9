import Daemon
import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// MACs the chip learns itself: shown and counted, and the kernel's `extern_learn` entries
/// kept equal to them when chip events are lost or hoistd (re)starts.
@Suite("chip-learned MACs: show, count, reconcile", needsRoot, .serialized)
struct LearnedMACTests {
    /// The kernel's `extern_learn` entries on `port`, by MAC.
    static func externLearned(_ ns: TestNamespace, port: String = "swp1") throws -> Set<String> {
        Set(try ns.bridgeJSON("fdb show br br0").filter {
            ($0["ifname"] as? String) == port && (($0["flags"] as? [String]) ?? []).contains("extern_learn")
        }.compactMap { $0["mac"] as? String })
    }

    static func learn(_ asic: EmulatedASIC, _ macs: [MACAddress], on port: PortID) {
        for mac in macs {
            let frame = FrameBuilder.udp(srcMAC: mac, dstMAC: .broadcast, src: IPAddress("192.168.7.1")!,
                                         dst: IPAddress("192.168.7.255")!, srcPort: 1, dstPort: 2)
            var sink = CollectingSink()
            frame.withUnsafeBytes { asic.chip.process($0, from: port, into: &sink) }
        }
    }

    @Test("an event overflow is counted, and the reconciliation after it makes the kernel's extern_learn entries equal the chip's")
    func overflowReconciles() throws {
        let ns = try DaemonFDBTests.bridgeNamespace("lov")
        let asic = EmulatedASIC()
        let daemon = try SwitchDaemon(namespace: ns.name, driver: asic)
        try daemon.start()
        var lost: [Int] = []
        daemon.onEventsLost = { lost.append($0) }
        asic.chip.eventLimit = 8
        let macs = (1...40).map { MACAddress(rawValue: 0x0200_0000_5500 | UInt64($0)) }
        Self.learn(asic, macs, on: 1)
        let wanted = Set(macs.map(\.description))
        let all = try DaemonFDBTests.step(daemon) { try Self.externLearned(ns) == wanted }
        let held = try Self.externLearned(ns).count
        #expect(all, "the kernel holds \(held) of the 40 learned MACs")
        #expect(daemon.statistics.eventsLost == 32 && lost == [32])
        #expect(asic.counters().eventsLost == 32)
        #expect(daemon.learned.count == 40)

        // The chip ages them all while its queue holds three events: the aged events are
        // lost too, and the reconciliation deletes what the kernel still holds.
        asic.chip.eventLimit = 3
        asic.chip.advance(byNanoseconds: 11_000_000_000)
        let gone = try DaemonFDBTests.step(daemon) { try Self.externLearned(ns).isEmpty }
        let stayed = try Self.externLearned(ns).count
        #expect(gone, "stale extern_learn entries stayed: \(stayed)")
        #expect(daemon.statistics.staleLearnedRemoved == 37)
        #expect(daemon.learned.isEmpty)
        #expect(daemon.statistics.fdbWriteFailures == 0)
    }

    @Test("hoistd starting against a chip that was restarted removes the extern_learn entries the chip no longer holds")
    func startRemovesStale() throws {
        let ns = try DaemonFDBTests.bridgeNamespace("lst")
        try ns.bridge("fdb add 02:00:00:00:00:aa dev swp1 master extern_learn")
        try ns.bridge("fdb add 02:00:00:00:00:bb dev swp2 master extern_learn")
        #expect(try Self.externLearned(ns) == ["02:00:00:00:00:aa"])
        let asic = EmulatedASIC()
        let daemon = try SwitchDaemon(namespace: ns.name, driver: asic)
        let summary = try daemon.start()
        #expect(summary.learned == { var r = LearnedReconciliation(); r.removed = 2; return r }())
        let left = try Self.externLearned(ns).union(try Self.externLearned(ns, port: "swp2"))
        #expect(left.isEmpty)
    }

    @Test("hoist-asic: learned MACs in `hoist show fdb --json` and `hoist show resources`; a stale extern_learn entry goes at hoistd's restart")
    func product() throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        let wires = try TestNamespace("lw"), sw = try TestNamespace("ls")
        let h1 = try TestNamespace("l1"), h2 = try TestNamespace("l2")
        for (i, h) in [h1, h2].enumerated() {
            try wires.ip("link add fp\(i + 1) type veth peer name eth0 netns \(h.name)")
            try wires.ip("link set fp\(i + 1) up")
            try h.ipScript("addr add 10.0.0.\(i + 1)/24 dev eth0\nlink set eth0 up\nlink set lo up")
        }
        let tag = "\(getpid())l"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-ls-\(tag).sock"
        let daemonLog = "/tmp/hoistd-\(tag).log"
        defer { try? FileManager.default.removeItem(atPath: daemonLog) }
        let chip = try ChipRestartTests.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1",
                                                              "--port", "2=fp2", "--socket", chipSocket], log: "/dev/null")
        defer { ChipRestartTests.stop(chip); try? FileManager.default.removeItem(atPath: chipSocket) }
        ChipRestartTests.waitFor(chipSocket)
        var daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: daemonLog)
        defer { ChipRestartTests.stop(daemon) }
        ChipRestartTests.waitFor(control)
        try sw.ipScript("""
            link add br0 type bridge
            link set swp1 master br0
            link set swp2 master br0
            link set swp1 up
            link set swp2 up
            link set br0 up
            """)
        func show(_ object: String) throws -> [[String: Any]] {
            let r = try HoistdCLITests.run("hoist", ["show", object, "--json", "--socket", control])
            return (try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]]) ?? []
        }
        func fdbUsed() throws -> Int? { try show("resources").first { ($0["table"] as? String) == "fdb" }?["used"] as? Int }
        let hostMACs = try [h1, h2].map { h in
            try #require(try h.ipJSON("link show eth0").first?["address"] as? String)
        }
        _ = try h1.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"])
        var learned: [[String: Any]] = []
        for _ in 0..<100 {
            learned = try show("fdb").filter { ($0["learned"] as? Bool) == true }
            if Set(learned.compactMap { $0["mac"] as? String }).isSuperset(of: hostMACs) { break }
            usleep(30_000)
        }
        for (mac, port) in zip(hostMACs, ["swp1", "swp2"]) {
            let row = learned.first { ($0["mac"] as? String) == mac }
            #expect(row?["ifname"] as? String == port && row?["offload"] as? String == "offloaded"
                    && (row?["flags"] as? [String])?.contains("extern_learn") == true, "\(learned)")
        }
        let programmed = try show("fdb").filter { ($0["learned"] as? Bool) != true && ($0["offload"] as? String) == "offloaded" }.count
        let used = try fdbUsed()
        #expect(used == programmed + learned.count, "resources must count the \(learned.count) learned MACs")
        let why = try HoistdCLITests.run("hoist", ["why", "fdb", hostMACs[0], "--socket", control])
        #expect(why.status == 0 && why.output.contains("offloaded"), "\(why.output) \(why.error)")

        // hoistd stops; meanwhile an extern_learn entry appears for a MAC the chip never learned.
        ChipRestartTests.stop(daemon)
        try sw.bridge("fdb add 02:00:00:00:00:aa dev swp1 master extern_learn")
        #expect(try Self.externLearned(sw).contains("02:00:00:00:00:aa"))
        daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: daemonLog)
        ChipRestartTests.waitFor(control)
        var log = ""
        for _ in 0..<200 {
            log = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
            if log.contains("reconciled with the chip") { break }
            usleep(25_000)
        }
        #expect(log.contains("1 stale extern_learn entries removed"), "\(log)")
        let kept = try Self.externLearned(sw).union(try Self.externLearned(sw, port: "swp2"))
        #expect(!kept.contains("02:00:00:00:00:aa"), "the stale entry stayed: \(kept)")
        #expect(kept.isSuperset(of: hostMACs), "the learned MACs went too: \(kept)")
    }
}
