import Foundation
import KernelMirror
import Netlink
import SwitchModel

/// `mirror-routes`: the kernel inserts N routes in a scratch namespace while a mirror
/// listens — from an `ip -batch` file, or (`--inserter netlink`) by a fast inserter that
/// sends batches of `RTM_NEWROUTE` without waiting for ACKs. Value: seconds from the start
/// of the insert until the mirror holds every route; peer: the kernel's own insert time in
/// the same run; ratio = value / peer (goal ≤ 1.05). Also reports lost routes and the
/// mirror's resident memory per route.
struct MirrorRoutes {
    enum Inserter: String {
        case ipBatch = "ip-batch"
        case netlink
    }

    let routes: Int
    var inserter: Inserter = .ipBatch

    /// The i-th route's destination: /24s counting up from 16.0.0.0.
    static func destination(_ i: Int) -> UInt32 { 0x1000_0000 + UInt32(i) * 256 }

    func run() throws {
        let scratch = try ScratchNamespace("hoist-bench-\(getpid())", [
            "link add rt0 type veth peer name rt1", "link set rt0 up", "link set rt1 up", "addr add 10.1.0.1/24 dev rt0",
        ])
        defer { scratch.delete() }
        let ns = scratch.name
        let file = try Self.writeBatch(routes: inserter == .ipBatch ? routes : 0, namespace: ns)
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

        let start = now()
        let kernel = try startInserter(namespace: ns, file: file.path)
        var kernelDone: Double?
        var mirrorDone: Double?
        let deadline = start + 600
        while now() < deadline {
            count(try mirror.poll(timeoutMilliseconds: 10))
            if kernelDone == nil, let t = kernel.finished() { kernelDone = t }
            if mirrorDone == nil, got >= routes { mirrorDone = now() }
            if kernelDone != nil, mirrorDone != nil { break }
        }
        if let failure = kernel.failure() { throw BenchError(message: "inserter: \(failure)") }
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
              ("peer", "\"kernel insert (\(inserter.rawValue))\""), ("peer_value", String(format: "%.3f", kernelTime)),
              ("ratio", String(format: "%.3f", mirrorTime / kernelTime)), ("routes", "\(routes)"),
              ("lost", "\(routes - got)"), ("bytes_per_route", String(format: "%.0f", perRoute)),
              ("resyncs", "\(s.resyncs)")])
        if got != routes { throw BenchError(message: "the mirror lost \(routes - got) routes") }
    }

    /// Writes the `ip -batch` file of the first `routes` routes (via 10.1.0.2).
    static func writeBatch(routes: Int, namespace ns: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns).batch")
        var batch = ""
        batch.reserveCapacity(routes * 40)
        for i in 0..<routes {
            let v = destination(i)
            batch += "route add \(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).0/24 via 10.1.0.2\n"
        }
        try batch.write(to: file, atomically: false, encoding: .utf8)
        return file
    }

    /// Starts inserting on another process or thread; the box says when the kernel is done.
    func startInserter(namespace ns: String, file: String) throws -> InsertProgress {
        let progress = InsertProgress()
        switch inserter {
        case .ipBatch:
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["ip", "-n", ns, "-batch", file]
            p.terminationHandler = { p in
                progress.finish(p.terminationStatus == 0 ? nil : "ip -batch exited \(p.terminationStatus)")
            }
            try p.run()
        case .netlink:
            let count = routes
            let thread = Thread {
                do {
                    try Self.insertByNetlink(namespace: ns, routes: count)
                    progress.finish(nil)
                } catch {
                    progress.finish("\(error)")
                }
            }
            thread.start()
        }
        return progress
    }

    /// `RTM_NEWROUTE` (`NLM_F_CREATE | NLM_F_EXCL`) of the i-th /24 via `gateway`; with
    /// `delete`, `RTM_DELROUTE` of it.
    static func routeMessage(_ i: Int, gateway: [UInt8], delete: Bool = false) -> NetlinkMessageBuilder {
        let d = destination(i)
        // struct rtmsg: AF_INET, dst_len 24, src_len 0, tos 0, table main, proto boot,
        // scope universe, type unicast, flags 0.
        let m = delete ? NetlinkMessageBuilder(type: 25 /* RTM_DELROUTE */, capacity: 128)
            : NetlinkMessageBuilder(type: 24 /* RTM_NEWROUTE */, flags: 0x400 | 0x200, capacity: 128)
        m.append(header: [2, 24, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0])
        m.put(1 /* RTA_DST */, bytes: [UInt8(d >> 24), UInt8((d >> 16) & 255), UInt8((d >> 8) & 255), 0])
        if !delete { m.put(5 /* RTA_GATEWAY */, bytes: gateway) }
        return m
    }

    /// Sends `RTM_NEWROUTE` (`NLM_F_CREATE | NLM_F_EXCL`) for every route via 10.1.0.2, 256
    /// to a `send()`, without ACKs; rtnetlink handles a send synchronously, so the kernel
    /// is done when the last send returns. Any error reply fails the run.
    static func insertByNetlink(namespace: String, routes: Int) throws {
        let channel = try NetlinkChannel(namespace: namespace)
        let gateway: [UInt8] = [10, 1, 0, 2]
        var batch: [NetlinkMessageBuilder] = []
        batch.reserveCapacity(256)
        for i in 0..<routes {
            batch.append(routeMessage(i, gateway: gateway))
            if batch.count == 256 || i == routes - 1 {
                try channel.sendBatch(batch)
                batch.removeAll(keepingCapacity: true)
                if let e = try channel.drainErrors().first { throw e }
            }
        }
        if let e = try channel.drainErrors().first { throw e }
    }
}

/// When the kernel finished inserting, shared between the inserter and the bench loop.
final class InsertProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var doneAt: Double?
    private var error: String?

    func finish(_ failure: String?) {
        lock.withLock {
            doneAt = now()
            error = failure
        }
    }

    func finished() -> Double? { lock.withLock { doneAt } }
    func failure() -> String? { lock.withLock { error } }
}
