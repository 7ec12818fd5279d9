/// What the random operator has configured on `sw`, as the kernel keeps it — including
/// what the kernel removes by itself (an interface going down flushes its routes, its
/// neighbours and its IPv6 addresses; a port leaving the bridge loses its FDB entries).
struct Model: Sendable {
    struct Neighbour: Hashable, Comparable, Sendable {
        var ip: String
        var device: String
        static func < (a: Self, b: Self) -> Bool { (a.device, a.ip) < (b.device, b.ip) }
    }
    struct Route: Sendable {
        /// `via`: the host subnet of the gateway; nil for unreachable/blackhole/prohibit.
        var via: Int?
        var ecmp = false
        var device: String?
    }

    var bridge = false
    var members: Set<Int> = []
    /// Interfaces set administratively down.
    var down: Set<String> = []
    /// Bridge port flags that differ from their default, per member port.
    var flags: [Int: [String: Bool]] = [:]
    var fdb: [String: Int] = [:]
    /// Subnet K's gateway address (`10.0.K.254/24`, `2001:db8:K::fe/64`): its interface.
    var gw4: [Int: String] = [:]
    var gw6: [Int: String] = [:]
    /// `172.16.R.0/24`, `2001:db8:1R::/64`.
    var routes4: [Int: Route] = [:]
    var routes6: [Int: Route] = [:]
    var neigh: Set<Neighbour> = []
    var forward4 = false, forward6 = false
    /// `net.ipv4.conf.DEV.forwarding` where set apart from `ip_forward`.
    var forwardDev: [String: Bool] = [:]
    var clsact: Set<Int> = []
    var rootQdisc: [Int: String] = [:]
    var macvlans: Set<Int> = []
    /// The anycast gateway `vmac` on `br0` (`RandomOperator.gatewayMAC`, `10.0.1.252/32`),
    /// by its mode; nil while there is none.
    var gateway: String?
    var vlanFiltering = false
    var vlans: Set<Int> = []
    var vrfMembers: Set<Int> = []
    var vrf = false
    /// `vx0` (VNI 100, local `10.0.4.254`, flood list h4's VTEP `10.0.4.1`) exists; it is a
    /// port of `br0` while `vxlanMember`; its bridge port's `learning` flag.
    var vxlan = false
    var vxlanMember = false
    var vxlanPortLearning = true
    /// `bond0` (`requires bond`) exists, by its mode (`balance-xor layer3+4`, …); its
    /// slaves; whether it is a port of `br0`.
    var bond: String?
    var bondSlaves: Set<Int> = []
    var bondInBridge = false

    static let flagNames = ["learning", "flood", "mcast_flood", "bcast_flood", "isolated", "hairpin"]
    static func flagDefault(_ flag: String) -> Bool { !(flag == "isolated" || flag == "hairpin") }

    var devices: [String] {
        RandomOperator.ports.map { "swp\($0)" } + (bridge ? ["br0"] : []) + macvlans.sorted().map { "mv\($0)" }
            + (gateway != nil ? ["vmac"] : []) + (bond != nil ? ["bond0"] : [])
    }

    /// The neighbours ECMP routes use: never removed or changed while the route is there
    /// (an unresolved or different member makes the path choice — a hash the chip and
    /// the kernel compute differently — visible).
    var ecmpNeighbours: Set<Neighbour> {
        var s: Set<Neighbour> = []
        for r in routes4.values where r.ecmp {
            if let k = r.via, let d = r.device {
                s.insert(Neighbour(ip: "10.0.\(k).1", device: d))
                s.insert(Neighbour(ip: "10.0.\(k).3", device: d))
            }
        }
        return s
    }

    func canEnslave(_ p: Int) -> Bool {
        let d = "swp\(p)"
        return !macvlans.contains(p) && !vrfMembers.contains(p) && !bondSlaves.contains(p) && gw4[p] != d && gw6[p] != d
            && !routes4.values.contains { $0.device == d } && !routes6.values.contains { $0.device == d }
            && !neigh.contains { $0.device == d }
    }

    /// `device` went down: the kernel flushes its IPv4 routes, its neighbours (permanent
    /// too), its IPv6 addresses and routes (keep_addr_on_down 0).
    mutating func wentDown(_ device: String) {
        down.insert(device)
        routes4 = routes4.filter { $0.value.device != device }
        routes6 = routes6.filter { $0.value.device != device }
        neigh = neigh.filter { $0.device != device }
        gw6 = gw6.filter { $0.value != device }
    }

    /// `device` is gone (deleted): everything on it too.
    mutating func removed(_ device: String) {
        wentDown(device)
        down.remove(device)
        gw4 = gw4.filter { $0.value != device }
        forwardDev[device] = nil
    }

    mutating func leftBridge(_ p: Int) {
        members.remove(p)
        flags[p] = nil
        fdb = fdb.filter { $0.value != p }
    }
}

extension RandomOperator {
    func sw(_ words: String...) -> [String] { words.flatMap { $0.split(separator: " ").map(String.init) } }

    func action(_ commands: [[String]], link: Bool = false, _ apply: @escaping @Sendable (inout Model) -> Void) -> Action {
        Action(commands: commands, linkChange: link, apply: apply)
    }

    func sysctl(_ key: String, _ value: Bool, _ apply: @escaping @Sendable (inout Model) -> Void) -> Action {
        action([sw("sysctl -qw \(key)=\(value ? 1 : 0)")], apply)
    }

    /// `br0` with snooping off (see the type's notes) and an hour's ageing.
    func bridgeCreate() -> Action {
        action([sw("ip link add br0 type bridge mcast_snooping 0 ageing_time 360000"),
                sw("ip link set br0 address \(Self.bridgeMAC)"),
                sw("sysctl -qw " + Self.slowNeighbours("br0")),
                sw("ip link set br0 up")], link: true) { $0.bridge = true }
    }

    func bridgeDelete() -> Action {
        action([sw("ip link del br0")], link: true) { m in
            m.bondInBridge = false
            for p in m.members { m.leftBridge(p) }
            if m.gateway != nil { m.removed("vmac") }
            m.gateway = nil
            m.removed("br0")
            m.bridge = false
            m.vlanFiltering = false
            m.vlans = []
            m.vxlanMember = false
            m.vxlanPortLearning = true
        }
    }

    func memberAdd(_ p: Int) -> Action {
        action([sw("ip link set swp\(p) master br0")], link: true) { $0.members.insert(p) }
    }

    func memberDel(_ p: Int) -> Action {
        action([sw("ip link set swp\(p) nomaster")], link: true) { $0.leftBridge(p) }
    }

    /// Toggles `device`: down when `up` (it is up now), else up.
    func linkSet(_ device: String, up: Bool) -> Action {
        action([sw("ip link set \(device) \(up ? "down" : "up")")], link: true) { m in
            if up { m.wentDown(device) } else { m.down.remove(device) }
        }
    }

    func flag(_ p: Int, _ name: String, _ on: Bool) -> Action {
        action([sw("bridge link set dev swp\(p) \(name) \(on ? "on" : "off")")]) { $0.flags[p, default: [:]][name] = on }
    }

    /// A port state set by hand (`bridge link set … state N`: 0 disabled, 1 listening,
    /// 2 learning, 3 forwarding, 4 blocking), as an STP daemon sets it; a link change
    /// resets it (the kernel's port state selection without STP).
    func stpState(_ p: Int, _ state: Int) -> Action {
        action([sw("bridge link set dev swp\(p) state \(state)")]) { _ in }
    }

    /// Static and sticky entries for fake MACs and for any host's MAC on port `p` — also
    /// another host's, which moves its learned entry (the kernel announces only the new
    /// port; found with `--seed 3 --svi`) and, when not sticky, moves back when that host
    /// sends again (`br_fdb_update`; the chip traps the frame, `station_move`).
    func fdbCandidates(_ p: Int) -> [Action] {
        (Self.fakeMACs + Self.ports.map { Self.hostMAC($0) }).flatMap { [fdbAdd($0, p, sticky: false), fdbAdd($0, p, sticky: true)] }
    }

    func fdbAdd(_ mac: String, _ p: Int, sticky: Bool) -> Action {
        action([sw("bridge fdb replace \(mac) dev swp\(p) master static" + (sticky ? " sticky" : ""))]) { $0.fdb[mac] = p }
    }

    func fdbDel(_ mac: String) -> Action {
        let p = model.fdb[mac] ?? 1
        return action([sw("bridge fdb del \(mac) dev swp\(p) master")]) { $0.fdb[mac] = nil }
    }

    /// Adds or removes subnet K's gateway address on `device`; removing it first removes
    /// the routes and permanent neighbours that use the subnet, as an operator would.
    func addr4(_ k: Int, device: String, add: Bool, _ m: Model) -> Action {
        if add {
            return action([sw("ip addr add 10.0.\(k).254/24 dev \(device)")]) { $0.gw4[k] = device }
        }
        var commands: [[String]] = []
        let routes = m.routes4.filter { $0.value.via == k }.keys.sorted()
        for r in routes { commands.append(sw("ip route del 172.16.\(r).0/24")) }
        let neighbours = m.neigh.filter { $0.device == device && $0.ip.hasPrefix("10.0.\(k).") }.sorted()
        for n in neighbours { commands.append(sw("ip neigh del \(n.ip) dev \(n.device)")) }
        commands.append(sw("ip addr del 10.0.\(k).254/24 dev \(device)"))
        return action(commands) { m in
            for r in routes { m.routes4[r] = nil }
            for n in neighbours { m.neigh.remove(n) }
            m.gw4[k] = nil
        }
    }

    func addr6(_ k: Int, device: String, add: Bool, _ m: Model) -> Action {
        if add {
            return action([sw("sysctl -qw net.ipv6.conf.\(device).accept_dad=0 net.ipv6.conf.\(device).router_solicitations=0 net.ipv6.conf.\(device).disable_ipv6=0"),
                           sw("ip -6 addr add 2001:db8:\(k)::fe/64 dev \(device) nodad")]) { $0.gw6[k] = device }
        }
        var commands: [[String]] = []
        let routes = m.routes6.filter { $0.value.via == k }.keys.sorted()
        for r in routes { commands.append(sw("ip -6 route del 2001:db8:1\(r)::/64")) }
        let neighbours = m.neigh.filter { $0.device == device && $0.ip.hasPrefix("2001:db8:\(k)::") }.sorted()
        for n in neighbours { commands.append(sw("ip -6 neigh del \(n.ip) dev \(n.device)")) }
        commands.append(sw("ip -6 addr del 2001:db8:\(k)::fe/64 dev \(device)"))
        return action(commands) { m in
            for r in routes { m.routes6[r] = nil }
            for n in neighbours { m.neigh.remove(n) }
            m.gw6[k] = nil
        }
    }

    /// Routes to `172.16.R.0/24` via subnet K's host (R = K mostly, else a host that
    /// drops it), ECMP over hK's two addresses, reject routes; IPv6 alike, single path.
    func routeCandidates(_ k: Int) -> [Action] {
        var a: [Action] = []
        let m = model
        if let d = m.gw4[k], !m.down.contains(d) {
            for r in Self.ports {
                a.append(action([sw("ip route replace 172.16.\(r).0/24 via 10.0.\(k).1 dev \(d)")]) {
                    $0.routes4[r] = Model.Route(via: k, device: d)
                })
            }
            let n1 = Model.Neighbour(ip: "10.0.\(k).1", device: d), n3 = Model.Neighbour(ip: "10.0.\(k).3", device: d)
            a.append(action([sw("ip neigh replace 10.0.\(k).1 lladdr \(Self.hostMAC(k)) dev \(d) nud permanent"),
                             sw("ip neigh replace 10.0.\(k).3 lladdr \(Self.hostMAC(k)) dev \(d) nud permanent"),
                             sw("ip route replace 172.16.\(k).0/24 nexthop via 10.0.\(k).1 dev \(d) nexthop via 10.0.\(k).3 dev \(d)")]) {
                $0.neigh.insert(n1)
                $0.neigh.insert(n3)
                $0.routes4[k] = Model.Route(via: k, ecmp: true, device: d)
            })
        }
        if let d = m.gw6[k], !m.down.contains(d) {
            a.append(action([sw("ip -6 route replace 2001:db8:1\(k)::/64 via 2001:db8:\(k)::1 dev \(d)")]) {
                $0.routes6[k] = Model.Route(via: k, device: d)
            })
        }
        for type in ["unreachable", "blackhole", "prohibit"] {
            a.append(action([sw("ip route replace \(type) 172.16.\(k).0/24")]) { $0.routes4[k] = Model.Route(via: nil) })
        }
        a.append(action([sw("ip -6 route replace unreachable 2001:db8:1\(k)::/64")]) { $0.routes6[k] = Model.Route(via: nil) })
        return a
    }

    func route4Del(_ r: Int) -> Action {
        action([sw("ip route del 172.16.\(r).0/24")]) { $0.routes4[r] = nil }
    }

    func route6Del(_ r: Int) -> Action {
        action([sw("ip -6 route del 2001:db8:1\(r)::/64")]) { $0.routes6[r] = nil }
    }

    /// Permanent neighbours on subnet K's gateway interface: hK with its MAC or a wrong
    /// one, and `.77` (no host) at a fake MAC.
    func neighCandidates(_ k: Int) -> [Action] {
        var a: [Action] = []
        let m = model
        func add(_ ip: String, _ mac: String, _ d: String, six: Bool) {
            let n = Model.Neighbour(ip: ip, device: d)
            guard !m.ecmpNeighbours.contains(n) else { return }
            a.append(action([sw("ip \(six ? "-6 " : "")neigh replace \(ip) lladdr \(mac) dev \(d) nud permanent")]) { $0.neigh.insert(n) })
        }
        if let d = m.gw4[k], !m.down.contains(d) {
            add("10.0.\(k).1", Self.hostMAC(k), d, six: false)
            add("10.0.\(k).1", Self.fakeMACs[0], d, six: false)
            add("10.0.\(k).77", Self.fakeMACs[1], d, six: false)
        }
        if let d = m.gw6[k], !m.down.contains(d) {
            add("2001:db8:\(k)::1", Self.hostMAC(k), d, six: true)
            add("2001:db8:\(k)::77", Self.fakeMACs[1], d, six: true)
        }
        return a
    }

    func neighDel(_ n: Model.Neighbour) -> Action {
        action([sw("ip \(n.ip.contains(":") ? "-6 " : "")neigh del \(n.ip) dev \(n.device)")]) { $0.neigh.remove(n) }
    }

    /// `clsact` (no filters: this kernel has no classifiers) and root qdiscs (tbf, pfifo,
    /// htb) on a port, added and removed.
    func qdiscCandidates(_ p: Int) -> [Action] {
        let m = model, d = "swp\(p)"
        var a: [Action] = []
        if m.clsact.contains(p) {
            a.append(action([sw("tc qdisc del dev \(d) clsact")]) { $0.clsact.remove(p) })
        } else {
            a.append(action([sw("tc qdisc add dev \(d) clsact")]) { $0.clsact.insert(p) })
        }
        let roots = ["tbf": "tbf rate 100mbit burst 64kb latency 50ms", "pfifo": "pfifo limit 100", "htb": "handle 1: htb"]
        for (name, words) in roots.sorted(by: { $0.key < $1.key }) where m.rootQdisc[p] != name {
            a.append(action([sw("tc qdisc replace dev \(d) root \(words)")]) { $0.rootQdisc[p] = name })
        }
        if m.rootQdisc[p] != nil {
            a.append(action([sw("tc qdisc del dev \(d) root")]) { $0.rootQdisc[p] = nil })
        }
        return a
    }

    /// A macvlan `mvP` on a port outside the bridge (a port has one receive handler: the
    /// kernel refuses both on one port), its own MAC and `10.0.P.253/32`; or its removal.
    func macvlan(_ p: Int, add: Bool) -> Action {
        let d = "mv\(p)"
        if !add { return action([sw("ip link del \(d)")], link: true) { $0.removed(d); $0.macvlans.remove(p) } }
        return action([sw("ip link add \(d) link swp\(p) type macvlan mode bridge"),
                       sw("ip link set \(d) address \(Self.macvlanMAC(p))"),
                       sw("sysctl -qw " + Self.slowNeighbours(d)),
                       sw("ip addr add 10.0.\(p).253/32 dev \(d)"),
                       sw("ip link set \(d) up")], link: true) { $0.macvlans.insert(p) }
    }

    /// The anycast gateway: a macvlan `vmac` on `br0` with the gateway MAC, in `mode`
    /// (passthru stays on the CPU) and `10.0.1.252/32`; or, without a mode, its removal.
    func gateway(add mode: String?) -> Action {
        guard let mode else { return action([sw("ip link del vmac")], link: true) { $0.removed("vmac"); $0.gateway = nil } }
        return action([sw("ip link add vmac link br0 type macvlan mode \(mode)"),
                       sw("ip link set vmac address \(Self.gatewayMAC)"),
                       sw("sysctl -qw " + Self.slowNeighbours("vmac")),
                       sw("ip addr add 10.0.1.252/32 dev vmac"),
                       sw("ip link set vmac up")], link: true) { $0.gateway = mode }
    }

    /// VXLAN (`requires vxlan`): `vx0` in `br0`, VNI 100 from `10.0.4.254` (the gateway
    /// address of swp4, the underlay) to h4's own vxlan device (`10.0.4.1`, overlay address
    /// `10.0.100.4`, MAC `RandomOperator.vtepMAC`), with or without `nolearning`; in and out
    /// of the bridge, its bridge port's `learning`, deleted. Created only while swp4 routes
    /// `10.0.4.254`; what the generator does to swp4 afterwards (down, address removed) is
    /// an unresolved underlay, which the chip must trap as the kernel drops.
    func vxlanCandidates() -> [Action] {
        let m = model
        guard m.vxlan else {
            guard m.bridge, m.gw4[4] == "swp4", !m.down.contains("swp4") else { return [] }
            return [false, true].map { nolearning in
                action([sw("ip link add vx0 type vxlan id 100 local 10.0.4.254 dstport 4789\(nolearning ? " nolearning" : "")"),
                        sw("sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1 " + Self.slowNeighbours("vx0")),
                        sw("ip link set vx0 master br0"),
                        sw("bridge fdb append 00:00:00:00:00:00 dev vx0 dst 10.0.4.1"),
                        sw("ip link set vx0 up")], link: true) { m in
                    m.vxlan = true
                    m.vxlanMember = true
                    m.vxlanPortLearning = true
                }
            }
        }
        var a = [action([sw("ip link del vx0")], link: true) { m in
            m.vxlan = false
            m.vxlanMember = false
            m.vxlanPortLearning = true
        }]
        if m.vxlanMember {
            a.append(action([sw("ip link set vx0 nomaster")], link: true) { m in
                m.vxlanMember = false
                m.vxlanPortLearning = true
            })
            let v = !m.vxlanPortLearning
            a.append(action([sw("bridge link set dev vx0 learning \(v ? "on" : "off")")]) { $0.vxlanPortLearning = v })
        } else if m.bridge {
            a.append(action([sw("ip link set vx0 master br0")], link: true) { $0.vxlanMember = true })
        }
        return a
    }

    /// A bond `bond0` (`requires bond`): balance-xor with a hash policy or active-backup,
    /// MII-monitored; ports that are nothing else join and leave it one at a time; it joins
    /// `br0` or takes a subnet's gateway address like a port; it is deleted. Frames the
    /// chip sends into it leave by the member the kernel's bond would pick, so a host on
    /// one slave may receive another's flows — in both worlds alike.
    func bondCandidates() -> [Action] {
        let m = model
        guard m.bond != nil else {
            let modes: [String] = ["balance-xor xmit_hash_policy layer2", "balance-xor xmit_hash_policy layer2+3",
                                   "balance-xor xmit_hash_policy layer3+4", "active-backup"]
            return modes.map { mode in
                action([sw("ip link add bond0 type bond mode \(mode) miimon 100"),
                        sw("ip link set bond0 address \(Self.bondMAC)"),
                        sw("sysctl -qw " + Self.slowNeighbours("bond0")),
                        sw("ip link set bond0 up")], link: true) { $0.bond = mode }
            }
        }
        var a = [action([sw("ip link del bond0")], link: true) { m in
            for p in m.bondSlaves { m.wentDown("swp\(p)") }
            m.bondSlaves = []
            m.removed("bond0")
            m.bond = nil
            m.bondInBridge = false
        }]
        if m.bondInBridge {
            a.append(action([sw("ip link set bond0 nomaster")], link: true) { $0.bondInBridge = false })
        } else if m.bridge, !m.gw4.values.contains("bond0"), !m.gw6.values.contains("bond0") {
            a.append(action([sw("ip link set bond0 master br0")], link: true) { $0.bondInBridge = true })
        }
        return a
    }

    /// Ports joining and leaving `bond0`.
    func bondSlaveCandidates() -> [Action] {
        let m = model
        guard m.bond != nil else { return [] }
        var a: [Action] = []
        for p in RandomOperator.ports {
            if m.bondSlaves.contains(p) {
                // A released slave is closed by the bond.
                a.append(action([sw("ip link set swp\(p) nomaster")], link: true) { m in
                    m.bondSlaves.remove(p)
                    m.wentDown("swp\(p)")
                })
            } else if !m.members.contains(p), m.canEnslave(p) {
                // A slave must be down to be enslaved; the bond opens it.
                a.append(action([sw("ip link set swp\(p) down"), sw("ip link set swp\(p) master bond0")], link: true) { m in
                    m.bondSlaves.insert(p)
                    m.down.remove("swp\(p)")
                })
            }
        }
        return a
    }

    /// VLAN filtering on `br0` and VLAN 10 on its ports (`requires vlan-filtering`). Not
    /// run on a kernel without it (this machine's): written for the test VM.
    func vlanCandidates() -> [Action] {
        let m = model
        var a: [Action] = [action([sw("ip link set br0 type bridge vlan_filtering \(m.vlanFiltering ? 0 : 1)")]) { m in
            m.vlanFiltering.toggle()
        }]
        for p in m.members.sorted() {
            if m.vlans.contains(p) {
                a.append(action([sw("bridge vlan del dev swp\(p) vid 10")]) { $0.vlans.remove(p) })
            } else {
                a.append(action([sw("bridge vlan add dev swp\(p) vid 10")]) { $0.vlans.insert(p) })
                a.append(action([sw("bridge vlan add dev swp\(p) vid 10 pvid untagged")]) { $0.vlans.insert(p) })
            }
        }
        return a
    }

    /// A VRF `vrf1` (table 10) and ports without addresses in it (`requires vrf`). Not run
    /// on a kernel without it (this machine's): written for the test VM.
    func vrfCandidates() -> [Action] {
        let m = model
        if !m.vrf {
            return [action([sw("ip link add vrf1 type vrf table 10"), sw("ip link set vrf1 up")]) { $0.vrf = true }]
        }
        var a: [Action] = []
        if m.vrfMembers.isEmpty { a.append(action([sw("ip link del vrf1")]) { $0.vrf = false }) }
        for p in RandomOperator.ports {
            if m.vrfMembers.contains(p) {
                a.append(action([sw("ip link set swp\(p) nomaster")], link: true) { $0.vrfMembers.remove(p) })
            } else if !m.members.contains(p), m.canEnslave(p) {
                a.append(action([sw("ip link set swp\(p) master vrf1")], link: true) { $0.vrfMembers.insert(p) })
            }
        }
        return a
    }
}
