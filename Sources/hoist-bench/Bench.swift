import Foundation
import KernelMirror
import Netlink
import ServiceSupport

/// `hoist-bench NAME [options]`: runs one benchmark and prints, as its last line, one JSON
/// object `{"bench","value","unit","peer","peer_value","ratio"}`. Release builds only
/// (`scripts/bench` builds them).
@main
enum Bench {
    static let benches: [String: String] = [
        "mirror-routes": "N IPv4 routes inserted by `ip -batch` while the mirror listens; mirror completion time over the kernel's insert time (default N = 1000000; --routes N; --inserter ip-batch|netlink)",
        "pipeline-l2": "known-unicast 64-byte frames/s through the emulated chip's pipeline, in memory, one core (goal 10 M)",
        "pipeline-l3": "routed frames/s with a DFZ-like table of N IPv4 routes, 4,096 random destinations (default N = 1000000; --routes N; goal 5 M)",
        "pipeline-vxlan": "frames/s bridged into a VXLAN tunnel (encapsulated), in memory, one core (goal 5 M)",
        "route-offload": "N IPv4 routes inserted in the kernel (ip -batch or --inserter netlink) → all programmed in the emulated chip through hoistd's loop; time over the kernel's insert time (default N = 1000000; --routes N; --chip-link: the chip behind the chip link, as hoist-asic; goal ≤ 1.1)",
        "route-program-link": "IPv4 routes/s programmed into a chip over the chip link (hoistd → hoist-asic: codec, unix socket, apply) against the same routes into an in-process chip, same run (default N = 1000000; --routes N)",
        "route-program": "IPv4 route set operations/s programmed into the emulated chip through the driver, batches of 4,096 (default N = 1000000; --routes N; goal 1 M)",
        "query-under-load": "N routes in the chip through hoistd's loop and control socket; one route change at a time, kernel ACK → chip, p99 while --clients C (default 2) pull the full table streamed, against the p99 without queries in the same run (default N = 1000000; --routes N; --changes M, default 400; goals: p99 ≤ 10 ms, first row ≤ 100 ms, table ≤ 5 s)",
        "daemon-memory": "hoistd's resident bytes/route with N routes installed as FRR does (nexthop objects, ECMP), through the chip link to a hoist-asic process; peer: a kernel mirror alone, same run; also after one show routes and after withdrawing all (default N = 1000000; --routes N; goal ≤ 300 B/route, withdrawn ≤ 1.2 × idle)",
        "restart-reconcile": "N routes in kernel and chip; hoistd killed -9 and started again: seconds until it has reconciled; peer: the kernel's route dump of the same table, same run (default N = 1000000; --routes N; goal ≤ 5 s)",
        "event-latency": "one route change at a time: kernel ACK → programmed in the emulated chip through hoistd's loop; p99 over N changes (default N = 2000; --changes N; goal ≤ 10 ms)",
        "fdb-learn": "new source MACs/s from the first frame into the emulated chip to the kernel's extern_learn entry, through hoistd's loop (default N = 100000; --macs N; goal 100k)",
        "fdb-lookup": "MACTable lookups/s with N random MACs (8-way buckets) over Swift's Dictionary; learn rate, bytes/entry (default N = 524288; --macs N)",
        "json-rows": "route rows/s written by the Swift JSON writer hoistd streams with, against json-c's writer on the same rows, same run; json-c's read rate (default N = 1000000; --routes N)",
        "l2-forward": "known-unicast 60-byte frames/s through the emulated chip on a 2-port veth topology (TPACKET_V3 rings) against the kernel bridge on the same veths, br_netfilter off (--seconds S per run, default 5; --rounds N, default 3; goal ratio ≥ 1.0)",
        "lpm-lookup": "IPv4LPM lookups/s with N DFZ-like prefixes over a per-length dictionary peer; insert/remove rates, memory (default N = 1000000; --routes N)",
    ]

    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, name != "--help" else {
            print("usage: hoist-bench --list | NAME [--routes N] [--macs N] [--seconds S] [--rounds N]")
            exit(2)
        }
        if name == "--version" {
            print(HoistVersion.line("hoist-bench"))
            return
        }
        if name == "--list" {
            for (n, d) in benches.sorted(by: { $0.key < $1.key }) { print("\(n)\t\(d)") }
            return
        }
        args.removeFirst()
        switch name {
        case "mirror-routes", "route-offload":
            let routes = intOption(args, "--routes") ?? 1_000_000
            var inserter = MirrorRoutes.Inserter.ipBatch
            if let i = args.firstIndex(of: "--inserter"), i + 1 < args.count {
                guard let kind = MirrorRoutes.Inserter(rawValue: args[i + 1]) else {
                    throw BenchError(message: "--inserter takes ip-batch or netlink, not '\(args[i + 1])'")
                }
                inserter = kind
            }
            if name == "mirror-routes" {
                try MirrorRoutes(routes: routes, inserter: inserter).run()
            } else {
                try RouteOffload(routes: routes, inserter: inserter, overChipLink: args.contains("--chip-link")).run()
            }
        case "pipeline-l2":
            try PipelineBench.l2()
        case "pipeline-l3":
            try PipelineBench.l3(routes: intOption(args, "--routes") ?? 1_000_000)
        case "pipeline-vxlan":
            try PipelineBench.vxlan()
        case "route-program-link":
            try RouteProgramLink.run(routes: intOption(args, "--routes") ?? 1_000_000)
        case "route-program":
            try PipelineBench.routeProgram(routes: intOption(args, "--routes") ?? 1_000_000)
        case "lpm-lookup":
            try LPMLookup(routes: intOption(args, "--routes") ?? 1_000_000).run()
        case "query-under-load":
            try QueryUnderLoad(routes: intOption(args, "--routes") ?? 1_000_000, changes: intOption(args, "--changes") ?? 400,
                               clients: intOption(args, "--clients") ?? 2).run()
        case "daemon-memory":
            try DaemonMemory(routes: intOption(args, "--routes") ?? 1_000_000).run()
        case "restart-reconcile":
            try RestartReconcile(routes: intOption(args, "--routes") ?? 1_000_000).run()
        case "event-latency":
            try EventLatency(changes: intOption(args, "--changes") ?? 2000).run()
        case "fdb-learn":
            try FDBLearn(macs: intOption(args, "--macs") ?? 100_000).run()
        case "l2-forward":
            try L2Forward(seconds: Double(intOption(args, "--seconds") ?? 5), rounds: intOption(args, "--rounds") ?? 3).run()
        case "json-rows":
            try JSONRows(rows: intOption(args, "--routes") ?? 1_000_000).run()
        case "fdb-lookup":
            try FDBLookup(macs: intOption(args, "--macs") ?? 524_288).run()
        default:
            FileHandle.standardError.write(Data("hoist-bench: unknown benchmark '\(name)'; try --list\n".utf8))
            exit(2)
        }
    }
}

/// A network namespace made for one benchmark run and configured with `ip` commands; the
/// caller deletes it (`defer { scratch.delete() }`); a failed command deletes it at once.
struct ScratchNamespace {
    let name: String

    /// A routed port `swp1` (10.1.0.1/24) with a resolved gateway 10.1.0.2, IPv4
    /// forwarding on: routes via the gateway are offloaded (not trapped) by an emulated chip
    /// whose port 1 is `swp1`.
    static let routedPort = ["link add swp1 type veth peer name p1", "link set swp1 up", "link set p1 up",
                             "addr add 10.1.0.1/24 dev swp1",
                             "neigh add 10.1.0.2 lladdr 02:00:00:00:01:02 dev swp1 nud permanent",
                             "sysctl net.ipv4.ip_forward=1"]

    /// `commands` are `ip` commands, or `sysctl NAME=VALUE` set inside the namespace.
    init(_ name: String, _ commands: [String]) throws {
        self.name = name
        try shell(["ip", "netns", "add", name])
        do {
            for cmd in ["link set lo up"] + commands {
                if cmd.hasPrefix("sysctl ") {
                    try shell(["ip", "netns", "exec", name, "sysctl", "-qw", String(cmd.dropFirst(7))])
                    continue
                }
                try shell(["ip", "-n", name] + cmd.split(separator: " ").map(String.init))
            }
        } catch {
            delete()
            throw error
        }
    }

    func delete() { try? shell(["ip", "netns", "del", name]) }
}

func shell(_ args: [String], input: String? = nil, quiet: Bool = false) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    if quiet { p.standardOutput = FileHandle.nullDevice }
    try p.run()
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw BenchError(message: "`\(args.joined(separator: " "))` exited \(p.terminationStatus)") }
}

/// Runs a command and returns its standard output; a non-zero exit throws.
func capture(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw BenchError(message: "`\(args.joined(separator: " "))` exited \(p.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

struct BenchError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func emit(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
}
