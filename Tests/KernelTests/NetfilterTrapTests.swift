import Daemon
import Foundation
import KernelMirror
import Netlink
import SwitchDriver
import SwitchModel
import Testing

/// Netfilter on the forwarding path: what the chip forwards bypasses it, so traffic an
/// active chain can see stays on the CPU, and the hosts see the kernel's verdict.
@Suite("Emulated switch: netfilter keeps what it can see on the CPU", needsRoot, .serialized)
struct NetfilterTrapTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    static func nft(_ ns: TestNamespace, _ script: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-nft-\(getpid())-\(UUID().uuidString)")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try ns.exec(["nft", "-f", file.path])
    }

    @Test("the chain dump agrees with nft: families, hooks, devices, policies, rule counts")
    func channelMatchesNft() throws {
        let ns = try TestNamespace("nf")
        try ns.ip("link add v1 type veth peer name v2")
        try Self.nft(ns, """
            table inet f {
              chain fw { type filter hook forward priority 0; policy accept; ip saddr 10.0.0.1 drop; tcp dport 22 accept; };
              chain inp { type filter hook input priority 10; policy drop; };
              chain helper { counter; };
            }
            table bridge b { chain fw { type filter hook forward priority -200; }; }
            table netdev n { chain ing { type filter hook ingress device v1 priority 0; counter; }; }
            """)
        let chains = try NetfilterChannel(namespace: ns.name).chains()
        func chain(_ table: String, _ name: String) -> NetfilterChain? { chains.first { $0.table == table && $0.name == name } }
        let fwd = try #require(chain("f", "fw"))
        #expect(fwd.family == .inet && fwd.hook == 2 && fwd.rules == 2 && !fwd.dropsByPolicy && fwd.isActive)
        let input = try #require(chain("f", "inp"))
        #expect(input.hook == 1 && input.priority == 10 && input.dropsByPolicy && input.rules == 0 && input.isActive)
        let helper = try #require(chain("f", "helper"))
        #expect(helper.hook == nil && helper.rules == 1 && !helper.isActive)
        let bridged = try #require(chain("b", "fw"))
        #expect(bridged.family == .bridge && bridged.priority == -200 && bridged.rules == 0 && !bridged.isActive)
        let ingress = try #require(chain("n", "ing"))
        #expect(ingress.family == .netdev && ingress.hook == 0 && ingress.devices == ["v1"] && ingress.isActive)
        #expect(chains.count == 5, "\(chains)")
    }

    @Test("a bridge-family forward rule: the bridge stays on the CPU and its drop is what the hosts see; removed, the chip bridges")
    func bridgeFamily() throws {
        let lab = try Lab()
        let bridge = try bridgeKey(lab)
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: bridge) == .offloaded }))
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.2"], in: lab.hosts[0]) == 0)
        try Self.nft(lab.sw, "table bridge f { chain fw { type filter hook forward priority 0; ip saddr 10.0.0.1 drop; }; }")
        var state: OffloadState?
        let trapped = try lab.pump(until: {
            state = lab.daemon.engine.state(of: bridge)
            if case .trapped = state { return true }
            return false
        })
        #expect(trapped, "br0 is \(String(describing: state))")
        if case .trapped(let reason)? = state {
            #expect(reason.contains("nftables bridge f chain fw (hook forward, 1 rule)"), "\(reason)")
        }
        // The kernel drops host 1's packets in its bridge forward hook: no reply, as without Hoist.
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"], in: lab.hosts[0]) != 0,
                "the ping crossed a bridge whose netfilter drops it")
        try lab.sw.exec(["nft", "delete", "table", "bridge", "f"])
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: bridge) == .offloaded }))
        let before = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - before >= 3, "the chip did not bridge after the table went")
    }

    @Test("an inet forward rule: routes trap to the kernel, which applies it; an empty accept chain changes nothing")
    func routedFamily() throws {
        let lab = try Lab(hosts: 2, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try sw.ipScript("""
                addr add 10.1.0.1/24 dev swp1
                addr add 10.2.0.1/24 dev swp2
                link set swp1 up
                link set swp2 up
                """)
        }
        let route = HardwareKey.route(vrf: 254, IPPrefix("10.2.0.0/24")!)
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0)
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: route) == .offloaded }))
        // A base chain that accepts everything is no reason to trap.
        try Self.nft(lab.sw, "table inet f { chain fw { type filter hook forward priority 0; policy accept; }; }")
        try lab.pump(milliseconds: 300)
        #expect(lab.daemon.engine.state(of: route) == .offloaded)
        try lab.sw.exec(["nft", "add", "rule", "inet", "f", "fw", "icmp", "type", "echo-request", "drop"])
        var state: OffloadState?
        let trapped = try lab.pump(until: {
            state = lab.daemon.engine.state(of: route)
            if case .trapped = state { return true }
            return false
        })
        #expect(trapped, "the route is \(String(describing: state))")
        if case .trapped(let reason)? = state { #expect(reason.contains("inet f chain fw"), "\(reason)") }
        let chipBefore = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.2.0.2"], in: lab.hosts[0]) != 0,
                "the ping was routed past a forward chain that drops it")
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - chipBefore < 3, "the chip routed echo requests itself")
        try lab.sw.exec(["nft", "delete", "table", "inet", "f"])
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: route) == .offloaded }))
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.2.0.2"], in: lab.hosts[0]) == 0)
    }

    @Test("a netdev ingress chain on a chip port: the port's ingress stays on the CPU and the chain's drop is what the host sees")
    func netdevIngress() throws {
        let lab = try Lab()
        var swp1: Link?
        _ = try lab.pump(until: { swp1 = lab.daemon.mirror.tables.links.values.first { $0.name == "swp1" }; return swp1 != nil })
        let port = HardwareKey.port(1)
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: port) == .offloaded }))
        try Self.nft(lab.sw, "table netdev n { chain ing { type filter hook ingress device swp1 priority 0; ip saddr 10.0.0.1 drop; }; }")
        var state: OffloadState?
        #expect(try lab.pump(until: {
            state = lab.daemon.engine.state(of: port)
            if case .trapped(let r)? = state { return r.contains("nftables netdev n chain ing") }
            return false
        }), "swp1 is \(String(describing: state))")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"], in: lab.hosts[0]) != 0,
                "host 1's pings crossed a netdev ingress chain that drops them")
        try lab.sw.exec(["nft", "delete", "table", "netdev", "n"])
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: port) == .offloaded }))
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
    }

    @Test("br_netfilter: an ip-family forward rule sees bridged IPv4 while bridge-nf-call-iptables is 1",
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/sys/net/bridge/bridge-nf-call-iptables"),
                   "br_netfilter is not loaded: bridged traffic cannot reach ip-family chains"))
    func brNetfilter() throws {
        let lab = try Lab()
        try lab.sw.exec(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])
        let bridge = try bridgeKey(lab)
        try Self.nft(lab.sw, "table ip f { chain fw { type filter hook forward priority 0; ip saddr 10.0.0.1 drop; }; }")
        var state: OffloadState?
        #expect(try lab.pump(until: {
            state = lab.daemon.engine.state(of: bridge)
            if case .trapped = state { return true }
            return false
        }), "br0 is \(String(describing: state))")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"], in: lab.hosts[0]) != 0,
                "bridged IPv4 crossed an ip forward chain that drops it under br_netfilter")
        // Off: bridged frames no longer reach ip-family chains; the chip bridges (read within a second).
        try lab.sw.exec(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0"])
        #expect(try lab.pump(seconds: 5, until: { lab.daemon.engine.state(of: bridge) == .offloaded }))
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
    }

    private func bridgeKey(_ lab: Lab) throws -> HardwareKey {
        var br0: Link?
        _ = try lab.pump(until: { br0 = lab.daemon.mirror.tables.links.values.first { $0.name == "br0" }; return br0 != nil })
        return .bridge(BridgeID(rawValue: try #require(br0).index.rawValue))
    }
}
