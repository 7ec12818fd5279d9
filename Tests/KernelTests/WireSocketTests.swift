import EmulatedASICIO
import Foundation
import Testing

/// The chip's wire sockets on a real veth pair: the TPACKET_V3 RX ring walked across
/// block boundaries and across calls, batched transmit, and the edge cases a ring adds
/// over recv() (truncation, the VLAN tag the kernel moves out of the frame).
@Suite("Wire socket: TPACKET_V3 rings on a veth", needsRoot, .serialized)
struct WireSocketTests {
    /// 4 KiB RX blocks hold three 1000-byte frames: bursts cross many blocks.
    static let small = WireSocket.Geometry(blockSize: 4096, blockCount: 16, blockTimeoutMilliseconds: 1)
    /// An experimental EtherType (IEEE 802 local experimental), so IPv6 chatter on the
    /// veth (DAD, MLD, router solicitations) is told apart.
    static let etherType: [UInt8] = [0x88, 0xB5]

    /// A namespace with a veth pair wa–wb (MTU `mtu`), a socket with `small` rings on each end.
    func pair(mtu: Int = 1500) throws -> (TestNamespace, receiver: WireSocket, sender: WireSocket) {
        let ns = try TestNamespace("wire")
        try ns.ipScript("""
            link add name wa type veth peer name wb
            link set wa mtu \(mtu)
            link set wb mtu \(mtu)
            link set wa up
            link set wb up
            """)
        return (ns, try WireSocket(interface: "wa", namespace: ns.name, geometry: Self.small),
                try WireSocket(interface: "wb", namespace: ns.name, geometry: Self.small))
    }

    /// Frame `seq` of `bytes` bytes: fixed MACs, the experimental EtherType, then the
    /// sequence number and a fill that depends on it.
    func frame(_ seq: Int, bytes: Int, tag: [UInt8] = []) -> [UInt8] {
        var f: [UInt8] = [0x02, 0, 0, 0, 0, 0xBB, 0x02, 0, 0, 0, 0, 0xAA] + tag + Self.etherType
        f += [UInt8(seq >> 8), UInt8(seq & 0xFF)]
        while f.count < bytes { f.append(UInt8(truncatingIfNeeded: seq &* 31 &+ f.count)) }
        return f
    }

    /// Reads frames with the experimental EtherType (tagged or not) until `count` arrived,
    /// `budget` per call; gives up after 5 s so a lost frame fails the test rather than hangs it.
    func collect(_ socket: WireSocket, count: Int, budget: Int) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(5)
        while frames.count < count, Date() < deadline {
            let n = socket.receive(budget: budget) { bytes, _ in
                let f = Array(bytes)
                if f.count >= 14, Array(f[12..<14]) == Self.etherType || Array(f[16..<18]) == Self.etherType { frames.append(f) }
            }
            #expect(n <= budget, "a call delivered more than its budget")
            if n == 0 { usleep(1000) }
        }
        return frames
    }

    @Test("a burst larger than the budget and than a block arrives whole and in order, across calls and blocks")
    func burstAcrossBlocks() throws {
        let (_, receiver, sender) = try pair()
        let sent = (0..<40).map { frame($0, bytes: 1000) }
        for f in sent { f.withUnsafeBytes { sender.enqueue($0) } }
        sender.flush()
        let received = collect(receiver, count: sent.count, budget: 7)
        #expect(received == sent, "received \(received.count) of \(sent.count), or out of order or altered")
        #expect(receiver.statistics.blocks >= 13, "40 frames of 1000 bytes fill at least 13 blocks of 4 KiB")
        #expect(receiver.statistics.truncated == 0)
        #expect(sender.statistics.batches == 1 && sender.statistics.transmitted == sent.count)
        // The ring wraps around: a second burst of 300 small frames (15 of the 16 blocks)
        // uses the blocks handed back; it is more than a TX batch, so it goes in two.
        let again = (40..<340).map { frame($0, bytes: 100) }
        for f in again { f.withUnsafeBytes { sender.enqueue($0) } }
        sender.flush()
        #expect(sender.statistics.batches == 3)
        #expect(collect(receiver, count: again.count, budget: 64) == again)
        receiver.readKernelStatistics()
        #expect(receiver.statistics.ringDrops == 0)
    }

    @Test("a frame larger than an RX block is counted as truncated and not delivered; the ring goes on")
    func largerThanBlock() throws {
        let (_, receiver, sender) = try pair(mtu: 9000)
        let big = frame(1, bytes: 6000), small = frame(2, bytes: 100)
        big.withUnsafeBytes { sender.enqueue($0) }
        small.withUnsafeBytes { sender.enqueue($0) }
        sender.flush()
        #expect(sender.statistics.transmitted == 2)
        #expect(collect(receiver, count: 1, budget: 8) == [small])
        #expect(receiver.statistics.truncated == 1)
    }

    @Test("an 802.1Q tag the kernel moved out of the frame is put back")
    func vlanTagRestored() throws {
        let (_, receiver, sender) = try pair()
        let tagged = frame(3, bytes: 64, tag: [0x81, 0x00, 0x20, 0x0A])   // priority 1, VID 10
        tagged.withUnsafeBytes { sender.enqueue($0) }
        sender.flush()
        #expect(collect(receiver, count: 1, budget: 8) == [tagged])
    }

    @Test("a ring the kernel refuses fails with the step and the sizes, and leaves nothing open")
    func ringRefused() throws {
        let ns = try TestNamespace("wire")
        try ns.ip("link add name wa type veth peer name wb")
        let bad = WireSocket.Geometry(blockSize: 1000, blockCount: 4, blockTimeoutMilliseconds: 1)   // not a page multiple
        #expect {
            _ = try WireSocket(interface: "wa", namespace: ns.name, geometry: bad)
        } throws: { error in
            "\(error)".contains("PACKET_RX_RING on wa") && "\(error)".contains("4 blocks of 1000 bytes")
        }
    }
}
