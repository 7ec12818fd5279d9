import SwitchDriver
import SwitchModel

/// A key that names its shard cheaply (without a second full hash).
protocol ShardedKey: Hashable, Sendable {
    /// Any number; equal keys give equal numbers.
    var shardHint: UInt { get }
}

extension HardwareKey: ShardedKey {
    /// A route's address bits (a table of /24s spreads by its third octet); other keys by hash.
    var shardHint: UInt {
        if case .route(_, let p) = self { return UInt(truncatingIfNeeded: (p.address.low >> 8) ^ (p.address.low >> 29) ^ p.address.high) }
        return UInt(bitPattern: hashValue)
    }
}

/// A dictionary split into `shardCount` dictionaries by key, so a copy-on-write copy
/// is paid per shard: while a snapshot shares the storage, the engine's next change to a
/// key copies only that key's shard (1/1024 of a million entries: under a millisecond;
/// 1/64 cost ~13 ms), not everything. This is what lets a query read a million-entry
/// snapshot on another thread while the loop keeps programming with no long stall.
struct ShardedDictionary<Key: ShardedKey, Value: Sendable>: Sequence, Sendable {
    static var shardCount: Int { 1024 }
    private var shards: [[Key: Value]] = Array(repeating: [:], count: Self.shardCount)
    /// How many entries in all.
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    /// Makes room for `total` entries in all, spread evenly (a restart's or a full
    /// table's worth at once grows no shard step by step).
    mutating func reserveCapacity(_ total: Int) {
        let perShard = total / Self.shardCount + total / (Self.shardCount * 8) + 1
        for i in shards.indices where shards[i].capacity < perShard { shards[i].reserveCapacity(perShard) }
    }

    @inline(__always)
    private func shard(_ key: Key) -> Int { Int(key.shardHint % UInt(Self.shardCount)) }

    subscript(key: Key) -> Value? {
        get { shards[shard(key)][key] }
        set {
            let i = shard(key)
            if let newValue {
                if shards[i].updateValue(newValue, forKey: key) == nil { count += 1 }
            } else if shards[i].removeValue(forKey: key) != nil {
                count -= 1
                shrink(i)
            }
        }
    }

    /// Reads and changes the value of `key` in place, with one lookup (nil: absent, or
    /// remove it). `body` must not touch the dictionary itself.
    @inline(__always)
    mutating func update<R>(_ key: Key, _ body: (inout Value?) -> R) -> R {
        let i = shard(key)
        var countChange = 0
        let result = Self.change(&shards[i][key]) { value in
            let had = value != nil
            let result = body(&value)
            countChange = (value != nil ? 1 : 0) - (had ? 1 : 0)
            return result
        }
        count += countChange
        if countChange < 0 { shrink(i) }
        return result
    }

    /// An emptied shard lets its storage go (`shrinkIfSparse` keeps up to 1,024 slots,
    /// which over 1,024 shards held ~80 MB after a full table was withdrawn).
    private mutating func shrink(_ i: Int) {
        if shards[i].isEmpty { shards[i] = [:] } else { shards[i].shrinkIfSparse() }
    }

    @inline(__always)
    private static func change<R>(_ value: inout Value?, _ body: (inout Value?) -> R) -> R { body(&value) }

    /// Calls `body` with every key (no value is copied).
    func forEachKey(_ body: (Key) -> Void) {
        for shard in shards { for key in shard.keys { body(key) } }
    }

    struct Iterator: IteratorProtocol {
        let shards: [[Key: Value]]
        var shard = 0
        var inner: Dictionary<Key, Value>.Iterator?

        mutating func next() -> (key: Key, value: Value)? {
            while shard < shards.count {
                if inner == nil { inner = shards[shard].makeIterator() }
                if let element = inner!.next() { return element }
                inner = nil
                shard += 1
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(shards: shards) }
}
