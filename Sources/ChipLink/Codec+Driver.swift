import SwitchDriver
import SwitchModel

// The binary form of the driver protocol's requests, results, events and counters.

extension ByteWriter {
    public mutating func operation(_ op: DriverOperation) {
        switch op {
        case .set(let o): u8(0); object(o)
        case .remove(let k): u8(1); key(k)
        }
    }

    public mutating func result(_ r: DriverResult) {
        switch r {
        case .ok: u8(0)
        case .notSupported(let what): u8(1); string(what)
        case .tableFull(let t, let used, let cap): u8(2); string(t.rawValue); count(used); count(cap)
        case .dependencyMissing(let k): u8(3); key(k)
        case .invalid(let why): u8(4); string(why)
        case .hardwareFailure(let why): u8(5); string(why)
        }
    }

    public mutating func report(_ r: HardwareReport) {
        switch r {
        case .offloaded(let e): u8(0); string(e)
        case .trapped(let reason, let e): u8(1); string(reason); string(e)
        case .failed(let result, let e): u8(2); self.result(result); string(e)
        case .unconfirmed(let why): u8(3); string(why)
        case .awaiting(let why): u8(4); string(why)
        }
    }

    public mutating func event(_ e: DriverEvent) {
        switch e {
        case .macLearned(let b, let v, let m, let d):
            u8(0); u32(b.rawValue); vid(v); mac(m); destination(d)
        case .macMoved(let b, let v, let m, let from, let to):
            u8(1); u32(b.rawValue); vid(v); mac(m); destination(from); destination(to)
        case .macAged(let b, let v, let m, let d):
            u8(2); u32(b.rawValue); vid(v); mac(m); destination(d)
        case .portOperState(let p, let up):
            u8(3); u16(p.rawValue); bool(up)
        case .packetTrapped(let p, let reason, let length):
            u8(4); u16(p.rawValue); string(reason.rawValue); count(length)
        case .objectState(let k, let r):
            u8(5); key(k); report(r)
        case .eventsLost(let n):
            u8(6); count(n)
        }
    }

    public mutating func counters(_ c: DriverCounters) {
        count(c.ports.count)
        for (p, pc) in c.ports.sorted(by: { $0.key < $1.key }) {
            u16(p.rawValue); u64(pc.rxPackets); u64(pc.rxBytes); u64(pc.txPackets); u64(pc.txBytes); u64(pc.rxDrops)
        }
        count(c.tables.count)
        for (t, o) in c.tables.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { string(t.rawValue); count(o.used); count(o.capacity) }
        count(c.traps.count)
        for (r, tc) in c.traps.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { string(r.rawValue); u64(tc.packets); u64(tc.policerDrops) }
        count(c.drops.count)
        for (r, n) in c.drops.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { string(r.rawValue); u64(n) }
        u64(c.eventsLost)
        count(c.acl.count)
        for (id, n) in c.acl.sorted(by: { $0.key < $1.key }) {
            u16(id.port.rawValue); u16(id.priority); u32(id.handle); u64(n.packets); u64(n.bytes)
        }
    }

    public mutating func capabilities(_ c: DriverCapabilities) {
        string(c.name)
        count(c.ports.count)
        for p in c.ports { u16(p.id.rawValue); string(p.name) }
        count(c.tables.count)
        for (t, n) in c.tables.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { string(t.rawValue); count(n) }
        u32(c.features.rawValue)
        count(c.maxECMPWidth)
        count(c.maxBridges)
        count(c.maxLAGMembers)
        bool(c.programsHardware)
    }
}

extension ByteReader {
    public mutating func operation() throws -> DriverOperation {
        let tag = try u8()
        switch tag {
        case 0: return .set(try object())
        case 1: return .remove(try key())
        default: throw ChipLinkError.malformed("unknown operation \(tag)", offset: offset - 1)
        }
    }

    public mutating func result() throws -> DriverResult {
        let tag = try u8()
        switch tag {
        case 0: return .ok
        case 1: return .notSupported(try string())
        case 2:
            let t = try enumeration(TableKind.self, try string())
            let used = Int(try u32())
            return .tableFull(t, used: used, capacity: Int(try u32()))
        case 3: return .dependencyMissing(try key())
        case 4: return .invalid(try string())
        case 5: return .hardwareFailure(try string())
        default: throw ChipLinkError.malformed("unknown result \(tag)", offset: offset - 1)
        }
    }

    public mutating func report() throws -> HardwareReport {
        let tag = try u8()
        switch tag {
        case 0: return .offloaded(evidence: try string())
        case 1:
            let reason = try string()
            return .trapped(reason: reason, evidence: try string())
        case 2:
            let r = try result()
            return .failed(r, evidence: try string())
        case 3: return .unconfirmed(try string())
        case 4: return .awaiting(try string())
        default: throw ChipLinkError.malformed("unknown hardware report \(tag)", offset: offset - 1)
        }
    }

    public mutating func event() throws -> DriverEvent {
        let tag = try u8()
        switch tag {
        case 0, 2:
            let b = BridgeID(rawValue: try u32()), v = try vid(), m = try mac(), d = try destination()
            return tag == 0 ? .macLearned(bridge: b, vid: v, mac: m, destination: d) : .macAged(bridge: b, vid: v, mac: m, destination: d)
        case 1:
            let b = BridgeID(rawValue: try u32()), v = try vid(), m = try mac(), from = try destination()
            return .macMoved(bridge: b, vid: v, mac: m, from: from, to: try destination())
        case 3:
            let p = PortID(try u16())
            return .portOperState(p, up: try bool())
        case 4:
            let p = PortID(try u16()), reason = try enumeration(TrapReason.self, try string())
            return .packetTrapped(p, reason: reason, length: Int(try u32()))
        case 5:
            let k = try key()
            return .objectState(k, try report())
        case 6:
            return .eventsLost(count: Int(try u32()))
        default: throw ChipLinkError.malformed("unknown event \(tag)", offset: offset - 1)
        }
    }

    public mutating func counters() throws -> DriverCounters {
        var c = DriverCounters()
        for _ in 0..<(try count(minimumSize: 42)) {
            let p = PortID(try u16())
            var pc = PortCounters()
            pc.rxPackets = try u64(); pc.rxBytes = try u64(); pc.txPackets = try u64(); pc.txBytes = try u64(); pc.rxDrops = try u64()
            c.ports[p] = pc
        }
        for _ in 0..<(try count(minimumSize: 12)) {
            let t = try enumeration(TableKind.self, try string())
            let used = Int(try u32())
            c.tables[t] = TableOccupancy(used: used, capacity: Int(try u32()))
        }
        for _ in 0..<(try count(minimumSize: 20)) {
            let r = try enumeration(TrapReason.self, try string())
            var tc = TrapCounters()
            tc.packets = try u64(); tc.policerDrops = try u64()
            c.traps[r] = tc
        }
        for _ in 0..<(try count(minimumSize: 12)) {
            let r = try enumeration(DropReason.self, try string())
            c.drops[r] = try u64()
        }
        c.eventsLost = try u64()
        for _ in 0..<(try count(minimumSize: 24)) {
            let port = PortID(try u16()), priority = try u16(), handle = try u32()
            let packets = try u64()
            c.acl[ACLRuleID(port: port, priority: priority, handle: handle)] = ACLRuleCounters(packets: packets, bytes: try u64())
        }
        return c
    }

    public mutating func capabilities() throws -> DriverCapabilities {
        let name = try string()
        var ports: [DriverCapabilities.Port] = []
        for _ in 0..<(try count(minimumSize: 6)) {
            let id = PortID(try u16())
            ports.append(.init(id: id, name: try string()))
        }
        var tables: [TableKind: Int] = [:]
        for _ in 0..<(try count(minimumSize: 8)) {
            let t = try enumeration(TableKind.self, try string())
            tables[t] = Int(try u32())
        }
        let features = DriverCapabilities.Features(rawValue: try u32())
        let ecmp = Int(try u32()), bridges = Int(try u32()), lagMembers = Int(try u32())
        return DriverCapabilities(name: name, ports: ports, tables: tables, features: features,
                                  maxECMPWidth: ecmp, maxBridges: bridges, maxLAGMembers: lagMembers,
                                  programsHardware: try bool())
    }
}
