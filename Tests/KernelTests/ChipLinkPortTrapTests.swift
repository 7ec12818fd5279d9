import ChipLink
import Foundation
import Testing

/// Port traps across the chip link: `hoist-asic` as its own process, `hoistd --asic`
/// driving it. The trap reasons travel in `PortSettings`; a restarted hoistd reads them back
/// and changes nothing.
@Suite("hoist-asic: port traps over the chip link", needsRoot, .serialized)
struct ChipLinkPortTrapTests {
    @Test("a tbf on swp2 traps its egress in hoist-asic: pings lost as in the kernel, `hoist why` says why; a hoistd restart programs nothing")
    func egressTrapOverTheLink() throws {
        for tool in ["hoistd", "hoist-asic", "hoist"] {
            try #require(FileManager.default.isExecutableFile(atPath: HoistdCLITests.binaries.appendingPathComponent(tool).path),
                         "\(tool) is not built; run `swift build` first")
        }
        let wires = try TestNamespace("tw"), sw = try TestNamespace("ts")
        let h1 = try TestNamespace("t1"), h2 = try TestNamespace("t2")
        for (i, h) in [h1, h2].enumerated() {
            try wires.ip("link add fp\(i + 1) type veth peer name eth0 netns \(h.name)")
            try wires.ip("link set fp\(i + 1) up")
            try h.ipScript("addr add 10.0.0.\(i + 1)/24 dev eth0\nlink set eth0 up")
        }
        let tag = "\(getpid())-trap"
        let chipSocket = "/tmp/hoist-asic-\(tag).sock", control = "/tmp/hoist-ts-\(tag).sock"
        let chipLog = "/tmp/hoist-asic-\(tag).log", daemonLog = "/tmp/hoistd-\(tag).log"
        defer { for f in [chipLog, daemonLog] { try? FileManager.default.removeItem(atPath: f) } }
        let chip = try ChipRestartTests.launch("hoist-asic", ["-n", sw.name, "--wire-netns", wires.name, "--port", "1=fp1",
                                                              "--port", "2=fp2", "--socket", chipSocket], log: chipLog)
        defer { ChipRestartTests.stop(chip) }
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
        func ping() throws -> (sent: Int, received: Int)? {
            let out = try? h1.exec(["ping", "-c", "5", "-i", "0.1", "-W", "1", "10.0.0.2"])
            return ChipRestartTests.pingResult(out ?? "")
        }
        func why() throws -> String { try HoistdCLITests.run("hoist", ["why", "port", "swp2", "--socket", control]).output }
        var baseline: (sent: Int, received: Int)?
        for _ in 0..<20 {
            baseline = try ping()
            if baseline?.received == 5 { break }
        }
        #expect(baseline?.received == 5, "no ping through hoist-asic to begin with")
        _ = try sw.exec(["tc", "qdisc", "add", "dev", "swp2", "root", "tbf", "rate", "1mbit", "burst", "90", "limit", "1000"])
        var reason = ""
        for _ in 0..<100 {
            reason = try why()
            if reason.contains("egress qdisc tbf on swp2 not offloaded") { break }
            usleep(20_000)
        }
        #expect(reason.contains("trapped") && reason.contains("egress qdisc tbf on swp2 not offloaded"), "\(reason)")
        // ping exits non-zero when every reply is lost: exec throws, and the result is nil or 0 received.
        let lost = try ping()
        #expect(lost == nil || lost!.received == 0, "pings passed a tbf that drops them: \(String(describing: lost))")

        // Restart hoistd: the chip holds the trapped port; nothing to program. (IPv6 duplicate
        // address detection first, so the kernel does not change meanwhile.)
        try sw.waitForDAD()
        usleep(300_000)
        ChipRestartTests.stop(daemon)
        try? FileManager.default.removeItem(atPath: daemonLog)
        daemon = try ChipRestartTests.launch("hoistd", ["--asic", chipSocket, "-n", sw.name, "--socket", control], log: daemonLog)
        var log = ""
        for _ in 0..<200 {
            log = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
            if log.contains("reconciled with the chip") { break }
            usleep(25_000)
        }
        #expect(log.contains("0 programmed, 0 removed"), "the restart changed the chip: \(log)")

        _ = try sw.exec(["tc", "qdisc", "del", "dev", "swp2", "root"])
        for _ in 0..<100 where try why().contains("trapped") { usleep(20_000) }
        #expect(try why().contains("offloaded"))
        #expect(try ping()?.received == 5, "pings fail after the tbf went")
    }
}
