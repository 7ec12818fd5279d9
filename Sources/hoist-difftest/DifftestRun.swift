import Difftest
import Foundation
import Glibc
import Lab

/// One scenario in both worlds: build, run the steps in order in the reference and then the
/// emulated switch, compare each probe's frames per host, stop at the first difference,
/// tear down.
struct DifftestRun {
    enum Outcome {
        case identical(probes: Int)
        case differ(String)
        case error(String)
    }

    let scenario: Scenario
    let prefix: String
    let hoist: String
    let verbose: Bool
    let keep: Bool

    /// Builds both worlds, runs the scenario's steps, and then `more` (the random operator's
    /// steps) while both worlds are up.
    func run(then more: ((World, World) throws -> Outcome)? = nil) -> Outcome {
        var worlds: [World] = []
        defer {
            if keep {
                for w in worlds { say("  kept \(w.kind.rawValue): namespaces \(w.plan.namespaces.joined(separator: " "))") }
            } else {
                for w in worlds { w.tearDown() }
            }
        }
        do {
            let reference = try World(kind: .reference, scenario: scenario, prefix: prefix, hoist: hoist)
            worlds.append(reference)
            try reference.build()
            let emulated = try World(kind: .emulated, scenario: scenario, prefix: prefix, hoist: hoist)
            worlds.append(emulated)
            try emulated.build()
            let outcome = try steps(reference, emulated)
            guard case .identical = outcome, let more else { return outcome }
            return try more(reference, emulated)
        } catch {
            return .error("\(error)")
        }
    }

    private func steps(_ reference: World, _ emulated: World) throws -> Outcome {
        var probes = 0
        var unsettled = true
        for step in scenario.steps {
            let text = "line \(step.line): \(scenario.stepText(step))"
            if case .exec(let c) = step {
                let r = try reference.exec(c.node, c.arguments), e = try emulated.exec(c.node, c.arguments)
                if r.status != e.status {
                    return .differ("""
                          \(text)
                          exit status: reference \(r.status), emulated \(e.status)
                          reference: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))
                          emulated:  \(e.output.trimmingCharacters(in: .whitespacesAndNewlines))
                        """)
                }
                if r.status != 0 {
                    return .error("\(text): fails in both worlds (exit \(r.status)): \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
                unsettled = true
                continue
            }
            if unsettled {
                // hoistd follows the kernel asynchronously: give it time to offload.
                usleep(UInt32(scenario.settleMilliseconds) * 1000)
                unsettled = false
            }
            probes += 1
            let both = try probe(step, in: [reference, emulated])
            let r = both[0], e = both[1]
            if verbose {
                let counts = scenario.spec.hosts.map { "\($0.name) \(r.frames[$0.name]?.count ?? 0)/\(e.frames[$0.name]?.count ?? 0)" }
                say("  \(text) — received (reference/emulated): \(counts.joined(separator: ", "))")
            }
            if r.status != e.status {
                return .differ("  \(text)\n  exit status: reference \(r.status), emulated \(e.status)")
            }
            var ping = false
            if case .ping = step { ping = true }
            if let d = compare(text, r.frames, e.frames, ping: ping) { return .differ(d) }
        }
        return .identical(probes: probes)
    }

    /// Compares what every host received in the two worlds: nil when the same, else the
    /// report of the first difference. `hosts`: only these (default: every host).
    func compare(_ text: String, _ r: [String: [[UInt8]]], _ e: [String: [[UInt8]]], ping: Bool = false,
                 hosts: [String]? = nil) -> String? {
        for host in hosts ?? scenario.spec.hosts.map(\.name) {
            let a = r[host] ?? [], b = e[host] ?? []
            // What is compared: no noise, in stream order, ignored fields cleared.
            let sa = FrameComparison.inStreamOrder(a.filter { !FrameComparison.isNoise($0) })
            let sb = FrameComparison.inStreamOrder(b.filter { !FrameComparison.isNoise($0) })
            let na = sa.map { FrameComparison.normalize($0, ping: ping) }, nb = sb.map { FrameComparison.normalize($0, ping: ping) }
            guard let d = FrameComparison.firstDifference(na, nb) else { continue }
            return report(text, host: host, reference: sa, emulated: sb, at: d.index, received: (a, b))
        }
        return nil
    }

    /// Runs a probe in both worlds at once and collects what every host received.
    private func probe(_ step: Scenario.Step, in worlds: [World]) throws -> [(status: Int32, frames: [String: [[UInt8]]])] {
        for w in worlds { w.drain() }
        var statuses = Array(repeating: Int32(0), count: worlds.count)
        switch step {
        case .send(let s):
            // Frame by frame in both worlds, `gap` apart.
            for (n, frame) in s.frames.enumerated() {
                if n > 0, s.gapMilliseconds > 0 { usleep(UInt32(s.gapMilliseconds) * 1000) }
                for w in worlds { try w.send(s.host, [frame]) }
            }
        case .ping(let p):
            // Both at once; ping ends by itself (-c, -W).
            let processes = try worlds.map { try $0.start(p.host, ["ping"] + p.arguments) }
            for (i, process) in processes.enumerated() {
                process.waitUntilExit()
                statuses[i] = process.terminationStatus
            }
        case .wait(let seconds, _):
            usleep(UInt32(seconds * 1_000_000))
        case .exec:
            break
        }
        let frames = World.collect(worlds, windowMilliseconds: scenario.windowMilliseconds)
        return zip(statuses, frames).map { ($0, $1) }
    }

    /// The first differing frame of `host`, from both sides: hex and a one-line summary, and
    /// the frames each side received, in order.
    private func report(_ text: String, host: String, reference: [[UInt8]], emulated: [[UInt8]], at index: Int,
                        received: ([[UInt8]], [[UInt8]])) -> String {
        func side(_ name: String, _ frames: [[UInt8]]) -> String {
            guard index < frames.count else { return "  \(name): no frame #\(index + 1)" }
            return "  \(name) #\(index + 1): \(FrameComparison.summary(frames[index]))\n\(FrameComparison.hexDump(frames[index]))"
        }
        func list(_ name: String, _ frames: [[UInt8]]) -> String {
            "  \(name) received \(frames.count):" + frames.prefix(30).enumerated().map { "\n    \($0.offset + 1). \(FrameComparison.summary($0.element))" }.joined()
        }
        return """
              \(text)
              host \(host): reference received \(received.0.count) frames, emulated \(received.1.count); compared (no noise, in stream order) \(reference.count) and \(emulated.count), first difference at #\(index + 1)
            \(side("reference", reference))
            \(side("emulated ", emulated))
            \(list("reference", received.0))
            \(list("emulated", received.1))
            """
    }
}

/// What this machine's kernel can build, for `requires`: tried once in a scratch namespace.
struct KernelFeatures {
    private var available: Set<String> = []

    init() {
        let ns = "hoist-dt\(getpid())-features"
        guard (try? must(["ip", "netns", "add", ns])) != nil else { return }
        defer { _ = try? run(["ip", "netns", "del", ns]) }
        let tries: [(String, [String])] = [
            ("vlan-filtering", ["link", "add", "br0", "type", "bridge", "vlan_filtering", "1"]),
            ("vxlan", ["link", "add", "vx0", "type", "vxlan", "id", "1", "dstport", "4789", "local", "127.0.0.1"]),
            ("8021q", ["link", "add", "link", "lo", "name", "lo.5", "type", "vlan", "id", "5"]),
            ("vrf", ["link", "add", "vrf0", "type", "vrf", "table", "10"]),
            ("bond", ["link", "add", "bond0", "type", "bond", "mode", "balance-xor"]),
        ]
        for (feature, words) in tries where (try? must(["ip", "-n", ns] + words)) != nil { available.insert(feature) }
        // tc's flower classifier and gact (this machine's kernel has no classifier at all).
        if (try? must(["tc", "-n", ns, "qdisc", "add", "dev", "lo", "clsact"])) != nil,
           (try? must(["tc", "-n", ns, "filter", "add", "dev", "lo", "ingress", "protocol", "ip", "flower", "ip_proto", "udp", "action", "drop"])) != nil {
            available.insert("flower")
        }
    }

    func has(_ feature: String) -> Bool { available.contains(feature) }
}

/// Removes what an earlier run that died left behind: labs and namespaces named
/// `hoist-dtPID…` whose PID no longer runs.
enum Leftovers {
    static func remove(hoist: String) {
        let names = ((try? run(["ip", "netns", "list"]).output) ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        var stale: [String] = []
        var labs: Set<String> = []
        for ns in names where ns.hasPrefix("hoist-dt") {
            let digits = ns.dropFirst("hoist-dt".count).prefix { $0.isNumber }
            guard let pid = Int32(digits), kill(pid, 0) != 0 else { continue }
            stale.append(ns)
            let parts = ns.split(separator: "-")
            if parts.count >= 3, parts[2] == "e" { labs.insert(parts[0...2].joined(separator: "-")) }
        }
        for lab in labs { _ = try? run([hoist, "lab", "down", lab]) }
        for ns in stale { _ = try? run(["ip", "netns", "del", ns]) }
    }
}
