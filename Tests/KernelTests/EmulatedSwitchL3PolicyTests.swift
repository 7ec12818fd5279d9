import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// Kernel state that decides whether a packet is routed at all — forwarding sysctls and
/// policy rules — with real packets through the chip: where the kernel would not route
/// as the chip does, the chip traps and the hosts see exactly the kernel's behaviour.
@Suite("Emulated switch: forwarding sysctls and policy rules", needsRoot, .serialized)
struct EmulatedSwitchL3PolicyTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    /// `count` hosts, host n on routed port swpN at 10.n.0.2/24 behind 10.n.0.1; both
    /// families' forwarding on.
    static func routedLab(hosts count: Int) throws -> Lab {
        try Lab(hosts: count, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])
            try sw.ipScript((1...count).map { "addr add 10.\($0).0.1/24 dev swp\($0)\nlink set swp\($0) up" }.joined(separator: "\n"))
        }
    }

    static func rif(_ lab: Lab, _ name: String) throws -> HardwareKey {
        let link = try #require(lab.daemon.mirror.tables.links.values.first { $0.name == name })
        return .routerInterface(RouterInterfaceID(rawValue: link.index.rawValue))
    }

    static func sysctl(_ lab: Lab, _ setting: String) throws {
        try lab.sw.exec(["sysctl", "-q", "-w", setting])
    }

    static func traps(_ lab: Lab, _ reason: TrapReason) -> UInt64 { lab.asic.counters().traps[reason]?.packets ?? 0 }
    static func tx(_ lab: Lab, _ port: PortID) -> UInt64 { lab.asic.counters().ports[port]?.txPackets ?? 0 }

    @Test("net.ipv4.ip_forward=0: routed pings fail as on the kernel, the chip traps them and routes nothing, routes and router interfaces show the sysctl; back to 1, the chip routes again")
    func ipForwardOff() throws {
        let lab = try Self.routedLab(hosts: 2)
        let engine = lab.daemon.engine
        let route = HardwareKey.route(vrf: 254, IPPrefix("10.2.0.0/24")!)
        let swp1 = try Self.rif(lab, "swp1")
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0)
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded && engine.state(of: swp1) == .offloaded }),
                "\(String(describing: engine.state(of: route))) \(String(describing: engine.state(of: swp1)))")

        try Self.sysctl(lab, "net.ipv4.ip_forward=0")
        let off = try lab.pump(until: { engine.state(of: route) == .trapped(reason: "net.ipv4.ip_forward=0") })
        #expect(off, "route: \(String(describing: engine.state(of: route)))")
        #expect(engine.state(of: swp1) == .trapped(reason: "net.ipv4.conf.swp1.forwarding=0 (net.ipv4.ip_forward=0)"),
                "\(String(describing: engine.state(of: swp1)))")
        let trappedBefore = Self.traps(lab, .routingDisabled), txBefore = Self.tx(lab, 2)
        // The kernel alone, with ip_forward=0, forwards nothing between the subnets.
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.2.0.2"], in: lab.hosts[0]) != 0,
                "pinged across the router with ip_forward=0: \(lab.lastOutput)")
        #expect(Self.traps(lab, .routingDisabled) - trappedBefore >= 3, "the echo requests were not trapped")
        #expect(Self.tx(lab, 2) == txBefore, "the chip routed packets with ip_forward=0")
        // The switch itself still answers: local delivery is unaffected.
        #expect(try lab.run(["ping", "-c", "1", "-W", "2", "10.1.0.1"], in: lab.hosts[0]) == 0)

        try Self.sysctl(lab, "net.ipv4.ip_forward=1")
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded && engine.state(of: swp1) == .offloaded }),
                "\(String(describing: engine.state(of: route))) \(String(describing: engine.state(of: swp1)))")
        let trappedOn = Self.traps(lab, .routingDisabled), txOn = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(lab.lastOutput.contains("ttl=63"), "\(lab.lastOutput)")
        #expect(Self.tx(lab, 2) - txOn >= 3, "the chip did not route the echo requests again")
        #expect(Self.traps(lab, .routingDisabled) == trappedOn)
        #expect(engine.audit().isEmpty)
    }

    @Test("net.ipv6.conf.all.forwarding=0: routed IPv6 pings fail as on the kernel, trapped at the router interface; back to 1, the chip routes them")
    func ipv6ForwardingOff() throws {
        let lab = try Self.routedLab(hosts: 2)
        for (n, h) in lab.hosts.enumerated() {
            try h.ipScript("addr add 2001:db8:\(n + 1)::2/64 dev eth0 nodad\nroute add default via 2001:db8:\(n + 1)::1")
            try lab.sw.ip("addr add 2001:db8:\(n + 1)::1/64 dev swp\(n + 1) nodad")
        }
        let engine = lab.daemon.engine
        let route = HardwareKey.route(vrf: 254, IPPrefix("2001:db8:2::/64")!)
        _ = try lab.run(["ping", "-6", "-c", "2", "-i", "0.3", "-W", "2", "2001:db8:2::2"], in: lab.hosts[0])
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded }), "\(String(describing: engine.state(of: route)))")
        let tx = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:2::2"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(Self.tx(lab, 2) - tx >= 3, "the chip did not route IPv6")

        try Self.sysctl(lab, "net.ipv6.conf.all.forwarding=0")
        let off = try lab.pump(until: { engine.state(of: route) == .trapped(reason: "net.ipv6.conf.all.forwarding=0") })
        #expect(off, "\(String(describing: engine.state(of: route)))")
        #expect(engine.state(of: try Self.rif(lab, "swp1")) == .trapped(reason: "net.ipv6.conf.all.forwarding=0"))
        let trapped = Self.traps(lab, .routingDisabled), txOff = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", "2001:db8:2::2"], in: lab.hosts[0]) != 0,
                "pinged across the router with IPv6 forwarding off: \(lab.lastOutput)")
        #expect(Self.traps(lab, .routingDisabled) - trapped >= 3)
        #expect(Self.tx(lab, 2) == txOff, "the chip routed IPv6 with forwarding off")
        // IPv4 is untouched meanwhile.
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0)

        try Self.sysctl(lab, "net.ipv6.conf.all.forwarding=1")
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded }), "\(String(describing: engine.state(of: route)))")
        // The hosts' neighbour entries may need a moment: forwarding flips the router's ND role.
        _ = try lab.run(["ping", "-6", "-c", "1", "-W", "2", "2001:db8:2::2"], in: lab.hosts[0])
        let txOn = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:2::2"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(Self.tx(lab, 2) - txOn >= 3, "the chip did not route IPv6 again")
    }

    @Test("net.ipv4.conf.swp3.forwarding=0: only packets entering swp3 are trapped; the chip still routes into swp3 and between the other ports")
    func perInterfaceForwarding() throws {
        let lab = try Self.routedLab(hosts: 3)
        let engine = lab.daemon.engine
        for n in [2, 3] { _ = try lab.run(["ping", "-c", "1", "-W", "2", "10.\(n).0.2"], in: lab.hosts[0]) }
        let swp1 = try Self.rif(lab, "swp1"), swp3 = try Self.rif(lab, "swp3")
        try Self.sysctl(lab, "net.ipv4.conf.swp3.forwarding=0")
        let applied = try lab.pump(until: { engine.state(of: swp3) == .trapped(reason: "net.ipv4.conf.swp3.forwarding=0") })
        #expect(applied, "\(String(describing: engine.state(of: swp3)))")
        #expect(engine.state(of: swp1) == .offloaded)
        #expect(engine.state(of: .route(vrf: 254, IPPrefix("10.3.0.0/24")!)) == .offloaded, "egress into swp3 is still routed")

        // h1 → h2: untouched, through the chip.
        let tx2 = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(Self.tx(lab, 2) - tx2 >= 3)
        // h1 → h3: the requests enter swp1 and are routed into swp3 by the chip; the replies
        // enter swp3, where the kernel does not forward (IN_DEV_FORWARD of the ingress
        // device): trapped, and dropped by the kernel. The ping fails, as on the kernel.
        let tx3 = Self.tx(lab, 3), tx1 = Self.tx(lab, 1), trapped = Self.traps(lab, .routingDisabled)
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.3.0.2"], in: lab.hosts[0]) != 0, "\(lab.lastOutput)")
        #expect(Self.tx(lab, 3) - tx3 >= 3, "the chip did not route the requests into swp3")
        #expect(Self.traps(lab, .routingDisabled) - trapped >= 3, "the replies entering swp3 were not trapped")
        #expect(Self.tx(lab, 1) == tx1, "the chip routed replies that entered swp3")

        try Self.sysctl(lab, "net.ipv4.conf.swp3.forwarding=1")
        #expect(try lab.pump(until: { engine.state(of: swp3) == .offloaded }), "\(String(describing: engine.state(of: swp3)))")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.3.0.2"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(engine.audit().isEmpty)
    }

    /// ICMP echo requests a host received (`Icmp: InEchos` of its /proc/net/snmp).
    static func echoRequests(_ host: TestNamespace) throws -> Int {
        let lines = try host.exec(["cat", "/proc/net/snmp"]).split(separator: "\n").filter { $0.hasPrefix("Icmp:") }
        guard lines.count >= 2 else { return 0 }
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        return names.firstIndex(of: "InEchos").flatMap { Int(values[$0]) } ?? 0
    }

    @Test("ip rule from h1's subnet to another table: the chip traps IPv4 routing and the kernel follows the rule (to h3, not the main table's h2); without the rule the chip routes the main table again")
    func policyRule() throws {
        let lab = try Self.routedLab(hosts: 3)
        let engine = lab.daemon.engine
        // 198.51.100.1 lives on h2 and h3; the main table says h2, table 100 says h3.
        for h in lab.hosts[1...] { try h.ip("addr add 198.51.100.1/32 dev lo") }
        try lab.sw.ipScript("""
            route add 198.51.100.0/24 via 10.2.0.2
            route add 198.51.100.0/24 via 10.3.0.2 table 100
            """)
        for n in [2, 3] { _ = try lab.run(["ping", "-c", "1", "-W", "2", "10.\(n).0.2"], in: lab.hosts[0]) }
        let route = HardwareKey.route(vrf: 254, IPPrefix("198.51.100.0/24")!)
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded }), "\(String(describing: engine.state(of: route)))")

        try lab.sw.ip("rule add from 10.1.0.0/16 lookup 100 pref 100")
        let reason = "ip rule 100: from 10.1.0.0/16 lookup 100 not offloaded"
        let swp1 = try Self.rif(lab, "swp1")
        let trapped = try lab.pump(until: { engine.state(of: route) == .trapped(reason: reason) })
        #expect(trapped, "\(String(describing: engine.state(of: route)))")
        #expect(engine.state(of: swp1) == .trapped(reason: reason))
        let h2 = try Self.echoRequests(lab.hosts[1]), h3 = try Self.echoRequests(lab.hosts[2])
        let traps = Self.traps(lab, .routingDisabled), tx2 = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.1"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        // The kernel followed the rule: every request reached h3, none h2.
        let toH2 = try Self.echoRequests(lab.hosts[1]) - h2, toH3 = try Self.echoRequests(lab.hosts[2]) - h3
        #expect(toH3 == 5, "h3 got \(toH3) echo requests of the 5 table 100 sends it")
        #expect(toH2 == 0, "h2 got \(toH2) echo requests (h3 \(toH3)): the main table was used")
        #expect(Self.traps(lab, .routingDisabled) - traps >= 5)
        #expect(Self.tx(lab, 2) == tx2, "the chip routed by the main table")

        try lab.sw.ip("rule del pref 100")
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded && engine.state(of: swp1) == .offloaded }),
                "\(String(describing: engine.state(of: route)))")
        let tx2b = Self.tx(lab, 2)
        #expect(try lab.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.1"], in: lab.hosts[0]) == 0, "\(lab.lastOutput)")
        #expect(Self.tx(lab, 2) - tx2b >= 5, "the chip did not route by the main table again")
        #expect(engine.audit().isEmpty)
    }
}
