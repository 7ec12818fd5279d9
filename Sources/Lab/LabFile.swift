import SwitchModel

/// The lab file: one statement per line, read into a validated ``LabSpec``.
///
/// ```
/// # two switches, a host on each, a cable between them
/// switch s1 ports 4
/// switch s2 ports 4 profile small report
/// host h1 s1:1 10.0.0.1/24 gw 10.0.0.254 mac 02:00:00:00:00:01
/// host h2 s2:1 10.0.0.2/24 2001:db8::2/64
/// link s1:4 s2:4
/// start
/// exec s1 ip link add br0 type bridge
/// exec s1 sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
/// ```
///
/// Statements (order does not matter, except that `exec` commands run in file order):
/// - `switch NAME ports N [profile P] [report]`
/// - `host NAME SWITCH:PORT[,SWITCH:PORT]… [ADDRESS/LENGTH]… [gw ADDRESS]… [mac MAC] [bond MODE [hash POLICY]]`
///   (several ports: a dual-homed host, its `eth0`, `eth1`, … bonded as `bond0`)
/// - `link SWITCH:PORT SWITCH:PORT`
/// - `start` — run the switches (one hoistd each) and then the `exec` commands
/// - `exec NODE COMMAND [ARG]…` — a command in a switch's or host's namespace
/// - `ipv6 off` — IPv6 disabled in every namespace before its interfaces come up
/// - `frr NODE FILE` — FRR (zebra, bgpd, staticd) in a node's namespace, configured from
///   FILE (integrated `frr.conf` form, relative to the lab file) after the `exec` commands
///
/// Words are separated by blanks; `'…'` or `"…"` quote blanks (no escapes); a word that
/// starts with `#` begins a comment. Every error names the file and line.
public enum LabFile {
    /// Parses and validates `text`; `file` names it in errors.
    public static func parse(_ text: String, file: String = "lab") throws(LabError) -> LabSpec {
        var spec = LabSpec()
        var number = 0
        do {
            for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
                number += 1
                let words = try words(of: raw, line: number)
                guard let keyword = words.first else { continue }
                try parse(keyword, Array(words.dropFirst()), line: number, into: &spec)
            }
            try spec.validate()
        } catch {
            throw LabError(file: file, line: error.line, error.message)
        }
        return spec
    }

    static func parse(_ keyword: String, _ args: [String], line: Int, into spec: inout LabSpec) throws(LabError) {
        switch keyword {
        case "switch":
            guard let name = args.first else { throw LabError(line: line, "usage: switch NAME ports N [profile P] [report]") }
            var ports: Int?
            var profile: String?
            var report = false
            var rest = args.dropFirst()[...]
            while let word = rest.popFirst() {
                switch word {
                case "ports":
                    guard let value = rest.popFirst(), let n = Int(value) else { throw LabError(line: line, "ports takes a number") }
                    ports = n
                case "profile":
                    guard let value = rest.popFirst() else { throw LabError(line: line, "profile takes a name") }
                    profile = value
                case "report":
                    report = true
                default:
                    throw LabError(line: line, "switch \(name): unknown option '\(word)'; expected ports N, profile P or report")
                }
            }
            guard let ports else { throw LabError(line: line, "switch \(name) needs `ports N`") }
            guard ports >= 1 else { throw LabError(line: line, "switch \(name): ports takes 1 or more, not \(ports)") }
            spec.switches.append(LabSpec.Switch(name: name, ports: ports, profile: profile, report: report, line: line))

        case "host":
            guard args.count >= 2 else {
                throw LabError(line: line, "usage: host NAME SWITCH:PORT[,SWITCH:PORT]… [ADDRESS/LENGTH]… [gw ADDRESS]… [mac MAC] [bond MODE [hash POLICY]]")
            }
            var ports: [LabSpec.PortRef] = []
            for ref in args[1].split(separator: ",") { ports.append(try portRef(String(ref), line: line)) }
            var host = LabSpec.Host(name: args[0], ports: ports, line: line)
            var rest = args.dropFirst(2)[...]
            while let word = rest.popFirst() {
                switch word {
                case "bond":
                    guard let mode = rest.popFirst(), LabSpec.Bond.modes.contains(mode) else {
                        throw LabError(line: line, "bond takes a mode: \(LabSpec.Bond.modes.sorted().joined(separator: ", "))")
                    }
                    host.bond = LabSpec.Bond(mode: mode)
                case "hash":
                    guard host.bond != nil else { throw LabError(line: line, "hash comes after `bond MODE`") }
                    guard let policy = rest.popFirst(), LabSpec.Bond.hashPolicies.contains(policy) else {
                        throw LabError(line: line, "hash takes an xmit_hash_policy: \(LabSpec.Bond.hashPolicies.sorted().joined(separator: ", "))")
                    }
                    host.bond?.hashPolicy = policy
                case "gw":
                    guard let value = rest.popFirst(), let gateway = IPAddress(value) else {
                        throw LabError(line: line, "gw takes an address, like 10.0.0.254")
                    }
                    host.gateways.append(gateway)
                case "mac":
                    guard let value = rest.popFirst(), let mac = MACAddress(value) else {
                        throw LabError(line: line, "mac takes an address, like 02:00:00:00:00:01")
                    }
                    host.mac = mac
                default:
                    guard word.contains("/"), let address = IPPrefix(word) else {
                        throw LabError(line: line, "bad address '\(word)': expected ADDRESS/LENGTH (like 10.0.0.1/24), gw or mac")
                    }
                    host.addresses.append(address)
                }
            }
            spec.hosts.append(host)

        case "link":
            guard args.count == 2 else { throw LabError(line: line, "usage: link SWITCH:PORT SWITCH:PORT") }
            spec.links.append(LabSpec.Link(try portRef(args[0], line: line), try portRef(args[1], line: line), line: line))

        case "start":
            guard args.isEmpty else { throw LabError(line: line, "start takes no arguments") }
            spec.start = true

        case "ipv6":
            guard args.count == 1, args[0] == "off" || args[0] == "on" else { throw LabError(line: line, "usage: ipv6 off|on") }
            spec.ipv6 = args[0] == "on"

        case "exec":
            guard args.count >= 2 else { throw LabError(line: line, "usage: exec NODE COMMAND [ARG]…") }
            spec.commands.append(LabSpec.Command(node: args[0], arguments: Array(args.dropFirst()), line: line))

        case "frr":
            guard args.count == 2, !args[1].isEmpty else { throw LabError(line: line, "usage: frr NODE FILE (FRR's integrated configuration)") }
            spec.routing.append(LabSpec.Routing(node: args[0], file: args[1], line: line))

        default:
            throw LabError(line: line, "unknown statement '\(keyword)'; expected switch, host, link, start, ipv6, exec or frr")
        }
    }

    /// `s1:4` → switch `s1`, port 4.
    static func portRef(_ word: String, line: Int) throws(LabError) -> LabSpec.PortRef {
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]) else {
            throw LabError(line: line, "bad port '\(word)': expected SWITCH:PORT, like s1:4")
        }
        return LabSpec.PortRef(String(parts[0]), port)
    }

    /// The words of one line: blanks separate, quotes group, `#` at a word's start ends it.
    public static func words(of line: Substring, line number: Int) throws(LabError) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == " " || c == "\t" || c == "\r" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else if c == "#" && !inWord {
                break
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else {
                word.append(c)
                inWord = true
            }
        }
        if let quote { throw LabError(line: number, "unterminated \(quote) quote") }
        if inWord { words.append(word) }
        return words
    }
}
