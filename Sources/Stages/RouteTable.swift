import SwitchDriver
import SwitchModel

/// Where a hardware route lives: the virtual router (the kernel table id, with local-table
/// addresses moved to main) and the prefix.
struct RouteSlot: Hashable, Comparable, Sendable {
    var vrf: UInt32
    var prefix: IPPrefix

    static func < (a: RouteSlot, b: RouteSlot) -> Bool { (a.vrf, a.prefix) < (b.vrf, b.prefix) }
}

/// What a kernel route asks of the chip, in five bytes: references into the router
/// stage's tables instead of addresses, so a million routes stay small.
enum RouteTarget: Hashable, Sendable {
    /// A directly connected prefix on this interface.
    case attached(IfIndex)
    /// One gateway: a handle in the `NexthopRegistry`.
    case nexthop(UInt32)
    /// Inline multipath: a synthesized group in the `NexthopRegistry`.
    case ecmp(UInt32)
    /// A kernel nexthop object (`RTA_NH_ID`).
    case object(UInt32)
    /// A local, broadcast or anycast address of this host.
    case local
    /// `blackhole`.
    case drop
    /// `unreachable`, `prohibit` or `throw`: the kernel answers.
    case icmp(RouteType)
    /// Multipath wider than the chip's groups.
    case tooWide(UInt16)
    /// Multipath on a driver without ECMP.
    case noECMP
    /// The driver does not route this family.
    case noFamily
    /// A route the chip cannot express.
    case unusable(Problem)

    enum Problem: UInt8, Sendable {
        case noPath, noInterface, allDead, memberWithoutGateway

        var reason: String {
            switch self {
            case .noPath: "route has no nexthop"
            case .noInterface: "route has no output interface"
            case .allDead: "every nexthop of the route is dead"
            case .memberWithoutGateway: "multipath route has a nexthop without gateway"
            }
        }
    }
}

/// One kernel route competing for a slot. Its identity within the slot is what the
/// kernel's key adds to the slot: table (local or not), TOS, metric, IPv6 device.
struct RouteCandidate: Equatable, Sendable {
    var metric: UInt32
    /// `Route.Key.interface` (IPv6 routes without gateway), 0 when absent.
    var device: UInt32
    var target: RouteTarget
    var tos: UInt8
    /// From the local table (255): the kernel consults it before any other.
    var fromLocalTable: Bool

    func sameIdentity(_ o: RouteCandidate) -> Bool {
        metric == o.metric && device == o.device && tos == o.tos && fromLocalTable == o.fromLocalTable
    }

    /// The kernel's choice: the local table first, then TOS 0, then the lowest metric.
    func precedes(_ o: RouteCandidate) -> Bool {
        (fromLocalTable ? 0 : 1, tos == 0 ? 0 : 1, metric, tos, device)
            < (o.fromLocalTable ? 0 : 1, o.tos == 0 ? 0 : 1, o.metric, o.tos, o.device)
    }
}

/// The candidates of every slot of one family. The winner sits in `best`, inline; the
/// rare runners-up (same prefix, other metric or TOS) in `others`.
struct CandidateTable<Key: Hashable & Sendable>: Sendable {
    private(set) var best: [Key: RouteCandidate] = [:]
    private var others: [Key: [RouteCandidate]] = [:]
    private(set) var count = 0

    func winner(_ k: Key) -> RouteCandidate? { best[k] }

    /// Makes room for `more` slots beyond those held.
    mutating func reserveCapacity(adding more: Int) {
        if best.capacity < best.count + more { best.reserveCapacity(best.count + more) }
    }

    /// Adds a candidate; returns the one with the same identity it replaced.
    mutating func insert(_ c: RouteCandidate, at k: Key) -> RouteCandidate? {
        guard let current = best[k] else {
            best[k] = c
            count += 1
            return nil
        }
        if current.sameIdentity(c) {
            best[k] = c
            return current
        }
        var list = others[k] ?? []
        var replaced: RouteCandidate?
        if let i = list.firstIndex(where: { $0.sameIdentity(c) }) { replaced = list.remove(at: i) }
        if c.precedes(current) {
            list.append(current)
            best[k] = c
        } else {
            list.append(c)
        }
        others[k] = list
        if replaced == nil { count += 1 }
        return replaced
    }

    /// Removes the candidate with `c`'s identity, promoting the next best; returns it.
    mutating func remove(_ c: RouteCandidate, at k: Key) -> RouteCandidate? {
        guard let current = best[k] else { return nil }
        var list = others[k] ?? []
        let removed: RouteCandidate
        if current.sameIdentity(c) {
            removed = current
            if let i = list.indices.min(by: { list[$0].precedes(list[$1]) }) {
                best[k] = list.remove(at: i)
            } else {
                best[k] = nil
                best.shrinkIfSparse()
            }
        } else {
            guard let i = list.firstIndex(where: { $0.sameIdentity(c) }) else { return nil }
            removed = list.remove(at: i)
        }
        if list.isEmpty, others[k] != nil {
            others[k] = nil
            others.shrinkIfSparse()
        } else if !list.isEmpty {
            others[k] = list
        }
        count -= 1
        return removed
    }
}

/// Every route candidate, by slot. IPv4 slots are keyed in 12 bytes, IPv6 in 24.
struct RouteTable: Sendable {
    private struct V4: Hashable, Sendable {
        var vrf: UInt32
        var address: UInt32
        var length: UInt8

        /// One word to the hasher.
        func hash(into h: inout Hasher) {
            h.combine(UInt64(vrf) << 40 ^ UInt64(length) << 32 | UInt64(address))
        }
    }

    private struct V6: Hashable, Sendable {
        var high: UInt64
        var low: UInt64
        var vrf: UInt32
        var length: UInt8
    }

    private var v4 = CandidateTable<V4>()
    private var v6 = CandidateTable<V6>()

    var count: Int { v4.count + v6.count }

    private static func v4(_ s: RouteSlot) -> V4 { V4(vrf: s.vrf, address: s.prefix.address.ipv4Value, length: s.prefix.length) }
    private static func v6(_ s: RouteSlot) -> V6 {
        V6(high: s.prefix.address.high, low: s.prefix.address.low, vrf: s.vrf, length: s.prefix.length)
    }

    /// Makes room for this many more IPv4 and IPv6 slots (a full table at once).
    mutating func reserveCapacity(ipv4: Int, ipv6: Int) {
        v4.reserveCapacity(adding: ipv4)
        v6.reserveCapacity(adding: ipv6)
    }

    func winner(_ s: RouteSlot) -> RouteCandidate? {
        s.prefix.family == .ipv4 ? v4.winner(Self.v4(s)) : v6.winner(Self.v6(s))
    }

    mutating func insert(_ c: RouteCandidate, at s: RouteSlot) -> RouteCandidate? {
        s.prefix.family == .ipv4 ? v4.insert(c, at: Self.v4(s)) : v6.insert(c, at: Self.v6(s))
    }

    mutating func remove(_ c: RouteCandidate, at s: RouteSlot) -> RouteCandidate? {
        s.prefix.family == .ipv4 ? v4.remove(c, at: Self.v4(s)) : v6.remove(c, at: Self.v6(s))
    }

    /// Calls `body` with every slot's winner.
    func forEachWinner(_ body: (RouteSlot, RouteCandidate) -> Void) {
        for (k, c) in v4.best {
            body(RouteSlot(vrf: k.vrf, prefix: IPPrefix(address: IPAddress(ipv4: k.address), length: k.length)), c)
        }
        for (k, c) in v6.best {
            body(RouteSlot(vrf: k.vrf, prefix: IPPrefix(address: IPAddress(high: k.high, low: k.low), length: k.length)), c)
        }
    }
}
