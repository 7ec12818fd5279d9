import Daemon
import EmulatedASIC
import EmulatedASICIO
import Foundation
import SwitchDriver
import SwitchModel
import Testing

@Suite("Emulated switch: IGMP snooping end to end", needsRoot, .serialized)
struct EmulatedSwitchMulticastTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    static let receiver = """
        import socket, struct
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", 5000))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton("239.1.1.1"), socket.inet_aton("10.0.0.2")))
        s.settimeout(6)
        n = 0
        try:
            while True:
                s.recv(100)
                n += 1
        except socket.timeout:
            pass
        print(n)
        """

    /// Counts the stream's UDP frames to the group's MAC arriving on eth0 for 6 seconds.
    static let sniffer = """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        n = 0
        end = time.time() + 6
        while time.time() < end:
            try:
                d = s.recv(2048)
                # The stream's UDP datagrams only: an IGMPv2 report also goes to the group's
                # MAC, and the kernel floods reports while it has no querier yet.
                if d[:6] == bytes.fromhex("01005e010101") and d[23] == 17:
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

    /// With the bridge as querier (settled after its 1 s response interval) the kernel
    /// snoops, and the chip replicates to the member only; with no querier the kernel
    /// floods (`br_multicast_querier_exists`), so the chip traps and the host that did not
    /// join receives the stream too, as from the kernel's bridge.
    @Test("a receiver joins a group: with a querier the chip replicates the stream only to the member port; without, it reaches every host as from the kernel",
          arguments: [true, false])
    func snooping(querier: Bool) throws {
        let lab = try Lab(hosts: 3, configure: { sw in
            try Lab.bridgeAll(sw)
            // Two commands: in one, the kernel would apply the querier with the old (10 s) interval.
            if querier { try sw.ipScript("link set br0 type bridge mcast_query_response_interval 100\nlink set br0 type bridge mcast_querier 1") }
        })
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
        // The querier settles: 1 s in the kernel; the chip counts the longest interval the
        // kernel may have used (10 s) on its own clock, which this lab moves by hand.
        try lab.pump(milliseconds: 1500)
        lab.asic.chip.advance(byNanoseconds: 11_000_000_000)
        #expect(try lab.run(["python3", "-c", Self.sender], in: lab.hosts[0]) == 0)
        while join.isRunning || sniff.isRunning { try lab.pump(milliseconds: 20) }
        func count(_ pipe: Pipe) -> Int {
            Int(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        #expect(count(joined) == 5, "the member did not receive the stream")
        #expect(count(sniffed) == (querier ? 0 : 5), querier ? "the stream reached a host that did not join" : "the kernel floods without a querier")
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
