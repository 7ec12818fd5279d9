/// Where a lab's pieces live and the `ip` commands that make them; pure, `hoist lab` runs it.
///
/// A lab NAME with switch S and host H has:
/// ```
///   NAME-H ── eth0 ═══ veth ═══ fpP ─┐  NAME-S-asic (the chip's front-panel wires)
///            (eth1 … on a dual-homed host's further ports, all in bond0)
///                                   │     hoistd's chip: AF_PACKET on fpP
///   NAME-S (the switch) ◄── TAP swpP ┘     the kernel of the switch configures swpP
///   link S:P T:Q = a veth fpP (in NAME-S-asic) ═══ fpQ (in NAME-T-asic)
///   unplugged port P = a veth fpP whose other end, fpP-nc, stays down (no carrier)
/// ```
/// and, when running, hoistd's control socket `/run/hoist/NAME-S.sock` and log
/// `/run/hoist/NAME-S.log`. Node names never contain `-` and `asic` is not one, so every
/// namespace's owner can be told from its name alone (``owns(lab:namespace:)``): teardown
/// needs no state file and survives crashes.
public struct LabPlan: Sendable {
    public let name: String
    public let spec: LabSpec

    /// Where hoistd's control sockets and logs go.
    public static let runDirectory = "/run/hoist"

    /// A plan for `spec` under lab `name`.
    public init(name: String, spec: LabSpec) throws(LabError) {
        guard Self.isLabName(name) else {
            throw LabError("lab names are letters, digits, - and _, starting with a letter or digit, at most 32: '\(name)'")
        }
        self.name = name
        self.spec = spec
    }

    /// Letters, digits, `-` and `_`, starting with a letter or digit; at most 32.
    public static func isLabName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber, name.count <= 32 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// True when `namespace` is one lab `lab` makes: `LAB-NODE` or `LAB-NODE-asic`.
    public static func owns(lab: String, namespace: String) -> Bool {
        guard namespace.hasPrefix(lab + "-") else { return false }
        var rest = namespace.dropFirst(lab.count + 1)
        if rest.hasSuffix("-asic") { rest = rest.dropLast(5) }
        return LabSpec.isNodeName(rest)
    }

    public func switchNamespace(_ s: String) -> String { "\(name)-\(s)" }
    public func wireNamespace(_ s: String) -> String { "\(name)-\(s)-asic" }
    public func hostNamespace(_ h: String) -> String { "\(name)-\(h)" }
    public func socket(_ s: String) -> String { "\(Self.runDirectory)/\(name)-\(s).sock" }
    public func log(_ s: String) -> String { "\(Self.runDirectory)/\(name)-\(s).log" }

    /// The namespace a node's commands run in: a switch's own, or a host's.
    public func namespace(ofNode node: String) -> String {
        spec.switchNamed(node) != nil ? switchNamespace(node) : hostNamespace(node)
    }

    /// Every namespace of the lab, in creation order.
    public var namespaces: [String] {
        spec.switches.flatMap { [wireNamespace($0.name), switchNamespace($0.name)] } + spec.hosts.map { hostNamespace($0.name) }
    }

    /// The wire of a front-panel port: `fpP` in its switch's wire namespace.
    public static func wire(_ port: Int) -> String { "fp\(port)" }

    /// The `ip` argument lists that build the topology, in order: namespaces, host cables
    /// and addresses, inter-switch cables, unplugged ports. Wires get no IPv6 link-local
    /// address (`addrgenmode none`), so their namespace's kernel sends nothing on them.
    public var buildSteps: [[String]] {
        var steps: [[String]] = []
        func ip(_ ns: String, _ words: String...) { steps.append(["-n", ns] + words.flatMap { $0.split(separator: " ").map(String.init) }) }
        func wireUp(_ ns: String, _ wire: String) {
            ip(ns, "link set", wire, "addrgenmode none")
            ip(ns, "link set", wire, "up")
        }
        func noIPv6(_ ns: String) {
            if !spec.ipv6 { steps.append(Self.disableIPv6(in: ns)) }
        }
        for s in spec.switches {
            steps.append(["netns", "add", wireNamespace(s.name)])
            steps.append(["netns", "add", switchNamespace(s.name)])
            noIPv6(switchNamespace(s.name))
            ip(switchNamespace(s.name), "link set lo up")
        }
        for h in spec.hosts {
            let ns = hostNamespace(h.name)
            steps.append(["netns", "add", ns])
            noIPv6(ns)
            ip(ns, "link set lo up")
            for (i, port) in h.ports.enumerated() {
                let wires = wireNamespace(port.switchName), wire = Self.wire(port.port)
                ip(wires, "link add", wire, "type veth peer name", LabSpec.Host.interface(i), "netns", ns)
                wireUp(wires, wire)
            }
            for command in h.setupCommands { steps.append(["-n", ns] + command) }
        }
        for l in spec.links {
            let a = wireNamespace(l.a.switchName), b = wireNamespace(l.b.switchName)
            ip(a, "link add", Self.wire(l.a.port), "type veth peer name", Self.wire(l.b.port), "netns", b)
            wireUp(a, Self.wire(l.a.port))
            wireUp(b, Self.wire(l.b.port))
        }
        for s in spec.switches {
            for p in 1...s.ports where spec.attachment(of: LabSpec.PortRef(s.name, p)) == .unplugged {
                let ns = wireNamespace(s.name)
                ip(ns, "link add", Self.wire(p), "type veth peer name", "\(Self.wire(p))-nc")
                ip(ns, "link set", "\(Self.wire(p))-nc", "addrgenmode none")
                wireUp(ns, Self.wire(p))
            }
        }
        return steps
    }

    /// The `ip` arguments that disable IPv6 in namespace `ns` for every interface, present
    /// and future (`ipv6 off`).
    public static func disableIPv6(in ns: String) -> [String] {
        ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
    }

    /// The chip-link socket and log of switch `s`'s `hoist-asic`.
    public func chipSocket(_ s: String) -> String { "\(Self.runDirectory)/\(wireNamespace(s)).sock" }
    public func chipLog(_ s: String) -> String { "\(Self.runDirectory)/\(wireNamespace(s)).log" }

    /// `hoist-asic`'s arguments for switch `s`: every port bound to its wire, the TAPs in
    /// the switch's namespace, the chip-link socket.
    public func asicArguments(_ s: LabSpec.Switch) -> [String] {
        var args = ["-n", switchNamespace(s.name), "--wire-netns", wireNamespace(s.name)]
        for p in 1...s.ports { args += ["--port", "\(p)=\(Self.wire(p))"] }
        return args + ["--profile", s.profile, "--socket", chipSocket(s.name)]
    }

    /// hoistd's arguments for switch `s`: the switch's namespace, its chip, the lab's socket.
    public func hoistdArguments(_ s: LabSpec.Switch) -> [String] {
        var args = ["-n", switchNamespace(s.name), "--asic", chipSocket(s.name), "--socket", socket(s.name)]
        if s.report { args.append("--report") }
        return args
    }

    /// Where FRR's daemons are, and the ones a lab's `frr` statement runs, in start order.
    public static let frrDaemonDirectory = "/usr/lib/frr"
    public static let frrDaemons = ["zebra", "bgpd", "staticd"]

    /// A node's FRR directory: each daemon's configuration, pid file and log, the zserv and
    /// vty sockets (`vtysh --vty_socket DIR`).
    public func frrDirectory(_ node: String) -> String { "\(Self.runDirectory)/\(name)-\(node)-frr" }

    /// The command that runs FRR daemon `daemon` for `node`, in the foreground, inside the
    /// node's namespace: no TCP vty, nothing of the system service's (`/etc/frr`, `/run/frr`).
    public func frrArguments(_ node: String, daemon: String) -> [String] {
        let dir = frrDirectory(node)
        return ["ip", "netns", "exec", namespace(ofNode: node), "\(Self.frrDaemonDirectory)/\(daemon)",
                "-f", "\(dir)/\(daemon).conf", "-i", "\(dir)/\(daemon).pid", "-z", "\(dir)/zserv.api",
                "--vty_socket", dir, "-P", "0", "--log", "file:\(dir)/\(daemon).log"]
    }

    /// The lab an FRR directory's name (`LAB-NODE-frr`) belongs to is `lab`.
    public static func ownsFRRDirectory(lab: String, _ entry: String) -> Bool {
        entry.hasSuffix("-frr") && owns(lab: lab, namespace: String(entry.dropLast(4))) && !entry.dropLast(4).hasSuffix("-asic")
    }

    /// The labs found among `namespaces` (as `ip netns list` names them): each switch is a
    /// `LAB-S` / `LAB-S-asic` pair (either may be missing after a crash), each host any
    /// other namespace the lab owns.
    public static func labs(in namespaces: [String]) -> [Found] {
        var found: [String: Found] = [:]
        let all = Set(namespaces)
        for ns in namespaces where ns.hasSuffix("-asic") {
            let sw = String(ns.dropLast(5))
            guard let dash = sw.lastIndex(of: "-") else { continue }
            let lab = String(sw[..<dash]), s = String(sw[sw.index(after: dash)...])
            guard isLabName(lab), LabSpec.isNodeName(s) else { continue }
            found[lab, default: Found(name: lab)].switches.append(.init(name: s, hasSwitchNamespace: all.contains(sw)))
        }
        for (lab, var f) in found {
            let switches = Set(f.switches.map(\.name))
            f.hosts = namespaces.filter { owns(lab: lab, namespace: $0) && !$0.hasSuffix("-asic") }
                .map { String($0.dropFirst(lab.count + 1)) }.filter { !switches.contains($0) }.sorted()
            f.switches.sort { $0.name < $1.name }
            found[lab] = f
        }
        return found.values.sorted { $0.name < $1.name }
    }

    /// A lab seen in the namespace list.
    public struct Found: Hashable, Sendable {
        public struct Switch: Hashable, Sendable {
            public var name: String
            /// False when only the wires remain (the switch namespace was deleted).
            public var hasSwitchNamespace: Bool
            public init(name: String, hasSwitchNamespace: Bool) {
                self.name = name
                self.hasSwitchNamespace = hasSwitchNamespace
            }
        }
        public var name: String
        public var switches: [Switch] = []
        public var hosts: [String] = []
    }
}
