import Daemon
import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel

/// `route-offload`: N routes inserted in a scratch namespace (by `ip -batch`, or the fast
/// netlink inserter) via a gateway on swp1, a port of the emulated chip; hoistd's loop
/// (mirror → stages → engine → chip) programs them. Value: seconds from the start of the
/// insert until the chip's LPM holds all N; peer: the kernel's own insert time in the same
/// run; ratio = value / peer (goal ≤ 1.1).
struct RouteOffload {
    let routes: Int
    var inserter: MirrorRoutes.Inserter = .ipBatch

    func run() throws {
        let scratch = try ScratchNamespace("hoist-bench-offload-\(getpid())", ScratchNamespace.routedPort)
        defer { scratch.delete() }
        let ns = scratch.name
        let file = try MirrorRoutes.writeBatch(routes: inserter == .ipBatch ? routes : 0, namespace: ns)
        defer { try? FileManager.default.removeItem(at: file) }

        let asic = EmulatedASIC(profile: .datacenter)
        let daemon = try SwitchDaemon(namespace: ns, driver: asic)
        try daemon.start()
        func programmed() -> Int { asic.counters().tables[.lpmIPv4]?.used ?? 0 }
        let baseline = programmed()

        let start = now()
        let kernel = try MirrorRoutes(routes: routes, inserter: inserter).startInserter(namespace: ns, file: file.path)
        var kernelDone: Double?
        var chipDone: Double?
        let deadline = start + 600
        while now() < deadline {
            try daemon.step(timeoutMilliseconds: 5)
            if kernelDone == nil, let t = kernel.finished() { kernelDone = t }
            if chipDone == nil, programmed() - baseline >= routes { chipDone = now() }
            if kernelDone != nil, chipDone != nil { break }
        }
        if let failure = kernel.failure() { throw BenchError(message: "inserter: \(failure)") }
        let kernelTime = (kernelDone ?? now()) - start
        let chipTime = (chipDone ?? now()) - start
        let done = programmed() - baseline
        let offloaded = daemon.engine.stateSummary()["offloaded"] ?? 0
        FileHandle.standardError.write(Data("""
            route-offload: \(routes) routes (\(inserter.rawValue)); kernel insert \(number(kernelTime, 2)) s \
            (\(Int(Double(routes) / kernelTime)) routes/s); in the chip after \(number(chipTime, 2)) s; \
            programmed \(done); objects offloaded \(offloaded); resyncs \(daemon.mirror.statistics.resyncs)\n
            """.utf8))
        emit([("bench", "\"route-offload\""), ("value", number(chipTime)), ("unit", "\"s\""),
              ("peer", "\"kernel insert (\(inserter.rawValue))\""), ("peer_value", number(kernelTime)),
              ("ratio", number(chipTime / kernelTime)), ("routes", String(routes)), ("programmed", String(done)),
              ("goal", "\"ratio ≤ 1.1\"")])
        if done < routes { throw BenchError(message: "only \(done) of \(routes) routes reached the chip") }
    }
}
