import EmulatedASIC
import Lab
import SwitchModel

/// One differential-test scenario: a lab (switches, hosts, cables — the lab-file statements)
/// and, in file order, the operator's commands and the probes whose results are compared.
///
/// The file is a lab file (Docs/Lab.md) with more statements (Docs/Testing.md, "How to
/// write a difftest scenario"):
/// ```
/// # broadcast ARP in a bridge with an address
/// switch sw ports 2
/// host h1 sw:1 10.0.0.1/24
/// host h2 sw:2 10.0.0.2/24
/// exec sw ip link add br0 type bridge
/// exec sw ip link set swp1 master br0
/// …
/// send h1 arp-request 10.0.0.254 count 10
/// ping h1 10.0.0.2 count 3
/// wait 1.5
/// ```
/// There is no `expect`: each probe's frames, as every host receives them, are compared
/// between the kernel's bridge/router (the reference) and the emulated switch.
public struct Scenario: Sendable {
    /// The file's base name without `.diff`.
    public var name: String
    /// The lab: its `exec` commands are also in ``steps``, in order. `ipv6` is off unless
    /// the file says `ipv6 on`; every host has a MAC (given, or `02:00:00:00:SS:HH`).
    public var spec: LabSpec
    public var steps: [Step]
    /// How long a probe's capture stays open after the probe ends (milliseconds); it is
    /// extended while frames keep arriving (`window MS`).
    public var windowMilliseconds = 300
    /// How long the emulated switch gets to offload the commands before the next probe
    /// (`settle MS`): hoistd follows the kernel asynchronously, and the kernel itself
    /// applies carrier changes (a bridge port starting to forward) through linkwatch,
    /// batched up to a second. Both worlds wait.
    public var settleMilliseconds = 1200
    /// Kernel features the scenario needs (`requires vlan-filtering`); without them it is skipped.
    public var requirements: [String] = []

    public enum Step: Sendable {
        /// `exec NODE ARGS…`, run in both worlds; a different exit status is a difference.
        case exec(LabSpec.Command)
        /// `send HOST KIND …`: crafted frames written on the host's `eth0`.
        case send(Send)
        /// `ping HOST DESTINATION [count N] [ttl N] [size N]`: the host's own `ping`.
        case ping(Ping)
        /// `wait SECONDS`: time passes in both worlds (ageing, timers); frames that arrive
        /// meanwhile are compared like a probe's.
        case wait(seconds: Double, line: Int)

        public var line: Int {
            switch self {
            case .exec(let c): c.line
            case .send(let s): s.line
            case .ping(let p): p.line
            case .wait(_, let line): line
            }
        }
    }

    public struct Send: Sendable {
        public var host: String
        public var frames: [[UInt8]]
        /// The pause between two frames (`gap MS`, default 20): long enough for each frame
        /// and what it causes (a reply, an ARP request that teaches the bridge a MAC) to
        /// cross either switch before the next, so results do not hang on which is faster.
        /// `gap 0` sends a burst.
        public var gapMilliseconds: Int
        public var line: Int
        public var text: String
    }

    public struct Ping: Sendable {
        public var host: String
        public var arguments: [String]
        public var line: Int
        public var text: String
    }

    public func stepText(_ step: Step) -> String {
        switch step {
        case .exec(let c): "exec \(c.node) \(c.arguments.joined(separator: " "))"
        case .send(let s): s.text
        case .ping(let p): p.text
        case .wait(let s, _): "wait \(s)"
        }
    }
}

extension Scenario {
    /// Parses a scenario file; errors name the file and line.
    public static func parse(_ text: String, name: String, file: String? = nil) throws(LabError) -> Scenario {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var labText: [Substring] = []
        var mine: [(line: Int, words: [String])] = []
        let own: Set<String> = ["send", "ping", "wait", "window", "settle", "requires"]
        var ipv6 = false
        for (i, raw) in lines.enumerated() {
            let words: [String]
            do { words = try LabFile.words(of: raw, line: i + 1) } catch { throw LabError(file: file, line: i + 1, error.message) }
            if let first = words.first, own.contains(first) {
                mine.append((i + 1, words))
                labText.append("")
            } else {
                if words.first == "ipv6", words.count == 2, words[1] == "on" { ipv6 = true }
                if words.first == "start" { throw LabError(file: file, line: i + 1, "a scenario starts its switches itself; drop `start`") }
                labText.append(raw)
            }
        }
        var spec = try LabFile.parse(labText.joined(separator: "\n"), file: file ?? name)
        spec.ipv6 = ipv6
        for (s, sw) in spec.switches.enumerated() {
            for (h, host) in spec.hosts.enumerated() where host.mac == nil && host.port.switchName == sw.name {
                spec.hosts[h].mac = MACAddress(rawValue: 0x0200_0000_0000 | UInt64(s + 1) << 8 | UInt64(h + 1))
            }
        }
        var scenario = Scenario(name: name, spec: spec, steps: spec.commands.map { .exec($0) })
        do {
            for (line, words) in mine { try scenario.parseStatement(words, line: line) }
        } catch {
            throw LabError(file: file ?? name, line: error.line, error.message)
        }
        scenario.steps.sort { $0.line < $1.line }
        guard scenario.steps.contains(where: { if case .exec = $0 { false } else { true } }) else {
            throw LabError(file: file ?? name, "no probe: add a send, ping or wait")
        }
        return scenario
    }

    mutating func parseStatement(_ words: [String], line: Int) throws(LabError) {
        var rest = words.dropFirst()[...]
        func number(_ word: String) throws(LabError) -> Int {
            guard let n = Int(word), n >= 0 else { throw LabError(line: line, "\(words[0]): '\(word)' is not a number") }
            return n
        }
        switch words[0] {
        case "window", "settle":
            guard rest.count == 1 else { throw LabError(line: line, "usage: \(words[0]) MILLISECONDS") }
            let n = try number(rest[rest.startIndex])
            if words[0] == "window" { windowMilliseconds = n } else { settleMilliseconds = n }
        case "requires":
            guard !rest.isEmpty else { throw LabError(line: line, "usage: requires FEATURE…") }
            for r in rest where !Self.features.contains(r) {
                throw LabError(line: line, "unknown feature '\(r)'; expected \(Self.features.sorted().joined(separator: ", "))")
            }
            requirements += rest
        case "wait":
            guard rest.count == 1, let s = Double(rest[rest.startIndex]), s >= 0, s <= 600 else {
                throw LabError(line: line, "usage: wait SECONDS")
            }
            steps.append(.wait(seconds: s, line: line))
        case "ping":
            guard rest.count >= 2, spec.hostNamed(rest[rest.startIndex]) != nil else {
                throw LabError(line: line, "usage: ping HOST DESTINATION [count N] [ttl N] [size N] [tos N] (HOST a host of the lab)")
            }
            let host = rest.removeFirst(), destination = rest.removeFirst()
            guard IPAddress(destination) != nil else { throw LabError(line: line, "ping: '\(destination)' is not an address") }
            var args = ["-n", "-q", "-i", "0.2", "-W", "1"]
            var count = 1
            while let key = rest.popFirst() {
                guard let value = rest.popFirst() else { throw LabError(line: line, "ping: \(key) takes a value") }
                switch key {
                case "count": count = try number(value)
                case "ttl": args += ["-t", "\(try number(value))"]
                case "size": args += ["-s", "\(try number(value))"]
                case "tos": args += ["-Q", "\(try number(value))"]
                default: throw LabError(line: line, "ping: unknown option '\(key)'; expected count, ttl, size or tos")
                }
            }
            args += ["-c", "\(count)", destination]
            steps.append(.ping(Ping(host: host, arguments: args, line: line, text: words.joined(separator: " "))))
        case "send":
            guard let hostName = rest.popFirst(), let host = spec.hostNamed(hostName), let kind = rest.popFirst() else {
                throw LabError(line: line, "usage: send HOST KIND [ARG] [OPTION VALUE]… (HOST a host of the lab)")
            }
            var arguments = Array(rest), gap = 20
            if let i = arguments.firstIndex(of: "gap") {
                guard i + 1 < arguments.count else { throw LabError(line: line, "send: gap takes milliseconds") }
                gap = try number(arguments[i + 1])
                arguments.removeSubrange(i...(i + 1))
            }
            let frames = try ProbeFrames.build(kind: kind, arguments: arguments, host: host, spec: spec, line: line)
            steps.append(.send(Send(host: hostName, frames: frames, gapMilliseconds: gap, line: line, text: words.joined(separator: " "))))
        default:
            throw LabError(line: line, "unknown statement '\(words[0])'")
        }
    }

    /// The features `requires` names: what this machine's kernel may lack.
    public static let features: Set<String> = ["vlan-filtering", "vxlan", "8021q", "vrf", "bond", "flower"]
}
