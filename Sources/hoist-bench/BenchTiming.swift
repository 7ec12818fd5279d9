import Foundation

/// Keeps benchmark results alive so the optimizer cannot drop the measured loops.
nonisolated(unsafe) var benchSink: UInt64 = 0

/// Operations per second of `pass` (which performs `opsPerPass` operations and returns a
/// checksum): passes are repeated until at least `minSeconds` have elapsed, and the best of
/// `runs` such timings is returned.
func bestRate(opsPerPass: Int, minSeconds: Double = 0.5, runs: Int = 3, _ pass: () -> UInt64) -> Double {
    var best = 0.0
    for _ in 0..<runs {
        var passes = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            benchSink &+= pass()
            passes += 1
            elapsed = now() - start
        } while elapsed < minSeconds
        best = max(best, Double(passes * opsPerPass) / elapsed)
    }
    return best
}

/// Seconds taken by `body`.
func timed(_ body: () -> Void) -> Double {
    let start = now()
    body()
    return now() - start
}

/// A JSON number with `digits` decimals.
func number(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

/// A JSON string.
func string(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }

/// `--name N` from the arguments, if present and positive.
func intOption(_ args: [String], _ name: String) -> Int? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let n = Int(args[i + 1]), n > 0 else { return nil }
    return n
}

