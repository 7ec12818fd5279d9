import SwitchModel

/// The mirror's route table, kept compact because it may hold millions of routes.
///
/// Routes are grouped per table, and each is stored as a 24-byte key plus a 40-byte
/// record; the rare parts (ECMP path lists, a preferred source) live in a side object that
/// single-path routes do not allocate. `Route` values are made on the way out.
public struct RouteStore: Sendable, Equatable {
    struct Key: Hashable, Sendable {
        var destination: IPAddress
        var metric: UInt32
        var length: UInt8
        var tos: UInt8

        /// Two words to the hasher (the derived hash would be five fields).
        func hash(into h: inout Hasher) {
            h.combine(destination.low)
            h.combine(destination.high ^ (UInt64(metric) << 16 | UInt64(length) << 8 | UInt64(tos)))
        }
    }

    final class Extra: Sendable, Equatable {
        let preferredSource: IPAddress?
        /// Set for routes whose path list is not a single inline path.
        let nexthops: [RouteNexthop]?
        init(preferredSource: IPAddress?, nexthops: [RouteNexthop]?) {
            self.preferredSource = preferredSource
            self.nexthops = nexthops
        }
        static func == (a: Extra, b: Extra) -> Bool { a.preferredSource == b.preferredSource && a.nexthops == b.nexthops }
    }

    struct Record: Equatable, Sendable {
        /// The single path's gateway; unspecified (all zeros) when it has none.
        var gateway: IPAddress
        var interface: UInt32
        var nexthopID: UInt32
        var flags: UInt32
        var type: UInt8
        var protocolID: UInt8
        var scope: UInt8
        var pathFlags: UInt8
        var extra: Extra?

        init(_ route: Route) {
            let single = route.nexthops.count == 1 && route.nexthops[0].weight == 1 ? route.nexthops[0] : nil
            gateway = single?.gateway ?? .anyIPv6
            interface = single?.interface?.rawValue ?? 0
            nexthopID = route.nexthopID ?? 0
            flags = route.flags
            type = route.type.rawValue
            protocolID = route.protocolID.rawValue
            scope = route.scope.rawValue
            pathFlags = single?.flags ?? 0
            let needsList = single == nil && !route.nexthops.isEmpty
            extra = (needsList || route.preferredSource != nil)
                ? Extra(preferredSource: route.preferredSource, nexthops: needsList ? route.nexthops : nil) : nil
        }

        func route(group: Group, key: Key) -> Route {
            var nexthops: [RouteNexthop] = []
            if let list = extra?.nexthops {
                nexthops = list
            } else if !gateway.isUnspecified || interface != 0 {
                nexthops = [RouteNexthop(gateway: gateway.isUnspecified ? nil : gateway,
                                         interface: interface == 0 ? nil : IfIndex(interface), weight: 1, flags: pathFlags)]
            }
            return Route(key: .init(table: group.table, destination: IPPrefix(address: key.destination, length: key.length),
                                    tos: key.tos, metric: key.metric, interface: group.interface == 0 ? nil : IfIndex(group.interface)),
                         type: RouteType(rawValue: type), protocolID: RouteProtocol(rawValue: protocolID),
                         scope: RouteScope(rawValue: scope), flags: flags, preferredSource: extra?.preferredSource,
                         nexthopID: nexthopID == 0 ? nil : nexthopID, nexthops: nexthops)
        }
    }

    /// Routes are grouped by table and, for IPv6 device routes, by device (see `Route.Key.interface`),
    /// so the per-route key stays 24 bytes.
    struct Group: Hashable, Sendable {
        var table: RouteTable
        var interface: UInt32
    }

    private var tables: [Group: [Key: Record]] = [:]
    public private(set) var count = 0

    public init() {}

    static func key(_ k: Route.Key) -> Key {
        Key(destination: k.destination.address, metric: k.metric, length: k.destination.length, tos: k.tos)
    }

    static func group(_ k: Route.Key) -> Group { Group(table: k.table, interface: k.interface?.rawValue ?? 0) }

    public subscript(key: Route.Key) -> Route? {
        tables[Self.group(key)]?[Self.key(key)]?.route(group: Self.group(key), key: Self.key(key))
    }

    /// Inserts or replaces a route; returns the one it replaced.
    @discardableResult
    public mutating func upsert(_ route: Route) -> Route? {
        let k = Self.key(route.key)
        let g = Self.group(route.key)
        let old = tables[g, default: [:]].updateValue(Record(route), forKey: k)
        if old == nil { count += 1 }
        return old?.route(group: g, key: k)
    }

    /// Removes the route with this identity; returns it.
    @discardableResult
    public mutating func remove(_ key: Route.Key) -> Route? {
        let k = Self.key(key)
        let g = Self.group(key)
        guard let old = tables[g]?.removeValue(forKey: k) else { return nil }
        count -= 1
        if tables[g]?.isEmpty == true { tables[g] = nil } else { tables[g]?.shrinkIfSparse() }
        return old.route(group: g, key: k)
    }

    /// The routes of one table.
    public func count(in table: RouteTable) -> Int {
        tables.reduce(0) { $0 + ($1.key.table == table ? $1.value.count : 0) }
    }

    /// Every route, in no particular order.
    public func forEach(_ body: (Route) throws -> Void) rethrows {
        for (table, routes) in tables {
            for (k, r) in routes { try body(r.route(group: table, key: k)) }
        }
    }

    public var all: [Route] {
        var out: [Route] = []
        out.reserveCapacity(count)
        forEach { out.append($0) }
        return out
    }

    /// Appends the changes that turn `self` into `new`.
    func diff(to new: RouteStore, into deltas: inout [MirrorDelta]) {
        if count == 0 { deltas.reserveCapacity(deltas.count + new.count) }   // a first dump: all added
        for (table, routes) in tables {
            let other = new.tables[table] ?? [:]
            for (k, r) in routes {
                if let now = other[k] {
                    if now != r { deltas.append(.route(.changed(old: r.route(group: table, key: k), new: now.route(group: table, key: k)))) }
                } else {
                    deltas.append(.route(.removed(r.route(group: table, key: k))))
                }
            }
        }
        for (table, routes) in new.tables {
            let mine = tables[table] ?? [:]
            for (k, r) in routes where mine[k] == nil { deltas.append(.route(.added(r.route(group: table, key: k)))) }
        }
    }

    /// As `diff(to:into:)`, for the routes `within` accepts only (`new` holds only such
    /// routes: a filtered dump): routes of this store outside it are left alone.
    func diff(to new: RouteStore, within: (Route) -> Bool, into deltas: inout [MirrorDelta]) {
        for (table, routes) in tables {
            let other = new.tables[table] ?? [:]
            for (k, r) in routes {
                let old = r.route(group: table, key: k)
                if let now = other[k] {
                    if now != r { deltas.append(.route(.changed(old: old, new: now.route(group: table, key: k)))) }
                } else if within(old) {
                    deltas.append(.route(.removed(old)))
                }
            }
        }
        for (table, routes) in new.tables {
            let mine = tables[table] ?? [:]
            for (k, r) in routes where mine[k] == nil { deltas.append(.route(.added(r.route(group: table, key: k)))) }
        }
    }

    public static func == (a: RouteStore, b: RouteStore) -> Bool { a.tables == b.tables }
}
