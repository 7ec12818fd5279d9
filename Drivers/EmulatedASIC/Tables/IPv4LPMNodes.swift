#if canImport(Glibc)
import Glibc
#endif

/// Store layout, leaf encoding and node layout of `IPv4LPM`'s compressed trie.
///
/// The store (`[UInt32]`):
/// - words `0..<65536`: level 1, the offset of each /16's level-2 node (`emptyNode` if the
///   /16 has no prefix longer than /16);
/// - words `65536..<131072`: level-1 values, the value of the ≤ /16 prefix covering each
///   /16, or `none`;
/// - 2,048 bytes of rank table: byte `b << 3 | j` = number of set bits of byte `b` at
///   positions `0...j`;
/// - the shared empty node (all slots `inherit`, never changed), then node blocks.
///
/// A node leaf is one `UInt32`:
/// - `0 ..< 2^31`: a value;
/// - `tag | offset`: a pointer to the level-3 node at `offset` (level-2 leaves only);
/// - `inherit` (`0xFFFF_FFFE`): no prefix of this node's level covers the slot; take the
///   level-1 value (level 2), or the level-3 node's default (the /17–/24 prefix covering the
///   node, itself `inherit` if none, and then the level-1 value).
///
/// A node block (offset a multiple of 4 words) covers 8 address bits (256 slots):
/// - bytes 0–31: the run vector, 256 bits, bit k (bit `k % 8` of byte `k / 8`) set ⇔ a
///   run of equal slots starts at slot k. Bit 0 of each 64-slot quarter is set, so a
///   quarter can be rewritten without looking at its neighbours;
/// - bytes 32–63: byte g = number of runs starting before slot 8g;
/// - word 16: the default (level-3 nodes);
/// - word 17: the node id (index of its 256 owner depths in `IPv4LPM.nodeDepth`);
/// - words 18…: one leaf per run.
/// Slot k's leaf is `leaves[before[k / 8] + rank[vector[k / 8] << 3 | k % 8] - 1]`: two
/// byte loads from the node's first cache line, one from the rank table, then the leaf
/// (Poptrie's popcount, without needing the POPCNT instruction).
@usableFromInline
enum IPv4Node {
    @inlinable static var tag: UInt32 { 0x8000_0000 }
    @inlinable static var none: UInt32 { 0xFFFF_FFFF }
    @inlinable static var inherit: UInt32 { 0xFFFF_FFFE }
    /// Byte offset of the per-group run counts.
    @inlinable static var beforeByte: Int { 32 }
    @inlinable static var defaultWord: Int { 16 }
    static var idWord: Int { 17 }
    @inlinable static var leafWord: Int { 18 }
    static var level1Slots: Int { 65536 }
    /// Start of the level-1 values.
    @inlinable static var level1Values: Int { 65536 }
    /// Start of the rank table.
    @inlinable static var rankTable: Int { 131_072 }
    /// Offset of the shared empty level-2 node.
    static var emptyNode: UInt32 { 131_072 + 512 }
    /// Words before the first node block.
    static var reservedWords: Int { Int(emptyNode) + blockWords(runs: 4) }
    /// Block sizes are multiples of 4 words up to `blockWords(runs: 256)`.
    static var sizeClasses: Int { blockWords(runs: 256) / 4 + 1 }

    @inlinable @inline(__always)
    static func isPointer(_ e: UInt32) -> Bool { e &- tag < 0x7FFF_FFFE }

    @inlinable @inline(__always)
    static func offset(_ e: UInt32) -> Int { Int(e & 0x7FFF_FFFF) }

    static func blockWords(runs: Int) -> Int { (leafWord + runs + 3) & ~3 }

    /// The index into node `n`'s leaves of slot `k`'s run.
    @inlinable @inline(__always)
    static func leafIndex(_ s: UnsafePointer<UInt32>, _ n: Int, _ k: Int) -> Int {
        let node = UnsafeRawPointer(s + n)
        let g = k &>> 3
        let bits = Int(node.load(fromByteOffset: g, as: UInt8.self))
        let before = Int(node.load(fromByteOffset: beforeByte &+ g, as: UInt8.self))
        let rank = Int(UnsafeRawPointer(s + rankTable).load(fromByteOffset: bits &<< 3 | (k & 7), as: UInt8.self))
        return before &+ rank &- 1
    }

    /// Slot `k`'s leaf in node `n`.
    @inlinable @inline(__always)
    static func leaf(_ s: UnsafePointer<UInt32>, _ n: Int, _ k: Int) -> UInt32 {
        s[n &+ leafWord &+ leafIndex(s, n, k)]
    }

    /// The value (or `none`) for `a`: level 1, then one or two nodes.
    @inlinable @inline(__always)
    static func resolve(_ s: UnsafePointer<UInt32>, _ a: UInt32) -> UInt32 {
        let i1 = Int(a &>> 16)
        let n2 = Int(s[i1])
        let d1 = s[level1Values &+ i1]
        let l2 = leaf(s, n2, Int((a &>> 8) & 0xFF))
        if isPointer(l2) {
            let n3 = offset(l2)
            let d3 = s[n3 &+ defaultWord]
            let l3 = leaf(s, n3, Int(a & 0xFF))
            let r = l3 == inherit ? d3 : l3
            return r == inherit ? d1 : r
        }
        return l2 == inherit ? d1 : l2
    }

    /// An empty store: every /16 points to the empty node and has no value.
    static func initialStore() -> [UInt32] {
        var s = [UInt32](repeating: none, count: reservedWords)
        s.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            p.update(repeating: emptyNode, count: level1Slots)
            let rank = UnsafeMutableRawPointer(p + rankTable)
            for bits in 0..<256 {
                for j in 0..<8 {
                    rank.storeBytes(of: UInt8((bits & ((2 << j) - 1)).nonzeroBitCount), toByteOffset: bits << 3 | j, as: UInt8.self)
                }
            }
            writeEmpty(p, node: Int(emptyNode), default: inherit, id: 0)
        }
        return s
    }

    /// Writes a node of four `inherit` runs (one per quarter) at `n`.
    static func writeEmpty(_ s: UnsafeMutablePointer<UInt32>, node n: Int, default fallback: UInt32, id: UInt32) {
        let raw = UnsafeMutableRawPointer(s + n)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        for q in 0..<4 {
            raw.storeBytes(of: 1, toByteOffset: 8 * q, as: UInt8.self)
            for g in 0..<8 { raw.storeBytes(of: UInt8(q + 1), toByteOffset: beforeByte + 8 * q + g, as: UInt8.self) }
            raw.storeBytes(of: UInt8(q), toByteOffset: beforeByte + 8 * q, as: UInt8.self)
        }
        s[n + defaultWord] = fallback
        s[n + idWord] = id
        (s + n + leafWord).update(repeating: inherit, count: 4)
    }

    /// Scratch layout (words): slots `0..<256`, assembled leaves `256..<512`, run vector
    /// `512..<520`.
    static var scratchWords: Int { 520 }
    static var scratchLeaves: Int { 256 }
    static var scratchVector: Int { 512 }

    /// Quarter `q`'s run vector in node `n` (bit j ⇔ slot 64q + j).
    @inline(__always)
    static func vector(_ s: UnsafePointer<UInt32>, node n: Int, _ q: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(s + n).loadUnaligned(fromByteOffset: 8 &* q, as: UInt64.self))
    }

    /// Index of quarter `q`'s first leaf.
    @inline(__always)
    static func firstLeaf(_ s: UnsafePointer<UInt32>, node n: Int, _ q: Int) -> Int {
        Int(UnsafeRawPointer(s + n).load(fromByteOffset: beforeByte &+ 8 &* q, as: UInt8.self))
    }

    /// Writes quarter `q` of node `n` (slots `64q..<64q+64`) into `out[64q..<64q+64]`.
    /// Every quarter starts a run, so a quarter is decoded from its own leaves only.
    static func expand(_ s: UnsafePointer<UInt32>, node n: Int, quarter q: Int, into out: UnsafeMutablePointer<UInt32>) {
        let leaves = s + n + leafWord + firstLeaf(s, node: n, q)
        let vector = Self.vector(s, node: n, q)
        var index = -1
        for j in 0..<64 {
            index &+= Int(truncatingIfNeeded: (vector &>> UInt64(truncatingIfNeeded: j)) & 1)
            out[q &* 64 &+ j] = leaves[index]
        }
    }

    /// Assembles node `n`'s new content in the scratch: quarters `touched` are compacted from
    /// their slots in `v[0..<256]`, the others copied from the node. Returns the number of runs.
    static func assemble(_ s: UnsafePointer<UInt32>, node n: Int, scratch v: UnsafeMutablePointer<UInt32>,
                         touched: ClosedRange<Int>) -> Int {
        let out = v + scratchLeaves
        var runs = 0
        for q in 0..<4 {
            var vector: UInt64
            if touched.contains(q) {
                // Branch-free run detection; slot 64q always starts a run.
                vector = 1
                var previous = v[q &* 64]
                out[runs] = previous
                runs &+= 1
                for j in 1..<64 {
                    let x = v[q &* 64 &+ j]
                    let differs = x != previous ? 1 : 0
                    vector |= UInt64(truncatingIfNeeded: differs) &<< UInt64(truncatingIfNeeded: j)
                    out[runs] = x
                    runs &+= differs
                    previous = x
                }
            } else {
                vector = Self.vector(s, node: n, q)
                let count = vector.nonzeroBitCount
                (out + runs).update(from: s + n + leafWord + firstLeaf(s, node: n, q), count: count)
                runs &+= count
            }
            v[scratchVector + 2 * q] = UInt32(truncatingIfNeeded: vector)
            v[scratchVector + 2 * q + 1] = UInt32(truncatingIfNeeded: vector >> 32)
        }
        return runs
    }

    /// Writes the assembled vector, per-group run counts and leaves into block `n` (its
    /// default and id words are left alone).
    static func write(_ s: UnsafeMutablePointer<UInt32>, node n: Int, scratch v: UnsafeMutablePointer<UInt32>, runs: Int) {
        let raw = UnsafeMutableRawPointer(s + n)
        var total = 0
        for q in 0..<4 {
            let vector = UInt64(v[scratchVector + 2 * q]) | UInt64(v[scratchVector + 2 * q + 1]) << 32
            raw.storeBytes(of: vector.littleEndian, toByteOffset: 8 * q, as: UInt64.self)
            for g in 0..<8 {
                raw.storeBytes(of: UInt8(total), toByteOffset: beforeByte + 8 * q + g, as: UInt8.self)
                total += ((vector >> UInt64(8 * g)) & 0xFF).nonzeroBitCount
            }
        }
        (s + n + leafWord).update(from: v + scratchLeaves, count: runs)
    }

    /// Number of runs (leaves) of node `n`.
    static func runs(_ s: UnsafePointer<UInt32>, node n: Int) -> Int {
        (0..<4).reduce(0) { $0 + vector(s, node: n, $1).nonzeroBitCount }
    }

    /// A copy of `old` in a new array of `capacity` words whose 2 MiB-aligned stretches the
    /// kernel may back with huge pages (as DPDK keeps `rte_lpm` in hugepage memory): random
    /// lookups then miss the TLB far less often.
    static func hugePageStore(copying old: UnsafeBufferPointer<UInt32>, capacity: Int) -> [UInt32] {
        [UInt32](unsafeUninitializedCapacity: max(capacity, old.count)) { buffer, initialized in
            #if canImport(Glibc)
            let huge: UInt = 2 << 20
            let base = UInt(bitPattern: buffer.baseAddress!)
            let start = (base + huge - 1) & ~(huge - 1)
            let end = (base + UInt(buffer.count * 4)) & ~(huge - 1)
            if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), MADV_HUGEPAGE) }
            #endif
            buffer.baseAddress!.initialize(from: old.baseAddress!, count: old.count)
            initialized = old.count
        }
    }

    /// Runs `body` with a scratch of `scratchWords` on the stack.
    static func withScratch<R>(_ body: (UnsafeMutablePointer<UInt32>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: scratchWords) { body($0.baseAddress!) }
    }
}

extension IPv4LPM {
    /// Where a node's pointer lives.
    enum Parent {
        case level1(Int)
        case level2(slot1: Int, slot2: Int)
    }

    /// Stores node `n`'s new content (quarters `touched` from the slots in the scratch): in
    /// place if the block size is unchanged, else in a new block (the parent's pointer
    /// follows). A node left with nothing but `inherit` is freed: a level-2 node's /16 points
    /// to the empty node again, a level-3 node's slot gets the node's default.
    mutating func commit(node n: Int, scratch v: UnsafeMutablePointer<UInt32>, touched: ClosedRange<Int>, parent: Parent) {
        let (runs, oldRuns) = store.withUnsafeBufferPointer {
            (IPv4Node.assemble($0.baseAddress!, node: n, scratch: v, touched: touched), IPv4Node.runs($0.baseAddress!, node: n))
        }
        let leaves = v + IPv4Node.scratchLeaves
        if runs == 4 && leaves[0] == IPv4Node.inherit && leaves[1] == IPv4Node.inherit
            && leaves[2] == IPv4Node.inherit && leaves[3] == IPv4Node.inherit {
            let fallback = store[n + IPv4Node.defaultWord]
            freeNode(n)
            switch parent {
            case .level1(let slot1):
                store[slot1] = IPv4Node.emptyNode
                level2Nodes -= 1
            case .level2(let slot1, let slot2):
                level3Nodes -= 1
                setLeaf(level2: Int(store[slot1]), slot1: slot1, slot2: slot2, to: fallback)
            }
            return
        }
        let oldWords = IPv4Node.blockWords(runs: oldRuns)
        let newWords = IPv4Node.blockWords(runs: runs)
        var m = n
        if newWords != oldWords {
            m = allocate(words: newWords)
            store[m + IPv4Node.defaultWord] = store[n + IPv4Node.defaultWord]
            store[m + IPv4Node.idWord] = store[n + IPv4Node.idWord]
            release(block: n, words: oldWords)
        }
        store.withUnsafeMutableBufferPointer { IPv4Node.write($0.baseAddress!, node: m, scratch: v, runs: runs) }
        guard m != n else { return }
        switch parent {
        case .level1(let slot1):
            store[slot1] = UInt32(m)
        case .level2(let slot1, let slot2):
            let n2 = Int(store[slot1])
            let i = store.withUnsafeBufferPointer { IPv4Node.leafIndex($0.baseAddress!, n2, slot2) }
            store[n2 + IPv4Node.leafWord + i] = IPv4Node.tag | UInt32(m)
        }
    }

    /// A new node whose 256 slots all `inherit` `fallback` (one run per quarter); returns
    /// its offset.
    mutating func newNode(default fallback: UInt32) -> Int {
        let m = allocate(words: IPv4Node.blockWords(runs: 4))
        let id: Int
        if let reused = freeIds.popLast() {
            id = Int(reused)
            nodeDepth.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: id * 256).update(repeating: 0, count: 256) }
        } else {
            id = nodeDepth.count / 256
            nodeDepth.append(contentsOf: repeatElement(0, count: 256))
        }
        store.withUnsafeMutableBufferPointer { b in
            IPv4Node.writeEmpty(b.baseAddress!, node: m, default: fallback, id: UInt32(id))
        }
        return m
    }

    /// Frees node `n`'s block and id.
    mutating func freeNode(_ n: Int) {
        freeIds.append(store[n + IPv4Node.idWord])
        let words = IPv4Node.blockWords(runs: store.withUnsafeBufferPointer { IPv4Node.runs($0.baseAddress!, node: n) })
        release(block: n, words: words)
    }

    /// A block of `words` (a multiple of 4) from the free list of its size, else from the
    /// end of the store (grown by a quarter at a time, not doubled).
    mutating func allocate(words: Int) -> Int {
        let sizeClass = words >> 2
        let head = freeHeads[sizeClass]
        if head != 0 {
            freeHeads[sizeClass] = store[Int(head)]
            freeWords -= words
            return Int(head)
        }
        let m = store.count
        precondition(m + words < 0x7FFF_FFF0, "IPv4LPM store exceeds 2^31 words")
        if m + words > store.capacity {
            store = store.withUnsafeBufferPointer { IPv4Node.hugePageStore(copying: $0, capacity: m + words + store.capacity / 4) }
        }
        store.append(contentsOf: repeatElement(0, count: words))
        return m
    }

    /// Puts block `n` on the free list of its size.
    mutating func release(block n: Int, words: Int) {
        let sizeClass = words >> 2
        store[n] = freeHeads[sizeClass]
        freeHeads[sizeClass] = UInt32(n)
        freeWords += words
    }

    /// Compacts the store when free blocks make up more than a quarter of it (nodes change
    /// size class as they grow and shrink, and a free block is only reused for its own size).
    mutating func defragmentIfWasteful() {
        if freeWords >= 1 << 16 && freeWords > store.count / 4 { defragment() }
    }

    /// Rewrites the store with every live node packed in trie order (each level-3 node right
    /// after its level-2 parent) and no free blocks, like a chip's table defragmentation.
    /// O(size of the store); lookups give the same answers before and after.
    public mutating func defragment() {
        let live = store.count - freeWords
        store = store.withUnsafeBufferPointer { sb in
            let s = sb.baseAddress!
            var packed = IPv4Node.hugePageStore(copying: UnsafeBufferPointer(rebasing: sb[0..<IPv4Node.reservedWords]),
                                                capacity: live + live / 16)
            func move(_ n: Int) -> Int {
                let m = packed.count
                packed.append(contentsOf: UnsafeBufferPointer(start: s + n, count: IPv4Node.blockWords(runs: IPv4Node.runs(s, node: n))))
                return m
            }
            for i in 0..<IPv4Node.level1Slots where s[i] != IPv4Node.emptyNode {
                let n2 = Int(s[i])
                let m2 = move(n2)
                packed[i] = UInt32(m2)
                for j in 0..<IPv4Node.runs(s, node: n2) where IPv4Node.isPointer(s[n2 + IPv4Node.leafWord + j]) {
                    packed[m2 + IPv4Node.leafWord + j] = IPv4Node.tag | UInt32(move(IPv4Node.offset(s[n2 + IPv4Node.leafWord + j])))
                }
            }
            return packed
        }
        freeWords = 0
        for c in freeHeads.indices { freeHeads[c] = 0 }
    }
}
