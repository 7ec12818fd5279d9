import Daemon
import EmulatedASIC
import Foundation
import SwitchDriver
import SwitchModel

/// `fdb-learn`: N new source MACs enter the emulated chip on swp1 of a bridge in a scratch
/// namespace; value: MACs per second from the first frame until the kernel's FDB holds all
/// of them as `extern_learn` (seen by hoistd's own mirror). Peer, in the same run: the
/// kernel inserting the same N entries from `bridge -batch` in a second namespace.
/// Goal ≥ 100k/s (mlxsw's published rate is ~50k/s).
struct FDBLearn {
    let macs: Int

    /// br0 over swp1 and swp2 (veths), everything up.
    static let bridge = ["link add br0 type bridge", "link add swp1 type veth peer name p1",
                         "link add swp2 type veth peer name p2", "link set swp1 master br0", "link set swp2 master br0",
                         "link set br0 up", "link set swp1 up", "link set swp2 up", "link set p1 up", "link set p2 up"]

    static func mac(_ i: Int) -> MACAddress { MACAddress(rawValue: 0x0200_1000_0000 + UInt64(i)) }

    func run() throws {
        let scratch = try ScratchNamespace("hoist-bench-learn-\(getpid())", Self.bridge)
        defer { scratch.delete() }
        let peer = try ScratchNamespace("hoist-bench-peer-\(getpid())", Self.bridge)
        defer { peer.delete() }
        let ns = scratch.name, peerNS = peer.name

        // Peer: the kernel's own insert of the same entries from bridge -batch.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(peerNS).batch")
        try (0..<macs).map { "fdb add \(Self.mac($0)) dev swp1 master extern_learn\n" }.joined()
            .write(to: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let peerStart = now()
        try shell(["bridge", "-n", peerNS, "-batch", file.path])
        let peerRate = Double(macs) / (now() - peerStart)

        let asic = EmulatedASIC(profile: .datacenter)
        let daemon = try SwitchDaemon(namespace: ns, driver: asic)
        try daemon.start()
        let baseline = daemon.mirror.tables.fdb.count
        let frames = (0..<macs).map {
            FrameBuilder.udp(srcMAC: Self.mac($0), dstMAC: MACAddress("02:00:00:00:00:fe")!, src: IPAddress("10.0.0.1")!,
                             dst: IPAddress("10.0.0.2")!, srcPort: 1, dstPort: 2)
        }
        var sink = CountingSink()
        let start = now()
        var next = 0
        let deadline = start + 120
        while daemon.mirror.tables.fdb.count - baseline < macs, now() < deadline {
            // Frames in slices that the chip's event FIFO holds, then the daemon writes them back.
            let end = min(next + 4096, macs)
            while next < end {
                frames[next].withUnsafeBytes { asic.chip.process($0, from: 1, into: &sink) }
                next += 1
            }
            try daemon.step(timeoutMilliseconds: next < macs ? 0 : 5)
        }
        let elapsed = now() - start
        let written = daemon.mirror.tables.fdb.count - baseline
        let rate = Double(written) / elapsed
        FileHandle.standardError.write(Data("""
            fdb-learn: \(macs) MACs; chip → kernel extern_learn \(written) in \(number(elapsed, 2)) s \
            (\(Int(rate))/s); bridge -batch \(Int(peerRate))/s; write-back failures \(daemon.statistics.fdbWriteFailures); \
            chip event overflows \(asic.chip.eventOverflows)\n
            """.utf8))
        emit([("bench", "\"fdb-learn\""), ("value", String(Int(rate))), ("unit", "\"MACs/s\""),
              ("peer", "\"kernel bridge -batch insert of the same entries\""), ("peer_value", String(Int(peerRate))),
              ("ratio", number(rate / peerRate)), ("macs", String(macs)), ("written", String(written)),
              ("goal", "\"≥ 100000 MACs/s\""), ("anchor_mlxsw", "\"~50k entries/s\"")])
        if written < macs { throw BenchError(message: "only \(written) of \(macs) MACs reached the kernel") }
    }
}
