import SwitchDriver
import SwitchModel

/// The emulated switch chip as a `SwitchDriver`: validates and programs hardware objects
/// into the `SwitchChip`'s tables, reads them back from those tables, reports learned and
/// aged MACs, port state and traps, and injects faults on request.
///
/// The kernel counterparts are netdevsim (capacities, fail-next knobs, read-back flags) and
/// rocker (a software switch that really forwards).
public final class EmulatedASIC: SwitchDriver {
    public let chip: SwitchChip
    public let profile: TableProfile
    var faults = FaultState()

    /// What the control plane programmed, per kind, for read-back where the chip's fast
    /// tables do not hold the whole object.
    var programmedFDB: [HardwareKey: HardwareFDBEntry] = [:]
    /// Dynamic FDB entries the control plane programmed over a MAC the chip had learned
    /// itself on the same destination (a kernel-learned entry arriving after the chip's own
    /// learning): when the program goes, the chip's learning stays (`removeFDB`).
    var learnedUnderneath: Set<HardwareKey> = []
    var tableUse: [TableKind: Int] = [:]

    public init(profile: TableProfile = .small) {
        self.profile = profile
        chip = SwitchChip(profile: profile)
    }

    public var capabilities: DriverCapabilities {
        DriverCapabilities(
            name: "emulated-asic (\(profile.name))",
            ports: (1...profile.ports).map { DriverCapabilities.Port(id: PortID(UInt16($0))) },
            tables: Dictionary(uniqueKeysWithValues: TableKind.allCases.map { ($0, capacity($0)) }),
            features: .all,
            maxECMPWidth: profile.maxECMPWidth,
            maxBridges: profile.maxBridges,
            maxLAGMembers: profile.maxLAGMembers
        )
    }

    /// The capacity of `table` now (a fault may have shrunk it).
    public func capacity(_ table: TableKind) -> Int {
        faults.shrunk[table] ?? profile.capacity(table)
    }

    public func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        var results: [DriverResult] = []
        results.reserveCapacity(batch.count)
        for op in batch {
            if faults.latency > 0 { chip.advance(byNanoseconds: faults.latency) }
            if let injected = faults.take(for: op) {
                results.append(injected)
                continue
            }
            switch op {
            case .set(let object): results.append(set(object))
            case .remove(let key): results.append(remove(key))
            }
        }
        return results
    }

    public func pollEvents(limit: Int) -> [DriverEvent] {
        chip.takeEvents(limit: limit)
    }

    public func counters() -> DriverCounters {
        var ports: [PortID: PortCounters] = [:]
        for p in 1...profile.ports { ports[PortID(UInt16(p))] = chip.portCounters[p] }
        var tables: [TableKind: TableOccupancy] = [:]
        for t in TableKind.allCases { tables[t] = TableOccupancy(used: used(t), capacity: capacity(t)) }
        var counters = DriverCounters(ports: ports, tables: tables, traps: chip.trapCounters, drops: chip.drops,
                                      eventsLost: UInt64(chip.eventOverflows))
        counters.acl = chip.aclCounters()
        return counters
    }

    // MARK: Dispatch

    func set(_ object: HardwareObject) -> DriverResult {
        switch object {
        case .port(let s): setPort(s)
        case .bridge(let s): setBridge(s)
        case .vlanMember(let m): setVLANMember(m)
        case .fdb(let f): setFDB(f)
        case .mdb(let m): setMDB(m)
        case .routerInterface(let r): setRouterInterface(r)
        case .neighbor(let n): setNeighbor(n)
        case .nexthop(let nh): setNexthop(nh)
        case .nexthopGroup(let g): setGroup(g)
        case .route(let r): setRoute(r)
        case .vxlanTunnel(let t): setTunnel(t)
        case .vxlanFlood(let f): setFlood(f)
        case .vf: .notSupported("no SR-IOV")
        case .lag(let l): setLAG(l)
        case .acl(let a): setACL(a)
        }
    }

    func remove(_ key: HardwareKey) -> DriverResult {
        switch key {
        case .port(let p): removePort(p)
        case .bridge(let b): removeBridge(b)
        case .vlanMember(let b, let p, let vid): removeVLANMember(b, p, vid)
        case .fdb: removeFDB(key)
        case .mdb(let b, let vid, let g): removeMDB(b, vid, g)
        case .routerInterface(let id): removeRouterInterface(id)
        case .neighbor(let rif, let a): removeNeighbor(rif, a)
        case .nexthop(let nh): removeNexthop(nh)
        case .nexthopGroup(let id): removeGroup(id)
        case .route(let vrf, let prefix): removeRoute(vrf: vrf, prefix)
        case .vxlanTunnel(let vni): removeTunnel(vni)
        case .vxlanFlood(let vni, let remote): removeFlood(vni, remote)
        case .vf: .ok
        case .lag(let p): removeLAG(p)
        case .acl(let p): removeACL(p)
        }
    }

    // MARK: Occupancy

    func used(_ table: TableKind) -> Int {
        switch table {
        case .fdb: chip.fdb.count
        case .lpmIPv4: chip.lpm4.count + chip.vrfLPM4.values.reduce(0) { $0 + $1.count }
        case .lpmIPv6: chip.lpm6.count + chip.vrfLPM6.values.reduce(0) { $0 + $1.count }
        case .vrfs: vrfsInUse
        default: tableUse[table] ?? 0
        }
    }

    /// `.tableFull` when one more entry does not fit in `table`.
    func checkRoom(_ table: TableKind) -> DriverResult? {
        let u = used(table), c = capacity(table)
        return u >= c ? .tableFull(table, used: u, capacity: c) : nil
    }

    func count(_ table: TableKind, _ delta: Int) {
        tableUse[table, default: 0] += delta
    }
}

/// Fault injection state: fail the next N operations, shrunk tables, programming latency.
struct FaultState {
    struct FailNext {
        var remaining: Int
        var table: TableKind?
        var result: DriverResult
    }
    var failNext: [FailNext] = []
    var shrunk: [TableKind: Int] = [:]
    var latency: UInt64 = 0

    mutating func take(for op: DriverOperation) -> DriverResult? {
        guard case .set(let object) = op else { return nil }
        for i in failNext.indices where failNext[i].remaining > 0 {
            if let t = failNext[i].table, t != object.table { continue }
            failNext[i].remaining -= 1
            let r = failNext[i].result
            failNext.removeAll { $0.remaining == 0 }
            return r
        }
        return nil
    }
}

/// A fault the emulated chip can be told to produce (netdevsim's debugfs knobs, on a
/// virtual clock instead of sleeps).
public enum Fault: Hashable, Sendable {
    /// The next `count` set operations on `table` (any table when nil) fail with `result`
    /// (default: the table's own "full" result).
    case failNext(count: Int, table: TableKind?, result: DriverResult? = nil)
    /// The table holds at most `capacity` entries from now on (existing entries stay).
    case shrink(TableKind, capacity: Int)
    /// Every operation advances the chip's virtual clock by this many nanoseconds.
    case latency(nanosecondsPerOperation: UInt64)
    /// Clears all faults.
    case clear
}

extension EmulatedASIC {
    /// Injects a fault; see `Fault`.
    public func inject(_ fault: Fault) {
        switch fault {
        case .failNext(let count, let table, let result):
            let r = result ?? table.map { .tableFull($0, used: used($0), capacity: capacity($0)) } ?? .invalid("injected failure")
            faults.failNext.append(.init(remaining: count, table: table, result: r))
        case .shrink(let table, let cap):
            faults.shrunk[table] = cap
            switch table {
            case .fdb: chip.fdb.limit = min(cap, chip.fdb.capacity)
            case .lpmIPv4: chip.lpm4.capacity = cap
            case .lpmIPv6: chip.lpm6.capacity = cap
            default: break
            }
        case .latency(let ns):
            faults.latency = ns
        case .clear:
            faults = FaultState()
            chip.fdb.limit = chip.fdb.capacity
            chip.lpm4.capacity = profile.capacity(.lpmIPv4)
            chip.lpm6.capacity = profile.capacity(.lpmIPv6)
        }
    }
}
