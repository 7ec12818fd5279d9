import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// Kernel state on a chip port that the chip cannot express (tc, macvlan uppers) traps the
/// affected direction to the CPU: real pings through the emulated switch give the kernel's
/// result, and the port's state says why. Locked ports, which the chip checks itself, too.
@Suite("Emulated switch: port traps end to end", needsRoot, .serialized)
struct EmulatedSwitchPortTrapTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    /// The engine's state of chip port `n`, once `condition` holds for it.
    static func portState(_ lab: Lab, _ n: UInt16, until condition: (OffloadState?) -> Bool) throws -> OffloadState? {
        _ = try lab.pump(until: { condition(lab.daemon.engine.state(of: .port(PortID(n)))) })
        return lab.daemon.engine.state(of: .port(PortID(n)))
    }

    static func ping(_ lab: Lab, from h: Int, to address: String, count: Int = 5) throws -> Int32 {
        try lab.run(["ping", "-c", "\(count)", "-i", "0.1", "-W", "1", address], in: lab.hosts[h], seconds: Double(count) * 0.1 + 3)
    }

    @Test("tc: a root tbf on swp2 traps its egress — pings dropped by the tbf as in the kernel; removing it, the chip forwards again")
    func egressQdisc() throws {
        let lab = try Lab()
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0, "no ping through the chip to begin with")
        // A bucket smaller than an echo request: the kernel's tbf drops every one of them.
        _ = try lab.sw.exec(["tc", "qdisc", "add", "dev", "swp2", "root", "tbf", "rate", "1mbit", "burst", "90", "limit", "1000"])
        let state = try Self.portState(lab, 2) { if case .trapped = $0 { true } else { false } }
        #expect(state == .trapped(reason: "egress: egress qdisc tbf on swp2 not offloaded"), "swp2 is \(String(describing: state))")
        let chipBefore = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") != 0, "pings passed a tbf that drops them: the chip bypassed the qdisc")
        #expect((lab.asic.counters().traps[.portTrap]?.packets ?? 0) >= 5, "the echo requests were not trapped")
        // Echo requests reached the tbf (and nothing else left swp2's wire but what the kernel sent).
        let qdisc = try lab.sw.exec(["tc", "-s", "-j", "qdisc", "show", "dev", "swp2"])
        #expect(qdisc.contains("\"drops\":") && !qdisc.contains("\"drops\":0,"), "the tbf dropped nothing: \(qdisc)")
        _ = chipBefore
        _ = try lab.sw.exec(["tc", "qdisc", "del", "dev", "swp2", "root"])
        #expect(try Self.portState(lab, 2) { $0 == .offloaded } == .offloaded)
        let before = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0, "pings fail after the tbf went")
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - before >= 5, "the chip does not forward again")
    }

    @Test("tc filters: one present before hoistd starts traps swp1's ingress (dumped); removing it, adding an egress one, deleting the clsact")
    func clsactFilters() throws {
        let lab = try Lab(configure: { sw in
            try Lab.bridgeAll(sw)
            _ = try sw.exec(["tc", "qdisc", "add", "dev", "swp1", "clsact"])
            _ = try sw.exec(["tc", "filter", "add", "dev", "swp1", "ingress", "protocol", "all", "prio", "1", "u32", "match", "u32", "0", "0", "classid", "1:1"])
        })
        let trapped = { (s: OffloadState?) -> Bool in if case .trapped = s { true } else { false } }
        #expect(try Self.portState(lab, 1, until: trapped) == .trapped(reason: "ingress: tc ingress filter u32 on swp1 not offloaded"))
        let trapsBefore = lab.asic.counters().traps[.portTrap]?.packets ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0, "the kernel's path through a trapped port fails")
        #expect((lab.asic.counters().traps[.portTrap]?.packets ?? 0) - trapsBefore >= 5, "the echo requests were not trapped")
        // The filter goes, the clsact stays: an empty hook does nothing, the chip forwards.
        _ = try lab.sw.exec(["tc", "filter", "del", "dev", "swp1", "ingress"])
        #expect(try Self.portState(lab, 1) { $0 == .offloaded } == .offloaded)
        _ = try lab.sw.exec(["tc", "filter", "add", "dev", "swp1", "egress", "bpf", "bytecode", "1,6 0 0 0"])
        #expect(try Self.portState(lab, 1, until: trapped) == .trapped(reason: "egress: tc egress filter bpf on swp1 not offloaded"))
        #expect(try Self.ping(lab, from: 1, to: "10.0.0.1") == 0, "the kernel's path through an egress-trapped port fails")
        // Deleting the clsact takes its filters with it.
        _ = try lab.sw.exec(["tc", "qdisc", "del", "dev", "swp1", "clsact"])
        #expect(try Self.portState(lab, 1) { $0 == .offloaded } == .offloaded)
        #expect(lab.daemon.mirror.tables.tcFilters.isEmpty)
    }

    /// Locked ports are checked in the chip (issue 11, difftest `bridge-locked`): the port
    /// stays offloaded, unauthorised frames are dropped there, and an authorised host's
    /// frames are forwarded by the chip — not trapped for the kernel to forward.
    @Test("locked port: the chip drops a host behind it until `bridge fdb add MAC dev swp1 master static`, then forwards it, as the kernel does")
    func lockedPort() throws {
        let lab = try Lab(configure: { sw in
            try Lab.bridgeAll(sw)
            _ = try sw.bridge("link set dev swp1 locked on")
        })
        _ = try lab.pump(until: { if case .port(let p)? = lab.daemon.engine.wantedInHardware(.port(1)) { p.locked } else { false } })
        #expect(lab.daemon.engine.state(of: .port(1)) == .offloaded)
        let droppedBefore = lab.asic.counters().drops[.lockedPort] ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2", count: 3) != 0, "a host behind a locked port pinged without authorisation")
        #expect(try Self.ping(lab, from: 1, to: "10.0.0.1", count: 3) != 0, "a host behind a locked port answered without authorisation")
        #expect((lab.asic.counters().drops[.lockedPort] ?? 0) - droppedBefore >= 3, "the chip did not drop the unauthorised frames")
        _ = try lab.sw.bridge("fdb add 02:00:00:00:10:01 dev swp1 master static")
        _ = try lab.pump(until: { lab.daemon.engine.state(of: .fdb(BridgeID(rawValue: try! Self.ifindex(lab, "br0")), .none,
                                                                  MACAddress("02:00:00:00:10:01")!)) == .offloaded })
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0, "the authorised host cannot ping")
        // Both directions are the chip's: requests from the locked port, replies towards it.
        let trapsBefore = lab.asic.counters().traps[.portTrap]?.packets ?? 0
        let toHost2 = lab.asic.counters().ports[2]?.txPackets ?? 0, toHost1 = lab.asic.counters().ports[1]?.txPackets ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0)
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - toHost2 >= 5, "the chip did not forward the requests from the locked port")
        #expect((lab.asic.counters().ports[1]?.txPackets ?? 0) - toHost1 >= 5, "the chip did not forward the replies")
        #expect((lab.asic.counters().traps[.portTrap]?.packets ?? 0) == trapsBefore, "the locked port's frames were trapped")
    }

    static func ifindex(_ lab: Lab, _ name: String) throws -> UInt32 {
        UInt32(try lab.sw.ipJSON("link show \(name)").first?["ifindex"] as? Int ?? 0)
    }

    @Test("macvlan on a routed chip port: pings to its address work (no `drop hairpin`), and it has a state by name")
    func macvlanOnPort() throws {
        let lab = try Lab(hosts: 1, configure: { sw in
            // Only the macvlan answers ARP for its address (as in a container), with its own MAC.
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
            try sw.ipScript("""
                addr add 10.0.0.254/24 dev swp1
                link set swp1 up
                link add link swp1 name mv0 address 02:00:00:00:77:01 type macvlan mode bridge
                addr add 10.0.1.100/24 dev mv0
                link set mv0 up
                """)
        })
        try lab.hosts[0].ip("addr add 10.0.1.1/24 dev eth0")
        let state = try Self.portState(lab, 1) { if case .trapped = $0 { true } else { false } }
        #expect(state == .trapped(reason: "ingress: macvlan mv0 on swp1: frames to 02:00:00:00:77:01 go to the CPU"))
        let hairpinBefore = lab.asic.counters().drops[.hairpin] ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.1.100") == 0, "pings to the macvlan's address are lost")
        #expect((lab.asic.counters().drops[.hairpin] ?? 0) == hairpinBefore, "the chip dropped frames to the macvlan as hairpin")
        // The switch's own address on swp1 still answers.
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.254") == 0)
    }

    @Test("a macvlan made while hoistd runs: its MAC in the port's address list (the kernel announces no FDB entry for it) is no drift for `hoist audit`")
    func macvlanAudit() throws {
        // Found by the random differential test (hoist-difftest --random --seed 1): the FDB
        // dump lists the macvlan's MAC as a `self permanent` entry of swp1 (dev_uc_add), the
        // mirror never hears of it, and the audit reported it as kernel drift forever.
        let lab = try Lab(hosts: 1, configure: { sw in try sw.ipScript("link set swp1 up") })
        _ = try lab.pump(until: { lab.daemon.engine.state(of: .port(PortID(1))) != nil })
        // No IPv6 on the macvlan: a tentative address is not announced until its DAD ends.
        _ = try lab.sw.exec(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        try lab.sw.ipScript("""
            link add link swp1 name mv0 address 02:00:00:00:77:01 type macvlan mode bridge
            link set mv0 up
            """)
        let fdb = try lab.sw.exec(["bridge", "fdb", "show", "dev", "swp1"])
        #expect(fdb.contains("02:00:00:00:77:01 self permanent"), "the kernel's FDB dump no longer lists the macvlan's MAC: \(fdb)")
        _ = try Self.portState(lab, 1) { if case .trapped = $0 { true } else { false } }
        try lab.pump(milliseconds: 200)
        let audit = try lab.daemon.auditNow(repair: false)
        #expect(audit.findings.isEmpty, "\(audit.findings)")
    }

    @Test("macvlan on a bridge: frames to its MAC go to the CPU, so pings to it work; it shows trapped")
    func macvlanOnBridge() throws {
        let lab = try Lab(configure: { sw in
            try Lab.bridgeAll(sw)
            _ = try sw.exec(["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
            try sw.ipScript("""
                addr add 10.0.0.254/24 dev br0
                link add link br0 name mv1 address 02:00:00:00:77:02 type macvlan mode bridge
                addr add 10.0.1.100/24 dev mv1
                link set mv1 up
                """)
        })
        try lab.hosts[0].ip("addr add 10.0.1.1/24 dev eth0")
        let br = BridgeID(rawValue: try Self.ifindex(lab, "br0"))
        let key = HardwareKey.fdb(br, .none, MACAddress("02:00:00:00:77:02")!)
        _ = try lab.pump(until: { lab.daemon.engine.state(of: key) != nil })
        #expect(lab.daemon.engine.state(of: key) == .trapped(reason: "macvlan mv1 on br0: frames to 02:00:00:00:77:02 go to the CPU"))
        #expect(try Self.ping(lab, from: 0, to: "10.0.1.100") == 0, "pings to the macvlan's address are lost")
        // Traffic between the hosts is still the chip's.
        let before = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0)
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - before >= 5)
    }

    @Test("macvlan on a bridge without an address: its ARP goes through the CPU (the bridge's ports trapped), pings to it work")
    func macvlanOnBridgeWithoutAddress() throws {
        let lab = try Lab(configure: { sw in
            try Lab.bridgeAll(sw)
            try sw.ipScript("""
                link add link br0 name mv1 address 02:00:00:00:77:03 type macvlan mode bridge
                addr add 10.0.0.100/24 dev mv1
                link set mv1 up
                """)
        })
        let state = try Self.portState(lab, 1) { if case .trapped = $0 { true } else { false } }
        #expect(state == .trapped(reason: "ingress: macvlan mv1 on br0: ARP and ND for it reach the CPU only through a router interface, and br0 has no address"))
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.100") == 0, "pings to a macvlan on an address-less bridge are lost")
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.2") == 0, "host to host through the trapped bridge fails")
        // An address on br0: a router interface copies ARP to the CPU; the ports go back to the chip.
        try lab.sw.ip("addr add 10.0.0.254/24 dev br0")
        #expect(try Self.portState(lab, 1) { $0 == .offloaded } == .offloaded)
        try lab.sw.ip("neigh flush dev mv1")
        try lab.hosts[0].ip("neigh flush dev eth0")
        #expect(try Self.ping(lab, from: 0, to: "10.0.0.100") == 0, "pings to the macvlan are lost once the ports are offloaded")
    }
}
