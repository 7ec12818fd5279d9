import Daemon
import EmulatedASIC
import Foundation
import Netlink
import SwitchDriver
import SwitchModel

/// `event-latency`: one kernel change at a time — a route added, then removed — and the
/// time from the kernel's ACK until the emulated chip holds the change, through hoistd's
/// loop. Value: p99 in milliseconds over N changes; goal ≤ 10 ms. The peer is the goal
/// (nothing else to measure in the same run); p50 and max are reported too.
struct EventLatency {
    let changes: Int

    func run() throws {
        let scratch = try ScratchNamespace("hoist-bench-latency-\(getpid())", ScratchNamespace.routedPort)
        defer { scratch.delete() }
        let ns = scratch.name
        let asic = EmulatedASIC(profile: .datacenter)
        let daemon = try SwitchDaemon(namespace: ns, driver: asic)
        try daemon.start()
        let kernel = try NetlinkChannel(namespace: ns)
        func programmed() -> Int { asic.counters().tables[.lpmIPv4]?.used ?? 0 }
        var samples: [Double] = []
        samples.reserveCapacity(changes)
        for i in 0..<changes {
            let add = i % 2 == 0
            let before = programmed()
            try kernel.request(MirrorRoutes.routeMessage(i / 2, gateway: [10, 1, 0, 2], delete: !add))
            let t0 = now()
            while programmed() == before {
                try daemon.step(timeoutMilliseconds: 1)
                if now() - t0 > 5 { throw BenchError(message: "change \(i) never reached the chip") }
            }
            samples.append((now() - t0) * 1000)
        }
        samples.sort()
        let p50 = samples[samples.count / 2]
        let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
        FileHandle.standardError.write(Data("""
            event-latency: \(changes) route changes; kernel ACK → chip: p50 \(number(p50)) ms, p99 \(number(p99)) ms, \
            max \(number(samples.last ?? 0)) ms\n
            """.utf8))
        emit([("bench", "\"event-latency\""), ("value", number(p99)), ("unit", "\"ms (p99)\""), ("peer", "\"goal\""),
              ("peer_value", "10"), ("ratio", number(p99 / 10)), ("p50_ms", number(p50)), ("max_ms", number(samples.last ?? 0)),
              ("changes", String(changes))])
    }
}
