/// FDB keys: a filtering ID (the bridge VLAN or VNI mapping's FID) and a 48-bit MAC in one
/// `UInt64`, `fid << 48 | mac`.
public enum MACKey {
    /// `fid << 48 | mac`; `mac` must fit in 48 bits. The key with every bit set
    /// (FID 0xFFFF, MAC ff:ff:ff:ff:ff:ff) is reserved as the empty-slot marker.
    @inlinable
    public static func make(fid: UInt16, mac: UInt64) -> UInt64 {
        precondition(mac >> 48 == 0, "MAC address wider than 48 bits")
        return UInt64(fid) << 48 | mac
    }

    /// The FID of a key.
    @inlinable
    public static func fid(_ key: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: key >> 48) }

    /// The MAC of a key.
    @inlinable
    public static func mac(_ key: UInt64) -> UInt64 { key & 0xFFFF_FFFF_FFFF }
}

/// What learning (or installing) a MAC did. A switch ASIC reports the same cases to its
/// driver: a new or moved entry is an event, a full bucket or table is a learning failure.
public enum LearnOutcome: Equatable, Sendable {
    /// The MAC was known on this destination; its last-seen time was refreshed (for
    /// `setStatic`: the entry was replaced and is now static).
    case refreshed
    /// A new entry was added.
    case learned
    /// The MAC was known on another destination (a station move); it now points here.
    case moved(from: UInt32)
    /// The MAC's bucket has no free way, although the table may have room elsewhere.
    case bucketFull
    /// The table holds `limit` entries.
    case tableFull
    /// The MAC has a static entry; learning never changes it.
    case isStatic
    /// The MAC has a static entry that is not sticky on another destination (the one
    /// given back): learning does not change it, but the kernel's bridge would move it.
    case staticElsewhere(UInt32)
}

/// The emulated chip's forwarding database: exact match from (FID, MAC) to a destination
/// (an opaque port or port-group index), with per-entry last-seen time for ageing and a
/// static flag.
///
/// Hardware counterpart: a switch ASIC's hash-based FDB with N-way buckets and two hash
/// functions (d-left / two-choice hashing, as in Spectrum's and Tofino's exact-match
/// tables and DPDK's `rte_hash`, without cuckoo displacement). A key can live only in its
/// two candidate buckets, so a MAC is refused when both are full even though the table has
/// room elsewhere (`.bucketFull`); drivers report that as a learning failure, and the
/// kernel bridge then keeps the entry in software. With 8 ways, two choices refuse nothing
/// below about 75 % of the slots and under 1 % of MACs up to 90 % (one choice would refuse
/// ~1 % already at half load).
///
/// Layout: buckets of `ways` consecutive slots in flat arrays (keys, destinations, 8-bit
/// key fingerprints, last-seen times, flags); a new key goes to the less occupied of its
/// two buckets ("power of two choices"); an empty slot holds the key `UInt64.max` and
/// fingerprint 0. With 8 ways a lookup reads both buckets' fingerprints (16 bytes), then
/// one key and one destination; a bucket's 8 keys fill one cache line. No allocation
/// after `init`.
public struct MACTable: Sendable {
    /// The empty-slot key.
    @inlinable static var emptyKey: UInt64 { .max }
    static var staticFlag: UInt8 { 1 }
    static var stickyFlag: UInt8 { 2 }

    @usableFromInline var keys: [UInt64]
    @usableFromInline var destinations: [UInt32]
    /// Per slot, an 8-bit fingerprint of the key (never 0), or 0 if the slot is empty.
    @usableFromInline var tags: [UInt8]
    var lastSeen: [UInt32]
    var flags: [UInt8]
    /// Slots per bucket.
    @usableFromInline let ways: Int
    /// buckets - 1: the bucket is bits 32… of the mixed key, masked.
    @usableFromInline let bucketMask: Int
    /// Unused slots before bucket 0, so that with 8 ways each bucket's keys fill exactly
    /// one 64-byte cache line (for the key array as allocated; a copy may lose it).
    @usableFromInline let pad: Int

    /// The number of entries.
    public private(set) var count: Int

    /// The number of slots: buckets × ways.
    public var capacity: Int { keys.count - pad }

    /// The most entries the table accepts (≤ `capacity`); new entries beyond it are refused
    /// with `.tableFull`. Starts at the capacity asked for in `init`. Settable (fault
    /// injection "shrink a table"): lowering it below `count` removes nothing.
    public var limit: Int {
        didSet { precondition(limit >= 0 && limit <= capacity, "MACTable limit \(limit) outside 0...\(capacity)") }
    }

    /// A table of `ways`-way buckets with room for at least `capacity` entries: the number of
    /// buckets is `capacity / ways` rounded up to a power of two, so `self.capacity` may be
    /// larger than asked; `limit` is set to the capacity asked for.
    public init(capacity: Int, ways: Int = 8) {
        precondition(capacity >= 1 && ways >= 1, "MACTable needs capacity ≥ 1 and ways ≥ 1")
        var buckets = 1
        while buckets * ways < capacity { buckets *= 2 }
        self.ways = ways
        bucketMask = buckets - 1
        let slots = buckets * ways + 7
        keys = [UInt64](repeating: Self.emptyKey, count: slots)
        let address = keys.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        pad = Int((64 - address % 64) % 64 / 8)
        keys.removeLast(7 - pad)
        destinations = [UInt32](repeating: 0, count: keys.count)
        tags = [UInt8](repeating: 0, count: keys.count)
        lastSeen = [UInt32](repeating: 0, count: keys.count)
        flags = [UInt8](repeating: 0, count: keys.count)
        count = 0
        limit = capacity
    }

    /// The first slots of `key`'s two candidate buckets (two independent halves of one
    /// 64-bit mix; they may coincide) and its fingerprint (the mix's top byte, never 0).
    @inlinable @inline(__always)
    func hashed(_ key: UInt64) -> (first: Int, second: Int, tag: UInt8) {
        var x = key ^ (key &>> 33)
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x &>> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x &>> 33
        let tag = UInt8(truncatingIfNeeded: x &>> 56)
        return (pad &+ (Int(truncatingIfNeeded: x &>> 32) & bucketMask) &* ways,
                pad &+ (Int(truncatingIfNeeded: x) & bucketMask) &* ways,
                tag == 0 ? 1 : tag)
    }

    /// The slot holding `key`, or -1: the first bucket, then the second.
    @inlinable @inline(__always)
    func slot(_ key: UInt64) -> Int {
        if key == Self.emptyKey { return -1 }
        let (first, second, _) = hashed(key)
        return keys.withUnsafeBufferPointer { k in
            var found = -1
            for w in 0..<ways where k[first &+ w] == key { found = first &+ w }
            if found >= 0 { return found }
            for w in 0..<ways where k[second &+ w] == key { found = second &+ w }
            return found
        }
    }

    /// Bit 8i + 7 set for each zero byte i of `v` at or below the lowest zero byte (exact for
    /// the lowest one, which is all a lookup uses).
    @inlinable @inline(__always)
    static func zeroBytes(_ v: UInt64) -> UInt64 {
        (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080
    }

    /// The destination of `key`, or nil. The hot path, no allocation: with 8 ways, the
    /// fingerprints of both buckets (16 bytes, usually in the CPU's L2 cache) name the one
    /// candidate slot, whose key and destination are then read in parallel; a fingerprint
    /// collision falls back to scanning both buckets' keys.
    @inlinable
    public func lookup(_ key: UInt64) -> UInt32? {
        guard ways == 8 else {
            let i = slot(key)
            return i >= 0 ? destinations.withUnsafeBufferPointer { $0[i] } : nil
        }
        let (first, second, tag) = hashed(key)
        let candidate = tags.withUnsafeBufferPointer { t -> Int in
            let raw = UnsafeRawPointer(t.baseAddress!)
            let pattern = UInt64(tag) &* 0x0101_0101_0101_0101
            let m1 = Self.zeroBytes(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: first, as: UInt64.self)) ^ pattern)
            let m2 = Self.zeroBytes(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: second, as: UInt64.self)) ^ pattern)
            if m1 | m2 == 0 { return -1 }
            return m1 != 0 ? first &+ m1.trailingZeroBitCount &>> 3 : second &+ m2.trailingZeroBitCount &>> 3
        }
        if candidate < 0 { return nil }
        let (k, d) = keys.withUnsafeBufferPointer { k in destinations.withUnsafeBufferPointer { (k[candidate], $0[candidate]) } }
        if k == key { return d }
        let i = slot(key)
        return i >= 0 ? destinations.withUnsafeBufferPointer { $0[i] } : nil
    }

    /// The slot holding `key`, or else the first free slot of its less occupied bucket (the
    /// first on a tie): "power of two choices" keeps buckets balanced.
    func probe(_ key: UInt64) -> (found: Int?, free: Int?) {
        let (first, second, _) = hashed(key)
        return keys.withUnsafeBufferPointer { k in
            var free0 = -1, free1 = -1, used0 = 0, used1 = 0
            for w in 0..<ways {
                let x = k[first + w]
                if x == key { return (first + w, nil) }
                if x == Self.emptyKey { if free0 < 0 { free0 = first + w } } else { used0 += 1 }
            }
            for w in 0..<ways {
                let x = k[second + w]
                if x == key { return (second + w, nil) }
                if x == Self.emptyKey { if free1 < 0 { free1 = second + w } } else { used1 += 1 }
            }
            let pick = free1 >= 0 && (free0 < 0 || used1 < used0) ? free1 : free0
            return (nil, pick >= 0 ? pick : nil)
        }
    }

    /// Learns `key` on `destination` at time `now`, as hardware learning does on a packet's
    /// source MAC: a dynamic entry is refreshed (same destination) or moved (another one);
    /// a static entry is left alone (`.isStatic`); a new MAC is added unless the table is at
    /// its limit (`.tableFull`) or its bucket is full (`.bucketFull`).
    public mutating func learn(_ key: UInt64, destination: UInt32, now: UInt32) -> LearnOutcome {
        precondition(key != Self.emptyKey, "MACTable: the key 0xFFFF_FFFF_FFFF_FFFF is reserved")
        let (found, free) = probe(key)
        if let i = found {
            if flags[i] & Self.staticFlag != 0 {
                let elsewhere = flags[i] & Self.stickyFlag == 0 && destinations[i] != destination
                return elsewhere ? .staticElsewhere(destinations[i]) : .isStatic
            }
            lastSeen[i] = now
            let old = destinations[i]
            if old == destination { return .refreshed }
            destinations[i] = destination
            return .moved(from: old)
        }
        return add(key, at: free, destination: destination, lastSeen: now, flags: 0)
    }

    /// Installs a static entry (never aged, never moved by learning; `learn` reports a
    /// MAC seen elsewhere as `.staticElsewhere` unless `sticky`): `.learned` if new,
    /// `.refreshed` if it replaced an entry (static or dynamic) for the key, else
    /// `.bucketFull` or `.tableFull`.
    public mutating func setStatic(_ key: UInt64, destination: UInt32, sticky: Bool = true) -> LearnOutcome {
        precondition(key != Self.emptyKey, "MACTable: the key 0xFFFF_FFFF_FFFF_FFFF is reserved")
        let f = Self.staticFlag | (sticky ? Self.stickyFlag : 0)
        let (found, free) = probe(key)
        if let i = found {
            destinations[i] = destination
            flags[i] = f
            return .refreshed
        }
        return add(key, at: free, destination: destination, lastSeen: 0, flags: f)
    }

    private mutating func add(_ key: UInt64, at free: Int?, destination: UInt32, lastSeen seen: UInt32, flags f: UInt8) -> LearnOutcome {
        if count >= limit { return .tableFull }
        guard let i = free else { return .bucketFull }
        keys[i] = key
        tags[i] = hashed(key).tag
        destinations[i] = destination
        lastSeen[i] = seen
        flags[i] = f
        count += 1
        return .learned
    }

    /// Removes `key`; returns its destination and whether it was static and sticky, or nil
    /// if absent.
    @discardableResult
    public mutating func remove(_ key: UInt64) -> (destination: UInt32, isStatic: Bool, isSticky: Bool)? {
        let i = slot(key)
        guard i >= 0 else { return nil }
        keys[i] = Self.emptyKey
        tags[i] = 0
        count -= 1
        return (destinations[i], flags[i] & Self.staticFlag != 0, flags[i] & Self.stickyFlag != 0)
    }

    /// Ages out dynamic entries: removes each one for which `isExpired(key, lastSeen)` holds
    /// and reports it to `removed(key, destination)`. Static entries are never aged. `now`
    /// is the caller's clock, in the unit of the `now` given to `learn`.
    public mutating func age(now: UInt32, isExpired: (UInt64, UInt32) -> Bool, removed: (UInt64, UInt32) -> Void) {
        for i in keys.indices {
            let k = keys[i]
            guard k != Self.emptyKey, flags[i] & Self.staticFlag == 0, isExpired(k, lastSeen[i]) else { continue }
            keys[i] = Self.emptyKey
            tags[i] = 0
            count -= 1
            removed(k, destinations[i])
        }
    }

    /// Ages out dynamic entries not seen for `maxAge` or longer (`now &- lastSeen >= maxAge`,
    /// so the clock may wrap), like the bridge's `ageing_time`.
    public mutating func age(now: UInt32, maxAge: UInt32, removed: (UInt64, UInt32) -> Void) {
        age(now: now, isExpired: { _, seen in now &- seen >= maxAge }, removed: removed)
    }

    /// Removes every entry for which `predicate(key, destination, isStatic)` holds (a flush:
    /// by port, by FID, dynamic only, …) and reports each to `removed(key, destination)`.
    public mutating func removeAll(where predicate: (UInt64, UInt32, Bool) -> Bool, removed: (UInt64, UInt32) -> Void) {
        for i in keys.indices {
            let k = keys[i]
            guard k != Self.emptyKey, predicate(k, destinations[i], flags[i] & Self.staticFlag != 0) else { continue }
            keys[i] = Self.emptyKey
            tags[i] = 0
            count -= 1
            removed(k, destinations[i])
        }
    }

    /// Calls `body(key, destination, isStatic, lastSeen)` for every entry.
    public func forEach(_ body: (UInt64, UInt32, Bool, UInt32) -> Void) {
        for i in keys.indices where keys[i] != Self.emptyKey {
            body(keys[i], destinations[i], flags[i] & Self.staticFlag != 0, lastSeen[i])
        }
    }

    /// The last-seen time of `key` (0 for static entries installed by `setStatic`), or nil.
    public func lastSeen(_ key: UInt64) -> UInt32? {
        let i = slot(key)
        return i >= 0 ? lastSeen[i] : nil
    }

    /// The entry for `key`: its destination and whether it is static and sticky, or nil
    /// if absent.
    public func entry(_ key: UInt64) -> (destination: UInt32, isStatic: Bool, isSticky: Bool)? {
        let i = slot(key)
        return i >= 0 ? (destinations[i], flags[i] & Self.staticFlag != 0, flags[i] & Self.stickyFlag != 0) : nil
    }

    /// Whether `key` has a static entry.
    public func isStatic(_ key: UInt64) -> Bool {
        let i = slot(key)
        return i >= 0 && flags[i] & Self.staticFlag != 0
    }

    /// Bytes held: 18 per slot (8 key, 4 destination, 4 last seen, 1 fingerprint, 1 flags).
    public var memoryBytes: Int {
        keys.capacity * 8 + destinations.capacity * 4 + lastSeen.capacity * 4 + tags.capacity + flags.capacity
    }
}
