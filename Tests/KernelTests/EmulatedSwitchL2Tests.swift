import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// The emulated whitebox switch end to end: hosts in their own namespaces wired to the
/// chip's front-panel veths, the chip's TAPs (`swp1`, `swp2`) bridged by the kernel with
/// `ip`, hoistd's loop offloading the bridge, and real pings forwarded by the chip.
@Suite("Emulated switch: L2 end to end", needsRoot, .serialized)
struct EmulatedSwitchL2Tests {
    /// The switch namespace, two hosts, the chip's I/O and the daemon.
    final class Lab {
        let sw: TestNamespace
        /// Where the chip's front-panel wires live, away from the switch's IP stack.
        let wires: TestNamespace
        let hosts: [TestNamespace]
        let asic = EmulatedASIC()
        let ports: ChipPorts
        let daemon: SwitchDaemon

        /// `count` hosts, host n at `address(n)` (with `gateway(n)` as default route if
        /// given); `configure` sets the switch up with `ip` once its swpN exist.
        /// `count` hosts on ports 1…count; `cables` are ports wired to each other (a veth
        /// pair between two front-panel ports, in the chip's namespace).
        init(hosts count: Int = 2, address: (Int) -> String = { "10.0.0.\($0)/24" }, gateway: ((Int) -> String)? = nil,
             cables: [(UInt16, UInt16)] = [], configure: (TestNamespace) throws -> Void = Lab.bridgeAll) throws {
            sw = try TestNamespace("sw")
            wires = try TestNamespace("asic")
            var hosts: [TestNamespace] = []
            var bindings: [ChipPorts.Binding] = []
            for n in 1...count {
                let h = try TestNamespace("h\(n)")
                try wires.ip("link add fp\(n) type veth peer name eth0 netns \(h.name)")
                try wires.ip("link set fp\(n) up")
                try h.ipScript("""
                    link set eth0 address 02:00:00:00:10:0\(n)
                    addr add \(address(n)) dev eth0
                    link set eth0 up
                    """)
                if let gateway { try h.ip("route add default via \(gateway(n))") }
                hosts.append(h)
                bindings.append(.init(port: PortID(UInt16(n)), wire: "fp\(n)"))
            }
            for (a, b) in cables {
                try wires.ip("link add fp\(a) type veth peer name fp\(b)")
                try wires.ip("link set fp\(a) up")
                try wires.ip("link set fp\(b) up")
                bindings += [.init(port: PortID(a), wire: "fp\(a)"), .init(port: PortID(b), wire: "fp\(b)")]
            }
            self.hosts = hosts
            ports = try ChipPorts(chip: asic.chip, bindings: bindings, wireNamespace: wires.name, hostNamespace: sw.name)
            try configure(sw)
            daemon = try SwitchDaemon(namespace: sw.name, driver: asic)
            try daemon.start()
        }

        /// A bridge br0 over every swpN.
        static func bridgeAll(_ sw: TestNamespace) throws {
            try sw.ip("link add br0 type bridge")
            let names = try sw.ipJSON("link show").compactMap { $0["ifname"] as? String }.filter { $0.hasPrefix("swp") }
            for name in names {
                try sw.ip("link set \(name) master br0")
                try sw.ip("link set \(name) up")
            }
            try sw.ip("link set br0 up")
        }

        /// What the last `run` printed.
        private(set) var lastOutput = ""

        /// Runs the chip and the daemon until `process` exits; its exit status (its output
        /// is in `lastOutput`).
        func run(_ arguments: [String], in host: TestNamespace, seconds: Double = 10) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", host.name] + arguments
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-run-\(getpid())-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: output) }
            p.standardOutput = try FileHandle(forWritingTo: output)
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(seconds)
            while p.isRunning, Date() < deadline { try pump(milliseconds: 5) }
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
            lastOutput = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return p.terminationStatus
        }

        /// Pumps until `condition` holds or `seconds` pass.
        func pump(seconds: Double = 5, until condition: () -> Bool) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                try pump(milliseconds: 5)
                if condition() { return true }
            }
            return false
        }

        func pump(milliseconds: Int32) throws {
            try ports.pollOnce(timeoutMilliseconds: milliseconds)
            try daemon.step(timeoutMilliseconds: 0)
        }
    }

    @Test("hosts ping through the chip; known unicast is forwarded by the chip and learned MACs reach the kernel FDB")
    func ping() throws {
        let lab = try Lab()
        let status = try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0])
        #expect(status == 0, "ping through the emulated switch failed")
        let counters = lab.asic.counters()
        #expect((counters.ports[2]?.txPackets ?? 0) >= 3, "the chip did not forward the echo requests")
        #expect((counters.ports[1]?.txPackets ?? 0) >= 3, "the chip did not forward the echo replies")
        // Both hosts' MACs were learned by the chip and written back as extern_learn.
        try lab.pump(milliseconds: 50)
        let fdb = try lab.sw.bridgeJSON("fdb show br br0")
        for mac in ["02:00:00:00:10:01", "02:00:00:00:10:02"] {
            let entry = fdb.first { ($0["mac"] as? String) == mac }
            #expect((entry?["flags"] as? [String])?.contains("extern_learn") == true, "\(mac) not extern_learn in \(fdb)")
        }
        #expect(lab.daemon.engine.audit().isEmpty)

        // Known unicast after learning: the chip forwards it; the kernel bridge never sees it
        // (its host interfaces' rx counters stay put while the chip's tx counters rise).
        func kernelRx() throws -> Int {
            try ["swp1", "swp2"].reduce(0) { sum, dev in
                let stats = try lab.sw.ipJSON("-s link show \(dev)").first?["stats64"] as? [String: Any]
                return sum + (((stats?["rx"] as? [String: Any])?["packets"] as? Int) ?? 0)
            }
        }
        let kernelBefore = try kernelRx(), chipBefore = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try lab.run(["ping", "-c", "20", "-i", "0.05", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
        let kernelDelta = try kernelRx() - kernelBefore
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - chipBefore >= 20, "the chip did not forward the 20 requests")
        // Had the kernel bridged them, both host interfaces would count all 40; what they do
        // count is background multicast (IPv6 neighbour discovery, MLD) the chip traps.
        #expect(kernelDelta < 15, "the kernel bridge received \(kernelDelta) frames for 40 known-unicast frames")
    }

    @Test("bridge link set flood off on a port stops unknown unicast reaching its host")
    func floodOff() throws {
        let lab = try Lab()
        try lab.sw.bridge("link set dev swp2 flood off")
        let applied = try lab.pump(until: {
            lab.asic.readBack().contains { if case .port(let p) = $0 { p.port == 2 && !p.unicastFlood } else { false } }
        })
        #expect(applied, "flood off did not reach the chip")
        let before = lab.asic.counters().drops[.floodSuppressed] ?? 0
        // A frame to an unknown MAC from host 1 (its ARP table pinned to a MAC nobody has).
        try lab.hosts[0].ip("neigh add 10.0.0.99 lladdr 02:00:00:00:99:99 dev eth0")
        _ = try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.99"], in: lab.hosts[0])
        // swp2 is the only other port: with its flood off, each unknown unicast frame has
        // nowhere to go and is dropped as flood_suppressed instead of reaching host 2.
        #expect((lab.asic.counters().drops[.floodSuppressed] ?? 0) - before >= 2, "unknown unicast was flooded")
    }
}

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
        #expect(drops[.truncatedVXLAN] == 1, "\(drops)")
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
    }
}

@Suite("Emulated switch: VXLAN end to end", needsRoot, .serialized)
struct EmulatedSwitchVXLANTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    @Test("a host behind the chip pings a remote Linux VTEP: the chip encapsulates and decapsulates")
    func remoteVTEP() throws {
        // Port 1: a host in VLAN-unaware br0 with vxlan100; port 2: the routed underlay to
        // a remote VTEP namespace whose kernel vxlan device carries 10.0.0.2.
        let lab = try Lab(hosts: 2, address: { $0 == 1 ? "10.0.0.1/24" : "192.168.100.2/24" }, configure: { sw in
            try sw.ipScript("""
                addr add 192.168.100.1/24 dev swp2
                link set swp2 up
                link add br0 type bridge
                link set swp1 master br0
                link set swp1 up
                link add vxlan100 type vxlan id 100 local 192.168.100.1 dstport 4789 nolearning
                link set vxlan100 master br0
                link set vxlan100 up
                link set br0 up
                """)
            try sw.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 192.168.100.2")
        })
        let remote = lab.hosts[1]
        try remote.ipScript("""
            link add vxlan100 type vxlan id 100 local 192.168.100.2 dstport 4789 nolearning
            link set vxlan100 address 02:00:00:00:20:02
            addr add 10.0.0.2/24 dev vxlan100
            link set vxlan100 up
            """)
        try remote.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 192.168.100.1")
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: .vxlanTunnel(100)) == .offloaded }))
        #expect(lab.daemon.engine.state(of: .vxlanFlood(100, IPAddress("192.168.100.2")!)) == .offloaded)

        // A capture on the remote's underlay interface reads the outer headers the chip built.
        let capture = Process()
        capture.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        capture.arguments = ["netns", "exec", remote.name, "python3", "-c", Self.underlayCapture]
        let captured = Pipe()
        capture.standardOutput = captured
        try capture.run()
        usleep(200_000)
        let status = try lab.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0])
        #expect(status == 0, "ping to the remote VTEP's host failed")
        capture.waitUntilExit()
        let outer = String(decoding: captured.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // Outer: from the local VTEP to the remote, UDP 4789, the I flag, VNI 100; inner: host
        // 1 to the remote's vxlan100 MAC, IPv4.
        #expect(outer == "src=192.168.100.1 dst=192.168.100.2 dport=4789 flags=08 vni=100 inner_src=02:00:00:00:10:01 "
                + "inner_dst=02:00:00:00:20:02 inner_type=0800", "captured: \(outer)")
        let c = lab.asic.counters()
        // Encapsulated frames left on the underlay port; decapsulated ones reached host 1.
        #expect((c.ports[2]?.txPackets ?? 0) >= 3, "the chip encapsulated nothing: \(c.ports[2]!)")
        #expect((c.ports[1]?.txPackets ?? 0) >= 3, "the chip decapsulated nothing: \(c.ports[1]!)")

        // The remote MAC the chip learned from the tunnel is written back on vxlan100, in
        // the device's table with its VTEP and in the bridge's, both extern_learn.
        var entries: [[String: Any]] = []
        let written = try lab.pump(until: {
            entries = ((try? lab.sw.bridgeJSON("fdb show dev vxlan100")) ?? []).filter { ($0["mac"] as? String) == "02:00:00:00:20:02" }
            return entries.count == 2
        })
        #expect(written, "vxlan100 entries for the remote MAC: \(entries)")
        #expect(entries.allSatisfy { (($0["flags"] as? [String]) ?? []).contains("extern_learn") }, "\(entries)")
        #expect(entries.contains { ($0["dst"] as? String) == "192.168.100.2" }, "\(entries)")
        #expect(lab.daemon.statistics.fdbWriteFailures == 0)
        // The switch's own address on the bridge, from across the tunnel: the chip traps the
        // packets still encapsulated up the underlay port; the kernel's vxlan100 takes them.
        try lab.sw.ip("addr add 10.0.0.254/24 dev br0")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.254"], in: remote) == 0,
                "the remote could not reach the bridge's address through the tunnel: \(lab.lastOutput)")
        // Written back, not re-programmed as a static tunnel entry.
        #expect(lab.daemon.engine.state(of: .fdb(BridgeID(rawValue: try #require(
            lab.daemon.mirror.tables.links.values.first { $0.name == "br0" }).index.rawValue), .none, MACAddress("02:00:00:00:20:02")!)) == nil)
    }

    /// Prints the outer and inner headers of the first VXLAN-encapsulated ICMP packet from
    /// the local VTEP.
    static let underlayCapture = """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        end = time.time() + 4
        while time.time() < end:
            try:
                f = s.recv(2048)
            except socket.timeout:
                continue
            ip = f[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != "192.168.100.1":
                continue
            udp = ip[ihl:]
            vx = udp[8:16]
            inner = udp[16:]
            if inner[12:14] != b"\\x08\\x00" or inner[23] != 1:
                continue  # not the ICMP echo (the bridge's own IGMP reports are flooded too)
            mac = lambda b: ":".join("%02x" % x for x in b)
            print("src=%s dst=%s dport=%d flags=%02x vni=%d inner_src=%s inner_dst=%s inner_type=%s" % (
                socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), int.from_bytes(udp[2:4], "big"),
                vx[0], int.from_bytes(vx[4:7], "big"), mac(inner[6:12]), mac(inner[0:6]), inner[12:14].hex()))
            break
        """
}

@Suite("Emulated switch: IGMP snooping end to end", needsRoot, .serialized)
struct EmulatedSwitchMulticastTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    static let receiver = """
        import socket, struct
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", 5000))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton("239.1.1.1"), socket.inet_aton("10.0.0.2")))
        s.settimeout(3)
        n = 0
        try:
            while True:
                s.recv(100)
                n += 1
        except socket.timeout:
            pass
        print(n)
        """

    /// Counts frames to the group's MAC arriving on eth0 for 3 seconds.
    static let sniffer = """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        n = 0
        end = time.time() + 3
        while time.time() < end:
            try:
                if s.recv(2048)[:6] == bytes.fromhex("01005e010101"):
                    n += 1
            except socket.timeout:
                pass
        print(n)
        """

    static let sender = """
        import socket, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.0.0.1"))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for i in range(5):
            s.sendto(b"stream", ("239.1.1.1", 5000))
            time.sleep(0.05)
        """

    @Test("a receiver joins a group: the kernel snoops it, the chip replicates the stream only to the member port")
    func snooping() throws {
        let lab = try Lab(hosts: 3)
        func start(_ script: String, in host: TestNamespace) throws -> (Process, Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", host.name, "python3", "-c", script]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            return (p, out)
        }
        let (join, joined) = try start(Self.receiver, in: lab.hosts[1])
        let (sniff, sniffed) = try start(Self.sniffer, in: lab.hosts[2])
        defer {
            if join.isRunning { join.terminate() }
            if sniff.isRunning { sniff.terminate() }
        }
        let group = HardwareKey.mdb(BridgeID(rawValue: try #require(lab.daemon.mirror.tables.links.values.first { $0.name == "br0" }).index.rawValue),
                                    .none, .ip(IPAddress("239.1.1.1")!))
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: group) == .offloaded }), "the snooped group did not reach the chip")
        #expect(try lab.run(["python3", "-c", Self.sender], in: lab.hosts[0]) == 0)
        while join.isRunning || sniff.isRunning { try lab.pump(milliseconds: 20) }
        func count(_ pipe: Pipe) -> Int {
            Int(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        #expect(count(joined) == 5, "the member did not receive the stream")
        #expect(count(sniffed) == 0, "the stream reached a host that did not join")
    }
}


@Suite("Emulated switch: STP end to end", needsRoot, .serialized)
struct EmulatedSwitchSTPTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    @Test("a cable between two ports makes a loop: kernel STP blocks one, the chip discards there, BPDUs are trapped, no storm")
    func loop() throws {
        let lab = try Lab(hosts: 2, cables: [(3, 4)], configure: { sw in
            try sw.ip("link add br0 type bridge stp_state 1 forward_delay 200 hello_time 100")
            for n in 1...4 {
                try sw.ip("link set swp\(n) master br0")
                try sw.ip("link set swp\(n) up")
            }
            try sw.ip("link set br0 up")
        })
        // Kernel STP settles (listening, learning: 2 × 2 s); one of swp3/swp4 ends blocking.
        func state(_ n: UInt16) -> STPState? {
            lab.asic.readBack().lazy.compactMap { if case .port(let p) = $0, p.port.rawValue == n { p.stpState } else { nil } }.first
        }
        let settled = try lab.pump(seconds: 15, until: {
            state(1) == .forwarding && state(2) == .forwarding && [state(3), state(4)].contains(.blocking)
        })
        #expect(settled, "ports: \((1...4).map { state(UInt16($0))?.description ?? "-" })")
        #expect((lab.asic.counters().traps[.stp]?.packets ?? 0) > 0, "BPDUs were not trapped to the CPU")
        // A broadcast into the loop: each port carries it at most once; the blocked port drops it.
        let before = lab.asic.counters()
        #expect(try lab.run(["ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.255"], in: lab.hosts[0]) >= 0)
        try lab.pump(milliseconds: 100)
        let after = lab.asic.counters()
        let looped = (after.ports[3]!.rxPackets - before.ports[3]!.rxPackets) + (after.ports[4]!.rxPackets - before.ports[4]!.rxPackets)
        // 3 broadcasts cross the cable at most once each way; BPDUs (hello 1 s) and IPv6
        // neighbour/MLD chatter add a few. A storm would be thousands in this window.
        #expect(looped <= 50, "frames kept circling the loop: \(looped)")
        #expect((after.drops[.stpBlocked] ?? 0) > (before.drops[.stpBlocked] ?? 0), "the blocked port did not discard")
        #expect(try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
    }
}
