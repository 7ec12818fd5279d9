import Difftest
import Foundation
import Glibc
import Lab

/// `hoist-difftest --random [--seed N] [--steps N] [--svi]`: the random operator
/// (``RandomOperator``) on one switch, in both worlds of ``DifftestRun``. Each step runs
/// one operator action in both worlds (a different exit status is a difference; both
/// refusing it is counted), waits until `hoist audit` reports no drift in the emulated
/// world (the audit must come clean within ``auditDeadline``: drift that stays is a
/// difference), then sends a few probe frames from the hosts in both worlds at once and
/// compares what every host received. On the first difference it prints the seed, the
/// step, the command history and the differing frames.
struct RandomRun {
    let seed: UInt64
    let steps: Int
    let options: RandomOperator.Options
    let prefix: String
    let hoist: String
    let verbose: Bool
    let keep: Bool

    /// How long hoistd may take to follow a step before remaining drift is a difference.
    static let auditDeadline = 8.0
    /// The gap between probe frames (each frame and what it causes crosses either switch
    /// before the next, as `send`'s default gap).
    static let probeGapMilliseconds: UInt32 = 30

    struct Stats {
        var refused = 0
        var auditSeconds = 0.0
        var probes = 0
    }

    func run() -> (DifftestRun.Outcome, Stats) {
        var generator = RandomOperator(seed: seed, options: options)
        let scenario: Scenario
        do {
            scenario = try Scenario.parse(generator.labText(), name: "random-\(seed)")
        } catch {
            return (.error("the random operator's lab does not parse: \(error)"), Stats())
        }
        var stats = Stats()
        let runner = DifftestRun(scenario: scenario, prefix: prefix, hoist: hoist, verbose: verbose, keep: keep)
        let outcome = runner.run { reference, emulated in
            var history: [String] = []
            func differ(_ step: Int, _ what: String) -> DifftestRun.Outcome {
                .differ("""
                      random: seed \(seed), difference at step \(step) of \(steps)
                      history (both worlds started from the lab's commands; `refused`: both worlds refused it):
                    \(history.map { "    " + $0 }.joined(separator: "\n"))
                    \(what)
                    """)
            }
            if let drift = try awaitAudit(emulated, &stats) { return differ(0, "  after the lab's commands: hoist audit reports drift\n\(drift)") }
            for step in 1...max(1, steps) {
                let action = generator.next()
                var status: Int32 = 0
                for c in action.commands {
                    let r = try reference.exec("sw", c), e = try emulated.exec("sw", c)
                    if r.status != e.status {
                        history.append("\(step): \(action)")
                        return differ(step, """
                              `\(c.joined(separator: " "))`: exit status: reference \(r.status), emulated \(e.status)
                              reference: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))
                              emulated:  \(e.output.trimmingCharacters(in: .whitespacesAndNewlines))
                            """)
                    }
                    status = r.status
                    if status != 0 {
                        if verbose { say("  step \(step): refused `\(c.joined(separator: " "))`: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines))") }
                        break
                    }
                }
                if status == 0 { generator.accepted(action) } else { generator.refused(action); stats.refused += 1 }
                history.append("\(step): \(action)\(status == 0 ? "" : "   (refused)")")
                if action.linkChange { usleep(1_100_000) }    // linkwatch, in both worlds
                if let drift = try awaitAudit(emulated, &stats) {
                    return differ(step, "  hoist audit reports drift \(Self.auditDeadline) s after the step:\n\(drift)")
                }
                let probe = generator.probes()
                let text = "step \(step) probes: " + probe.sends.map { "send \($0)" }.joined(separator: "; ")
                let received = try send(probe, step: step, scenario: scenario, in: [reference, emulated])
                stats.probes += probe.sends.count
                if verbose {
                    let counts = scenario.spec.hosts.map { "\($0.name) \(received[0][$0.name]?.count ?? 0)/\(received[1][$0.name]?.count ?? 0)" }
                    say("  \(step): \(action) — \(probe.sends.joined(separator: "; ")) — received \(counts.joined(separator: ", "))")
                }
                if let d = runner.compare(text, received[0], received[1]) { return differ(step, d) }
            }
            return .identical(probes: stats.probes)
        }
        return (outcome, stats)
    }

    /// Polls `hoist audit` until it reports no drift: nil then, else its last output.
    private func awaitAudit(_ emulated: World, _ stats: inout Stats) throws -> String? {
        let started = Date()
        var last = ""
        while true {
            let (status, output) = try hoist_difftest.run([hoist, "audit", "--timeout", "10", "--socket", emulated.plan.socket("sw")])
            if status == 0 {
                stats.auditSeconds += Date().timeIntervalSince(started)
                return nil
            }
            last = output
            if Date().timeIntervalSince(started) > Self.auditDeadline { return last }
            usleep(100_000)
        }
    }

    /// Sends a probe's frames, host by host in order, in both worlds at once; what every
    /// host received until the capture window passes with nothing new.
    private func send(_ probe: RandomOperator.Probe, step: Int, scenario: Scenario, in worlds: [World]) throws -> [[String: [[UInt8]]]] {
        for w in worlds { w.drain() }
        for (n, text) in probe.sends.enumerated() {
            let words = text.split(separator: " ").map(String.init)
            guard words.count >= 2, let host = scenario.spec.hostNamed(words[0]) else { throw Failure("bad probe \(text)") }
            let frames = try ProbeFrames.build(kind: words[1], arguments: Array(words.dropFirst(2)), host: host,
                                               spec: scenario.spec, line: step * 10 + n)
            for frame in frames {
                usleep(Self.probeGapMilliseconds * 1000)
                for w in worlds { try w.send(host.name, [frame]) }
            }
        }
        return World.collect(worlds, windowMilliseconds: scenario.windowMilliseconds)
    }
}
