import Foundation
import KernelMirror
import Netlink
import SwitchDriver
import SwitchModel

/// The driver for kernel switchdev ports (rocker, netdevsim; mlxsw and prestera on real
/// switches). It is an *observer*: on a switchdev box the kernel's own driver programs
/// the ASIC from the kernel bridge and FIB through the switchdev notifiers, so Hoist
/// programs nothing. It accepts what the stages want on switchdev ports, keeps those
/// objects by key, and reports, per accepted object, what the kernel's flags say the
/// hardware did — or that the kernel gives no flag for its kind.
///
/// ```
///  ip / bridge ──► kernel bridge, FIB ──switchdev notifiers──► kernel driver ──► ASIC
///                     │ RTNLGRP_* (its own KernelMirror: flags)  │ sets offload / trap /
///                     ▼                                          │ offload_failed flags
///  engine ──apply──► SwitchdevDriver: ok when the object is on switchdev ports (kept by
///                     key), notSupported otherwise; writes nothing
///         ◄──pollEvents── objectState(key, report): flagged kernel object → HardwareKey
///                         (the shared identity, HardwareKey.route(of:) …) → SwitchdevFlags
///         ◄──readBack──── the accepted objects the kernel has not failed
///         ◄──counters──── IFLA_STATS64 of the ports, devlink resources (occ/size)
/// ```
///
/// The driver never derives hardware objects from kernel objects — the stages do, once.
/// It relates a kernel object to a hardware key through the identity both share (bridge
/// and router interface ids are ifindexes, a route's slot is its table and prefix), and
/// compares the flags with what `apply` accepted under that key. It watches the kernel
/// itself (its own mirror, for the flags and the links of the switchdev ports): the driver
/// protocol carries no kernel state, and the driver may run behind a chip link.
public final class SwitchdevDriver: SwitchDriver {
    public let capabilities: DriverCapabilities
    public let ports: SwitchdevPorts
    /// The latest error of the driver's own kernel watch or devlink read, for logging.
    public private(set) var lastError: String?
    /// How long devlink resources are reused before they are read again.
    public var resourceMaxAgeNanoseconds: UInt64 = 1_000_000_000

    private let mirror: KernelMirror
    private let statistics: NetlinkChannel
    private let devlink: DevlinkResourceSource?
    private var events: [DriverEvent] = []
    private var eventStart = 0
    /// What `apply` accepted, by key: the stages' objects on switchdev ports.
    private var accepted: [HardwareKey: HardwareObject] = [:]
    /// The report last sent per accepted key, so a flag change is reported once.
    private var reported: [HardwareKey: HardwareReport] = [:]
    /// The kernel's current flags, as reports, per hardware key (absent: no flag).
    private var flagged: [HardwareKey: HardwareReport] = [:]
    /// Kernel routes carrying a flag, per slot: several kernel routes share a slot, and
    /// the kernel flags the one it uses.
    private var flaggedRoutes: [HardwareKey: [Route.Key: UInt32]] = [:]
    private var resourceCache: (at: UInt64, resources: [DevlinkResource])?

    /// The features the kernel's switchdev drivers offload here: VLAN-aware bridging with
    /// learning, and IPv4/IPv6 routing with ECMP. Not: 802.1ad, multicast snooping
    /// (rocker has no MDB offload), VXLAN.
    public static let features: DriverCapabilities.Features = [.vlanFiltering, .learning, .ipv4Routing, .ipv6Routing, .ecmp]

    /// Watches the kernel of `namespace` (the caller's when nil); the switchdev ports are
    /// the ones there now. `devlink` reads resources (default: generic netlink, `DevlinkNetlinkResources`).
    public convenience init(namespace: String? = nil, devlink: DevlinkResourceSource? = nil) throws {
        try self.init(mirror: KernelMirror(namespace: namespace), statistics: NetlinkChannel(namespace: namespace),
                      devlink: devlink ?? DevlinkNetlinkResources(namespace: namespace))
    }

    /// Watches the kernel through `mirror` (not started yet; the driver starts it: the
    /// switchdev ports are those of its first dump), reads port counters over `statistics`
    /// and resources from `devlink` (nil: none). Tests pass mirrors over scripted transports.
    public init(mirror: KernelMirror, statistics: NetlinkChannel, devlink: DevlinkResourceSource?) throws {
        self.mirror = mirror
        let initial = try mirror.start()
        self.statistics = statistics
        ports = SwitchdevPorts(links: mirror.tables.links.values)
        self.devlink = devlink
        var tables: [TableKind: Int] = [:]
        do {
            let resources = try self.devlink?.resources(ownerOf: Set(ports.ports.map(\.name))) ?? []
            for r in resources { if let t = r.table, let size = r.size { tables[t] = size } }
            resourceCache = (Self.now(), resources)
        } catch {
            lastError = "devlink: \(error)"
        }
        capabilities = DriverCapabilities(name: "switchdev", ports: ports.capabilityPorts, tables: tables,
                                          features: Self.features, programsHardware: false)
        note(initial)
    }

    // MARK: SwitchDriver

    /// Accepts (`ok`) each object that relates to switchdev ports — the kernel driver acts
    /// on its kernel counterpart — keeps it by key, and queues its report: the kernel's
    /// flags on it, or why there is none (`SwitchdevFlags.unflagged`). Answers
    /// `notSupported` for the rest. Removals always succeed and forget the object.
    /// Nothing is written to the kernel.
    public func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        refresh()
        let routable = routableInterfaces()
        var results: [DriverResult] = []
        results.reserveCapacity(batch.count)
        for op in batch {
            switch op {
            case .remove(let key):
                accepted[key] = nil
                reported[key] = nil
                results.append(.ok)
            case .set(let object):
                let result = check(object, routable: routable)
                if result == .ok {
                    accepted[object.key] = object
                    reported[object.key] = nil
                    report(object.key)
                } else {
                    accepted[object.key] = nil
                    reported[object.key] = nil
                }
                results.append(result)
            }
        }
        return results
    }

    /// The accepted objects, but those the kernel flagged `rt_offload_failed`: an observer
    /// holds what it accepted, and the kernel's flags say what did not make it.
    public func readBack() -> [HardwareObject] {
        refresh()
        return accepted.filter { key, _ in
            if case .failed? = flagged[key] { return false }
            return true
        }.values.sorted { ($0.key.rank, $0.key.description) < ($1.key.rank, $1.key.description) }
    }

    public func pollEvents(limit: Int) -> [DriverEvent] {
        refresh()
        let n = min(max(limit, 0), events.count - eventStart)
        let out = Array(events[eventStart..<eventStart + n])
        eventStart += n
        if eventStart == events.count {
            events.removeAll(keepingCapacity: true)
            eventStart = 0
        }
        return out
    }

    /// Port counters from the kernel's `IFLA_STATS64` of each switchdev port (a link
    /// dump); table occupancy from devlink resources (`occ`/`size`; capacity 0 when the
    /// resource is unlimited).
    public func counters() -> DriverCounters {
        var c = DriverCounters()
        do {
            try statistics.dump(.links) { message in
                guard case .newLink(let link) = message, let p = ports.port(of: link), let s = link.statistics else { return }
                var pc = PortCounters()
                pc.rxPackets = s.rxPackets
                pc.rxBytes = s.rxBytes
                pc.txPackets = s.txPackets
                pc.txBytes = s.txBytes
                pc.rxDrops = s.rxDropped
                c.ports[p] = pc
            }
        } catch {
            lastError = "link statistics: \(error)"
        }
        for r in resources() {
            guard let t = r.table else { continue }
            c.tables[t] = TableOccupancy(used: r.occupancy, capacity: r.size ?? 0)
        }
        return c
    }

    // MARK: Relating objects to switchdev ports

    /// Interfaces a router interface id (a kernel ifindex) may name: switchdev ports and
    /// bridges with a switchdev port.
    private func routableInterfaces() -> Set<IfIndex> {
        var out: Set<IfIndex> = []
        for link in mirror.tables.links.values where ports.port(of: link) != nil {
            out.insert(link.index)
            if let m = link.master, mirror.tables.links[m]?.kind == .bridge { out.insert(m) }
        }
        return out
    }

    private func check(_ object: HardwareObject, routable: Set<IfIndex>) -> DriverResult {
        func port(_ p: PortID) -> DriverResult {
            ports.contains(p) ? .ok : .notSupported("\(p) is not a switchdev port")
        }
        func rif(_ id: RouterInterfaceID) -> DriverResult {
            let index = IfIndex(rawValue: id.rawValue)
            if routable.contains(index) { return .ok }
            let name = mirror.tables.links[index]?.name ?? "ifindex \(id.rawValue)"
            return .notSupported("\(name) is neither a switchdev port nor a bridge of one")
        }
        switch object {
        case .port(let p): return port(p.port)
        case .acl: return .notSupported("tc filters on switchdev ports are offloaded by the kernel's driver")
        case .bridge: return .ok
        case .vlanMember(let m): return port(m.port)
        case .fdb(let f):
            switch f.destination {
            case .port(let p): return port(p)
            case .cpu: return .ok
            case .tunnel: return .notSupported("VXLAN is not offloaded through switchdev here")
            }
        case .mdb(let m):
            return m.ports.first { !ports.contains($0) }.map { .notSupported("\($0) is not a switchdev port") } ?? .ok
        case .routerInterface(let r):
            switch r.binding {
            case .port(let p): return port(p)
            case .bridge: return rif(r.id)
            }
        case .neighbor(let n): return rif(n.rif)
        case .nexthop(let nh): return rif(nh.rif)
        case .nexthopGroup(let g):
            return g.members.lazy.map { rif($0.nexthop.rif) }.first { $0 != .ok } ?? .ok
        case .route(let r):
            switch r.action {
            case .nexthop(let nh): return rif(nh.rif)
            case .attached(let id): return rif(id)
            case .group, .trap, .drop: return .ok
            }
        case .vxlanTunnel, .vxlanFlood:
            return .notSupported("VXLAN is not offloaded through switchdev here")
        case .vf:
            return .notSupported("no SR-IOV VFs on switchdev ports (the SRIOV driver has them)")
        case .lag:
            return .notSupported("LAGs are not offloaded through switchdev here")
        }
    }

    // MARK: Watching the kernel

    /// Reads what the kernel reported since the last call and turns changed flags on
    /// accepted objects into reports.
    private func refresh() {
        do {
            while let deltas = try mirror.poll(timeoutMilliseconds: 0) { note(deltas) }
            note(mirror.flush())
        } catch {
            lastError = "kernel watch: \(error)"
        }
    }

    /// Follows the kernel's flags: each changed kernel object → its hardware key (the
    /// shared identity) → the report its flags give; a change on an accepted key is
    /// reported (nothing is accepted yet at the initial dump).
    private func note(_ deltas: [MirrorDelta]) {
        for delta in deltas {
            switch delta {
            case .route(let change):
                if case .changed(let old, _) = change, old.key != change.current.key { noteRoute(old, removed: true) }
                noteRoute(change.current, removed: change.isRemoval)
            case .fdb(let change):
                if case .changed(let old, _) = change, let k = fdbKey(of: old), k != fdbKey(of: change.current) { setFlag(k, nil) }
                let e = change.current
                guard let key = fdbKey(of: e) else { continue }
                setFlag(key, change.isRemoval ? nil : SwitchdevFlags.report(fdbFlags: e.flags))
            case .neighbor(let change):
                let n = change.current
                setFlag(.neighbor(of: n), change.isRemoval ? nil : SwitchdevFlags.report(neighborFlags: n.flags))
            case .nexthop(let change):
                let o = change.current
                setFlag(.nexthopGroup(ofObject: o.id), change.isRemoval ? nil : SwitchdevFlags.report(nexthopObject: o))
            default:
                continue
            }
        }
    }

    /// The key of a bridge FDB entry on a switchdev port, as the stages key it; nil for
    /// entries of the device's own table and entries off the switchdev ports.
    private func fdbKey(of e: FDBEntry) -> HardwareKey? {
        let links = mirror.tables.links
        guard !e.key.isSelf, ports.port(of: e.key.port, in: links) != nil,
              let bridge = e.master ?? links[e.key.port]?.master, links[bridge]?.kind == .bridge else { return nil }
        return .fdb(of: e, inBridge: bridge)
    }

    /// A kernel route's flags into its slot's report: the flagged route of the slot (the
    /// local table's first, as the stages choose), or none.
    private func noteRoute(_ r: Route, removed: Bool) {
        guard let key = HardwareKey.route(of: r) else { return }
        var slot = flaggedRoutes[key] ?? [:]
        if removed || SwitchdevFlags.report(routeFlags: r.flags) == nil { slot[r.key] = nil } else { slot[r.key] = r.flags }
        flaggedRoutes[key] = slot.isEmpty ? nil : slot
        func rank(_ k: Route.Key) -> (Int, Route.Key) { (k.table == .local ? 0 : 1, k) }
        guard let winner = slot.min(by: { rank($0.key) < rank($1.key) }) else {
            setFlag(key, nil)
            return
        }
        var report = SwitchdevFlags.report(routeFlags: winner.value)
        if case .failed? = report, let full = fullTable(winner.key.family == .ipv4 ? .lpmIPv4 : .lpmIPv6) {
            report = SwitchdevFlags.report(routeFlags: winner.value, full: full)
        }
        setFlag(key, report)
    }

    private func setFlag(_ key: HardwareKey, _ report: HardwareReport?) {
        guard flagged[key] != report else { return }
        flagged[key] = report
        if accepted[key] != nil { self.report(key) }
    }

    /// Queues the report of the accepted object `key` when it differs from the last one sent.
    private func report(_ key: HardwareKey) {
        guard let object = accepted[key] else { return }
        let now = flagged[key] ?? SwitchdevFlags.unflagged(object, kernelNexthopObject: isKernelNexthopObject(key))
        guard reported[key] != now else { return }
        reported[key] = now
        events.append(.objectState(key, now))
    }

    private func isKernelNexthopObject(_ key: HardwareKey) -> Bool {
        guard case .nexthopGroup(let id) = key, id.rawValue < NexthopGroupID.synthesizedBase else { return false }
        return mirror.tables.nexthops[id.rawValue] != nil
    }

    /// The table's occupancy when its devlink resource is at its size (devlink read at
    /// most once a second, however many routes fail).
    private func fullTable(_ table: TableKind) -> (table: TableKind, occupancy: TableOccupancy)? {
        guard let r = resources().first(where: { $0.table == table }), let size = r.size, r.occupancy >= size else { return nil }
        return (table, TableOccupancy(used: r.occupancy, capacity: size))
    }

    private func resources() -> [DevlinkResource] {
        if let cache = resourceCache, Self.now() - cache.at < resourceMaxAgeNanoseconds { return cache.resources }
        do {
            let fresh = try devlink?.resources(ownerOf: Set(ports.ports.map(\.name))) ?? []
            resourceCache = (Self.now(), fresh)
            return fresh
        } catch {
            lastError = "devlink: \(error)"
            return resourceCache?.resources ?? []
        }
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

private extension Change {
    var isRemoval: Bool { if case .removed = self { true } else { false } }
}
