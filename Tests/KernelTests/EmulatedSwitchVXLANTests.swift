import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

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

        // The remote MAC the chip learned from the tunnel is written back as the kernel would
        // have learned it: vxlan100 is `nolearning`, so only the bridge learns — one
        // extern_learn entry on the vxlan port, no `dst` (the device's own table stays empty).
        var entries: [[String: Any]] = []
        let written = try lab.pump(until: {
            entries = ((try? lab.sw.bridgeJSON("fdb show dev vxlan100")) ?? []).filter { ($0["mac"] as? String) == "02:00:00:00:20:02" }
            return !entries.isEmpty
        })
        try lab.pump(milliseconds: 100)
        entries = try lab.sw.bridgeJSON("fdb show dev vxlan100").filter { ($0["mac"] as? String) == "02:00:00:00:20:02" }
        #expect(written && entries.count == 1, "vxlan100 entries for the remote MAC: \(entries)")
        #expect(entries.allSatisfy { (($0["flags"] as? [String]) ?? []).contains("extern_learn") && $0["dst"] == nil }, "\(entries)")
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

    @Test("learning off on the vxlan port and nolearning on the device: the chip learns nothing from the tunnel, as the kernel")
    func tunnelLearningOff() throws {
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
            try sw.bridge("link set dev vxlan100 learning off")
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
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0,
                "ping through a non-learning tunnel failed: \(lab.lastOutput)")
        try lab.pump(milliseconds: 200)
        let learned = try lab.sw.bridgeJSON("fdb show br br0").filter { ($0["mac"] as? String) == "02:00:00:00:20:02" }
        #expect(learned.isEmpty, "the kernel would learn nothing behind vxlan100: \(learned)")
    }

    @Test("VXLAN over an IPv6 underlay stays on the CPU with a reason, and hosts still reach the remote VTEP through the kernel")
    func ipv6UnderlayTrapped() throws {
        // As above, but the underlay is IPv6: the chip cannot encapsulate it, so the bridge
        // stays on the CPU and the kernel's vxlan100 carries the traffic.
        let lab = try Lab(hosts: 2, address: { $0 == 1 ? "10.0.0.1/24" : "2001:db8:100::2/64" }, configure: { sw in
            try sw.ipScript("""
                addr add 2001:db8:100::1/64 dev swp2 nodad
                link set swp2 up
                link add br0 type bridge
                link set swp1 master br0
                link set swp1 up
                link add vxlan100 type vxlan id 100 local 2001:db8:100::1 dstport 4789 nolearning
                link set vxlan100 master br0
                link set vxlan100 up
                link set br0 up
                """)
            try sw.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 2001:db8:100::2")
        })
        let remote = lab.hosts[1]
        try remote.ipScript("""
            addr change 2001:db8:100::2/64 dev eth0 nodad
            link add vxlan100 type vxlan id 100 local 2001:db8:100::2 dstport 4789 nolearning
            link set vxlan100 address 02:00:00:00:20:02
            addr add 10.0.0.2/24 dev vxlan100
            link set vxlan100 up
            """)
        try remote.bridge("fdb append 00:00:00:00:00:00 dev vxlan100 dst 2001:db8:100::1")
        let br0 = try #require(lab.daemon.mirror.tables.links.values.first { $0.name == "br0" })
        let bridge = HardwareKey.bridge(BridgeID(rawValue: br0.index.rawValue))
        var state: OffloadState?
        #expect(try lab.pump(until: { state = lab.daemon.engine.state(of: bridge); return state != nil }))
        guard case .trapped(let reason)? = state else {
            Issue.record("br0 should stay on the CPU, is \(String(describing: state))")
            return
        }
        #expect(reason.contains("VXLAN over IPv6"), "\(reason)")
        #expect(lab.daemon.engine.state(of: .vxlanTunnel(100)).map { if case .trapped = $0 { true } else { false } } == true)
        // The kernel bridges and encapsulates: the host reaches the remote VTEP's host, both ways.
        let status = try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0], seconds: 15)
        #expect(status == 0, "ping through the trapped bridge and the kernel's IPv6 VXLAN failed: \(lab.lastOutput)")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.1"], in: remote, seconds: 15) == 0,
                "the remote could not reach the host behind the chip: \(lab.lastOutput)")
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
