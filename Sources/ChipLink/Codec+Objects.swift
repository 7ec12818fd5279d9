import SwitchDriver
import SwitchModel

// The binary form of the hardware object vocabulary. Each enum is a tag byte followed by
// its case's fields in declaration order; tags are part of the protocol (append only).

extension ByteWriter {
    public mutating func object(_ o: HardwareObject) {
        switch o {
        case .port(let p):
            u8(0); u16(p.port.rawValue); bool(p.adminUp); u32(p.mtu)
            optionalBridge(p.bridge); u8(p.stpState.rawValue)
            u8(flags([p.learning, p.unicastFlood, p.multicastFlood, p.broadcastFlood, p.multicastRouter, p.isolated, p.locked, p.mab]))
            optionalString(p.ingressTrap); optionalString(p.egressTrap); bool(p.ingressACL)
        case .bridge(let b):
            u8(1); u32(b.bridge.rawValue); bool(b.vlanFiltering); u16(b.vlanProtocol); u32(b.ageingTime); bool(b.multicastSnooping)
            u8(b.ownQuerier.rawValue); u32(b.queryResponseInterval); bool(b.neighborSuppression)
        case .vlanMember(let m):
            u8(2); u32(m.bridge.rawValue); u16(m.port.rawValue); vid(m.vid); bool(m.untagged); bool(m.pvid)
        case .fdb(let f):
            u8(3); u32(f.bridge.rawValue); vid(f.vid); mac(f.mac); destination(f.destination); bool(f.isStatic); bool(f.isSticky)
        case .mdb(let m):
            u8(4); u32(m.bridge.rawValue); vid(m.vid); group(m.group); portSet(m.ports)
        case .routerInterface(let r):
            u8(5); u32(r.id.rawValue); rifBinding(r.binding); mac(r.mac); u32(r.mtu); u8(r.routedFamilies.rawValue); u32(r.vrf)
        case .neighbor(let n):
            u8(6); u32(n.rif.rawValue); ip(n.address); mac(n.mac)
        case .nexthop(let nh):
            u8(7); nexthop(nh)
        case .nexthopGroup(let g):
            u8(8); u32(g.id.rawValue); count(g.members.count)
            for m in g.members { nexthop(m.nexthop); u16(m.weight) }
        case .route(let r):
            u8(9); u32(r.vrf); prefix(r.prefix); routeAction(r.action)
        case .vxlanTunnel(let t):
            u8(10); u32(t.vni); u32(t.bridge.rawValue); vid(t.vid); ip(t.local); u16(t.udpPort); u8(t.ttl)
            u8(t.ttlInherit ? 1 : 0); u8(t.tos); u8(t.dontFragment.rawValue); u16(t.sourcePorts.lowerBound); u16(t.sourcePorts.upperBound)
            u8(t.learning.rawValue); u8(t.udpChecksum ? 1 : 0)
        case .vxlanFlood(let f):
            u8(11); u32(f.vni); ip(f.remote)
        case .vf(let v):
            u8(12); u16(v.pf.rawValue); vfInfo(v.info)
        case .lag(let l):
            u8(13); u16(l.id.rawValue)
            count(l.members.count); for m in l.members { u16(m.rawValue) }
            count(l.distributing.count); for m in l.distributing { u16(m.rawValue) }
            portSet(l.collecting); u8(l.hash.rawValue)
        case .acl(let a):
            u8(14); u16(a.port.rawValue); count(a.rules.count)
            for r in a.rules { aclRule(r) }
        }
    }

    mutating func aclRule(_ r: ACLRule) {
        u16(r.priority); u32(r.handle); u16(r.etherType)
        let m = r.match
        u64(m.dstMAC); u64(m.dstMACMask); u64(m.srcMAC); u64(m.srcMACMask); u16(m.ethType); u8(m.ipProto); u8(m.ipProtoMask)
        u32(m.ipv4Src); u32(m.ipv4SrcMask); u32(m.ipv4Dst); u32(m.ipv4DstMask)
        for a in [m.ipv6Src, m.ipv6SrcMask, m.ipv6Dst, m.ipv6DstMask] { u64(a.high); u64(a.low) }
        u16(m.srcPort); u16(m.srcPortMask); u16(m.dstPort); u16(m.dstPortMask)
        string(r.verdict.rawValue)
    }

    /// A port set: its low and high 64 bits.
    mutating func portSet(_ s: PortSet) {
        u64(UInt64(truncatingIfNeeded: s.bits)); u64(UInt64(truncatingIfNeeded: s.bits >> 64))
    }

    public mutating func key(_ k: HardwareKey) {
        switch k {
        case .port(let p): u8(0); u16(p.rawValue)
        case .bridge(let b): u8(1); u32(b.rawValue)
        case .vlanMember(let b, let p, let v): u8(2); u32(b.rawValue); u16(p.rawValue); vid(v)
        case .fdb(let b, let v, let m): u8(3); u32(b.rawValue); vid(v); mac(m)
        case .mdb(let b, let v, let g): u8(4); u32(b.rawValue); vid(v); group(g)
        case .routerInterface(let r): u8(5); u32(r.rawValue)
        case .neighbor(let r, let a): u8(6); u32(r.rawValue); ip(a)
        case .nexthop(let nh): u8(7); nexthop(nh)
        case .nexthopGroup(let g): u8(8); u32(g.rawValue)
        case .route(let vrf, let p): u8(9); u32(vrf); prefix(p)
        case .vxlanTunnel(let vni): u8(10); u32(vni)
        case .vxlanFlood(let vni, let r): u8(11); u32(vni); ip(r)
        case .vf(let pf, let index): u8(12); u16(pf.rawValue); u32(index)
        case .lag(let p): u8(13); u16(p.rawValue)
        case .acl(let p): u8(14); u16(p.rawValue)
        }
    }

    public mutating func destination(_ d: FDBDestination) {
        switch d {
        case .port(let p): u8(0); u16(p.rawValue)
        case .tunnel(let vni, let remote): u8(1); u32(vni); ip(remote)
        case .cpu: u8(2)
        }
    }

    mutating func optionalBridge(_ b: BridgeID?) {
        bool(b != nil)
        if let b { u32(b.rawValue) }
    }
    mutating func optionalString(_ s: String?) {
        bool(s != nil)
        if let s { string(s) }
    }
    mutating func group(_ g: MDBGroup) {
        switch g {
        case .ip(let a): u8(0); ip(a)
        case .mac(let m): u8(1); mac(m)
        }
    }
    mutating func rifBinding(_ b: RouterInterfaceBinding) {
        switch b {
        case .port(let p): u8(0); u16(p.rawValue)
        case .bridge(let br, let v): u8(1); u32(br.rawValue); vid(v)
        }
    }
    mutating func nexthop(_ nh: HardwareNexthop) {
        u32(nh.rif.rawValue); ip(nh.gateway)
    }
    mutating func routeAction(_ a: RouteAction) {
        switch a {
        case .nexthop(let nh): u8(0); nexthop(nh)
        case .group(let g): u8(1); u32(g.rawValue)
        case .attached(let r): u8(2); u32(r.rawValue)
        case .trap(let reason): u8(3); string(reason.rawValue)
        case .drop: u8(4)
        }
    }
    mutating func vfInfo(_ i: VFInfo) {
        u32(i.index); mac(i.mac); u16(i.vlan); u8(i.qos); u16(i.vlanProtocol); bool(i.spoofCheck); bool(i.trust)
        u8(UInt8(i.linkState.rawValue)); u32(i.minTxRate); u32(i.maxTxRate)
    }
    func flags(_ bits: [Bool]) -> UInt8 {
        bits.enumerated().reduce(0) { $0 | ($1.element ? 1 << UInt8($1.offset) : 0) }
    }
}

extension ByteReader {
    public mutating func object() throws -> HardwareObject {
        let tag = try u8()
        switch tag {
        case 0:
            let port = PortID(try u16()), up = try bool(), mtu = try u32(), bridge = try optionalBridge()
            let stp = try enumeration(STPState.self, try u8())
            let f = try u8()
            let bit = { (k: UInt8) in f & (1 << k) != 0 }
            return .port(PortSettings(port: port, adminUp: up, mtu: mtu, bridge: bridge, stpState: stp, learning: bit(0),
                                      unicastFlood: bit(1), multicastFlood: bit(2), broadcastFlood: bit(3),
                                      multicastRouter: bit(4), isolated: bit(5), locked: bit(6), mab: bit(7),
                                      ingressTrap: try optionalString(), egressTrap: try optionalString(), ingressACL: try bool()))
        case 1:
            let b = BridgeID(rawValue: try u32()), filtering = try bool(), proto = try u16(), ageing = try u32()
            let snooping = try bool(), querier = RoutedFamilies(rawValue: try u8())
            return .bridge(BridgeSettings(bridge: b, vlanFiltering: filtering, vlanProtocol: proto, ageingTime: ageing,
                                          multicastSnooping: snooping, ownQuerier: querier, queryResponseInterval: try u32(),
                                          neighborSuppression: try bool()))
        case 2:
            let b = BridgeID(rawValue: try u32()), p = PortID(try u16()), v = try vid(), untagged = try bool()
            return .vlanMember(VLANMember(bridge: b, port: p, vid: v, untagged: untagged, pvid: try bool()))
        case 3:
            let b = BridgeID(rawValue: try u32()), v = try vid(), m = try mac(), d = try destination()
            let isStatic = try bool()
            return .fdb(HardwareFDBEntry(bridge: b, vid: v, mac: m, destination: d, isStatic: isStatic, isSticky: try bool()))
        case 4:
            let b = BridgeID(rawValue: try u32()), v = try vid(), g = try group()
            return .mdb(HardwareMDBEntry(bridge: b, vid: v, group: g, ports: try portSet()))
        case 5:
            let id = RouterInterfaceID(rawValue: try u32()), binding = try rifBinding(), m = try mac()
            let mtu = try u32(), families = try u8()
            guard families & ~RoutedFamilies.all.rawValue == 0 else { throw fail("routed families \(families)") }
            return .routerInterface(RouterInterface(id: id, binding: binding, mac: m, mtu: mtu,
                                                    routedFamilies: RoutedFamilies(rawValue: families), vrf: try u32()))
        case 6:
            let rif = RouterInterfaceID(rawValue: try u32()), a = try ip()
            return .neighbor(HardwareNeighbor(rif: rif, address: a, mac: try mac()))
        case 7:
            return .nexthop(try nexthop())
        case 8:
            let id = NexthopGroupID(rawValue: try u32())
            let n = try count(minimumSize: 22)
            var members: [HardwareNexthopGroup.Member] = []
            members.reserveCapacity(n)
            for _ in 0..<n {
                let nh = try nexthop()
                members.append(.init(nexthop: nh, weight: try u16()))
            }
            return .nexthopGroup(HardwareNexthopGroup(id: id, members: members))
        case 9:
            let vrf = try u32(), p = try prefix()
            return .route(HardwareRoute(vrf: vrf, prefix: p, action: try routeAction()))
        case 10:
            let vni = try u32(), b = BridgeID(rawValue: try u32()), v = try vid(), local = try ip(), port = try u16()
            let ttl = try u8(), inherit = try u8() != 0, tos = try u8()
            let df = try enumeration(VXLANTunnel.DontFragment.self, try u8())
            let low = try u16(), high = try u16()
            guard low < high else { throw fail("VXLAN source ports \(low)..<\(high)") }
            let learning = try enumeration(VXLANTunnel.Learning.self, try u8())
            let checksum = try u8() != 0
            return .vxlanTunnel(VXLANTunnel(vni: vni, bridge: b, vid: v, local: local, udpPort: port, ttl: ttl, ttlInherit: inherit,
                                            tos: tos, dontFragment: df, sourcePorts: low..<high, learning: learning,
                                            udpChecksum: checksum))
        case 11:
            let vni = try u32()
            return .vxlanFlood(VXLANFloodEntry(vni: vni, remote: try ip()))
        case 12:
            let pf = PortID(try u16())
            return .vf(VFSettings(pf: pf, info: try vfInfo()))
        case 13:
            let id = PortID(try u16())
            var members: [PortID] = [], distributing: [PortID] = []
            for _ in 0..<(try count(minimumSize: 2)) { members.append(PortID(try u16())) }
            for _ in 0..<(try count(minimumSize: 2)) { distributing.append(PortID(try u16())) }
            let collecting = try portSet()
            return .lag(HardwareLAG(id: id, members: members, distributing: distributing, collecting: collecting,
                                    hash: try enumeration(LAGHash.self, try u8())))
        case 14:
            let port = PortID(try u16())
            var rules: [ACLRule] = []
            for _ in 0..<(try count(minimumSize: 140)) { rules.append(try aclRule()) }
            return .acl(HardwarePortACL(port: port, rules: rules))
        default:
            throw ChipLinkError.malformed("unknown object kind \(tag)", offset: offset - 1)
        }
    }

    mutating func aclRule() throws -> ACLRule {
        let priority = try u16(), handle = try u32(), etherType = try u16()
        var m = FlowMatch()
        m.dstMAC = try u64(); m.dstMACMask = try u64(); m.srcMAC = try u64(); m.srcMACMask = try u64()
        m.ethType = try u16(); m.ipProto = try u8(); m.ipProtoMask = try u8()
        m.ipv4Src = try u32(); m.ipv4SrcMask = try u32(); m.ipv4Dst = try u32(); m.ipv4DstMask = try u32()
        var six: [IPAddress] = []
        for _ in 0..<4 {
            let high = try u64()
            six.append(IPAddress(high: high, low: try u64()))
        }
        (m.ipv6Src, m.ipv6SrcMask, m.ipv6Dst, m.ipv6DstMask) = (six[0], six[1], six[2], six[3])
        m.srcPort = try u16(); m.srcPortMask = try u16(); m.dstPort = try u16(); m.dstPortMask = try u16()
        let verdict = try enumeration(TCVerdict.self, try string())
        return ACLRule(priority: priority, handle: handle, etherType: etherType, match: m, verdict: verdict)
    }

    public mutating func key() throws -> HardwareKey {
        let tag = try u8()
        switch tag {
        case 0: return .port(PortID(try u16()))
        case 1: return .bridge(BridgeID(rawValue: try u32()))
        case 2:
            let b = BridgeID(rawValue: try u32()), p = PortID(try u16())
            return .vlanMember(b, p, try vid())
        case 3:
            let b = BridgeID(rawValue: try u32()), v = try vid()
            return .fdb(b, v, try mac())
        case 4:
            let b = BridgeID(rawValue: try u32()), v = try vid()
            return .mdb(b, v, try group())
        case 5: return .routerInterface(RouterInterfaceID(rawValue: try u32()))
        case 6:
            let r = RouterInterfaceID(rawValue: try u32())
            return .neighbor(r, try ip())
        case 7: return .nexthop(try nexthop())
        case 8: return .nexthopGroup(NexthopGroupID(rawValue: try u32()))
        case 9:
            let vrf = try u32()
            return .route(vrf: vrf, try prefix())
        case 10: return .vxlanTunnel(try u32())
        case 11:
            let vni = try u32()
            return .vxlanFlood(vni, try ip())
        case 12:
            let pf = PortID(try u16())
            return .vf(pf, try u32())
        case 13: return .lag(PortID(try u16()))
        case 14: return .acl(PortID(try u16()))
        default:
            throw ChipLinkError.malformed("unknown key kind \(tag)", offset: offset - 1)
        }
    }

    public mutating func destination() throws -> FDBDestination {
        let tag = try u8()
        switch tag {
        case 0: return .port(PortID(try u16()))
        case 1:
            let vni = try u32()
            return .tunnel(vni: vni, remote: try ip())
        case 2: return .cpu
        default: throw ChipLinkError.malformed("unknown FDB destination \(tag)", offset: offset - 1)
        }
    }

    mutating func optionalBridge() throws -> BridgeID? {
        try bool() ? BridgeID(rawValue: try u32()) : nil
    }
    mutating func optionalString() throws -> String? {
        try bool() ? try string() : nil
    }
    mutating func group() throws -> MDBGroup {
        let tag = try u8()
        switch tag {
        case 0: return .ip(try ip())
        case 1: return .mac(try mac())
        default: throw ChipLinkError.malformed("unknown MDB group kind \(tag)", offset: offset - 1)
        }
    }
    mutating func rifBinding() throws -> RouterInterfaceBinding {
        let tag = try u8()
        switch tag {
        case 0: return .port(PortID(try u16()))
        case 1:
            let b = BridgeID(rawValue: try u32())
            return .bridge(b, try vid())
        default: throw ChipLinkError.malformed("unknown router interface binding \(tag)", offset: offset - 1)
        }
    }
    mutating func portSet() throws -> PortSet {
        let low = try u64()
        return PortSet(bits: UInt128(try u64()) << 64 | UInt128(low))
    }

    mutating func vfInfo() throws -> VFInfo {
        let index = try u32(), m = try mac(), vlan = try u16(), qos = try u8(), proto = try u16()
        let spoof = try bool(), trust = try bool(), state = try enumeration(VFLinkState.self, UInt32(try u8()))
        let minRate = try u32()
        return VFInfo(index: index, mac: m, vlan: vlan, qos: qos, vlanProtocol: proto, spoofCheck: spoof, trust: trust,
                      linkState: state, minTxRate: minRate, maxTxRate: try u32())
    }
    mutating func nexthop() throws -> HardwareNexthop {
        let rif = RouterInterfaceID(rawValue: try u32())
        return HardwareNexthop(rif: rif, gateway: try ip())
    }
    mutating func routeAction() throws -> RouteAction {
        let tag = try u8()
        switch tag {
        case 0: return .nexthop(try nexthop())
        case 1: return .group(NexthopGroupID(rawValue: try u32()))
        case 2: return .attached(RouterInterfaceID(rawValue: try u32()))
        case 3: return .trap(try enumeration(TrapReason.self, try string()))
        case 4: return .drop
        default: throw ChipLinkError.malformed("unknown route action \(tag)", offset: offset - 1)
        }
    }
}
