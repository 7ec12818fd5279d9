import Offload
import SwitchDriver
import SwitchModel

extension QueryRows {
    /// A route's place in `ip route`'s order: table, then address and length.
    struct RouteOrder: Comparable {
        var vrf: UInt32
        var prefix: IPPrefix
        static func < (a: RouteOrder, b: RouteOrder) -> Bool { (a.vrf, a.prefix) < (b.vrf, b.prefix) }

        /// The leading bits of the address, a coarse place in the same order within a table
        /// (`high` 0 — IPv4-mapped and the lowest IPv6 — by `low`'s top 40 bits: an IPv4
        /// route's is `0xFFFF00` + its first octet; other IPv6 by the first 16 bits).
        var bucket: UInt64 {
            let a = prefix.address
            return a.high == 0 ? a.low >> 24 : 1 << 40 | a.high >> 48
        }
    }

    /// The routes of a snapshot in `RouteOrder`, produced bucket by bucket so that the first
    /// rows of a million leave after two plain scans and one small sort.
    ///
    /// IPv4 routes (nearly all of a full table) are counted per table and first octet in
    /// a first scan, then placed as one `UInt64` each (`address << 8 | length`, which
    /// sorts as the prefix does) into one array sized by the count: no hashing, no array
    /// growth per route. Each octet's slice is sorted when its turn comes. Other routes
    /// (IPv6) go to per-table dictionaries of buckets.
    struct RouteBuckets {
        private struct Table {
            var vrf: UInt32
            /// Where each first octet's slice of `v4` starts (257 bounds).
            var start = [Int](repeating: 0, count: 257)
            var other: [UInt64: [RouteOrder]] = [:]
        }
        private var tables: [Table] = []
        private var v4: [UInt64] = []

        private static func ipv4(_ prefix: IPPrefix) -> UInt32? {
            let a = prefix.address
            return a.high == 0 && a.low >> 32 == 0xFFFF ? UInt32(truncatingIfNeeded: a.low) : nil
        }

        /// Gathers the routes `forEachKey` (a snapshot's) gives, in two scans.
        init(_ forEachKey: ((HardwareKey) -> Void) -> Void) {
            var index: [UInt32: Int] = [:]
            var last: (vrf: UInt32, index: Int)?
            var tables: [Table] = []
            func table(_ vrf: UInt32) -> Int {
                if let last, last.vrf == vrf { return last.index }
                let i = index[vrf] ?? {
                    tables.append(Table(vrf: vrf))
                    index[vrf] = tables.count - 1
                    return tables.count - 1
                }()
                last = (vrf, i)
                return i
            }
            // Scan 1: count IPv4 routes per table and octet; bucket the rest.
            forEachKey { key in
                guard case .route(let vrf, let prefix) = key else { return }
                let t = table(vrf)
                if let v = Self.ipv4(prefix) {
                    tables[t].start[Int(v >> 24) + 1] += 1
                } else {
                    let route = RouteOrder(vrf: vrf, prefix: prefix)
                    tables[t].other[route.bucket, default: []].append(route)
                }
            }
            tables.sort { $0.vrf < $1.vrf }
            var total = 0
            for t in tables.indices {
                tables[t].start[0] = total
                for octet in 0..<256 { tables[t].start[octet + 1] += tables[t].start[octet] }
                total = tables[t].start[256]
            }
            index = Dictionary(uniqueKeysWithValues: tables.enumerated().map { ($1.vrf, $0) })
            last = nil
            // Scan 2: place each IPv4 route at its octet's next free slot.
            var next = tables.map { $0.start }
            v4 = [UInt64](unsafeUninitializedCapacity: total) { buffer, count in
                forEachKey { key in
                    guard case .route(let vrf, let prefix) = key, let v = Self.ipv4(prefix) else { return }
                    let t = table(vrf), octet = Int(v >> 24)
                    // The snapshot is immutable, so scan 2 meets what scan 1 counted.
                    precondition(next[t][octet] < tables[t].start[octet + 1], "snapshot changed between scans")
                    buffer[next[t][octet]] = UInt64(v) << 8 | UInt64(prefix.length)
                    next[t][octet] += 1
                }
                count = total
            }
            self.tables = tables
        }

        /// Calls `body` with every route in order until it returns false.
        mutating func drain(_ body: (RouteOrder) -> Bool) {
            for t in tables.indices {
                let vrf = tables[t].vrf
                let bits = tables[t].other.keys.sorted()
                var b = 0
                func others(below limit: UInt64) -> Bool {
                    while b < bits.count, bits[b] < limit {
                        for route in tables[t].other.removeValue(forKey: bits[b])!.sorted() where !body(route) { return false }
                        b += 1
                    }
                    return true
                }
                for octet in 0..<256 {
                    guard others(below: 0xFFFF00 + UInt64(octet)) else { return }
                    let slice = tables[t].start[octet]..<tables[t].start[octet + 1]
                    guard !slice.isEmpty else { continue }
                    v4[slice].sort()
                    for packed in v4[slice] {
                        let prefix = IPPrefix(address: IPAddress(ipv4: UInt32(truncatingIfNeeded: packed >> 8)), length: UInt8(truncatingIfNeeded: packed))
                        if !body(RouteOrder(vrf: vrf, prefix: prefix)) { return }
                    }
                }
                guard others(below: .max) else { return }
            }
        }
    }
}
