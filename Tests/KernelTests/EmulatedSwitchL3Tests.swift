import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

@Suite("Emulated switch: L3 end to end", needsRoot, .serialized)
struct EmulatedSwitchL3Tests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    @Test("two routed subnets: the first packet is trapped until the kernel resolves the neighbour, then the chip routes")
    func routedPorts() throws {
        let lab = try Lab(hosts: 2, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try sw.ipScript("""
                addr add 10.1.0.1/24 dev swp1
                addr add 10.2.0.1/24 dev swp2
                link set swp1 up
                link set swp2 up
                """)
        }
        let status = try lab.run(["ping", "-c", "4", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0])
        #expect(status == 0, "ping across the emulated router failed")
        try lab.pump(milliseconds: 50)
        let engine = lab.daemon.engine
        #expect(engine.state(of: .route(vrf: 254, IPPrefix("10.2.0.0/24")!)) == .offloaded)
        let swp2 = try #require(lab.daemon.mirror.tables.links.values.first { $0.name == "swp2" })
        let neighbor = HardwareKey.neighbor(RouterInterfaceID(rawValue: swp2.index.rawValue), IPAddress("10.2.0.2")!)
        #expect(engine.state(of: neighbor) == .offloaded, "the kernel-resolved neighbour did not reach the chip")
        let c = lab.asic.counters()
        #expect((c.traps[.unresolvedNexthop]?.packets ?? 0) >= 1, "the first packet should have been trapped as unresolved")
        #expect((c.ports[2]?.txPackets ?? 0) >= 2, "the chip routed no echo requests itself")
        #expect(engine.audit().isEmpty)
    }
}

extension EmulatedSwitchL3Tests {
    @Test("an SVI on the bridge, routed ports, a static route and an ECMP route: the chip routes with TTL decrement")
    func staticAndECMP() throws {
        // Host 1 in br0 (10.0.0.1, gateway the bridge's 10.0.0.254); hosts 2 and 3 on routed
        // ports. Behind host 2: 198.51.100.1 (a static route); behind hosts 2 and 3 both:
        // 203.0.113.1 (an ECMP route over the two).
        let lab = try Lab(hosts: 3, address: { $0 == 1 ? "10.0.0.1/24" : "10.\($0).0.2/24" },
                          gateway: { $0 == 1 ? "10.0.0.254" : "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try sw.ipScript("""
                link add br0 type bridge
                link set swp1 master br0
                link set swp1 up
                link set br0 up
                addr add 10.0.0.254/24 dev br0
                addr add 10.2.0.1/24 dev swp2
                addr add 10.3.0.1/24 dev swp3
                link set swp2 up
                link set swp3 up
                route add 198.51.100.0/24 via 10.2.0.2
                route add 203.0.113.0/24 nexthop via 10.2.0.2 nexthop via 10.3.0.2
                """)
        }
        try lab.hosts[1].ip("addr add 198.51.100.1/32 dev lo")
        for h in lab.hosts[1...] { try h.ip("addr add 203.0.113.1/32 dev lo") }
        let engine = lab.daemon.engine
        let staticRoute = HardwareKey.route(vrf: 254, IPPrefix("198.51.100.0/24")!)
        let ecmpRoute = HardwareKey.route(vrf: 254, IPPrefix("203.0.113.0/24")!)

        // Resolve both gateways' neighbours (the first packets are trapped, the kernel ARPs).
        for n in [2, 3] { _ = try lab.run(["ping", "-c", "1", "-W", "2", "10.\(n).0.2"], in: lab.hosts[0]) }
        #expect(try lab.pump(until: { engine.state(of: staticRoute) == .offloaded && engine.state(of: ecmpRoute) == .offloaded }),
                "static \(String(describing: engine.state(of: staticRoute))), ECMP \(String(describing: engine.state(of: ecmpRoute)))")
        #expect(engine.desiredObject(ecmpRoute).map { if case .route(let r) = $0, case .group = r.action { true } else { false } } == true,
                "the ECMP route should use a nexthop group: \(String(describing: engine.desiredObject(ecmpRoute)))")

        let before = lab.asic.counters()
        #expect(try lab.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.1"], in: lab.hosts[0]) == 0, "static route: \(lab.lastOutput)")
        // Each direction is routed once by the chip: the replies arrive with TTL 64 − 1.
        #expect(lab.lastOutput.contains("ttl=63"), "\(lab.lastOutput)")
        var mid = lab.asic.counters()
        #expect((mid.ports[2]?.txPackets ?? 0) - (before.ports[2]?.txPackets ?? 0) >= 5, "the chip did not route to host 2")
        #expect((mid.ports[1]?.txPackets ?? 0) - (before.ports[1]?.txPackets ?? 0) >= 5, "the chip did not route the replies to the SVI's host")

        // Many flows to the ECMP route (UDP to different ports) spread over both next hops.
        let spray = "import socket\nfor p in range(200):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.1', 20000 + p))\n"
        mid = lab.asic.counters()
        #expect(try lab.run(["python3", "-c", spray], in: lab.hosts[0]) == 0)
        try lab.pump(milliseconds: 100)
        let after = lab.asic.counters()
        let toHost2 = (after.ports[2]?.txPackets ?? 0) - (mid.ports[2]?.txPackets ?? 0)
        let toHost3 = (after.ports[3]?.txPackets ?? 0) - (mid.ports[3]?.txPackets ?? 0)
        #expect(toHost2 + toHost3 >= 200 && toHost2 >= 40 && toHost3 >= 40, "ECMP spread: \(toHost2) to host 2, \(toHost3) to host 3")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "203.0.113.1"], in: lab.hosts[0]) == 0, "ECMP route: \(lab.lastOutput)")
        #expect(lab.lastOutput.contains("ttl=63"), "\(lab.lastOutput)")
        #expect(engine.audit().isEmpty)
    }
}

@Suite("Emulated switch: table full and bad input", needsRoot, .serialized)
struct EmulatedSwitchLimitsTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    static func routedLab() throws -> Lab {
        try Lab(hosts: 2, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try sw.ipScript("""
                addr add 10.1.0.1/24 dev swp1
                addr add 10.2.0.1/24 dev swp2
                link set swp1 up
                link set swp2 up
                """)
        }
    }

    @Test("more routes than the LPM holds: the overflow is failed with the reason, its traffic still flows through the CPU, and it is offloaded once space frees")
    func tableFull() throws {
        let lab = try Self.routedLab()
        _ = try lab.pump(until: { lab.daemon.engine.state(of: .route(vrf: 254, IPPrefix("10.2.0.0/24")!)) == .offloaded })
        // Resolve the gateway first, so the routes that fit are offloaded, not trapped.
        #expect(try lab.run(["ping", "-c", "1", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0)
        let swp2 = try #require(lab.daemon.mirror.tables.links.values.first { $0.name == "swp2" })
        let gateway = HardwareKey.neighbor(RouterInterfaceID(rawValue: swp2.index.rawValue), IPAddress("10.2.0.2")!)
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: gateway) == .offloaded }))
        let used = lab.asic.counters().tables[.lpmIPv4]?.used ?? 0
        lab.asic.inject(.shrink(.lpmIPv4, capacity: used + 2))
        for n in 1...5 {
            try lab.hosts[1].ip("addr add 172.16.\(n).1/32 dev lo")
            try lab.sw.ip("route add 172.16.\(n).0/24 via 10.2.0.2")
        }
        let key = { (n: Int) in HardwareKey.route(vrf: 254, IPPrefix("172.16.\(n).0/24")!) }
        let settled = try lab.pump(until: { (1...5).allSatisfy { lab.daemon.engine.state(of: key($0)) != nil } })
        #expect(settled)
        let states = (1...5).map { lab.daemon.engine.state(of: key($0))! }
        #expect(states.filter { $0 == .offloaded }.count == 2, "\(states) used \(used)")
        #expect(states.filter { $0 == .failed(reason: "LPM table full \(used + 2)/\(used + 2)") }.count == 3)
        // Traffic to a failed route is not black-holed: the chip traps it and the kernel routes it.
        let failed = (1...5).first { lab.daemon.engine.state(of: key($0))?.name == "failed" }!
        let before = lab.asic.counters().traps[.noRoute]?.packets ?? 0
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "172.16.\(failed).1"], in: lab.hosts[0]) == 0)
        #expect((lab.asic.counters().traps[.noRoute]?.packets ?? 0) > before)
        // Space frees — the two offloaded routes and one failed route are withdrawn — and
        // the two that failed are offloaded.
        var withdrawn = (1...5).filter { lab.daemon.engine.state(of: key($0)) == .offloaded }
        withdrawn.append(failed)
        for n in withdrawn { try lab.sw.ip("route del 172.16.\(n).0/24") }
        let recovered = try lab.pump(until: {
            (1...5).filter { lab.daemon.engine.state(of: key($0)) != nil }.allSatisfy { lab.daemon.engine.state(of: key($0)) == .offloaded }
        })
        #expect(recovered, "\((1...5).map { lab.daemon.engine.state(of: key($0))?.description ?? "-" })")
    }

    @Test("malformed frames on a front-panel port are dropped and counted; the switch keeps forwarding")
    func malformedFrames() throws {
        let lab = try Lab()
        // Raw frames from host 1: an IPv4 header with IHL 3, an IPv4 total length that lies,
        // a VXLAN packet too short for its inner frame.
        let script = """
            import socket, struct
            def csum(h):
                t = sum(struct.unpack("!10H", h))
                t = (t >> 16) + (t & 0xffff)
                t += t >> 16
                return struct.pack("!H", ~t & 0xffff)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind(("eth0", 0))
            eth = bytes.fromhex("ffffffffffff020000001001") + bytes.fromhex("0800")
            s.send(eth + bytes([0x43]) + bytes(40))
            lying = bytearray(bytes.fromhex("4500ffff00000000401100000a0000010a000002"))
            lying[10:12] = csum(bytes(lying))
            s.send(eth + bytes(lying) + bytes(26))
            ip = bytearray(bytes.fromhex("4500002800000000401100000a0000010a000002"))
            ip[10:12] = csum(bytes(ip))
            udp = bytes.fromhex("c00012b500140000")
            s.send(eth + bytes(ip) + udp + bytes.fromhex("0800000000006400") + bytes(4))
            """
        #expect(try lab.run(["python3", "-c", script], in: lab.hosts[0]) == 0)
        try lab.pump(milliseconds: 50)
        let drops = lab.asic.counters().drops
        #expect(drops[.badIPv4HeaderLength] == 1, "\(drops)")
        #expect(drops[.badIPv4TotalLength] == 1, "\(drops)")
        // The third is a datagram to the VXLAN port too short to be VXLAN: plain UDP, handled
        // as any other (MalformedFrameTests.vxlan).
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
    }
}
