import ChipLink
import Daemon
import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel

/// `route-offload`: N routes inserted in a scratch namespace (by `ip -batch`, or the fast
/// netlink inserter) via a gateway on swp1, a port of the emulated chip; hoistd's loop
/// (mirror → stages → engine → chip) programs them. Value: seconds from the start of the
/// insert until the chip's LPM holds all N; peer: the kernel's own insert time in the same
/// run; ratio = value / peer (goal ≤ 1.1). With `overChipLink` the chip is served on
/// another thread behind a `ChipLinkServer` and hoistd's loop drives it through
/// `RemoteChipDriver`, as `hoistd --asic` drives `hoist-asic`.
struct RouteOffload {
    let routes: Int
    var inserter: MirrorRoutes.Inserter = .ipBatch
    var overChipLink = false

    func run() throws {
        let scratch = try ScratchNamespace("hoist-bench-offload-\(getpid())", ScratchNamespace.routedPort)
        defer { scratch.delete() }
        let ns = scratch.name
        let file = try MirrorRoutes.writeBatch(routes: inserter == .ipBatch ? routes : 0, namespace: ns)
        defer { try? FileManager.default.removeItem(at: file) }

        let driver: any SwitchDriver
        var served: BackgroundChipLink?
        if overChipLink {
            let path = "/tmp/hoist-bench-offload-\(getpid()).sock"
            served = try BackgroundChipLink(path: path, driver: EmulatedASIC(profile: .datacenter))
            driver = try RemoteChipDriver(path: path)
        } else {
            driver = EmulatedASIC(profile: .datacenter)
        }
        defer { served?.stop() }
        let daemon = try SwitchDaemon(namespace: ns, driver: driver)
        try daemon.start()
        func programmed() -> Int { driver.counters().tables[.lpmIPv4]?.used ?? 0 }
        let baseline = programmed()
        var lastCheck = 0.0

        let start = now()
        let kernel = try MirrorRoutes(routes: routes, inserter: inserter).startInserter(namespace: ns, file: file.path)
        var kernelDone: Double?
        var chipDone: Double?
        let deadline = start + 600
        while now() < deadline {
            try daemon.step(timeoutMilliseconds: 5)
            if kernelDone == nil, let t = kernel.finished() { kernelDone = t }
            if chipDone == nil, now() - lastCheck > 0.02 {
                lastCheck = now()
                if programmed() - baseline >= routes { chipDone = lastCheck }
            }
            if kernelDone != nil, chipDone != nil { break }
        }
        if let failure = kernel.failure() { throw BenchError(message: "inserter: \(failure)") }
        let kernelTime = (kernelDone ?? now()) - start
        let chipTime = (chipDone ?? now()) - start
        let done = programmed() - baseline
        let offloaded = daemon.engine.stateSummary()["offloaded"] ?? 0
        FileHandle.standardError.write(Data("""
            route-offload: \(routes) routes (\(inserter.rawValue))\(overChipLink ? ", over the chip link" : ""); kernel insert \(number(kernelTime, 2)) s \
            (\(Int(Double(routes) / kernelTime)) routes/s); in the chip after \(number(chipTime, 2)) s; \
            programmed \(done); objects offloaded \(offloaded); resyncs \(daemon.mirror.statistics.resyncs)\n
            """.utf8))
        emit([("bench", "\"route-offload\""), ("value", number(chipTime)), ("unit", "\"s\""),
              ("peer", "\"kernel insert (\(inserter.rawValue))\""), ("peer_value", number(kernelTime)),
              ("ratio", number(chipTime / kernelTime)), ("routes", String(routes)), ("programmed", String(done)),
              ("chip_link", overChipLink ? "true" : "false"),
              ("goal", "\"ratio ≤ 1.1\"")])
        if done < routes { throw BenchError(message: "only \(done) of \(routes) routes reached the chip") }
    }
}
