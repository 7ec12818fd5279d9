import Foundation
import Netlink

/// `restart-reconcile`: N routes (FRR-style, `BenchLab`) in the kernel and in a
/// `hoist-asic` chip; hoistd is killed with SIGKILL, a route is added while it is down,
/// and hoistd is started again. Value: seconds from its start until it logs "reconciled
/// with the chip"; peer: the kernel's own dump of the same routes (`RTM_GETROUTE`), in the
/// same run. Also: when the route added meanwhile reached the chip, and hoistd's resident
/// memory before and after. Goal: ≤ 5 s.
struct RestartReconcile {
    let routes: Int

    func run() throws {
        let lab = try BenchLab(name: "hbrst\(getpid() % 100_000)")
        defer { lab.down() }
        guard let pid = lab.hoistdPID() else { throw BenchError(message: "hoistd of lab \(lab.name) is not running") }
        let routesBefore = try lab.chipRoutes()
        try lab.insertFRRStyle(routes)
        let loadTime = try lab.waitForChip(routesBefore + routes)
        let rssBefore = BenchLab.resident(pid)

        // The peer: the kernel dumps the same table.
        let channel = try NetlinkChannel(namespace: lab.namespace)
        let dumpStart = now()
        var dumped = 0
        try channel.dump(.routes) { _ in dumped += 1 }
        let dumpSeconds = now() - dumpStart

        kill(pid, SIGKILL)
        while kill(pid, 0) == 0 { usleep(10_000) }
        // A kernel change while hoistd is down.
        try shell(["ip", "-n", lab.namespace, "route", "add", "203.0.113.0/24", "nhid", "1"])

        let log = "/tmp/\(lab.name)-restart.log"
        defer { unlink(log) }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // HOIST_BENCH_WRAP: a command to run the restarted hoistd under (e.g. a profiler).
        let wrap = ProcessInfo.processInfo.environment["HOIST_BENCH_WRAP"].map { $0.split(separator: " ").map(String.init) } ?? []
        p.arguments = ["ip", "netns", "exec", lab.namespace] + wrap + [lab.binaries.appendingPathComponent("hoistd").path]
            + lab.plan.hoistdArguments(lab.plan.spec.switches[0])
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        let start = now()
        try p.run()
        var reconciled: Double?
        var summary = ""
        while reconciled == nil, now() - start < 600, p.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("reconciled with the chip") }) {
                reconciled = now() - start
                summary = String(line)
            } else {
                usleep(5_000)
            }
        }
        guard let reconciled else {
            throw BenchError(message: "hoistd never reconciled: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        let changeSeen = try lab.waitForChip(routesBefore + routes + 1) + reconciled
        let rssAfter = lab.hoistdPID().map(BenchLab.resident) ?? 0
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
        FileHandle.standardError.write(Data("""
            restart-reconcile: \(routes) routes (loaded in \(number(loadTime, 1)) s); the kernel dumps \(dumped) routes in \
            \(number(dumpSeconds, 2)) s; hoistd restarted reconciles in \(number(reconciled, 2)) s (\(summary.split(separator: "reconciled").last.map { "reconciled" + $0 } ?? "")); \
            the route added meanwhile in the chip after \(number(changeSeen, 2)) s; RSS \(rssBefore / 1_048_576) MB before, \
            \(rssAfter / 1_048_576) MB after; \(lines) log lines\n
            """.utf8))
        emit([("bench", "\"restart-reconcile\""), ("value", number(reconciled)), ("unit", "\"s\""),
              ("peer", "\"kernel route dump\""), ("peer_value", number(dumpSeconds)), ("ratio", number(reconciled / dumpSeconds)),
              ("routes", String(routes)), ("change_offloaded_s", number(changeSeen)), ("rss_before_mb", String(rssBefore / 1_048_576)),
              ("rss_after_mb", String(rssAfter / 1_048_576)), ("log_lines", String(lines)), ("goal", "\"≤ 5 s\"")])
    }
}
