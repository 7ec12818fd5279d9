import CPacketIO
import Glibc

/// A front-panel wire: an AF_PACKET socket bound to one interface with the kernel's
/// packet_mmap rings (Documentation/networking/packet_mmap.rst) — a TPACKET_V3 RX ring
/// and a TX ring — so frames move in bursts, not one syscall each.
///
/// ```
///  RX: kernel ──copies frames into──► block 0 │ block 1 │ … │ block N-1   (TPACKET_V3)
///      a block goes to user space (TP_STATUS_USER) when full or after the block timeout;
///      receive() walks its frames in place and hands the block back (TP_STATUS_KERNEL)
///  TX: enqueue() copies a frame into the next free slot (TP_STATUS_SEND_REQUEST);
///      flush() is one send() that makes the kernel transmit every requested slot;
///      a slot is free again (TP_STATUS_AVAILABLE) once the kernel has let go of its skb
/// ```
///
/// Frames are delivered as they were on the wire: the 802.1Q tag the kernel moved into
/// the frame header (TP_STATUS_VLAN_VALID) is put back. A frame larger than an RX block
/// arrives truncated (tp_snaplen < tp_len): it is counted and not delivered, as a NIC
/// drops an oversize frame. A frame larger than a TX slot goes out by a plain send() on a
/// second, send-only socket (a socket with a TX ring sends nothing but its ring).
/// One thread uses a socket; it is not shared.
public final class WireSocket {
    /// The rings' sizes. RX blocks must be a multiple of the page size; the largest frame
    /// that arrives whole is a block less ~130 bytes of headers. TX slots must divide a page.
    public struct Geometry: Sendable {
        public var blockSize: Int
        public var blockCount: Int
        /// A partly filled block goes to user space after this long (tp_retire_blk_tov):
        /// the added latency when traffic is light.
        public var blockTimeoutMilliseconds: Int
        public var txFrameSize: Int
        public var txFrameCount: Int

        public init(blockSize: Int, blockCount: Int, blockTimeoutMilliseconds: Int, txFrameSize: Int, txFrameCount: Int) {
            self.blockSize = blockSize
            self.blockCount = blockCount
            self.blockTimeoutMilliseconds = blockTimeoutMilliseconds
            self.txFrameSize = txFrameSize
            self.txFrameCount = txFrameCount
        }

        /// 16 × 128 KiB RX (a 64 KiB GSO frame fits; ~16k small frames of buffering),
        /// 512 × 2 KiB TX slots (any 1500-MTU frame): 3 MiB of kernel memory per port.
        public static let standard = Geometry(blockSize: 128 << 10, blockCount: 16, blockTimeoutMilliseconds: 1,
                                              txFrameSize: 2048, txFrameCount: 512)
    }

    /// What went through the rings. `ringDrops` and `ringFreezes` are the kernel's
    /// PACKET_STATISTICS (frames it could not put in a full ring), read by `readKernelStatistics()`.
    public struct Statistics: Sendable, Equatable {
        public var received = 0
        public var truncated = 0
        public var transmitted = 0
        /// Frames not sent because every TX slot was still in use.
        public var txRingFull = 0
        /// send() calls that made the kernel transmit the ring (kicks), and frames sent by
        /// plain send() because they were larger than a slot.
        public var kicks = 0
        public var oversizeSends = 0
        public var sendErrors = 0
        public var ringDrops = 0
        public var ringFreezes = 0
        /// RX blocks handed back to the kernel.
        public var blocks = 0
    }

    public let interface: String
    public let geometry: Geometry
    public let fd: Int32
    /// The send-only socket for frames larger than a TX slot.
    private let oversizeFD: Int32
    public private(set) var statistics = Statistics()

    private var ring: hoist_packet_ring
    private let rxBase: UnsafeMutableRawPointer
    private let txBase: UnsafeMutableRawPointer
    private let txDataOffset: Int
    /// The largest frame a TX slot holds.
    private let txCapacity: Int
    /// The RX block being read, how many of its frames are left, and where the next one is.
    private var rxBlock = 0
    private var rxRemaining = 0
    private var rxOffset = 0
    /// The next TX slot to fill, and how many were filled since the last kick.
    private var txNext = 0
    private var txPending = 0
    /// Where a frame with its VLAN tag put back is assembled.
    private let scratch: UnsafeMutableRawPointer
    private let scratchSize: Int

    /// Opens the socket on `interface` in `namespace` (the caller's when nil): promiscuous,
    /// all protocols, not seeing its own transmissions (PACKET_IGNORE_OUTGOING), with
    /// rings of `geometry`. Throws `PacketIOError` naming the step that failed.
    public init(interface: String, namespace: String? = nil, geometry: Geometry = .standard) throws {
        self.interface = interface
        self.geometry = geometry
        var opened: Int32 = -1, sender: Int32 = -1
        try withNetworkNamespace(namespace) {
            opened = hoist_packet_open(interface)
            guard opened >= 0 else { throw PacketIOError(operation: "AF_PACKET socket on \(interface)", code: -opened) }
            sender = hoist_packet_open_sender(interface)
            guard sender >= 0 else {
                close(opened)
                throw PacketIOError(operation: "send-only AF_PACKET socket on \(interface)", code: -sender)
            }
        }
        fd = opened
        oversizeFD = sender
        var ring = hoist_packet_ring()
        var step: UnsafePointer<CChar>?
        let rc = hoist_packet_ring_setup(fd, UInt32(geometry.blockSize), UInt32(geometry.blockCount),
                                         UInt32(geometry.blockTimeoutMilliseconds), UInt32(geometry.txFrameSize),
                                         UInt32(geometry.txFrameCount), &ring, &step)
        guard rc == 0, let map = ring.map else {
            close(fd)
            close(oversizeFD)
            let what = step.map { String(cString: $0) } ?? "ring setup"
            throw PacketIOError(operation: "\(what) on \(interface) (TPACKET_V3, RX \(geometry.blockCount) × \(geometry.blockSize) B, "
                                    + "TX \(geometry.txFrameCount) × \(geometry.txFrameSize) B)", code: -rc)
        }
        self.ring = ring
        rxBase = map
        txBase = map + geometry.blockSize * geometry.blockCount
        txDataOffset = Int(hoist_tx_data_offset())
        txCapacity = geometry.txFrameSize - txDataOffset
        scratchSize = geometry.blockSize + 4
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
    }

    deinit {
        hoist_packet_ring_unmap(&ring)
        close(fd)
        close(oversizeFD)
        scratch.deallocate()
    }

    // MARK: Receive

    /// True when a block is waiting to be read (so a caller should not sleep in poll()).
    public var hasFrames: Bool {
        rxRemaining > 0 || hoist_ring_load_status(hoist_block_status(rxBase + rxBlock * geometry.blockSize)) & UInt32(TP_STATUS_USER) != 0
    }

    /// Hands up to `budget` received frames to `deliver`, in arrival order, each with
    /// whether its L4 checksum is still to be completed (TP_STATUS_CSUMNOTREADY: a
    /// CHECKSUM_PARTIAL packet from a veth peer). The bytes live in the ring (or the
    /// scratch buffer) only during the call; `deliver` may modify them. Frames left over
    /// stay for the next call. Returns the number delivered.
    @discardableResult
    public func receive(budget: Int, _ deliver: (UnsafeMutableRawBufferPointer, _ checksumPending: Bool) -> Void) -> Int {
        var delivered = 0
        while delivered < budget {
            let block = rxBase + rxBlock * geometry.blockSize
            if rxRemaining == 0 {
                guard hoist_ring_load_status(hoist_block_status(block)) & UInt32(TP_STATUS_USER) != 0 else { break }
                rxRemaining = Int(hoist_block_packets(block))
                rxOffset = Int(hoist_block_first_offset(block))
                if rxRemaining == 0 {
                    releaseBlock(block)
                    continue
                }
            }
            let frame = block + rxOffset
            let header = frame.assumingMemoryBound(to: tpacket3_hdr.self)
            let status = header.pointee.tp_status
            let length = Int(header.pointee.tp_snaplen)
            let data = frame + Int(header.pointee.tp_mac)
            rxRemaining -= 1
            rxOffset += Int(header.pointee.tp_next_offset)
            if length < Int(header.pointee.tp_len) {
                statistics.truncated += 1
            } else {
                let pending = status & UInt32(TP_STATUS_CSUMNOTREADY) != 0
                if status & UInt32(TP_STATUS_VLAN_VALID) != 0, length >= 12 {
                    deliver(retagged(data, length, tpid: hoist_frame_vlan_tpid(frame), tci: hoist_frame_vlan_tci(frame)), pending)
                } else {
                    deliver(UnsafeMutableRawBufferPointer(start: data, count: length), pending)
                }
                statistics.received += 1
                delivered += 1
            }
            if rxRemaining == 0 { releaseBlock(block) }
        }
        return delivered
    }

    private func releaseBlock(_ block: UnsafeMutableRawPointer) {
        hoist_ring_store_status(hoist_block_status(block), UInt32(TP_STATUS_KERNEL))
        rxBlock = rxBlock + 1 == geometry.blockCount ? 0 : rxBlock + 1
        statistics.blocks += 1
    }

    /// The frame with its tag back after the source MAC, in the scratch buffer.
    private func retagged(_ data: UnsafeMutableRawPointer, _ length: Int, tpid: UInt16, tci: UInt16) -> UnsafeMutableRawBufferPointer {
        let count = min(length, scratchSize - 4)
        scratch.copyMemory(from: data, byteCount: 12)
        scratch.storeBytes(of: tpid.bigEndian, toByteOffset: 12, as: UInt16.self)
        scratch.storeBytes(of: tci.bigEndian, toByteOffset: 14, as: UInt16.self)
        (scratch + 16).copyMemory(from: data + 12, byteCount: count - 12)
        return UnsafeMutableRawBufferPointer(start: scratch, count: count + 4)
    }

    // MARK: Transmit

    /// Queues a copy of `frame` for transmission; `flush()` sends the queue. When every
    /// slot is taken it kicks the kernel first, and drops the frame (counted in
    /// `txRingFull`) if that frees none — a full wire drops, it does not block. A frame
    /// larger than a slot is sent at once by send(), after the queue. Returns whether the
    /// frame was queued or sent.
    @discardableResult
    public func enqueue(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count <= txCapacity else { return sendOversize(frame) }
        let slot = txBase + txNext * geometry.txFrameSize
        let status = hoist_frame_status(slot)!
        if hoist_ring_load_status(status) != UInt32(TP_STATUS_AVAILABLE) {
            // Requested but not yet taken: a kick may free it. Taken (SENDING): only the
            // receiver letting go of the skb frees it.
            if hoist_ring_load_status(status) == UInt32(TP_STATUS_SEND_REQUEST) { flush(force: true) }
            guard hoist_ring_load_status(status) == UInt32(TP_STATUS_AVAILABLE) else {
                statistics.txRingFull += 1
                return false
            }
        }
        let header = slot.assumingMemoryBound(to: tpacket3_hdr.self)
        header.pointee.tp_len = UInt32(frame.count)
        header.pointee.tp_snaplen = UInt32(frame.count)
        header.pointee.tp_next_offset = 0
        if let base = frame.baseAddress { (slot + txDataOffset).copyMemory(from: base, byteCount: frame.count) }
        hoist_ring_store_status(status, UInt32(TP_STATUS_SEND_REQUEST))
        txNext = txNext + 1 == geometry.txFrameCount ? 0 : txNext + 1
        txPending += 1
        statistics.transmitted += 1
        return true
    }

    /// Makes the kernel transmit every queued frame: one send() (the kick), none when
    /// nothing was queued since the last one. Frames the kernel could not take yet (its
    /// send buffer full) stay requested and go with the next kick.
    public func flush() { flush(force: false) }

    private func flush(force: Bool) {
        guard txPending > 0 || force else { return }
        txPending = 0
        statistics.kicks += 1
        if send(fd, nil, 0, Int32(MSG_DONTWAIT)) < 0, errno != EAGAIN, errno != ENOBUFS { statistics.sendErrors += 1 }
    }

    private func sendOversize(_ frame: UnsafeRawBufferPointer) -> Bool {
        flush()
        statistics.oversizeSends += 1
        guard send(oversizeFD, frame.baseAddress, frame.count, Int32(MSG_DONTWAIT)) == frame.count else {
            statistics.sendErrors += 1
            return false
        }
        statistics.transmitted += 1
        return true
    }

    /// Adds the kernel's RX ring statistics since the last read (PACKET_STATISTICS, which
    /// the kernel resets when read) to `statistics`.
    public func readKernelStatistics() {
        var packets: UInt32 = 0, drops: UInt32 = 0, freezes: UInt32 = 0
        guard hoist_packet_ring_statistics(fd, &packets, &drops, &freezes) == 0 else { return }
        statistics.ringDrops += Int(drops)
        statistics.ringFreezes += Int(freezes)
    }
}

/// A socket, TAP or ring call failed: the operation (with what it was applied to) and errno.
public struct PacketIOError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// Runs `body` with the calling thread in network namespace `namespace` (a name under
/// /var/run/netns, as `ip netns` makes), then returns the thread to its own; sockets and
/// TAPs opened inside stay in that namespace.
func withNetworkNamespace(_ namespace: String?, _ body: () throws -> Void) throws {
    guard let namespace else { return try body() }
    let saved = hoist_netns_enter(namespace)
    guard saved >= 0 else { throw PacketIOError(operation: "enter network namespace \(namespace)", code: -saved) }
    defer { precondition(hoist_netns_leave(saved) == 0, "could not return to the original namespace") }
    try body()
}
