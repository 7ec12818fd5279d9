import EmulatedASIC
import EmulatedASICIO
import Foundation
import Synchronization
import SwitchDriver
import SwitchModel

/// `l2-forward`: known-unicast 60-byte UDP frames per second forwarded by the emulated
/// chip between two veth wires, against the Linux kernel bridge on the same veths, in
/// the same run.
///
/// ```
///  hoist-bench-l2f-tx-PID          hoist-bench-l2f-sw-PID           hoist-bench-l2f-rx-PID
///  eth0 (generator) ──veth── fp1 ┬ chip run:   ChipPorts port 1 ┐   ┌── fp2 ──veth── eth0 (counted)
///                                │             SwitchChip bridge ├───┤
///                                └ peer run:   br0 (fp1, fp2)  ──┘   └
/// ```
///
/// The generator is a thread with a `WireSocket` on the sender's eth0 (batches of 256
/// frames by sendmmsg, unthrottled), the same for both runs. Frames go to the receiver's
/// MAC, which is a static FDB entry on port 2 in the chip and on fp2 in the kernel bridge;
/// the receiver has no IPv4 address, so its kernel drops them after counting (no
/// replies). Offered = the sender eth0's tx_packets, forwarded = the receiver eth0's
/// rx_packets, both over the same window after a warm-up. The chip runs in this process
/// on its own thread (`ChipPorts.pollOnce` in a loop); br_netfilter hooks are switched
/// off in the switch namespace (net.bridge.bridge-nf-call-*=0); IPv6 is off everywhere.
/// Rounds alternate chip and kernel; medians are reported.
struct L2Forward {
    let seconds: Double
    let rounds: Int

    static let senderMAC = MACAddress("02:00:00:00:0a:01")!
    static let receiverMAC = MACAddress("02:00:00:00:0b:01")!

    struct Sample {
        var offered: Double
        var forwarded: Double
        var loss: Double { offered > 0 ? max(0, 1 - forwarded / offered) : 0 }
    }

    func run() throws {
        let id = getpid()
        // The chip needs a core of its own beside the generator's; other load skews the run.
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
        let sw = try ScratchNamespace("hoist-bench-l2f-sw-\(id)", [])
        defer { sw.delete() }
        let tx = try ScratchNamespace("hoist-bench-l2f-tx-\(id)", [])
        defer { tx.delete() }
        let rx = try ScratchNamespace("hoist-bench-l2f-rx-\(id)", [])
        defer { rx.delete() }
        // The TAPs of the chip run live in their own namespace, down: traps go nowhere.
        let hosts = try ScratchNamespace("hoist-bench-l2f-host-\(id)", [])
        defer { hosts.delete() }
        for ns in [sw, tx, rx, hosts] {
            try sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1")
            try sysctl(ns, "net.ipv6.conf.default.disable_ipv6=1")
        }
        let brNetfilter = FileManager.default.fileExists(atPath: "/proc/sys/net/bridge")
        if brNetfilter {
            for table in ["iptables", "ip6tables", "arptables"] { try sysctl(sw, "net.bridge.bridge-nf-call-\(table)=0") }
        }
        for (n, host, mac) in [(1, tx, Self.senderMAC), (2, rx, Self.receiverMAC)] {
            try ip(sw, "link add fp\(n) type veth peer name eth0 netns \(host.name)")
            try ip(sw, "link set fp\(n) up")
            try ip(host, "link set eth0 address \(mac)")
            try ip(host, "link set eth0 up")
        }
        let frame = FrameBuilder.udp(srcMAC: Self.senderMAC, dstMAC: Self.receiverMAC, src: IPAddress("10.9.0.1")!,
                                     dst: IPAddress("10.9.0.2")!, srcPort: 4000, dstPort: 9)
        let generator = try Generator(interface: "eth0", namespace: tx.name, frame: frame)

        var chip: [Sample] = [], kernel: [Sample] = []
        var chipCPU: [Double] = []
        var ringDrops = 0, txDropped = 0
        for round in 1...rounds {
            // The chip: a bridge over ports 1 and 2, the receiver's MAC static on port 2.
            let asic = EmulatedASIC(profile: .datacenter)
            try PipelineBench.program(asic, [.bridge(BridgeSettings(bridge: 1)), .port(PortSettings(port: 1, bridge: 1)),
                                             .port(PortSettings(port: 2, bridge: 1)),
                                             .fdb(HardwareFDBEntry(bridge: 1, mac: Self.receiverMAC, destination: .port(2)))])
            let ports = try ChipPorts(chip: asic.chip, bindings: [.init(port: 1, wire: "fp1"), .init(port: 2, wire: "fp2")],
                                      wireNamespace: sw.name, hostNamespace: hosts.name)
            let loop = ChipLoop(ports)
            let c = try measure(generator, tx: tx, rx: rx)
            let cpu = loop.stop()
            chip.append(c)
            chipCPU.append(cpu)
            let one = ports.wireStatistics(1)!, two = ports.wireStatistics(2)!
            ringDrops += one.ringDrops
            txDropped += two.txDropped
            FileHandle.standardError.write(Data("""
                l2-forward round \(round): chip offered \(Int(c.offered)) pps, forwarded \(Int(c.forwarded)) pps \
                (loss \(number(c.loss * 100, 2)) %; chip thread CPU \(number(cpu * 100, 0)) %; RX ring drops \(one.ringDrops), \
                blocks \(one.blocks); TX batches \(two.batches), dropped \(two.txDropped))\n
                """.utf8))
            withExtendedLifetime(ports) {}

            // The peer: the kernel bridge over the same veths.
            try ip(sw, "link add br0 type bridge")
            try ip(sw, "link set fp1 master br0")
            try ip(sw, "link set fp2 master br0")
            try ip(sw, "link set br0 up")
            try shell(["bridge", "-n", sw.name, "fdb", "add", Self.receiverMAC.description, "dev", "fp2", "master", "static"])
            let k = try measure(generator, tx: tx, rx: rx)
            try ip(sw, "link del br0")
            kernel.append(k)
            FileHandle.standardError.write(Data("""
                l2-forward round \(round): kernel bridge offered \(Int(k.offered)) pps, forwarded \(Int(k.forwarded)) pps \
                (loss \(number(k.loss * 100, 2)) %)\n
                """.utf8))
        }
        let c = median(chip), k = median(kernel)
        emit([("bench", "\"l2-forward\""), ("value", String(Int(c.forwarded))), ("unit", "\"frames/s\""),
              ("peer", "\"Linux kernel bridge on the same veths (br_netfilter off)\""), ("peer_value", String(Int(k.forwarded))),
              ("ratio", number(c.forwarded / k.forwarded)),
              ("offered_chip", String(Int(c.offered))), ("offered_kernel", String(Int(k.offered))),
              ("loss_chip", number(c.loss, 4)), ("loss_kernel", number(k.loss, 4)),
              ("chip_thread_cpu", number(chipCPU.sorted()[chipCPU.count / 2], 2)),
              ("rx_ring_drops", String(ringDrops)), ("tx_dropped", String(txDropped)),
              ("frame_bytes", String(frame.count)), ("seconds", number(seconds, 1)), ("rounds", String(rounds)),
              ("br_netfilter", brNetfilter ? "\"built in; bridge-nf-call-* set to 0 in the switch namespace\"" : "\"absent\""),
              ("loadavg_at_start", string(load)), ("goal", "\"ratio ≥ 1.0\"")])
    }

    /// Runs the generator for a warm-up and `seconds`, and reads the sender's and the
    /// receiver's interface counters around the window.
    func measure(_ generator: Generator, tx: ScratchNamespace, rx: ScratchNamespace) throws -> Sample {
        generator.start()
        defer { generator.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        let sent0 = try packets(tx, "tx"), got0 = try packets(rx, "rx")
        let t0 = now()
        Thread.sleep(forTimeInterval: seconds)
        let sent1 = try packets(tx, "tx"), got1 = try packets(rx, "rx")
        let elapsed = now() - t0
        return Sample(offered: Double(sent1 - sent0) / elapsed, forwarded: Double(got1 - got0) / elapsed)
    }

    func median(_ samples: [Sample]) -> Sample {
        let s = samples.sorted { $0.forwarded < $1.forwarded }
        return s[s.count / 2]
    }

    /// eth0's `direction` packet counter in `ns` (`ip -s -j link`).
    func packets(_ ns: ScratchNamespace, _ direction: String) throws -> Int {
        let out = try capture(["ip", "-n", ns.name, "-s", "-j", "link", "show", "dev", "eth0"])
        guard let links = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
              let stats = links.first?["stats64"] as? [String: Any], let dir = stats[direction] as? [String: Any],
              let n = dir["packets"] as? Int else { throw BenchError(message: "no \(direction) counter for eth0 in \(ns.name): \(out)") }
        return n
    }

    func ip(_ ns: ScratchNamespace, _ command: String) throws {
        try shell(["ip", "-n", ns.name] + command.split(separator: " ").map(String.init))
    }

    func sysctl(_ ns: ScratchNamespace, _ setting: String) throws {
        try shell(["ip", "netns", "exec", ns.name, "sysctl", "-qw", setting])
    }
}

/// The traffic generator: one thread sending `frame` as fast as the sender's socket
/// takes it (batches of 256 by sendmmsg), between `start()` and `stop()`.
final class Generator: @unchecked Sendable {
    let socket: WireSocket
    let frame: [UInt8]
    let running = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)

    init(interface: String, namespace: String, frame: [UInt8]) throws {
        socket = try WireSocket(interface: interface, namespace: namespace)
        self.frame = frame
    }

    func start() {
        running.store(true, ordering: .relaxed)
        let thread = Thread { [self] in
            frame.withUnsafeBytes { bytes in
                while running.load(ordering: .relaxed) {
                    for _ in 0..<256 { socket.enqueue(bytes) }
                    socket.flush()
                }
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
    }
}

/// The chip's I/O loop on its own thread until `stop()`, which returns the thread's CPU
/// share (its CPU time over the wall time).
final class ChipLoop: @unchecked Sendable {
    let ports: ChipPorts
    let running = Atomic<Bool>(true)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var cpu = 0.0
    let started = now()

    init(_ ports: ChipPorts) {
        self.ports = ports
        Thread { [self] in
            while running.load(ordering: .relaxed) { _ = try? self.ports.pollOnce(timeoutMilliseconds: 1) }
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            cpu = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
            done.signal()
        }.start()
    }

    func stop() -> Double {
        running.store(false, ordering: .relaxed)
        done.wait()
        return cpu / (now() - started)
    }
}
