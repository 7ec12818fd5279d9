import EmulatedASIC
import Foundation
import SwitchModel

/// `fdb-lookup`: the emulated chip's FDB (`MACTable`, 8-way buckets) holding N random
/// unicast MACs in 4 FIDs, in a table asked for N / 0.9 entries. Value: lookups/s over a
/// shuffled array of the learned keys, best of 3 timings of ≥ 0.5 s. Peer: Swift's
/// `Dictionary<UInt64, UInt32>` with the same keys, measured in the same run. Also reports
/// the learn rate (best of 3 fresh tables), bucket-full refusals and memory per entry.
struct FDBLookup {
    let macs: Int

    func run() throws {
        var rng = SplitMix64(seed: 0xFDB0_0001)
        let fids: [UInt16] = [1, 10, 100, 4000]
        var seen = Set<UInt64>(minimumCapacity: macs)
        var keys: [UInt64] = []
        keys.reserveCapacity(macs)
        while keys.count < macs {
            let mac = rng.next() & 0xFEFF_FFFF_FFFF  // unicast: clear the I/G bit
            let key = MACKey.make(fid: fids[Int(rng.next() % 4)], mac: mac)
            if seen.insert(key).inserted { keys.append(key) }
        }
        seen = []
        let requested = macs * 10 / 9 + 1
        var learnRate = 0.0
        var refused = 0
        var table = MACTable(capacity: requested)
        for round in 0..<3 {
            var t = MACTable(capacity: requested)
            var failures = 0
            let elapsed = timed {
                for (i, key) in keys.enumerated() where t.learn(key, destination: UInt32(i & 63), now: 1) != .learned {
                    failures += 1
                }
            }
            learnRate = max(learnRate, Double(macs) / elapsed)
            refused = failures
            if round == 2 { table = t }
        }
        var order = keys
        order.shuffle(using: &rng)

        let fdb = table
        let rate = bestRate(opsPerPass: macs) {
            var sum: UInt64 = 0
            order.withUnsafeBufferPointer { a in
                for k in a { sum &+= UInt64(fdb.lookup(k) ?? 1000) }
            }
            return sum
        }
        var peer = [UInt64: UInt32](minimumCapacity: macs)
        for (i, key) in keys.enumerated() { peer[key] = UInt32(i & 63) }
        let peerRate = bestRate(opsPerPass: macs) {
            var sum: UInt64 = 0
            order.withUnsafeBufferPointer { a in
                for k in a { sum &+= UInt64(peer[k] ?? 1000) }
            }
            return sum
        }
        var mismatches = 0
        for k in order where fdb.lookup(k) != peer[k] && fdb.lookup(k) != nil { mismatches += 1 }
        if mismatches > 0 { throw BenchError(message: "fdb-lookup: \(mismatches) lookups differ from the peer") }
        // Swift's Dictionary: 8-byte key + 4-byte value per bucket at ≤ 75 % load, plus a bitmap.
        let peerBytes = (peer.capacity * 4 / 3) * 12 + peer.capacity / 6
        let perEntry = Double(fdb.memoryBytes) / Double(fdb.count)
        let goalMet = rate >= 30e6 && perEntry <= 128

        FileHandle.standardError.write(Data("""
            fdb-lookup: \(fdb.count) of \(macs) MACs learned (\(refused) refused: bucket full) in \(fdb.capacity) slots \
            (\(fdb.capacity / 8) buckets × 8 ways); \(number(perEntry, 1)) bytes/entry; \(number(rate / 1e6, 1)) M lookups/s \
            (Dictionary \(number(peerRate / 1e6, 1)) M/s); \(number(learnRate / 1e6, 2)) M learns/s\n
            """.utf8))
        emit([("bench", string("fdb-lookup")), ("value", number(rate / 1e6, 2)), ("unit", string("M lookups/s")),
              ("peer", string("Dictionary<UInt64,UInt32>")), ("peer_value", number(peerRate / 1e6, 2)),
              ("ratio", number(rate / peerRate, 2)), ("macs", "\(macs)"), ("learned", "\(fdb.count)"),
              ("bucket_full", "\(refused)"), ("capacity", "\(fdb.capacity)"), ("ways", "8"),
              ("memory_bytes", "\(fdb.memoryBytes)"), ("bytes_per_entry", number(perEntry, 1)),
              ("peer_bytes", "\(peerBytes)"), ("learn_per_s", number(learnRate, 0)),
              ("goal", string(">= 30 M lookups/s at 512k MACs, <= 128 bytes/entry")),
              ("goal_met", goalMet ? "true" : "false"),
              ("anchor_cuckoo_pp", string("37 M positive lookups/s/core (Le Scouarnec, ANCS 2018)")),
              ("anchor_dpdk_rte_hash", string("~25 M positive lookups/s/core (derived)")),
              ("anchor_kernel_bytes_per_entry", "128")])
    }
}
