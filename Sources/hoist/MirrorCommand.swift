import ArgumentParser
import KernelMirror
import Netlink
import Rendering
import ServiceSupport
import SwitchModel
import SystemCall
#if canImport(Glibc)
import Glibc
#endif

/// `hoist mirror [--json] [--watch] [--netns NAME]`: prints the kernel state Hoist mirrors.
struct MirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Print the mirrored kernel state; with --watch, then print each change as it happens."
    )

    @Flag(name: .long, help: "Print JSON with iproute2's field names.")
    var json = false

    @Flag(name: .long, help: "After the initial state, print changes until interrupted.")
    var watch = false

    @Option(name: [.customShort("n"), .long], help: "Mirror this network namespace (as `ip -n`).")
    var netns: String?

    @Option(name: .long, help: "With --watch, stop after this many seconds (default: run until interrupted).")
    var seconds: Double?

    func run() throws {
        let mirror: KernelMirror
        do {
            mirror = try KernelMirror(namespace: netns)
            mirror.onMalformed = { error in
                FileHandleOutput.standardError("hoist: skipped \(error)")
            }
            try mirror.start()
        } catch let error as NetlinkError {
            throw ValidationError("cannot mirror the kernel: \(error)")
        }
        let rendered = IPRouteJSON.tables(mirror.tables)
        if json {
            var o = JSONObject()
            if case .object(let fields) = rendered { for (k, v) in fields { o[k] = v } }
            o["statistics"] = statistics(mirror.statistics)
            FileHandleOutput.standardOutput(o.value.text)
        } else {
            FileHandleOutput.standardOutput(TextLines.tables(rendered), newline: false)
        }
        guard watch else { return }
        StopSignal.install()
        let deadline = seconds.map { KernelMirrorClock.nowSeconds() + $0 }
        try mirror.run(until: { StopSignal.requested || deadline.map { KernelMirrorClock.nowSeconds() >= $0 } ?? false }) { batch in
            let renderer = IPRouteJSON(links: mirror.tables.links)
            for delta in batch {
                let value = renderer.delta(delta)
                if json {
                    FileHandleOutput.standardOutput(value.text)
                } else if case .object(let fields) = value {
                    let change = fields.first { $0.0 == "change" }?.1
                    let table = fields.first { $0.0 == "table" }?.1
                    let object = fields.first { $0.0 == "object" }?.1 ?? .null
                    FileHandleOutput.standardOutput("\(TextLines.scalar(change ?? .null)) \(TextLines.scalar(table ?? .null)) \(TextLines.line(object))")
                }
            }
        }
    }

    func statistics(_ s: KernelMirror.Statistics) -> JSONValue {
        var o = JSONObject()
        o["messages"] = JSONValue(s.messages)
        o["resyncs"] = JSONValue(s.resyncs)
        o["route_redumps"] = JSONValue(s.routeRedumps)
        o["overruns"] = JSONValue(s.overruns)
        o["malformed"] = JSONValue(s.malformed)
        return o.value
    }
}

enum FileHandleOutput {
    static func standardOutput(_ text: String, newline: Bool = true) {
        write(1, newline ? text + "\n" : text)
    }
    static func standardError(_ text: String) {
        write(2, text + "\n")
    }
    /// Writes all of `text` (EINTR retried by swift-system); a closed pipe ends the output quietly.
    private static func write(_ fd: Int32, _ text: String) {
        _ = try? FileDescriptor(rawValue: fd).writeAll(text.utf8)
    }
}

enum KernelMirrorClock {
    static func nowSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
