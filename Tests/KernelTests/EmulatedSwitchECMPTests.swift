import Daemon
import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel
import Testing

extension EmulatedSwitchL3Tests {
    @Test("ECMP with one member unresolved: route and group are trapped naming the member; its flows reach the kernel, which resolves it; then offloaded")
    func ecmpUnresolvedMember() throws {
        let lab = try Lab(hosts: 3, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            // The kernel hashes by ports too (policy 1), so the trapped flows — one source,
            // one destination, 100 ports — reach both members in the kernel as well, and it
            // resolves 10.3.0.2. With the default L3 hash it would send all of them to the
            // member a per-boot random seed picks, and half the boots never resolve it.
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1"])
            try sw.ipScript("""
                addr add 10.1.0.1/24 dev swp1
                addr add 10.2.0.1/24 dev swp2
                addr add 10.3.0.1/24 dev swp3
                link set swp1 up
                link set swp2 up
                link set swp3 up
                route add 203.0.113.0/24 nexthop via 10.2.0.2 nexthop via 10.3.0.2
                """)
        }
        for h in lab.hosts[1...] { try h.ip("addr add 203.0.113.1/32 dev lo") }
        let engine = lab.daemon.engine
        let route = HardwareKey.route(vrf: 254, IPPrefix("203.0.113.0/24")!)
        // Only host 2's neighbour resolves (host 1 pings it through the chip).
        _ = try lab.run(["ping", "-c", "1", "-W", "2", "10.2.0.2"], in: lab.hosts[0])
        func rif(_ name: String) throws -> RouterInterfaceID {
            RouterInterfaceID(rawValue: UInt32(try #require(lab.sw.ipJSON("link show \(name)").first?["ifindex"] as? Int)))
        }
        let swp2 = try rif("swp2"), swp3 = try rif("swp3")
        #expect(try lab.pump(until: { engine.state(of: .neighbor(swp2, IPAddress("10.2.0.2")!)) == .offloaded }))
        guard case .route(let r)? = engine.desiredObject(route), case .group(let id) = r.action else {
            Issue.record("the ECMP route should use a group: \(String(describing: engine.desiredObject(route)))")
            return
        }
        let chain = "nexthop 10.3.0.2 → neighbor 10.3.0.2 (\(swp3)) unresolved: flows hashed to it go to the CPU"
        #expect(engine.state(of: route) == .trapped(reason: "route 203.0.113.0/24 → \(id) → " + chain), "\(String(describing: engine.state(of: route)))")
        #expect(engine.state(of: .nexthopGroup(id)) == .trapped(reason: "\(id) → " + chain), "\(String(describing: engine.state(of: .nexthopGroup(id))))")

        // Many flows: those hashed to host 2 leave the chip, the rest are trapped; the
        // kernel forwards them (as it would) and resolves 10.3.0.2 on the way.
        let trapsBefore = lab.asic.counters().traps[.unresolvedNexthop]?.packets ?? 0
        let spray = "import socket\nfor p in range(100):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.1', 20000 + p))\n"
        #expect(try lab.run(["python3", "-c", spray], in: lab.hosts[0]) == 0)
        #expect(try lab.pump(until: { engine.state(of: route) == .offloaded && engine.state(of: .nexthopGroup(id)) == .offloaded }),
                "\(String(describing: engine.state(of: route)))")
        #expect((lab.asic.counters().traps[.unresolvedNexthop]?.packets ?? 0) > trapsBefore)
        #expect(try lab.sw.ip("neigh show 10.3.0.2").contains("lladdr"))
    }
}
