import EmulatedASIC
import SwitchModel

/// A lab: emulated switches, hosts wired to their front-panel ports, cables between ports,
/// and commands that configure the result — what a lab file declares (`LabFile`,
/// Docs/Lab.md), checked by ``validate()``.
///
/// Switches and hosts are *nodes*; a node's name is a letter followed by letters, digits or
/// `_` (at most 15), unique over the lab, and not `asic`. Names never contain `-`, so a
/// namespace name tells which lab and node it belongs to (`LabPlan.owns`).
public struct LabSpec: Hashable, Sendable {
    /// A front-panel port of a switch, written `s1:4`; ports count from 1.
    public struct PortRef: Hashable, Sendable, CustomStringConvertible {
        public var switchName: String
        public var port: Int
        public init(_ switchName: String, _ port: Int) {
            self.switchName = switchName
            self.port = port
        }
        public var description: String { "\(switchName):\(port)" }
    }

    /// An emulated switch with ports `1…ports` (host interfaces `swp1`…), run by one hoistd
    /// with the chip's table `profile`; `report` has hoistd print its offload report when it
    /// stops. Ports with no host or link are unplugged (their wire has no carrier).
    public struct Switch: Hashable, Sendable {
        public var name: String
        public var ports: Int
        public var profile: String
        public var report: Bool
        /// The line that declared it (0 when not from a file).
        public var line: Int
        public init(name: String, ports: Int, profile: String? = nil, report: Bool = false, line: Int = 0) {
            self.name = name
            self.ports = ports
            self.profile = profile ?? Self.defaultProfile(ports: ports)
            self.report = report
            self.line = line
        }

        /// The smallest chip profile with at least `ports` ports.
        public static func defaultProfile(ports: Int) -> String {
            TableProfile.all.values.filter { $0.ports >= ports }.min { $0.ports < $1.ports }?.name ?? "datacenter"
        }
    }

    /// A host: a namespace whose `eth0` is cabled to `port`, with `addresses` (address and
    /// prefix length, host bits kept: `10.0.0.1/24`), default routes via `gateways` (at most
    /// one per family) and an optional fixed MAC.
    public struct Host: Hashable, Sendable {
        public var name: String
        /// The switch ports the host is cabled to: its `eth0`, `eth1`, … in order.
        public var ports: [PortRef]
        public var addresses: [IPPrefix]
        public var gateways: [IPAddress]
        public var mac: MACAddress?
        /// A dual-homed host bonds its interfaces (`bond0`, which carries the addresses and
        /// the MAC): the bond's mode and `xmit_hash_policy`, in the kernel's words.
        public var bond: Bond?
        public var line: Int
        public init(name: String, port: PortRef, addresses: [IPPrefix] = [], gateways: [IPAddress] = [], mac: MACAddress? = nil,
                    bond: Bond? = nil, line: Int = 0) {
            self.init(name: name, ports: [port], addresses: addresses, gateways: gateways, mac: mac, bond: bond, line: line)
        }
        public init(name: String, ports: [PortRef], addresses: [IPPrefix] = [], gateways: [IPAddress] = [], mac: MACAddress? = nil,
                    bond: Bond? = nil, line: Int = 0) {
            self.name = name
            self.ports = ports
            self.addresses = addresses
            self.gateways = gateways
            self.mac = mac
            self.bond = bond
            self.line = line
        }

        /// The first port (`eth0`'s).
        public var port: PortRef { ports[0] }
        /// The interface on port `i` (`eth<i>`).
        public static func interface(_ i: Int) -> String { "eth\(i)" }
        /// The interface that carries the addresses: `bond0`, or `eth0`.
        public var addressInterface: String { bond == nil ? "eth0" : "bond0" }

        /// The `ip` commands (arguments after `ip -n NS`) that bond the host's interfaces
        /// and give it its MAC and addresses; its interfaces exist, down.
        public var setupCommands: [[String]] {
            var out: [[String]] = []
            if let bond {
                out.append(["link", "add", "bond0", "type", "bond", "mode", bond.mode, "miimon", "100"]
                           + (bond.hashPolicy.map { ["xmit_hash_policy", $0] } ?? []))
                for i in ports.indices { out.append(["link", "set", Self.interface(i), "master", "bond0"]) }
            }
            if let mac { out.append(["link", "set", addressInterface, "address", mac.description]) }
            for a in addresses { out.append(["addr", "add", "\(a.address)/\(a.length)", "dev", addressInterface]) }
            for i in ports.indices { out.append(["link", "set", Self.interface(i), "up"]) }
            if bond != nil { out.append(["link", "set", "bond0", "up"]) }
            for g in gateways { out.append([g.isIPv4 ? "-4" : "-6", "route", "add", "default", "via", g.description]) }
            return out
        }
    }

    /// A host's bond (`host … bond MODE [hash POLICY]`).
    public struct Bond: Hashable, Sendable {
        public var mode: String
        public var hashPolicy: String?
        public init(mode: String, hashPolicy: String? = nil) {
            self.mode = mode
            self.hashPolicy = hashPolicy
        }
        /// The kernel's mode and policy words (`ip link add … type bond mode …`).
        public static let modes: Set<String> = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"]
        public static let hashPolicies: Set<String> = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4", "vlan+srcmac"]
    }

    /// A cable between two front-panel ports (of two switches, or two ports of one).
    public struct Link: Hashable, Sendable {
        public var a: PortRef
        public var b: PortRef
        public var line: Int
        public init(_ a: PortRef, _ b: PortRef, line: Int = 0) {
            self.a = a
            self.b = b
            self.line = line
        }
    }

    /// A command run in a node's namespace once the switches run (`exec NODE ARGS…`), in
    /// file order: a switch's configuration (`ip link add br0 type bridge`) or a host's.
    public struct Command: Hashable, Sendable {
        public var node: String
        public var arguments: [String]
        public var line: Int
        public init(node: String, arguments: [String], line: Int = 0) {
            self.node = node
            self.arguments = arguments
            self.line = line
        }
    }

    /// FRR on a node (`frr NODE FILE`): zebra, bgpd and staticd in the node's namespace,
    /// each with its own pid file, sockets and log, configured from `file` — FRR's
    /// integrated configuration (`frr.conf`), applied through `vtysh` — once the `exec`
    /// commands have run. `file` is as written: relative to the lab file's directory.
    public struct Routing: Hashable, Sendable {
        public var node: String
        public var file: String
        public var line: Int
        public init(node: String, file: String, line: Int = 0) {
            self.node = node
            self.file = file
            self.line = line
        }
    }

    public var switches: [Switch]
    public var hosts: [Host]
    public var links: [Link]
    public var commands: [Command]
    /// FRR instances, at most one per node.
    public var routing: [Routing] = []
    /// Start every switch's hoistd and run ``commands`` when the lab is brought up.
    public var start: Bool
    /// False (`ipv6 off`): IPv6 is disabled in every switch and host namespace as soon as
    /// it exists (`net.ipv6.conf.{all,default}.disable_ipv6=1`), before any interface comes
    /// up — no link-local addresses, no DAD, router solicitations or MLD reports, so only
    /// what the lab's commands send is on the wires.
    public var ipv6 = true

    public init(switches: [Switch] = [], hosts: [Host] = [], links: [Link] = [], commands: [Command] = [], start: Bool = false) {
        self.switches = switches
        self.hosts = hosts
        self.links = links
        self.commands = commands
        self.start = start
    }

    /// The flag form of `hoist lab up`: one switch `sw` with `hosts` ports and hosts
    /// `h1`…`hN` on them, host n at `SUBNET.n/24` when `subnet` (three octets, `10.0.0`)
    /// is given.
    public static func oneSwitch(hosts count: Int, subnet: String? = nil) throws(LabError) -> LabSpec {
        var hosts: [Host] = []
        for n in 1...max(1, count) {
            var addresses: [IPPrefix] = []
            if let subnet {
                let parts = subnet.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count == 3, parts.allSatisfy({ UInt8($0) != nil }), n <= 254, let a = IPPrefix("\(subnet).\(n)/24") else {
                    throw LabError("--subnet takes the first three octets, like 10.0.0, not '\(subnet)'")
                }
                addresses = [a]
            }
            hosts.append(Host(name: "h\(n)", port: PortRef("sw", n), addresses: addresses))
        }
        let spec = LabSpec(switches: [Switch(name: "sw", ports: count)], hosts: hosts)
        try spec.validate()
        return spec
    }

    /// True for a valid node name: a letter, then letters, digits or `_`; at most 15; not `asic`.
    public static func isNodeName(_ name: some StringProtocol) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter, name.count <= 15, String(name) != "asic" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    public func switchNamed(_ name: String) -> Switch? { switches.first { $0.name == name } }
    public func hostNamed(_ name: String) -> Host? { hosts.first { $0.name == name } }

    /// What is plugged into a port: a host, the far end of a link, or nothing.
    public enum Attachment: Hashable, Sendable {
        case host(String)
        case link(PortRef)
        case unplugged
    }

    public func attachment(of port: PortRef) -> Attachment {
        if let h = hosts.first(where: { $0.ports.contains(port) }) { return .host(h.name) }
        for l in links {
            if l.a == port { return .link(l.b) }
            if l.b == port { return .link(l.a) }
        }
        return .unplugged
    }

    /// Checks the whole lab: at least one switch; valid, unique node names; known profiles
    /// with enough ports; every port reference to a declared switch and in range, each port
    /// used once; host addresses unique, gateways one per family and inside one of the
    /// host's subnets (IPv6 link-local gateways excepted); commands for declared nodes.
    /// The error names the offending line.
    public func validate() throws(LabError) {
        guard !switches.isEmpty else { throw LabError("a lab needs at least one `switch`") }
        var nodes: [String: Int] = [:]
        func declare(_ name: String, _ kind: String, line: Int) throws(LabError) {
            guard Self.isNodeName(name) else {
                throw LabError(line: line, "bad \(kind) name '\(name)': a letter, then letters, digits or _ (at most 15; not 'asic')")
            }
            if let first = nodes[name] { throw LabError(line: line, "'\(name)' is already declared\(Self.onLine(first))") }
            nodes[name] = line
        }
        for s in switches {
            try declare(s.name, "switch", line: s.line)
            guard let profile = TableProfile.all[s.profile] else {
                throw LabError(line: s.line, "unknown profile '\(s.profile)'; choose one of: \(TableProfile.all.keys.sorted().joined(separator: ", "))")
            }
            guard (1...profile.ports).contains(s.ports) else {
                throw LabError(line: s.line, "switch \(s.name): ports takes 1…\(profile.ports) with profile \(profile.name), not \(s.ports)")
            }
        }
        for h in hosts { try declare(h.name, "host", line: h.line) }

        var used: [PortRef: (user: String, line: Int)] = [:]
        func use(_ port: PortRef, by user: String, line: Int) throws(LabError) {
            guard let s = switchNamed(port.switchName) else {
                throw LabError(line: line, "unknown switch '\(port.switchName)' in \(port)")
            }
            guard (1...s.ports).contains(port.port) else {
                throw LabError(line: line, "port \(port.port) out of range 1…\(s.ports) of switch \(s.name)")
            }
            if let other = used[port] { throw LabError(line: line, "\(port) is already used by \(other.user)\(Self.onLine(other.line))") }
            used[port] = (user, line)
        }
        var addresses: [IPAddress: (host: String, line: Int)] = [:]
        for h in hosts {
            for port in h.ports { try use(port, by: "host \(h.name)", line: h.line) }
            if h.ports.count > 1, h.bond == nil {
                throw LabError(line: h.line, "host \(h.name) has \(h.ports.count) ports: give `bond MODE` (a dual-homed host bonds them)")
            }
            for a in h.addresses {
                if let other = addresses[a.address] {
                    throw LabError(line: h.line, "address \(a.address) is already \(other.host)'s\(Self.onLine(other.line))")
                }
                addresses[a.address] = (h.name, h.line)
            }
            var families: Set<AddressFamily> = []
            for g in h.gateways {
                guard families.insert(g.family).inserted else {
                    throw LabError(line: h.line, "host \(h.name) has two \(g.isIPv4 ? "IPv4" : "IPv6") gateways")
                }
                let linkLocal = !g.isIPv4 && g.high >> 54 == 0x3FA  // fe80::/10
                let inSubnet = h.addresses.contains {
                    $0.family == g.family && IPPrefix(address: g, length: $0.length).covering($0.length) == $0.covering($0.length)
                }
                guard linkLocal || inSubnet else {
                    throw LabError(line: h.line, "gateway \(g) is not in any of \(h.name)'s subnets")
                }
            }
        }
        for l in links {
            guard l.a != l.b else { throw LabError(line: l.line, "a link joins two different ports, not \(l.a) to itself") }
            try use(l.a, by: "the link \(l.a) \(l.b)", line: l.line)
            try use(l.b, by: "the link \(l.a) \(l.b)", line: l.line)
        }
        for c in commands {
            guard nodes[c.node] != nil else { throw LabError(line: c.line, "exec: unknown switch or host '\(c.node)'") }
            guard !c.arguments.isEmpty else { throw LabError(line: c.line, "exec \(c.node): no command given") }
        }
        var routed: [String: Int] = [:]
        for r in routing {
            guard nodes[r.node] != nil else { throw LabError(line: r.line, "frr: unknown switch or host '\(r.node)'") }
            if let first = routed[r.node] { throw LabError(line: r.line, "frr \(r.node): it already runs FRR\(Self.onLine(first))") }
            routed[r.node] = r.line
        }
    }

    static func onLine(_ line: Int) -> String { line > 0 ? " (line \(line))" : "" }
}

/// A lab file or lab spec that cannot be used: the file, the line (when known) and what is
/// wrong; prints as `lab.hoist:3: port 9 out of range 1…4 of switch s1`.
public struct LabError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String?
    /// 1-based; 0 when the problem is not on one line.
    public var line: Int
    public var message: String

    public init(file: String? = nil, line: Int = 0, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (file, line) {
        case (let file?, 1...): "\(file):\(line): \(message)"
        case (let file?, _): "\(file): \(message)"
        case (nil, 1...): "line \(line): \(message)"
        default: message
        }
    }
}
