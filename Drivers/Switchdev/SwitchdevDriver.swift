import Foundation
import KernelMirror
import Netlink
import SwitchDriver
import SwitchModel

/// The driver for kernel switchdev ports (rocker, netdevsim; mlxsw and prestera on real
/// switches). It is an *observer*: on a switchdev box the kernel's own driver programs
/// the ASIC from the kernel bridge and FIB through the switchdev notifiers, so Hoist
/// programs nothing. It relates what the stages want to kernel objects on switchdev
/// ports, and reports what the kernel says the hardware did.
///
/// ```
///  ip / bridge ──► kernel bridge, FIB ──switchdev notifiers──► kernel driver ──► ASIC
///                     │ RTNLGRP_* (its own KernelMirror)         │ sets offload / trap /
///                     ▼                                          │ offload_failed flags
///  engine ──apply──► SwitchdevDriver: ok when the object is on switchdev ports,
///                     notSupported otherwise; writes nothing
///         ◄──pollEvents── objectState(key, verdict) from the flags (SwitchdevView)
///         ◄──readBack──── kernel objects flagged as in hardware
///         ◄──counters──── IFLA_STATS64 of the ports, devlink resources (occ/size)
/// ```
///
/// The kernel driver acts on the kernel object, which exists because the mirror saw it;
/// the verdict comes later as the object's flags. A verdict that arrives before the
/// engine programmed the object is kept and reported again after `apply` accepts it.
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
    /// The latest verdict the kernel gave per key (from flags).
    private var verdicts: [HardwareKey: DriverResult] = [:]
    private var resourceCache: (at: UInt64, resources: [DevlinkResource])?

    /// The features the kernel's switchdev drivers offload here: VLAN-aware bridging with
    /// learning, and IPv4/IPv6 routing with ECMP. Not: 802.1ad, multicast snooping
    /// (rocker has no MDB offload), VXLAN.
    public static let features: DriverCapabilities.Features = [.vlanFiltering, .learning, .ipv4Routing, .ipv6Routing, .ecmp]

    /// Watches the kernel of `namespace` (the caller's when nil); the switchdev ports are
    /// the ones there now. `devlink` reads resources (default: generic netlink, `DevlinkNetlinkResources`).
    public init(namespace: String? = nil, devlink: DevlinkResourceSource? = nil) throws {
        mirror = try KernelMirror(namespace: namespace)
        let initial = try mirror.start()
        statistics = try NetlinkChannel(namespace: namespace)
        ports = SwitchdevPorts(links: mirror.tables.links.values)
        self.devlink = devlink ?? DevlinkNetlinkResources(namespace: namespace)
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
        note(initial, emit: false)
    }

    // MARK: SwitchDriver

    /// Accepts (`ok`) each object that relates to switchdev ports — the kernel driver acts
    /// on its kernel counterpart — and answers `notSupported` for the rest. Removals
    /// always succeed. Nothing is written to the kernel. A verdict the kernel already gave
    /// on an accepted object is queued as an event, so the engine hears it.
    public func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        refresh()
        let routable = routableInterfaces()
        var results: [DriverResult] = []
        results.reserveCapacity(batch.count)
        for op in batch {
            guard case .set(let object) = op else {
                results.append(.ok)
                continue
            }
            let result = check(object, routable: routable)
            if result == .ok, let verdict = verdicts[object.key], verdict != .ok {
                events.append(.objectState(object.key, verdict))
            }
            results.append(result)
        }
        return results
    }

    public func readBack() -> [HardwareObject] {
        refresh()
        return SwitchdevView.readBack(mirror.tables, ports: ports, features: capabilities.features)
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
        }
    }

    // MARK: Watching the kernel

    /// Reads what the kernel reported since the last call and turns changed verdicts
    /// into events.
    private func refresh() {
        do {
            while let deltas = try mirror.poll(timeoutMilliseconds: 0) { note(deltas, emit: true) }
            note(mirror.flush(), emit: true)
        } catch {
            lastError = "kernel watch: \(error)"
        }
    }

    private func note(_ deltas: [MirrorDelta], emit: Bool) {
        for delta in deltas {
            switch delta {
            case .route(let change):
                let r = change.current
                guard let key = SwitchdevView.key(of: r) else { continue }
                if case .removed = change {
                    verdicts[key] = nil
                    continue
                }
                var verdict = SwitchdevView.verdict(routeFlags: r.flags)
                if verdict != nil, verdict != .ok, let full = fullTable(SwitchdevView.table(of: r)) {
                    verdict = SwitchdevView.verdict(routeFlags: r.flags, full: full)
                }
                record(key, verdict, emit: emit)
            case .fdb(let change):
                let e = change.current
                guard let key = SwitchdevView.key(of: e, ports: ports, links: mirror.tables.links) else { continue }
                if case .removed = change {
                    verdicts[key] = nil
                    continue
                }
                record(key, SwitchdevView.verdict(fdbFlags: e.flags), emit: emit)
            default:
                continue
            }
        }
    }

    private func record(_ key: HardwareKey, _ verdict: DriverResult?, emit: Bool) {
        guard let verdict, verdicts[key] != verdict else { return }
        verdicts[key] = verdict
        if emit { events.append(.objectState(key, verdict)) }
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
