import CPacketIO
import Difftest
import Foundation
import Glibc
import Lab

/// A command that failed, or a world that could not be built.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `argv` (searched in PATH) to completion: its exit status and output.
@discardableResult
func run(_ argv: [String], timeout: Double = 60) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    killer.cancel()
    return (p.terminationStatus, text)
}

/// Runs `argv`; throws with its output unless it exits 0.
func must(_ argv: [String]) throws {
    let (status, output) = try run(argv)
    guard status == 0 else {
        throw Failure("`\(argv.joined(separator: " "))` failed (exit \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}

/// One build of a scenario's lab: the kernel's own bridge/router on plain veths named
/// `swpN` (the reference), or the emulated switch (`hoist lab`: hoist-asic + hoistd, `swpN`
/// the chip's TAPs). Both have the same hosts (names, MACs, addresses, routes) and the
/// same switch interface names and MACs, so the scenario's commands run verbatim in both.
final class World {
    enum Kind: String { case reference, emulated }

    let kind: Kind
    let plan: LabPlan
    /// Per host: its capture socket on `eth0` (also used to send).
    private(set) var captures: [String: Int32] = [:]
    private var built = false
    let hoist: String

    init(kind: Kind, scenario: Scenario, prefix: String, hoist: String) throws {
        self.kind = kind
        self.hoist = hoist
        plan = try LabPlan(name: "\(prefix)-\(kind == .reference ? "r" : "e")", spec: scenario.spec)
    }

    deinit { for fd in captures.values { close(fd) } }

    /// The namespace where a node's commands run.
    func namespace(_ node: String) -> String { plan.namespace(ofNode: node) }

    /// Builds the world, gives every `swpN` its MAC (`02:5e:00:00:SS:PP`), and opens the
    /// hosts' capture sockets.
    func build() throws {
        built = true
        switch kind {
        case .reference: try buildReference()
        case .emulated: try buildEmulated()
        }
        for (s, sw) in plan.spec.switches.enumerated() {
            // The bridge alone, without br_netfilter (built in here, on by default): it
            // would run the bridged IP traffic through iptables and trim its padding.
            // Netfilter on the forwarding path is issue 10 item 15's; a scenario about it
            // turns these back on.
            try must(["ip", "netns", "exec", plan.switchNamespace(sw.name), "sysctl", "-qew",
                      "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0",
                      "net.bridge.bridge-nf-call-arptables=0"])
            for p in 1...sw.ports {
                try must(["ip", "-n", plan.switchNamespace(sw.name), "link", "set", "swp\(p)", "address",
                          String(format: "02:5e:00:00:%02x:%02x", s + 1, p)])
            }
        }
        for h in plan.spec.hosts {
            let ns = plan.hostNamespace(h.name)
            // One capture per interface: a dual-homed host's frames are compared per leg
            // (`h1`, `h1/eth1`), so the member a LAG picks is compared too.
            for i in h.ports.indices {
                let interface = LabSpec.Host.interface(i)
                let saved = hoist_netns_enter(ns)
                guard saved >= 0 else { throw Failure("enter \(ns): \(String(cString: strerror(-saved)))") }
                let fd = hoist_capture_open(interface, 8 << 20)
                precondition(hoist_netns_leave(saved) == 0, "could not return to the original namespace")
                guard fd >= 0 else { throw Failure("capture on \(interface) in \(ns): \(String(cString: strerror(-fd)))") }
                captures[i == 0 ? h.name : "\(h.name)/\(interface)"] = fd
            }
        }
    }

    /// The kernel's bridge: one namespace per switch whose front-panel interfaces are veths
    /// `swpN`, each host's `eth0` the other end; cables are veths between two `swpN`; an
    /// unplugged port's peer `swpN-nc` stays down (no carrier), as the chip's port does.
    private func buildReference() throws {
        let spec = plan.spec
        func ip(_ ns: String, _ words: [String]) throws { try must(["ip", "-n", ns] + words) }
        func newNamespace(_ ns: String) throws {
            try must(["ip", "netns", "add", ns])
            if !spec.ipv6 { try must(["ip"] + LabPlan.disableIPv6(in: ns)) }
            try ip(ns, ["link", "set", "lo", "up"])
        }
        for s in spec.switches { try newNamespace(plan.switchNamespace(s.name)) }
        for h in spec.hosts {
            let ns = plan.hostNamespace(h.name)
            try newNamespace(ns)
            for (i, port) in h.ports.enumerated() {
                try ip(plan.switchNamespace(port.switchName), ["link", "add", "swp\(port.port)", "type", "veth", "peer", "name",
                                                               LabSpec.Host.interface(i), "netns", ns])
            }
            for command in h.setupCommands { try ip(ns, command) }
        }
        for l in spec.links {
            try ip(plan.switchNamespace(l.a.switchName), ["link", "add", "swp\(l.a.port)", "type", "veth", "peer", "name",
                                                          "swp\(l.b.port)", "netns", plan.switchNamespace(l.b.switchName)])
        }
        for s in spec.switches {
            for p in 1...s.ports where spec.attachment(of: LabSpec.PortRef(s.name, p)) == .unplugged {
                try ip(plan.switchNamespace(s.name), ["link", "add", "swp\(p)", "type", "veth", "peer", "name", "swp\(p)-nc"])
            }
        }
    }

    /// The emulated switch: the scenario's lab (with `ipv6 off` unless it says `ipv6 on`)
    /// brought up by `hoist lab up … --file`, so it runs exactly as `hoist lab` runs it.
    private func buildEmulated() throws {
        let spec = plan.spec
        var lines: [String] = []
        for s in spec.switches { lines.append("switch \(s.name) ports \(s.ports) profile \(s.profile)") }
        for h in spec.hosts {
            var line = "host \(h.name) \(h.ports.map(\.description).joined(separator: ","))"
            for a in h.addresses { line += " \(a.address)/\(a.length)" }
            for g in h.gateways { line += " gw \(g)" }
            if let mac = h.mac { line += " mac \(mac)" }
            if let b = h.bond { line += " bond \(b.mode)" + (b.hashPolicy.map { " hash \($0)" } ?? "") }
            lines.append(line)
        }
        for l in spec.links { lines.append("link \(l.a) \(l.b)") }
        if !spec.ipv6 { lines.append("ipv6 off") }
        lines.append("start")
        let file = "/tmp/\(plan.name).lab"
        try lines.joined(separator: "\n").appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        try must([hoist, "lab", "up", plan.name, "--file", file])
    }

    /// Runs a command in a node's namespace: its exit status and output.
    func exec(_ node: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(["ip", "netns", "exec", namespace(node)] + arguments)
    }

    /// Starts a command in a node's namespace, its output discarded; the caller waits.
    func start(_ node: String, _ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", namespace(node)] + arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Writes frames on a host's `eth0`.
    func send(_ host: String, _ frames: [[UInt8]]) throws {
        guard let fd = captures[host] else { throw Failure("no host \(host)") }
        for f in frames {
            let n = f.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n == f.count else { throw Failure("send on \(host)'s eth0: \(String(cString: strerror(errno)))") }
        }
    }

    /// Discards what the hosts received so far.
    func drain() { _ = receive() }

    /// What each host received since the last call.
    func receive() -> [String: [[UInt8]]] {
        var result: [String: [[UInt8]]] = [:]
        var buffer = [UInt8](repeating: 0, count: 65_540)
        for (host, fd) in captures {
            var frames: [[UInt8]] = []
            while true {
                let n = buffer.withUnsafeMutableBufferPointer { hoist_capture_receive(fd, $0.baseAddress, Int32($0.count)) }
                guard n > 0 else { break }
                frames.append(Array(buffer[0..<Int(n)]))
            }
            result[host] = frames
        }
        return result
    }

    /// Collects what the hosts of every world receive until `window` ms pass with nothing
    /// new in any (at most 10 s): the worlds are probed at the same time, so timers in
    /// them (ARP retries, the kernel's own reports) fall in the same windows.
    static func collect(_ worlds: [World], windowMilliseconds window: Int) -> [[String: [[UInt8]]]] {
        var all = Array(repeating: [String: [[UInt8]]](), count: worlds.count)
        var last = Date()
        let start = Date()
        var fds = worlds.flatMap { $0.captures.values.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) } }
        while Date().timeIntervalSince(last) * 1000 < Double(window), Date().timeIntervalSince(start) < 10 {
            let remaining = Double(window) - Date().timeIntervalSince(last) * 1000
            _ = poll(&fds, nfds_t(fds.count), Int32(max(1, remaining)))
            for (i, w) in worlds.enumerated() {
                let got = w.receive()
                if got.values.contains(where: { !$0.isEmpty }) { last = Date() }
                for (h, frames) in got { all[i][h, default: []] += frames }
            }
        }
        return all
    }

    /// Deletes everything this world made (also half-built).
    func tearDown() {
        for fd in captures.values { close(fd) }
        captures = [:]
        guard built else { return }
        switch kind {
        case .emulated:
            _ = try? run([hoist, "lab", "down", plan.name])
        case .reference:
            let existing = (try? run(["ip", "netns", "list"]).output) ?? ""
            for ns in existing.split(separator: "\n").compactMap({ $0.split(separator: " ").first.map(String.init) })
            where LabPlan.owns(lab: plan.name, namespace: ns) {
                _ = try? run(["ip", "netns", "del", ns])
            }
        }
    }
}

/// Prints a line at once (unbuffered: the output is followed live, also through a pipe).
func say(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    bytes.withUnsafeBytes { _ = Glibc.write(1, $0.baseAddress, $0.count) }
}
