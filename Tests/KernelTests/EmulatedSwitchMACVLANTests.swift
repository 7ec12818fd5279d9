import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import Offload
import SwitchDriver
import SwitchModel
import Testing

/// A macvlan over a chip port or a bridge — the anycast gateway: one virtual MAC and
/// address on every leaf — gets a router interface of its own, bound where its lower's
/// would be and told apart by its MAC, so hosts that route through it are routed by the
/// chip. Real pings; the chip's trap counters show who did the work.
@Suite("Emulated switch: macvlan router interfaces", needsRoot, .serialized)
struct EmulatedSwitchMACVLANTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab
    typealias Traps = EmulatedSwitchPortTrapTests

    /// The frames the chip sent to the CPU so far for a reason a unicast IPv4 packet can
    /// have (not the hosts' IPv6 neighbour discovery and multicast listener chatter).
    static func trapped(_ lab: Lab) -> UInt64 {
        lab.asic.counters().traps.filter { ![.neighborDiscovery, .mld, .igmp, .linkLocal, .routeTrap].contains($0.key) }
            .values.reduce(0) { $0 + $1.packets }
    }

    static func routerInterface(_ lab: Lab, _ name: String) throws -> HardwareKey {
        .routerInterface(RouterInterfaceID(rawValue: try Traps.ifindex(lab, name)))
    }

    /// The router interface of link `name`, once it is offloaded (an issue if it never is).
    static func offloadedRouterInterface(_ lab: Lab, _ name: String) throws -> HardwareKey {
        let rif = try routerInterface(lab, name)
        _ = try lab.pump(until: { lab.daemon.engine.state(of: rif) == .offloaded })
        #expect(lab.daemon.engine.state(of: rif) == .offloaded, "\(name)'s router interface is \(String(describing: lab.daemon.engine.state(of: rif)))")
        return rif
    }

    /// Ten pings from host `h` to `address` after two that resolve the neighbours: all
    /// answered, at most two frames trapped meanwhile, at least ten leaving port `out`.
    static func routedByChip(_ lab: Lab, from h: Int, to address: String, out: Int, _ what: String) throws {
        #expect(try Traps.ping(lab, from: h, to: address, count: 2) == 0, "\(what): no answer")
        let trapsBefore = trapped(lab)
        let sent = lab.asic.counters().ports[PortID(UInt16(out))]?.txPackets ?? 0
        #expect(try Traps.ping(lab, from: h, to: address, count: 10) == 0, "\(what): pings lost")
        #expect(trapped(lab) - trapsBefore <= 2, "\(what): \(trapped(lab) - trapsBefore) frames went to the CPU: \(lab.asic.counters().traps.mapValues(\.packets))")
        #expect((lab.asic.counters().ports[PortID(UInt16(out))]?.txPackets ?? 0) - sent >= 10, "\(what): the chip sent fewer than 10 frames out of port \(out)")
    }

    @Test("macvlan on a routed port: a router interface of its own (its MAC, its subnet) routes hosts in the chip; in passthru mode the port stays on the CPU")
    func onRoutedPort() throws {
        let lab = try Lab(hosts: 2, address: { $0 == 1 ? "10.0.1.1/24" : "10.0.2.1/24" },
                          gateway: { $0 == 1 ? "10.0.1.100" : "10.0.2.254" }) { sw in
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])
            // Only the macvlan answers ARP for its address, with its own MAC.
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
            try sw.ipScript("""
                addr add 10.0.0.254/24 dev swp1
                addr add 10.0.2.254/24 dev swp2
                link set swp1 up
                link set swp2 up
                link add link swp1 name mv0 address 02:00:00:00:77:01 type macvlan mode bridge
                addr add 10.0.1.100/24 dev mv0
                link set mv0 up
                """)
        }
        _ = try Self.offloadedRouterInterface(lab, "mv0")
        #expect(try Traps.portState(lab, 1) { $0 == .offloaded } == .offloaded)
        try Self.routedByChip(lab, from: 0, to: "10.0.2.1", out: 2, "h1 through mv0's MAC to h2")
        try Self.routedByChip(lab, from: 1, to: "10.0.1.1", out: 1, "h2 back to h1 out of mv0")
        #expect(try Traps.ping(lab, from: 0, to: "10.0.1.100") == 0, "pings to the macvlan's own address are lost")
        #expect(lab.daemon.engine.audit().isEmpty)

        // passthru: one macvlan takes every frame of its lower — the kernel's business.
        try lab.sw.ipScript("""
            link del mv0
            link add link swp1 name mv2 type macvlan mode passthru
            addr add 10.0.1.100/24 dev mv2
            link set mv2 up
            """)
        let state = try Traps.portState(lab, 1) { if case .trapped = $0 { true } else { false } }
        let mac = try #require(lab.sw.ipJSON("link show mv2").first?["address"] as? String)
        #expect(state == .trapped(reason: "ingress: macvlan mv2 on swp1 (mode passthru): frames to \(mac) go to the CPU"))
        try lab.hosts[0].ip("neigh flush dev eth0")
        let trapsBefore = Self.trapped(lab)
        #expect(try Traps.ping(lab, from: 0, to: "10.0.2.1") == 0, "pings through a passthru macvlan are lost")
        #expect(Self.trapped(lab) - trapsBefore >= 5, "the chip forwarded frames of a passthru macvlan's lower")
    }

    @Test("anycast gateway: a macvlan (mode private, 00:00:5e:00:01:01) on a bridge without an address routes its hosts in the chip; without its address the bridge's ports go to the CPU; the bridge's own address beside it")
    func anycastGateway() throws {
        let lab = try Lab(hosts: 3, address: { $0 == 3 ? "10.0.3.1/24" : "10.0.1.\($0)/24" },
                          gateway: { $0 == 3 ? "10.0.3.254" : "10.0.1.254" }) { sw in
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
            try sw.ipScript("""
                link add br0 type bridge
                link set swp1 master br0
                link set swp2 master br0
                link set swp1 up
                link set swp2 up
                link set br0 up
                addr add 10.0.3.254/24 dev swp3
                link set swp3 up
                link add link br0 name vmac address 00:00:5e:00:01:01 type macvlan mode private
                addr add 10.0.1.254/24 dev vmac
                link set vmac up
                """)
        }
        let rif = try Self.offloadedRouterInterface(lab, "vmac")
        #expect(try Traps.portState(lab, 1) { $0 == .offloaded } == .offloaded)
        let br0 = BridgeID(rawValue: try Traps.ifindex(lab, "br0"))
        // The kernel's bridge holds the MAC in its address list, not its FDB: neither does the chip.
        #expect(lab.daemon.engine.state(of: .fdb(br0, .none, MACAddress("00:00:5e:00:01:01")!)) == nil)
        try Self.routedByChip(lab, from: 0, to: "10.0.3.1", out: 3, "h1 through the anycast gateway to h3")
        try Self.routedByChip(lab, from: 2, to: "10.0.1.2", out: 2, "h3 to h2 out of the anycast gateway")
        try Self.routedByChip(lab, from: 0, to: "10.0.1.2", out: 2, "h1 to h2 bridged")
        #expect(try Traps.ping(lab, from: 0, to: "10.0.1.254") == 0, "pings to the gateway's address are lost")
        #expect(lab.daemon.engine.audit().isEmpty)

        // The bridge's own address and MAC beside the gateway's: both reach the router.
        try lab.sw.ip("addr add 10.0.1.253/24 dev br0")
        _ = try Self.offloadedRouterInterface(lab, "br0")
        #expect(try Traps.ping(lab, from: 1, to: "10.0.1.253") == 0, "pings to br0's own address are lost")
        try Self.routedByChip(lab, from: 1, to: "10.0.3.1", out: 3, "h2 through the anycast gateway beside br0's own MAC")
        // The gateway's interface again, now after br0's (the chip finds it by its MAC).
        try lab.sw.ip("addr del 10.0.1.254/24 dev vmac")
        _ = try lab.pump(until: { lab.daemon.engine.state(of: rif) == nil })
        #expect(lab.daemon.engine.state(of: rif) == nil, "vmac's router interface outlived its address")
        try lab.sw.ip("addr add 10.0.1.254/24 dev vmac")
        _ = try lab.pump(until: { lab.daemon.engine.state(of: rif) == .offloaded })
        try lab.hosts[0].ip("neigh flush dev eth0")
        try Self.routedByChip(lab, from: 0, to: "10.0.3.1", out: 3, "h1 through the anycast gateway added after br0's address")

        // Without its address (and none on br0) the gateway's ARP reaches the CPU only
        // through the bridge's ports: they go to the CPU, and the hosts still reach each other.
        try lab.sw.ip("addr del 10.0.1.253/24 dev br0")
        try lab.sw.ip("addr del 10.0.1.254/24 dev vmac")
        let state = try Traps.portState(lab, 1) { if case .trapped = $0 { true } else { false } }
        #expect(state == .trapped(reason: "ingress: macvlan vmac on br0: ARP and ND for it reach the CPU only through a router interface, and br0 has no address"))
        #expect(try Traps.ping(lab, from: 0, to: "10.0.1.2") == 0)
    }
}
