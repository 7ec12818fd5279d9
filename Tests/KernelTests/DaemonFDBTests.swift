@testable import Daemon
import EmulatedASIC
import Foundation
import KernelMirror
import Netlink
import SwitchDriver
import SwitchModel
import Testing

/// The daemon's loop against the real kernel: a bridge configured with `ip` is offloaded to
/// the emulated chip; MACs the chip learns appear in `bridge fdb` as `extern_learn`, and
/// leave it when the chip ages them out.
@Suite("hoistd loop: kernel bridge ⇄ emulated chip", needsRoot, .serialized)
struct DaemonFDBTests {
    /// br0 over swp1…swp3 (veth, peers h1…h3), everything up.
    static func bridgeNamespace(_ tag: String) throws -> TestNamespace {
        let ns = try TestNamespace(tag)
        try ns.ipScript("""
            link add br0 type bridge ageing_time 1000
            link add swp1 type veth peer name h1
            link add swp2 type veth peer name h2
            link add swp3 type veth peer name h3
            link set swp1 master br0
            link set swp2 master br0
            link set swp3 master br0
            link set br0 up
            link set swp1 up
            link set swp2 up
            link set swp3 up
            link set h1 up
            link set h2 up
            link set h3 up
            """)
        return ns
    }

    /// Steps the daemon until `condition` holds or `seconds` pass.
    static func step(_ daemon: SwitchDaemon, seconds: Double = 5, until condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            try daemon.step(timeoutMilliseconds: 20)
            if try condition() { return true }
        }
        return false
    }

    static func fdbFlags(_ ns: TestNamespace, mac: String) throws -> [String]? {
        let entries = try ns.bridgeJSON("fdb show br br0")
        guard let e = entries.first(where: { ($0["mac"] as? String) == mac }) else { return nil }
        return (e["flags"] as? [String]) ?? []
    }

    @Test("the bridge and its ports are offloaded; a chip-learned MAC is extern_learn in the kernel until it ages")
    func learnAndAge() throws {
        let ns = try Self.bridgeNamespace("fdb")
        let asic = EmulatedASIC()
        let daemon = try SwitchDaemon(namespace: ns.name, driver: asic)
        try daemon.start()
        let br0 = try #require(daemon.mirror.tables.links.values.first { $0.name == "br0" })
        let bridge = BridgeID(rawValue: br0.index.rawValue)
        #expect(daemon.engine.state(of: .bridge(bridge)) == .offloaded)
        for p: PortID in [1, 2, 3] { #expect(daemon.engine.state(of: .port(p)) == .offloaded) }
        #expect(asic.readBack().contains(.bridge(BridgeSettings(bridge: bridge, ageingTime: 10))))

        // A host behind swp1 talks; the chip learns its MAC.
        let host = MACAddress("02:00:00:00:77:01")!
        let frame = FrameBuilder.udp(srcMAC: host, dstMAC: .broadcast, src: IPAddress("192.168.7.1")!, dst: IPAddress("192.168.7.255")!,
                                     srcPort: 1, dstPort: 2)
        var sink = CollectingSink()
        frame.withUnsafeBytes { asic.chip.process($0, from: 1, into: &sink) }
        #expect(sink.transmitted.keys.sorted() == [2, 3])
        let learned = try Self.step(daemon) { try Self.fdbFlags(ns, mac: host.description)?.contains("extern_learn") == true }
        #expect(learned, "the chip-learned MAC did not reach the kernel FDB as extern_learn")
        #expect(daemon.statistics.fdbWrites == 1)
        // The written entry comes back through the mirror and is not programmed again.
        #expect(!asic.readBack().contains { if case .fdb(let f) = $0 { f.mac == host } else { false } })

        // Ten seconds of silence on the chip's clock: aged out of the chip and the kernel.
        asic.chip.advance(byNanoseconds: 11_000_000_000)
        let aged = try Self.step(daemon) { try Self.fdbFlags(ns, mac: host.description) == nil }
        #expect(aged, "the aged MAC stayed in the kernel FDB")
        #expect(daemon.statistics.fdbWriteFailures == 0)
        #expect(daemon.engine.audit().isEmpty)
    }

    @Test("bridge port changes made with ip and bridge reach the chip's behaviour")
    func portFlags() throws {
        let ns = try Self.bridgeNamespace("flg")
        let asic = EmulatedASIC()
        let daemon = try SwitchDaemon(namespace: ns.name, driver: asic)
        try daemon.start()
        try ns.bridge("link set dev swp3 flood off")
        try ns.bridge("link set dev swp1 learning off")
        let applied = try Self.step(daemon) {
            let ports = asic.readBack().compactMap { if case .port(let p) = $0 { p } else { nil } }
            return ports.contains { $0.port == 3 && !$0.unicastFlood } && ports.contains { $0.port == 1 && !$0.learning }
        }
        #expect(applied)
        let unknown = FrameBuilder.udp(srcMAC: MACAddress("02:00:00:00:77:02")!, dstMAC: MACAddress("02:00:00:00:77:99")!,
                                       src: IPAddress("192.168.7.2")!, dst: IPAddress("192.168.7.9")!, srcPort: 1, dstPort: 2)
        var sink = CollectingSink()
        unknown.withUnsafeBytes { asic.chip.process($0, from: 1, into: &sink) }
        #expect(sink.transmitted.keys.sorted() == [2], "unknown unicast must not flood to swp3 (flood off)")
        #expect(asic.pollEvents(limit: 10).isEmpty, "learning off on swp1: nothing learned")
    }

    @Test("a write-back the kernel refuses is logged with the entry it was about; the rest of its batch is written")
    func refusedWriteBack() throws {
        let ns = try Self.bridgeNamespace("fwb")
        let daemon = try SwitchDaemon(namespace: ns.name, driver: EmulatedASIC())
        try daemon.start()
        var failures: [String] = []
        daemon.onWriteBackFailure = { failures.append($0) }
        let links = daemon.mirror.tables.links.values
        let swp1 = try #require(links.first { $0.name == "swp1" }).index
        let h1 = try #require(links.first { $0.name == "h1" }).index      // in no bridge: refused
        var batch = [KernelRequest.addExternLearnedFDB(port: swp1, mac: MACAddress("02:00:00:00:77:01")!, vlan: .none),
                     KernelRequest.addExternLearnedFDB(port: h1, mac: MACAddress("02:00:00:00:77:02")!, vlan: .none)]
        daemon.send(&batch)
        #expect(failures.count == 1 && failures.first?.hasPrefix("fdb write-back of add fdb 02:00:00:00:77:02 dev h1 master: ") == true, "\(failures)")
        #expect(daemon.statistics.fdbWriteFailures == 1 && daemon.statistics.fdbWrites == 1)
        #expect(try Self.fdbFlags(ns, mac: "02:00:00:00:77:01")?.contains("extern_learn") == true)
    }
}
