import Foundation
import KernelMirror

/// `daemon-memory`: hoistd's resident memory per route with N routes installed as FRR
/// installs them (nexthop objects, three in four over an ECMP group), through the chip
/// link to a `hoist-asic` process (`BenchLab`). The peer, in the same run, is a kernel
/// mirror alone (this process's growth while it mirrors the same table): what any
/// rtnetlink listener must hold. Also: hoistd idle, after one full `hoist show routes`,
/// and after every route is withdrawn — 3 s and 15 s after (goal: ≤ 1.2× idle). Goal: ≤ 300 bytes/route.
struct DaemonMemory {
    let routes: Int

    func run() throws {
        let lab = try BenchLab(name: "hbmem\(getpid() % 100_000)")
        defer { lab.down() }
        guard let pid = lab.hoistdPID() else { throw BenchError(message: "hoistd of lab \(lab.name) is not running") }
        let routesBefore = try lab.chipRoutes()
        // Let hoistd settle (start-up allocations, the first audit pass).
        sleep(2)
        let idle = BenchLab.resident(pid)

        let mirror = try KernelMirror(namespace: lab.namespace)
        try mirror.start()
        let mirrorBefore = residentBytes()
        let inserter = Thread { try? lab.insertFRRStyle(routes) }
        let start = now()
        inserter.start()
        var lastAsk = 0.0
        var done = false
        while !done, now() - start < 900 {
            _ = try mirror.poll(timeoutMilliseconds: 20)
            if now() - lastAsk > 0.5 {
                lastAsk = now()
                done = ((try? lab.chipRoutes()) ?? 0) >= routesBefore + routes
            }
        }
        guard done else { throw BenchError(message: "the chip never held the \(routes) routes") }
        // The mirror's last deltas.
        while let deltas = try mirror.poll(timeoutMilliseconds: 200), !deltas.isEmpty {}
        let inChip = now() - start
        let mirrorBytes = residentBytes() - mirrorBefore
        sleep(2)
        let loaded = BenchLab.resident(pid)
        // One full query, streamed.
        let queryStart = now()
        let shown = try capture([lab.binaries.appendingPathComponent("hoist").path, "show", "routes", "--json", "--timeout", "120", "--socket", lab.socket])
        let querySeconds = now() - queryStart
        let afterQuery = BenchLab.resident(pid)
        // Withdraw everything.
        try lab.withdrawFRRStyle()
        _ = try lab.waitForChip(routesBefore, atLeast: false)
        sleep(3)
        let withdrawnSoon = BenchLab.resident(pid)
        // And once hoistd has been quiet a while (its audit passes, the last trims).
        sleep(12)
        let withdrawn = BenchLab.resident(pid)

        let perRoute = Double(loaded - idle) / Double(routes)
        let mirrorPerRoute = Double(mirrorBytes) / Double(routes)
        let mb = { (b: Int) in number(Double(b) / 1_048_576, 1) }
        FileHandle.standardError.write(Data("""
            daemon-memory: \(routes) routes (nexthop objects, ECMP) in the chip after \(number(inChip, 1)) s; hoistd \
            \(mb(idle)) MB idle, \(mb(loaded)) MB loaded (\(Int(perRoute)) B/route), \(mb(afterQuery)) MB after one \
            show routes (\(shown.utf8.count / 1_048_576) MB of JSON in \(number(querySeconds, 1)) s), \(mb(withdrawnSoon)) MB 3 s after \
            withdrawing all and \(mb(withdrawn)) MB 15 s after; a mirror alone \(Int(mirrorPerRoute)) B/route\n
            """.utf8))
        emit([("bench", "\"daemon-memory\""), ("value", String(Int(perRoute))), ("unit", "\"bytes/route\""),
              ("peer", "\"kernel mirror alone\""), ("peer_value", String(Int(mirrorPerRoute))), ("ratio", number(perRoute / max(mirrorPerRoute, 1))),
              ("routes", String(routes)), ("idle_mb", mb(idle)), ("loaded_mb", mb(loaded)), ("after_query_mb", mb(afterQuery)),
              ("withdrawn_3s_mb", mb(withdrawnSoon)), ("withdrawn_mb", mb(withdrawn)), ("withdrawn_over_idle", number(Double(withdrawn) / Double(idle))),
              ("query_s", number(querySeconds)), ("goal", "\"≤ 300 bytes/route; withdrawn ≤ 1.2 × idle\"")])
    }
}
