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

    @Test("a bridge with a member the chip cannot reach (a veth) stays on the CPU: hosts on both sides reach each other")
    func nonChipMember() throws {
        let other = try TestNamespace("h3")
        let lab = try Lab(configure: { sw in
            try Lab.bridgeAll(sw)
            try sw.ip("link add vport type veth peer name eth0 netns \(other.name)")
            try sw.ip("link set vport master br0")
            try sw.ip("link set vport up")
        })
        try other.ipScript("""
            link set eth0 address 02:00:00:00:10:03
            addr add 10.0.0.3/24 dev eth0
            link set eth0 up
            """)
        let br0 = try #require(lab.daemon.mirror.tables.links.values.first { $0.name == "br0" })
        let bridge = HardwareKey.bridge(BridgeID(rawValue: br0.index.rawValue))
        var state: OffloadState?
        #expect(try lab.pump(until: { state = lab.daemon.engine.state(of: bridge); return state != nil }))
        guard case .trapped(let reason)? = state else {
            Issue.record("br0 should stay on the CPU, is \(String(describing: state))")
            return
        }
        #expect(reason.contains("vport"), "\(reason)")
        // The kernel bridges: the chip-side host reaches the veth-side host and its neighbour.
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.3"], in: lab.hosts[0]) == 0,
                "host 1 could not reach the host behind the veth: \(lab.lastOutput)")
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: other) == 0,
                "the veth-side host could not reach host 2: \(lab.lastOutput)")
        // The veth leaves: the chip bridges again and forwards host 1 ↔ host 2 itself.
        try lab.sw.ip("link set vport nomaster")
        #expect(try lab.pump(until: { lab.daemon.engine.state(of: bridge) == .offloaded }))
        let before = lab.asic.counters().ports[2]?.txPackets ?? 0
        #expect(try lab.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0]) == 0)
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - before >= 3, "the chip did not forward after the veth left")
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
