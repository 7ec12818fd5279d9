import Foundation
import KernelMirror
import Netlink
import SwitchModel

/// `mirror-routes`: the kernel inserts N routes from an `ip -batch` file in a scratch
/// namespace while a mirror listens. Value: seconds from the start of the insert until the
/// mirror holds every route; peer: the kernel's own insert time (`ip -batch` exit) in the
/// same run; ratio = value / peer (goal ≤ 1.05). Also reports lost routes and the mirror's
/// resident memory per route.
struct MirrorRoutes {
    let routes: Int

    func run() throws {
        let ns = "hoist-bench-\(getpid())"
        try shell(["ip", "netns", "add", ns])
        defer { try? shell(["ip", "netns", "del", ns]) }
        for cmd in ["link set lo up", "link add rt0 type veth peer name rt1", "link set rt0 up", "link set rt1 up",
                    "addr add 10.1.0.1/24 dev rt0"] {
            try shell(["ip", "-n", ns] + cmd.split(separator: " ").map(String.init))
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns).batch")
        var batch = ""
        batch.reserveCapacity(routes * 40)
        for i in 0..<routes {
            let v = 0x1000_0000 + UInt32(i) * 256
            batch += "route add \(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).0/24 via 10.1.0.2\n"
        }
        try batch.write(to: file, atomically: false, encoding: .utf8)
        batch = ""
        defer { try? FileManager.default.removeItem(at: file) }

        let mirror = try KernelMirror(namespace: ns)
        try mirror.start()
        var got = 0
        func count(_ batch: [MirrorDelta]?) {
            for d in batch ?? [] {
                if case .route(.added(let r)) = d, r.key.family == .ipv4, (16...31).contains(r.key.destination.address.ipv4Value >> 24) { got += 1 }
            }
        }
        let rssBefore = residentBytes()

        let inserter = Process()
        inserter.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        inserter.arguments = ["ip", "-n", ns, "-batch", file.path]
        let start = now()
        try inserter.run()
        var kernelDone: Double?
        var mirrorDone: Double?
        let deadline = start + 600
        while now() < deadline {
            count(try mirror.poll(timeoutMilliseconds: 10))
            if kernelDone == nil, !inserter.isRunning { kernelDone = now() }
            if mirrorDone == nil, got >= routes { mirrorDone = now() }
            if kernelDone != nil, mirrorDone != nil { break }
        }
        inserter.waitUntilExit()
        let kernelTime = (kernelDone ?? now()) - start
        // Let anything still queued arrive, then count what was lost.
        let settle = now() + 2
        while mirrorDone == nil, now() < settle {
            count(try mirror.poll(timeoutMilliseconds: 10))
            if got >= routes { mirrorDone = now() }
        }
        let mirrorTime = (mirrorDone ?? now()) - start
        let perRoute = Double(residentBytes() - rssBefore) / Double(max(got, 1))
        let s = mirror.statistics
        FileHandle.standardError.write(Data("""
            mirror-routes: \(routes) routes; kernel insert \(String(format: "%.2f", kernelTime)) s \
            (\(Int(Double(routes) / kernelTime)) routes/s); mirror complete \(String(format: "%.2f", mirrorTime)) s; \
            mirrored \(got), lost \(routes - got); overruns \(s.overruns), resyncs \(s.resyncs); \
            \(Int(perRoute)) bytes/route resident\n
            """.utf8))
        emit([("bench", "\"mirror-routes\""), ("value", String(format: "%.3f", mirrorTime)), ("unit", "\"s\""),
              ("peer", "\"kernel ip -batch insert\""), ("peer_value", String(format: "%.3f", kernelTime)),
              ("ratio", String(format: "%.3f", mirrorTime / kernelTime)), ("routes", "\(routes)"),
              ("lost", "\(routes - got)"), ("bytes_per_route", String(format: "%.0f", perRoute)),
              ("resyncs", "\(s.resyncs)")])
        if got != routes { throw BenchError(message: "the mirror lost \(routes - got) routes") }
    }
}
