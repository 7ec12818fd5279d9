import ChipLink
import SwitchDriver
import SwitchModel
import Testing

/// One object of every kind, with the awkward values (IPv6, VID 4095, widest MAC, ECMP).
let everyObject: [HardwareObject] = {
    let v6 = IPAddress("2001:db8::1")!
    let v4 = IPAddress("10.0.0.7")!
    let mac = MACAddress("ff:ee:dd:cc:bb:aa")!
    let nh = HardwareNexthop(rif: 7, gateway: v4)
    return [
        .port(PortSettings(port: 3, adminUp: false, mtu: 9216, bridge: 12, stpState: .blocking, learning: false,
                           unicastFlood: true, multicastFlood: false, broadcastFlood: true, multicastRouter: true, isolated: true)),
        .port(PortSettings(port: 64)),
        .port(PortSettings(port: 7, bridge: 12, locked: true, mab: true)),
        .port(PortSettings(port: 8, bridge: 12, isolated: true, locked: true)),
        .port(PortSettings(port: 5, ingressTrap: "tc ingress filter u32 on swp5 not offloaded", egressTrap: "egress qdisc tbf on swp5 not offloaded")),
        .bridge(BridgeSettings(bridge: 12, vlanFiltering: true, vlanProtocol: 0x88a8, ageingTime: 0, multicastSnooping: false, neighborSuppression: true)),
        .vlanMember(VLANMember(bridge: 12, port: 3, vid: VLANID(rawValue: 4095)!, untagged: true, pvid: true)),
        .fdb(HardwareFDBEntry(bridge: 12, vid: VLANID(rawValue: 10)!, mac: mac, destination: .port(3), isStatic: false)),
        .fdb(HardwareFDBEntry(bridge: 12, mac: mac, destination: .tunnel(vni: 0xFFFFFF, remote: v6))),
        .fdb(HardwareFDBEntry(bridge: 12, mac: mac, destination: .cpu)),
        .mdb(HardwareMDBEntry(bridge: 12, group: .ip(IPAddress("239.1.1.1")!), ports: [1, 64, .lag(1), .lag(64)])),
        .lag(HardwareLAG(id: .lag(3), members: [3, 9, 4], distributing: [9, 4], collecting: [3, 9], hash: .layer34)),
        .lag(HardwareLAG(id: .lag(64), members: [64], distributing: [], collecting: [], hash: .vlanSrcMAC)),
        .port(PortSettings(port: .lag(3), bridge: 12)),
        .port(PortSettings(port: 7, ingressACL: true)),
        .acl(HardwarePortACL(port: 7, rules: [
            ACLRule(priority: 10, handle: 2, etherType: 0x86DD, match: {
                var m = FlowMatch()
                (m.dstMAC, m.dstMACMask, m.ethType, m.ipProto, m.ipProtoMask) = (0x0200_0000_0001, 0xFFFF_FFFF_FF00, 0x86DD, 6, 0xFF)
                (m.ipv6Src, m.ipv6SrcMask) = (IPAddress("2001:db8::1")!, IPAddress("ffff:ffff::")!)
                (m.srcPort, m.srcPortMask, m.dstPort, m.dstPortMask) = (1024, 0xFC00, 22, 0xFFFF)
                return m
            }(), verdict: .trap),
            ACLRule(priority: 20, handle: 1, etherType: 0x0003, match: FlowMatch(), verdict: .drop),
        ])),
        .acl(HardwarePortACL(port: .lag(3), rules: [])),
        .mdb(HardwareMDBEntry(bridge: 12, vid: VLANID(rawValue: 5)!, group: .mac(MACAddress("01:00:5e:01:01:01")!), ports: [])),
        .routerInterface(RouterInterface(id: 7, binding: .port(4), mac: mac, mtu: 1400)),
        .routerInterface(RouterInterface(id: 8, binding: .bridge(12, VLANID(rawValue: 20)!), mac: mac)),
        .routerInterface(RouterInterface(id: 9, binding: .port(5), mac: mac, routedFamilies: .ipv6, vrf: 1001)),
        .routerInterface(RouterInterface(id: 10, binding: .port(6), mac: mac, routedFamilies: [])),
        .neighbor(HardwareNeighbor(rif: 7, address: v6, mac: mac)),
        .nexthop(nh),
        .nexthopGroup(HardwareNexthopGroup(id: NexthopGroupID(rawValue: NexthopGroupID.synthesizedBase + 3),
                                           members: [.init(nexthop: nh, weight: 3), .init(nexthop: HardwareNexthop(rif: 8, gateway: v6))])),
        .route(HardwareRoute(prefix: IPPrefix("0.0.0.0/0")!, action: .nexthop(nh))),
        .route(HardwareRoute(vrf: 100, prefix: IPPrefix("2001:db8::/128")!, action: .group(9))),
        .route(HardwareRoute(prefix: IPPrefix("10.0.0.0/24")!, action: .attached(7))),
        .route(HardwareRoute(prefix: IPPrefix("10.0.0.254/32")!, action: .trap(.localAddress))),
        .route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .drop)),
        .vxlanTunnel(VXLANTunnel(vni: 100, bridge: 12, vid: VLANID(rawValue: 10)!, local: v4, udpPort: 8472, ttl: 9)),
        .vxlanFlood(VXLANFloodEntry(vni: 100, remote: v6)),
        .vf(VFSettings(pf: 1, info: VFInfo(index: 3, mac: MACAddress("02:00:00:00:00:10")!, vlan: 10, qos: 3, vlanProtocol: 0x88a8,
                                           spoofCheck: true, trust: true, linkState: .disable, minTxRate: 10, maxTxRate: 100))),
    ]
}()

func roundTrip<T: Equatable>(_ value: T, _ write: (inout ByteWriter, T) -> Void, _ read: (inout ByteReader) throws -> T) throws -> T {
    var w = ByteWriter()
    write(&w, value)
    var r = ByteReader(w.bytes)
    let back = try read(&r)
    #expect(r.isAtEnd, "\(value): \(w.bytes.count) bytes written, decoding stopped at \(r.offset)")
    return back
}

@Suite("Chip link codec")
struct CodecTests {
    @Test("every object, key and operation round-trips")
    func objects() throws {
        for o in everyObject {
            #expect(try roundTrip(o, { $0.object($1) }, { try $0.object() }) == o)
            #expect(try roundTrip(o.key, { $0.key($1) }, { try $0.key() }) == o.key)
            for op in [DriverOperation.set(o), .remove(o.key)] {
                #expect(try roundTrip(op, { $0.operation($1) }, { try $0.operation() }) == op)
            }
        }
    }

    @Test("results, events, counters and capabilities round-trip")
    func driverValues() throws {
        let results: [DriverResult] = [.ok, .notSupported("qinq"), .tableFull(.lpmIPv4, used: 8192, capacity: 8192),
                                       .dependencyMissing(everyObject[3].key), .invalid("bad ✓ utf8"),
                                       .hardwareFailure("rt_offload_failed")]
        for r in results { #expect(try roundTrip(r, { $0.result($1) }, { try $0.result() }) == r) }
        let mac = MACAddress("02:00:00:00:00:01")!
        let events: [DriverEvent] = [
            .macLearned(bridge: 1, vid: .none, mac: mac, destination: .port(2)),
            .macMoved(bridge: 1, vid: VLANID(rawValue: 3)!, mac: mac, from: .port(2), to: .tunnel(vni: 5, remote: IPAddress("192.0.2.1")!)),
            .macAged(bridge: 1, vid: .none, mac: mac, destination: .cpu),
            .portOperState(4, up: false),
            .packetTrapped(5, reason: .stp, length: 64),
            .objectState(everyObject[15].key, .failed(.tableFull(.lpmIPv6, used: 2, capacity: 2), evidence: "kernel flag rt_offload_failed")),
            .objectState(everyObject[15].key, .offloaded(evidence: "kernel flag offload")),
            .objectState(everyObject[15].key, .trapped(reason: "the kernel's driver traps this route to the CPU", evidence: "kernel flag rt_trap")),
            .objectState(everyObject[2].key, .unconfirmed("accepted by the switchdev driver; the kernel reports no offload flag for VLANs")),
            .objectState(everyObject[15].key, .awaiting("waiting for the kernel's flag")),
            .eventsLost(count: 70_000),
        ]
        for e in events { #expect(try roundTrip(e, { $0.event($1) }, { try $0.event() }) == e) }
        var c = DriverCounters()
        var pc = PortCounters()
        pc.rxPackets = .max; pc.txBytes = 12345
        c.ports[1] = pc
        c.tables[.fdb] = TableOccupancy(used: 3, capacity: 4096)
        var tc = TrapCounters()
        tc.packets = 9; tc.policerDrops = 2
        c.traps[.arp] = tc
        c.drops[.stpBlocked] = 77
        c.eventsLost = 12
        c.acl[ACLRuleID(port: 7, priority: 10, handle: 2)] = ACLRuleCounters(packets: 5, bytes: .max)
        c.acl[ACLRuleID(port: .lag(3), priority: 1, handle: 1)] = ACLRuleCounters()
        #expect(try roundTrip(c, { $0.counters($1) }, { try $0.counters() }) == c)
        let caps = DriverCapabilities(name: "emulated-asic (small)", ports: [.init(id: 1), .init(id: 2, name: "eth2")],
                                      tables: [.fdb: 4096, .lpmIPv6: 0], features: [.qinq, .ecmp], maxECMPWidth: 32, maxBridges: 4,
                                      programsHardware: false)
        #expect(try roundTrip(caps, { $0.capabilities($1) }, { try $0.capabilities() }) == caps)
    }

    @Test("the learned-MAC read-back round-trips, present or not")
    func learnedMACs() throws {
        let learned: [HardwareFDBEntry] = [
            HardwareFDBEntry(bridge: 7, vid: .none, mac: MACAddress("02:00:00:00:00:01")!, destination: .port(2), isStatic: false),
            HardwareFDBEntry(bridge: 7, vid: VLANID(rawValue: 10)!, mac: MACAddress("02:00:00:00:00:02")!,
                             destination: .tunnel(vni: 100, remote: IPAddress("192.0.2.9")!), isStatic: false),
        ]
        for response in [ChipResponse.learned(learned), .learned([]), .learned(nil)] {
            var w = ByteWriter()
            response.encode(into: &w)
            var r = ByteReader(w.bytes)
            #expect(try ChipResponse.decode(&r) == response)
        }
        var w = ByteWriter()
        ChipRequest.learnedMACs.encode(into: &w)
        var r = ByteReader(w.bytes)
        #expect(try ChipRequest.decode(&r) == .learnedMACs)
        // A learned MAC must be an FDB entry.
        var bad = ByteWriter()
        bad.u8(0x88); bad.bool(true); bad.count(1); bad.object(everyObject[0])
        var badReader = ByteReader(bad.bytes)
        #expect(throws: ChipLinkError.self) { try ChipResponse.decode(&badReader) }
    }

    @Test("every truncation of a request is refused, never a crash")
    func truncation() throws {
        var w = ByteWriter()
        ChipRequest.apply(everyObject.map { .set($0) } + everyObject.map { .remove($0.key) }).encode(into: &w)
        let bytes = w.bytes
        var r = ByteReader(bytes)
        #expect(try ChipRequest.decode(&r) == .apply(everyObject.map { .set($0) } + everyObject.map { .remove($0.key) }))
        for cut in 0..<bytes.count {
            var t = ByteReader(bytes, to: cut)
            #expect(throws: ChipLinkError.self) { try ChipRequest.decode(&t) }
        }
        var extra = ByteReader(bytes + [0])
        #expect(throws: ChipLinkError.malformed("trailing bytes after the request", offset: bytes.count)) { try ChipRequest.decode(&extra) }
    }

    @Test("random corruption decodes or is refused with a reason")
    func corruption() {
        var w = ByteWriter()
        ChipRequest.apply(everyObject.map { .set($0) }).encode(into: &w)
        var rng = SplitMix64(seed: 7)
        var refused = 0
        for _ in 0..<20_000 {
            var bytes = w.bytes
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            var r = ByteReader(bytes)
            do { _ = try ChipRequest.decode(&r) } catch { refused += 1 }
        }
        #expect(refused > 1000, "corruption should mostly be caught; \(refused) refused")
    }

    @Test("values outside their ranges are named")
    func ranges() {
        func refuse(_ bytes: [UInt8], _ message: String, _ read: (inout ByteReader) throws -> Any) {
            var r = ByteReader(bytes)
            do {
                _ = try read(&r)
                Issue.record("accepted \(bytes)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        refuse([15], "unknown object kind 15") { try $0.object() }
        refuse([2, 1, 0, 0, 0, 1, 0, 0x00, 0x10, 0, 0], "VLAN id 4096 above 4095") { try $0.object() }
        let v4 = [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0, 0xFF, 0xFF, 0, 0]
        refuse([9, 254, 0, 0, 0] + v4 + [33, 4], "prefix length 33 for an inet address") { try $0.object() }
        refuse([8, 1, 0, 0, 0, 0xFF, 0xFF, 0, 0], "count 65535 exceeds") { try $0.object() }
        refuse([3, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 1, 0], "MAC address wider than 48 bits") { try $0.object() }
        refuse([0, 1, 0, 2], "boolean 2") { try $0.object() }
        var w = ByteWriter()
        w.u32(UInt32(ChipLink.maxFrameBytes + 1))
        #expect(throws: ChipLinkError.self) { try ChipLink.bodyLength(w.bytes[...]) }
    }
}
