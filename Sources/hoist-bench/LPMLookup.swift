import EmulatedASIC
import Foundation
import SwitchModel

/// `lpm-lookup`: the emulated chip's IPv4 route table (`IPv4LPM`) with a synthetic DFZ-like
/// table of N distinct prefixes (≈ 60 % /24, 10 % /23, 10 % /22, 8 % /21–/20, 10 % /19–/16,
/// 2 % /8–/15 and /25–/32, in unicast space). Value: lookups/s over 2^21 pre-generated
/// addresses (half inside inserted prefixes, half uniformly random), best of 3 timings of
/// ≥ 0.5 s. Peer: a dictionary per prefix length probed longest first, measured in the same
/// run on the same addresses. Also reports insert and remove rates (best of 3) and memory.
struct LPMLookup {
    let routes: Int

    /// The DFZ-like length mix, in percent per length.
    static func randomLength(_ rng: inout SplitMix64) -> Int {
        let r = Int(rng.next() % 1000)
        switch r {
        case ..<600: return 24
        case ..<700: return 23
        case ..<800: return 22
        case ..<840: return 21
        case ..<880: return 20
        case ..<980: return 16 + (r - 880) / 25          // /16–/19, 2.5 % each
        case ..<990: return 8 + (r - 980) * 8 / 10       // /8–/15
        default: return 25 + (r - 990) * 8 / 10          // /25–/32
        }
    }

    static func mask(_ len: Int) -> UInt32 { len == 0 ? 0 : UInt32.max << UInt32(32 - len) }

    /// `count` distinct DFZ-like IPv4 prefixes in unicast space (1.0.0.0–223.255.255.255),
    /// each with a 16-bit value; the same for the same `rng` state.
    static func dfzPrefixes(_ count: Int, _ rng: inout SplitMix64) -> [(prefix: UInt32, length: UInt8, value: UInt32)] {
        var seen = Set<UInt64>(minimumCapacity: count)
        var prefixes: [(prefix: UInt32, length: UInt8, value: UInt32)] = []
        prefixes.reserveCapacity(count)
        while prefixes.count < count {
            let len = randomLength(&rng)
            let a = UInt32(0x0100_0000 + rng.next() % (0xE000_0000 - 0x0100_0000)) & mask(len)
            if seen.insert(UInt64(len) << 32 | UInt64(a)).inserted {
                prefixes.append((a, UInt8(len), UInt32(truncatingIfNeeded: rng.next()) & 0xFFFF))
            }
        }
        return prefixes
    }

    func run() throws {
        var rng = SplitMix64(seed: 0x10AD_BEEF)
        let prefixes = Self.dfzPrefixes(routes, &rng)
        let addressCount = 1 << 21
        var addresses = [UInt32](repeating: 0, count: addressCount)
        for i in 0..<addressCount {
            if i & 1 == 0 {
                let p = prefixes[Int(rng.next() % UInt64(routes))]
                addresses[i] = p.prefix | (UInt32(truncatingIfNeeded: rng.next()) & ~Self.mask(Int(p.length)))
            } else {
                addresses[i] = UInt32(truncatingIfNeeded: rng.next())
            }
        }
        addresses.shuffle(using: &rng)
        var removeOrder = prefixes
        removeOrder.shuffle(using: &rng)

        // Inserts and removes: best of 3 fresh builds; the fourth build is measured for lookups.
        var insertRate = 0.0, removeRate = 0.0
        var table = IPv4LPM(capacity: routes)
        for round in 0..<4 {
            var t = IPv4LPM(capacity: routes)
            let ti = timed {
                for p in prefixes { _ = t.insert(p.prefix, length: p.length, value: p.value) }
            }
            insertRate = max(insertRate, Double(routes) / ti)
            if round == 3 { table = t; break }
            let tr = timed {
                for p in removeOrder { _ = t.remove(p.prefix, length: p.length) }
            }
            removeRate = max(removeRate, Double(routes) / tr)
            if t.count != 0 { throw BenchError(message: "lpm-lookup: \(t.count) prefixes left after removing all") }
        }
        guard table.count == routes else { throw BenchError(message: "lpm-lookup: table holds \(table.count) of \(routes)") }

        let lpm = table
        let rate = bestRate(opsPerPass: addressCount) {
            var sum: UInt64 = 0
            addresses.withUnsafeBufferPointer { a in
                for x in a { sum &+= UInt64(lpm.lookup(x) ?? 0x1_0000) }
            }
            return sum
        }

        // Peer: one dictionary per prefix length, probed from the longest length in use.
        var byLength = [[UInt32: UInt32]](repeating: [:], count: 33)
        for p in prefixes { byLength[Int(p.length)][p.prefix] = p.value }
        let lengths = (0...32).reversed().filter { !byLength[$0].isEmpty }
        let probes = lengths.map { (Self.mask($0), byLength[$0]) }
        func peerLookup(_ a: UInt32) -> UInt32? {
            for (m, d) in probes { if let v = d[a & m] { return v } }
            return nil
        }
        let peerRate = bestRate(opsPerPass: addressCount) {
            var sum: UInt64 = 0
            for x in addresses { sum &+= UInt64(peerLookup(x) ?? 0x1_0000) }
            return sum
        }
        // Both must agree on every address.
        var mismatches = 0
        for x in addresses where lpm.lookup(x) != peerLookup(x) { mismatches += 1 }
        if mismatches > 0 { throw BenchError(message: "lpm-lookup: \(mismatches) lookups differ from the peer") }
        let peerBytes = byLength.reduce(0) { $0 + ($1.capacity * 4 / 3) * 8 }

        let mib = 1024.0 * 1024.0
        let goalMet = rate >= 100e6 && Double(lpm.lookupBytes) <= 64 * mib && insertRate >= 1e6 && removeRate >= 1e6
        FileHandle.standardError.write(Data("""
            lpm-lookup: \(routes) prefixes, \(lpm.level2Nodes) level-2 and \(lpm.level3Nodes) level-3 nodes; \
            lookup structure \(number(Double(lpm.lookupBytes) / mib, 1)) MiB, control plane \
            \(number(Double(lpm.controlPlaneBytes) / mib, 1)) MiB; \(number(rate / 1e6, 1)) M lookups/s \
            (peer \(number(peerRate / 1e6, 1)) M/s); \(number(insertRate / 1e6, 2)) M inserts/s, \
            \(number(removeRate / 1e6, 2)) M removes/s\n
            """.utf8))
        emit([("bench", string("lpm-lookup")), ("value", number(rate / 1e6, 2)), ("unit", string("M lookups/s")),
              ("peer", string("Dictionary<UInt32,UInt32> per prefix length, probed longest first")),
              ("peer_value", number(peerRate / 1e6, 2)), ("ratio", number(rate / peerRate, 2)),
              ("routes", "\(routes)"), ("addresses", "\(addressCount)"),
              ("memory_bytes", "\(lpm.lookupBytes)"), ("control_plane_bytes", "\(lpm.controlPlaneBytes)"),
              ("total_bytes", "\(lpm.memoryBytes)"), ("unused_bytes", "\(lpm.unusedLookupBytes)"), ("peer_bytes", "\(peerBytes)"),
              ("level2_nodes", "\(lpm.level2Nodes)"), ("level3_nodes", "\(lpm.level3Nodes)"),
              ("insert_per_s", number(insertRate, 0)), ("remove_per_s", number(removeRate, 0)),
              ("goal", string(">= 100 M lookups/s, memory_bytes <= 64 MiB, >= 1 M inserts and removes/s")),
              ("goal_met", goalMet ? "true" : "false"),
              ("anchor_poptrie", string("174-240 M lookups/s in 2.4 MiB (Asai & Ohara, SIGCOMM 2015)")),
              ("anchor_linux_lc_trie", string("~20 M lookups/s (~50 ns), ~64 MiB for 500k routes (Bernat 2017)")),
              ("anchor_dir_24_8_bytes", "\(64 * 1024 * 1024)")])
        benchSink &+= UInt64(lpm.count)
        if benchSink == 42 { print("") }
    }
}
