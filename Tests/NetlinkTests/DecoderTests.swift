import Foundation
import Netlink
import SwitchModel
import Testing

/// What this machine's kernel cannot produce (no bridge VLAN filtering, no 802.1ad, no
/// per-VLAN state), decoded from messages built to the kernel's format.
@Suite("Decoders for messages this kernel cannot produce")
struct DecoderTests {
    @Test("IFLA_AF_SPEC VLAN info: PVID, untagged, ranges")
    func bridgeVLANInfo() throws {
        let message = Fixtures.bridgePortLink(index: 4, master: 2, state: 3, vlans: [
            Fixtures.vlanInfo(10, flags: Fixtures.pvid | Fixtures.untagged),
            Fixtures.vlanInfo(20, flags: 0),
            Fixtures.vlanInfo(100, flags: Fixtures.rangeBegin),
            Fixtures.vlanInfo(103, flags: Fixtures.rangeEnd),
        ])
        let (messages, malformed) = try Fixtures.decode([message])
        #expect(malformed == 0)
        guard case .bridgePort(let info) = try #require(messages.first) else {
            Issue.record("expected a bridge-port message, got \(messages)")
            return
        }
        #expect(info.port == 4)
        #expect(info.attributes?.state == .forwarding)
        #expect(info.attributes?.learning == false)
        #expect(info.vlans == [
            PortVLAN(vid: 10, pvid: true, untagged: true), PortVLAN(vid: 20),
            PortVLAN(vid: 100), PortVLAN(vid: 101), PortVLAN(vid: 102), PortVLAN(vid: 103),
        ])
    }

    @Test("802.1ad bridge: vlan_protocol and vlan_filtering")
    func qinqBridge() throws {
        let (messages, malformed) = try Fixtures.decode([Fixtures.bridgeLink(index: 2, name: "br0", vlanProtocol: 0x88A8, vlanFiltering: 1)])
        #expect(malformed == 0)
        guard case .newLink(let link) = try #require(messages.first) else { Issue.record("no link"); return }
        #expect(link.kind == .bridge)
        #expect(link.bridge?.vlanProtocol == 0x88A8)
        #expect(link.bridge?.vlanFiltering == true)
        #expect(link.bridge?.stpState == 1)
        #expect(link.bridge?.defaultPVID == 1)
        #expect(BridgeAttributes.vlanProtocolName(0x88A8) == "802.1ad")
    }

    @Test("RTM_NEWVLAN per-VLAN STP state and ranges")
    func perVLANState() throws {
        let (messages, malformed) = try Fixtures.decode([Fixtures.vlanDB(port: 5, entries: [
            (vid: 10, flags: Fixtures.pvid | Fixtures.untagged, rangeEnd: nil, state: 3),
            (vid: 30, flags: 0, rangeEnd: 32, state: 4),
        ])])
        #expect(malformed == 0)
        #expect(messages == [
            .newVLAN(BridgeVLAN(port: 5, vlan: PortVLAN(vid: 10, pvid: true, untagged: true, state: .forwarding))),
            .newVLAN(BridgeVLAN(port: 5, vlan: PortVLAN(vid: 30, state: .blocking))),
            .newVLAN(BridgeVLAN(port: 5, vlan: PortVLAN(vid: 31, state: .blocking))),
            .newVLAN(BridgeVLAN(port: 5, vlan: PortVLAN(vid: 32, state: .blocking))),
        ])
    }

    @Test("iproute2's own parser reads the same RTM_NEWVLAN", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/bridge") || FileManager.default.isExecutableFile(atPath: "/sbin/bridge"), "needs iproute2's bridge"))
    func iproute2AgreesOnVLANs() throws {
        let message = Fixtures.vlanDB(port: 5, entries: [
            (vid: 10, flags: Fixtures.pvid | Fixtures.untagged, rangeEnd: nil, state: 3),
            (vid: 30, flags: 0, rangeEnd: 32, state: 4),
        ])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-vlan-\(getpid()).nl")
        try Data(message).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["bridge", "monitor", "file", path.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // iproute2 prints "10 PVID Egress Untagged … state forwarding" and the range "30-32 … state blocking".
        #expect(text.contains("10 PVID Egress Untagged"), "bridge monitor printed: \(text)")
        #expect(text.contains("30-32"), "bridge monitor printed: \(text)")
        #expect(text.contains("state forwarding") && text.contains("state blocking"), "bridge monitor printed: \(text)")
    }
}

/// Malformed input through the scripted transport: counted, skipped, never a crash, and
/// the good messages around it still decoded.
@Suite("Malformed netlink messages")
struct MalformedMessageTests {
    @Test("a truncated attribute is counted and the next message in the datagram still decodes")
    func truncatedAttribute() throws {
        var bad = Fixtures.plainLink(index: 7, name: "bad0")
        bad[32] = 0xF0; bad[33] = 0xFF  // first attribute claims 65520 bytes
        let good = Fixtures.plainLink(index: 8, name: "good0")
        let (messages, malformed) = try Fixtures.decode([bad + good])
        #expect(malformed == 1)
        #expect(messages.count == 1)
        if case .newLink(let l) = messages.first { #expect(l.name == "good0") } else { Issue.record("good message lost") }
    }

    @Test("bad lengths, short headers and short attributes are counted, never fatal")
    func badLengths() throws {
        var overlong = Fixtures.plainLink(index: 9, name: "x")
        overlong[0] = 0xFF; overlong[1] = 0x0F          // nlmsg_len past the datagram
        let shortHeader = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK).append(header: [0, 0, 1, 0]).bytes
        let shortMTU = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK)
            .append(header: Fixtures.ifinfomsg(index: 10)).put(3, string: "m0").put(4, bytes: [1, 2]).bytes  // IFLA_MTU of 2 bytes
        let noName = NetlinkMessageBuilder(type: Fixtures.RTM_NEWLINK).append(header: Fixtures.ifinfomsg(index: 11)).bytes
        let garbage: [UInt8] = [1, 2, 3]
        let (messages, malformed) = try Fixtures.decode([overlong, shortHeader, shortMTU, noName, garbage, Fixtures.plainLink(index: 12, name: "ok0")])
        #expect(malformed == 5)
        #expect(messages.count == 1)
    }

    @Test("random bytes never crash the decoder")
    func fuzz() throws {
        var rng = SystemRandomNumberGenerator()
        let seeds = [Fixtures.bridgePortLink(index: 4, master: 2, state: 3, vlans: [Fixtures.vlanInfo(10, flags: 2)]),
                     Fixtures.bridgeLink(index: 2, name: "br0", vlanProtocol: 0x8100, vlanFiltering: 1),
                     Fixtures.vlanDB(port: 5, entries: [(vid: 10, flags: 0, rangeEnd: 12, state: 3)])]
        var datagrams: [[UInt8]] = []
        for _ in 0..<3000 {
            var m = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                m[Int.random(in: 16..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { m = Array(m.prefix(Int.random(in: 0..<m.count, using: &rng))) }
            datagrams.append(m)
        }
        let (messages, malformed) = try Fixtures.decode(datagrams)
        #expect(messages.count + malformed > 0)
    }

    @Test("bridge port locked and mab (IFLA_BRPORT_MAB is newer than these headers)")
    func lockedMAB() throws {
        let (messages, malformed) = try Fixtures.decode([Fixtures.lockedPortLink(index: 4, master: 2, mab: 1)])
        #expect(malformed == 0)
        guard case .bridgePort(let info) = try #require(messages.first) else { Issue.record("no bridge port"); return }
        #expect(info.attributes?.locked == true && info.attributes?.mab == true)
    }

    @Test("mst_enabled from IFLA_BR_MULTI_BOOLOPT")
    func mstEnabled() throws {
        for enabled in [true, false] {
            let (messages, _) = try Fixtures.decode([Fixtures.mstBridgeLink(index: 2, enabled: enabled)])
            guard case .newLink(let link) = try #require(messages.first) else { Issue.record("no link"); return }
            #expect(link.bridge?.mstEnabled == enabled)
        }
    }

    @Test("a bond's mode, hash policy and active aggregator; a slave's state, MII status and aggregator")
    func bond() throws {
        let (messages, malformed) = try Fixtures.decode([Fixtures.bondLink(index: 9), Fixtures.bondSlaveLink(index: 3, master: 9)])
        #expect(malformed == 0)
        guard messages.count == 2, case .newLink(let bond) = messages[0], case .newLink(let slave) = messages[1] else {
            Issue.record("not two links: \(messages)"); return
        }
        #expect(bond.kind == .bond)
        #expect(bond.bond == BondAttributes(mode: .lacp, hashPolicy: .layer34, activeAggregator: 2))
        #expect(slave.bondSlave == BondSlaveAttributes(active: false, miiUp: false, aggregator: 3))
        #expect(slave.master == IfIndex(9) && slave.bridgePort == nil)
    }

    @Test("a MAB entry: NTF_EXT_LOCKED in NDA_FLAGS_EXT")
    func lockedFDBEntry() throws {
        let (messages, malformed) = try Fixtures.decode([Fixtures.lockedFDB(port: 4, master: 2)])
        #expect(malformed == 0)
        guard case .newFDB(let e) = try #require(messages.first) else { Issue.record("no FDB entry: \(messages)"); return }
        #expect(e.flags.contains(.locked) && e.flags.contains(.master))
        #expect(e.flags.names.contains("locked"))
    }
}
