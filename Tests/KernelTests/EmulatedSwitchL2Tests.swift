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
        let hosts: [TestNamespace]
        let asic = EmulatedASIC()
        let ports: ChipPorts
        let daemon: SwitchDaemon

        init(hosts count: Int = 2) throws {
            sw = try TestNamespace("sw")
            var hosts: [TestNamespace] = []
            var bindings: [ChipPorts.Binding] = []
            for n in 1...count {
                let h = try TestNamespace("h\(n)")
                try sw.ip("link add fp\(n) type veth peer name eth0 netns \(h.name)")
                try sw.ip("link set fp\(n) up")
                try h.ipScript("""
                    link set eth0 address 02:00:00:00:10:0\(n)
                    addr add 10.0.0.\(n)/24 dev eth0
                    link set eth0 up
                    """)
                hosts.append(h)
                bindings.append(.init(port: PortID(UInt16(n)), wire: "fp\(n)"))
            }
            self.hosts = hosts
            ports = try ChipPorts(chip: asic.chip, bindings: bindings, namespace: sw.name)
            try sw.ip("link add br0 type bridge")
            for n in 1...count {
                try sw.ip("link set swp\(n) master br0")
                try sw.ip("link set swp\(n) up")
            }
            try sw.ip("link set br0 up")
            daemon = try SwitchDaemon(namespace: sw.name, driver: asic)
            try daemon.start()
        }

        /// Runs the chip and the daemon until `process` exits; its exit status.
        func run(_ arguments: [String], in host: TestNamespace, seconds: Double = 10) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", host.name] + arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(seconds)
            while p.isRunning, Date() < deadline { try pump(milliseconds: 5) }
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
            return p.terminationStatus
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
    }

    @Test("bridge link set flood off on a port stops unknown unicast reaching its host")
    func floodOff() throws {
        let lab = try Lab()
        try lab.sw.bridge("link set dev swp2 flood off")
        try lab.pump(milliseconds: 50)
        let before = lab.asic.counters().drops[.floodSuppressed] ?? 0
        // A frame to an unknown MAC from host 1 (its ARP table pinned to a MAC nobody has).
        try lab.hosts[0].ip("neigh add 10.0.0.99 lladdr 02:00:00:00:99:99 dev eth0")
        _ = try lab.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.99"], in: lab.hosts[0])
        // swp2 is the only other port: with its flood off, each unknown unicast frame has
        // nowhere to go and is dropped as flood_suppressed instead of reaching host 2.
        #expect((lab.asic.counters().drops[.floodSuppressed] ?? 0) - before >= 2, "unknown unicast was flooded")
    }
}
