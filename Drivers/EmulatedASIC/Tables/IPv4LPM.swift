/// Outcome of adding a prefix to a longest-prefix-match table (`IPv4LPM`, `IPv6LPM`).
public enum LPMInsertResult: Equatable, Sendable {
    /// The prefix was new and is now in the table.
    case inserted
    /// The prefix was already in the table; its value is now the new one (`old` was there before).
    case replaced(old: UInt32)
    /// The prefix is new and the table already holds `capacity` prefixes; nothing changed.
    /// A switch ASIC reports this as "table full" and the route stays in software (trapped).
    case full
}

/// The emulated chip's IPv4 route table: longest-prefix match from a 32-bit address to an
/// opaque 31-bit value (the pipeline's next-hop or ECMP-group index), with a hardware-like
/// prefix capacity.
///
/// Hardware counterpart: a switch ASIC's algorithmic LPM (a multibit trie in SRAM, as in
/// DPDK's `rte_lpm` DIR-24-8 or the kernel's `fib_trie`), with a fixed number of route slots.
///
/// Structure (a compressed DIR-16-8-8 trie with leaf pushing; see `IPv4LPMNodes.swift`):
/// - level 1: a direct 65,536-entry array indexed by the top 16 address bits, each entry
///   pointing to a level-2 node (a shared empty node for /16s without longer prefixes),
///   next to the value of the ≤ /16 prefix covering that /16;
/// - levels 2 and 3: nodes for the next 8 bits each, created on demand. A node stores its
///   256 leaf-pushed slots as runs (Poptrie's "leafvec" idea): a 256-bit vector marks where
///   a run of equal slots starts and only the run heads are stored, so a slot is found with
///   one popcount. A full 1M-prefix table fits in the CPU's last-level cache.
/// - Leaves are `UInt32`: a value (< 2^31), a tagged pointer to a level-3 node, or
///   "inherit" (take the value of the shorter prefix covering the whole node), so a change
///   of a short prefix only rewrites level 1 or a node header, never the nodes below it.
/// A lookup is two loads at level 1 and one or two node reads, with a single (rarely
/// taken) branch. All nodes live in one contiguous `[UInt32]` with level 1 at its start;
/// freed node blocks are recycled through per-size free lists and the store is compacted
/// when more than a quarter of it is free.
///
/// Control plane: a hash map of prefixes per length (`PrefixMap`: exact match, read-back,
/// and the "next covering prefix" a removal falls back to) and, per slot, the length of the
/// prefix that owns it, so an insert only overwrites less specific slots and a removal
/// finds most covering prefixes without probing the maps.
///
/// Lookups never allocate. Inserts and removes rewrite at most one node per level.
public struct IPv4LPM: Sendable {
    /// Level 1 (node offsets, then ≤ /16 values), the shared empty node, then node blocks.
    @usableFromInline var store: [UInt32]
    /// Per level-1 slot: length + 1 of the prefix (≤ /16) that owns it; 0 = none.
    var depth1: [UInt8]
    /// Per node id, 256 bytes: length + 1 of the prefix of the node's level that owns the slot; 0 = none.
    var nodeDepth: [UInt8]
    /// Per level-1 slot with its own level-2 node: the node's id, so its owner depths can be
    /// read without waiting for the node itself.
    var level2Ids: [UInt32]
    /// Recycled node ids.
    var freeIds: [UInt32]
    /// Head of the free list of node blocks per size class (block words / 4); 0 = empty.
    var freeHeads: [UInt32]
    /// Words of `store` sitting in free lists.
    var freeWords: Int
    /// The prefixes of each length 0...32 (masked prefix → value).
    var routes: [PrefixMap]
    /// Number of level-2 nodes (one per /16 holding longer prefixes) in use.
    public internal(set) var level2Nodes: Int
    /// Number of level-3 nodes (one per /24 holding longer prefixes) in use.
    public internal(set) var level3Nodes: Int

    /// The number of prefixes in the table.
    public private(set) var count: Int

    /// The most prefixes the table accepts. Settable: lowering it below `count` (fault
    /// injection "shrink a table") removes nothing, it only refuses new prefixes until enough
    /// are removed; replacing the value of a present prefix is always allowed.
    public var capacity: Int {
        didSet { precondition(capacity >= 0, "IPv4LPM capacity must be ≥ 0") }
    }

    /// An empty table that accepts up to `capacity` prefixes.
    public init(capacity: Int) {
        precondition(capacity >= 0, "IPv4LPM capacity must be ≥ 0")
        self.capacity = capacity
        store = IPv4Node.initialStore()
        depth1 = [UInt8](repeating: 0, count: IPv4Node.level1Slots)
        nodeDepth = []
        level2Ids = [UInt32](repeating: 0, count: IPv4Node.level1Slots)
        freeIds = []
        freeHeads = [UInt32](repeating: 0, count: IPv4Node.sizeClasses)
        freeWords = 0
        routes = [PrefixMap](repeating: PrefixMap(), count: 33)
        level2Nodes = 0
        level3Nodes = 0
        count = 0
    }

    /// The value of the longest prefix containing `address`, or nil if no prefix does.
    /// The hot path: level 1 and at most two node reads, no allocation.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32? {
        let r = store.withUnsafeBufferPointer { IPv4Node.resolve($0.baseAddress!, address) }
        return r == IPv4Node.none ? nil : r
    }

    /// Adds `prefix/length` with `value`, or replaces the value of a present prefix.
    /// Host bits of `prefix` are ignored. Returns `.full` (and changes nothing) if the prefix
    /// is new and `count >= capacity`.
    public mutating func insert(_ prefix: UInt32, length: UInt8, value: UInt32) -> LPMInsertResult {
        precondition(length <= 32, "IPv4 prefix length \(length) > 32")
        precondition(value < IPv4Node.tag, "IPv4LPM values must be < 2^31, got \(value)")
        let len = Int(length)
        let p = prefix & IPv4Node.mask(len)
        if count >= capacity, routes[len][p] == nil { return .full }
        let old = routes[len].updateValue(value, forKey: p)
        if old == nil { count += 1 }
        if old != value {
            paint(p, len, match: UInt8(len + 1), removing: false, value: value, depth: UInt8(len + 1))
            defragmentIfWasteful()
        }
        return old.map { .replaced(old: $0) } ?? .inserted
    }

    /// Removes `prefix/length` (host bits ignored) and returns its value, or nil if absent.
    /// Addresses it covered fall back to the next shorter covering prefix.
    @discardableResult
    public mutating func remove(_ prefix: UInt32, length: UInt8) -> UInt32? {
        precondition(length <= 32, "IPv4 prefix length \(length) > 32")
        let len = Int(length)
        let p = prefix & IPv4Node.mask(len)
        guard let old = routes[len].removeValue(forKey: p) else { return nil }
        count -= 1
        let (value, depth) = covering(p, below: len)
        paint(p, len, match: UInt8(len + 1), removing: true, value: value, depth: depth)
        defragmentIfWasteful()
        return old
    }

    /// The value of exactly `prefix/length` (host bits ignored), or nil.
    public func value(_ prefix: UInt32, length: UInt8) -> UInt32? {
        precondition(length <= 32, "IPv4 prefix length \(length) > 32")
        return routes[Int(length)][prefix & IPv4Node.mask(Int(length))]
    }

    /// Calls `body(prefix, length, value)` for every prefix, shortest lengths first.
    public func forEach(_ body: (UInt32, UInt8, UInt32) -> Void) {
        for len in 0...32 {
            routes[len].forEach { body($0, UInt8(len), $1) }
        }
    }

    /// Bytes held by the lookup structure (level 1 and all node blocks, free ones included).
    public var lookupBytes: Int { store.capacity * 4 }

    /// Bytes held by the control plane: per-slot owner lengths and the per-length prefix maps.
    public var controlPlaneBytes: Int {
        let dictionaries = routes.reduce(0) { $0 + $1.bytes }
        return depth1.capacity + nodeDepth.capacity + level2Ids.capacity * 4 + freeIds.capacity * 4 + freeHeads.capacity * 4 + dictionaries
    }

    /// Bytes of `lookupBytes` not holding live nodes: free blocks and spare array capacity.
    public var unusedLookupBytes: Int { (store.capacity - store.count + freeWords) * 4 }

    /// All bytes held: `lookupBytes + controlPlaneBytes`.
    public var memoryBytes: Int { lookupBytes + controlPlaneBytes }

    /// The value and owner depth (length + 1) that slots of a removed `p/len` fall back to:
    /// the longest present prefix of the same level shorter than `len`, else "nothing at this
    /// level" (no route at level 1, inherit below).
    ///
    /// Within a node the owner depths answer most of this without the prefix maps: a
    /// shorter `Q/l` covering `p/len` owns (depth `l + 1`) or is overridden at every slot of
    /// its range, so a slot of that range outside `p/len` with a smaller depth proves `Q`
    /// absent; only a range whose every other slot is owned by longer prefixes (or by `Q`
    /// itself) needs a map probe.
    func covering(_ p: UInt32, below len: Int) -> (UInt32, UInt8) {
        if len <= 16 {
            var l = len - 1
            while l >= 0 {
                if let v = routes[l][p & IPv4Node.mask(l)] { return (v, UInt8(l + 1)) }
                l -= 1
            }
            return (IPv4Node.none, 0)
        }
        let lowest = len <= 24 ? 17 : 25
        let top = len <= 24 ? 24 : 32
        let slot1 = Int(p >> 16)
        let id: Int
        if len <= 24 {
            id = Int(level2Ids[slot1])
        } else {
            let n3 = IPv4Node.offset(leaf(node: Int(store[slot1]), Int((p >> 8) & 0xFF)))
            id = Int(store[n3 + IPv4Node.idWord])
        }
        let first = Int((p >> UInt32(32 - top)) & 0xFF)
        return nodeDepth.withUnsafeBufferPointer { db in
            let d = db.baseAddress! + id * 256
            var lo = first, hi = first + (1 << (top - len))
            var seen: UInt64 = 0  // bit n: some slot scanned so far has owner depth n
            var l = len - 1
            while l >= lowest {
                let size = 1 << (top - l)
                let qlo = first & ~(size - 1)
                for k in qlo..<lo { seen |= 1 << UInt64(d[k]) }
                for k in hi..<(qlo + size) { seen |= 1 << UInt64(d[k]) }
                lo = qlo
                hi = qlo + size
                let own: UInt64 = 1 << UInt64(l + 1)
                if seen & own != 0 || seen & (own - 1) == 0 {
                    if let v = routes[l][p & IPv4Node.mask(l)] { return (v, UInt8(l + 1)) }
                    precondition(seen & own == 0, "IPv4LPM: owner depth without its prefix")
                }
                l -= 1
            }
            return (IPv4Node.inherit, 0)
        }
    }

    /// Gives the slots of `p/len` whose owner depth is `match` (removing) or ≤ `match`
    /// (inserting) the new `value` and owner `depth`.
    mutating func paint(_ p: UInt32, _ len: Int, match: UInt8, removing: Bool, value: UInt32, depth: UInt8) {
        if len <= 16 {
            let first = Int(p >> 16)
            let span = 1 << (16 - len)
            store.withUnsafeMutableBufferPointer { s in
                depth1.withUnsafeMutableBufferPointer { d in
                    for i in first..<(first + span) {
                        let di = d[i]
                        guard removing ? di == match : di <= match else { continue }
                        d[i] = depth
                        s[IPv4Node.level1Values + i] = value
                    }
                }
            }
            return
        }
        let slot1 = Int(p >> 16)
        if store[slot1] == IPv4Node.emptyNode {
            precondition(!removing, "IPv4LPM: missing level-2 node for a present prefix")
            let n = newNode(default: IPv4Node.inherit)
            store[slot1] = UInt32(n)
            level2Ids[slot1] = store[n + IPv4Node.idWord]
            level2Nodes += 1
        }
        let slot2 = Int((p >> 8) & 0xFF)
        if len <= 24 {
            let n2 = Int(store[slot1])
            let span = 1 << (24 - len)
            IPv4Node.withScratch { v in
                if repaint(node: n2, id: Int(level2Ids[slot1]), into: v, first: slot2, span: span, match: match, removing: removing, value: value, depth: depth) {
                    commit(node: n2, scratch: v, touched: (slot2 >> 6)...((slot2 + span - 1) >> 6), parent: .level1(slot1))
                }
            }
            return
        }
        // Level 3: make sure the /24 has its node.
        var n2 = Int(store[slot1])
        let under = leaf(node: n2, slot2)
        if !IPv4Node.isPointer(under) {
            precondition(!removing, "IPv4LPM: missing level-3 node for a present prefix")
            let n3 = newNode(default: under)
            level3Nodes += 1
            setLeaf(level2: n2, slot1: slot1, slot2: slot2, to: IPv4Node.tag | UInt32(n3))
            n2 = Int(store[slot1])
        }
        let n3 = IPv4Node.offset(leaf(node: n2, slot2))
        let first = Int(p & 0xFF)
        let span = 1 << (32 - len)
        IPv4Node.withScratch { v in
            if repaint(node: n3, id: Int(store[n3 + IPv4Node.idWord]), into: v, first: first, span: span, match: match, removing: removing, value: value, depth: depth) {
                commit(node: n3, scratch: v, touched: (first >> 6)...((first + span - 1) >> 6), parent: .level2(slot1: slot1, slot2: slot2))
            }
        }
    }

    /// Repaints the slots `first..<first+span` of `node` whose owner depth matches, with their
    /// quarters expanded into `v`, and tells whether any leaf changed (slots holding a
    /// pointer get the value in their child's header instead). The owner depths are read
    /// before the node so that both cache misses overlap.
    mutating func repaint(node n: Int, id: Int, into v: UnsafeMutablePointer<UInt32>, first: Int, span: Int,
                          match: UInt8, removing: Bool, value: UInt32, depth: UInt8) -> Bool {
        var changed = false
        store.withUnsafeMutableBufferPointer { sb in
            nodeDepth.withUnsafeMutableBufferPointer { db in
                let s = sb.baseAddress!
                let d = db.baseAddress! + id * 256
                let selected = v + IPv4Node.scratchLeaves
                var any = false
                for k in first..<(first + span) {
                    let dk = d[k]
                    let hit = removing ? dk == match : dk <= match
                    selected[k] = hit ? 1 : 0
                    if hit { d[k] = depth }
                    any = any || hit
                }
                guard any else { return }
                for q in (first >> 6)...((first + span - 1) >> 6) { IPv4Node.expand(s, node: n, quarter: q, into: v) }
                for k in first..<(first + span) where selected[k] != 0 {
                    let e = v[k]
                    if IPv4Node.isPointer(e) {
                        s[IPv4Node.offset(e) + IPv4Node.defaultWord] = value
                    } else if e != value {
                        v[k] = value
                        changed = true
                    }
                }
            }
        }
        return changed
    }

    /// Sets one slot of a level-2 node (a level-3 node appearing or going away).
    mutating func setLeaf(level2 n2: Int, slot1: Int, slot2: Int, to value: UInt32) {
        IPv4Node.withScratch { v in
            store.withUnsafeBufferPointer { IPv4Node.expand($0.baseAddress!, node: n2, quarter: slot2 >> 6, into: v) }
            v[slot2] = value
            commit(node: n2, scratch: v, touched: (slot2 >> 6)...(slot2 >> 6), parent: .level1(slot1))
        }
    }

    func leaf(node n: Int, _ k: Int) -> UInt32 {
        store.withUnsafeBufferPointer { IPv4Node.leaf($0.baseAddress!, n, k) }
    }
}

/// Masks for prefix lengths.
extension IPv4Node {
    @inlinable @inline(__always)
    static func mask(_ len: Int) -> UInt32 { len == 0 ? 0 : UInt32.max << UInt32(32 - len) }
}
