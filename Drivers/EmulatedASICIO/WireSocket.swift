import CPacketIO
import Glibc
import SystemCall

/// A front-panel wire: an AF_PACKET socket bound to one interface that moves frames in
/// bursts, not one syscall each — received through the kernel's TPACKET_V3 RX ring
/// (packet_mmap, Documentation/networking/packet_mmap.rst), sent with sendmmsg().
///
/// ```
///  RX: kernel ──copies frames into──► block 0 │ block 1 │ … │ block N-1   (TPACKET_V3)
///      a block goes to user space (TP_STATUS_USER) when full or after the block timeout;
///      receive() walks its frames in place and hands the block back (TP_STATUS_KERNEL)
///  TX: enqueue() copies a frame into the staging buffer; flush() sends the batch with
///      sendmmsg(), 64 frames per syscall
/// ```
///
/// Transmit uses sendmmsg rather than PACKET_TX_RING: on this machine's kernel (6.18,
/// veth) sendmmsg sent 60-byte frames 7–20 % faster than a TX ring kicked once per 256
/// frames, in alternating runs (Docs/EmulatedASIC.md, "Packet I/O").
///
/// Frames are delivered as they were on the wire: the 802.1Q tag the kernel moved into
/// the frame header (TP_STATUS_VLAN_VALID) is put back. A frame larger than an RX block
/// arrives truncated (tp_snaplen < tp_len): it is counted and not delivered, as a NIC
/// drops an oversize frame. One thread uses a socket; it is not shared.
public final class WireSocket {
    /// The RX ring's and the TX batch's sizes. RX blocks must be a multiple of the page
    /// size; the largest frame that arrives whole is a block less ~130 bytes of headers.
    public struct Geometry: Sendable {
        public var blockSize: Int
        public var blockCount: Int
        /// A partly filled block goes to user space after this long (tp_retire_blk_tov):
        /// the added latency when traffic is light.
        public var blockTimeoutMilliseconds: Int
        /// At most this many frames, and this many bytes, wait for one flush; a frame
        /// that would exceed either flushes the batch first.
        public var txBatchFrames: Int
        public var txBatchBytes: Int

        public init(blockSize: Int, blockCount: Int, blockTimeoutMilliseconds: Int, txBatchFrames: Int = 256,
                    txBatchBytes: Int = 256 << 10) {
            self.blockSize = blockSize
            self.blockCount = blockCount
            self.blockTimeoutMilliseconds = blockTimeoutMilliseconds
            self.txBatchFrames = txBatchFrames
            self.txBatchBytes = txBatchBytes
        }

        /// 16 × 128 KiB RX blocks (a 64 KiB GSO frame fits; ~16k small frames of
        /// buffering): 2 MiB of kernel memory per port; TX batches of up to 256 frames.
        public static let standard = Geometry(blockSize: 128 << 10, blockCount: 16, blockTimeoutMilliseconds: 1)
    }

    /// What went through the socket. `ringDrops` and `ringFreezes` are the kernel's
    /// PACKET_STATISTICS (frames it could not put in a full ring), read by `readKernelStatistics()`.
    public struct Statistics: Sendable, Equatable {
        public var received = 0
        public var truncated = 0
        public var transmitted = 0
        /// Frames the kernel refused (over the MTU) or could not take (send buffer full):
        /// dropped, as on a wire; and the errno of the last such refusal.
        public var txDropped = 0
        public var lastTxError: Int32 = 0
        /// Batches flushed (each is ⌈frames / 64⌉ sendmmsg calls).
        public var batches = 0
        public var ringDrops = 0
        public var ringFreezes = 0
        /// RX blocks handed back to the kernel.
        public var blocks = 0
    }

    public let interface: String
    public let geometry: Geometry
    public let fd: Int32
    /// The interface index bound at open: a wire made again under the same name has
    /// another, and this socket no longer sees it.
    public let ifindex: Int32
    public private(set) var statistics = Statistics()

    private var ring: hoist_packet_ring
    private let rxBase: UnsafeMutableRawPointer
    /// The RX block being read, how many of its frames are left, and where the next one is.
    private var rxBlock = 0
    private var rxRemaining = 0
    private var rxOffset = 0
    /// The TX batch: frames copied into `txBuffer`, one iovec each.
    private let txBuffer: UnsafeMutableRawPointer
    private let txFrames: UnsafeMutablePointer<iovec>
    private var txCount = 0
    private var txBytes = 0
    /// Where a frame with its VLAN tag put back is assembled.
    private let scratch: UnsafeMutableRawPointer
    private let scratchSize: Int

    /// Opens the socket on `interface` in `namespace` (the caller's when nil): promiscuous,
    /// all protocols, not seeing its own transmissions (PACKET_IGNORE_OUTGOING), with
    /// an RX ring of `geometry`. Throws `PacketIOError` naming the step that failed.
    public init(interface: String, namespace: String? = nil, geometry: Geometry = .standard) throws {
        self.interface = interface
        self.geometry = geometry
        precondition(geometry.txBatchFrames > 0 && geometry.txBatchBytes >= 65_536, "a TX batch holds at least one 64 KiB frame")
        var opened: Int32 = -1
        try withNetworkNamespace(namespace) {
            opened = hoist_packet_open(interface)
            guard opened >= 0 else { throw PacketIOError(operation: "AF_PACKET socket on \(interface)", code: -opened) }
        }
        fd = opened
        var ring = hoist_packet_ring()
        var step: UnsafePointer<CChar>?
        let rc = hoist_packet_ring_setup(fd, UInt32(geometry.blockSize), UInt32(geometry.blockCount),
                                         UInt32(geometry.blockTimeoutMilliseconds), &ring, &step)
        guard rc == 0, let map = ring.map else {
            close(fd)
            let what = step.map { String(cString: $0) } ?? "ring setup"
            throw PacketIOError(operation: "\(what) on \(interface) (TPACKET_V3, \(geometry.blockCount) blocks of \(geometry.blockSize) bytes)",
                                code: -rc)
        }
        // Bound only now that the ring exists (see hoist_packet_bind).
        let bound = hoist_packet_bind(fd, interface)
        guard bound == 0 else {
            hoist_packet_ring_unmap(&ring)
            close(fd)
            throw PacketIOError(operation: "bind to \(interface)", code: -bound)
        }
        ifindex = hoist_link_index(fd, interface)
        self.ring = ring
        rxBase = map
        scratchSize = geometry.blockSize + 4
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
        txBuffer = .allocate(byteCount: geometry.txBatchBytes, alignment: 16)
        txFrames = .allocate(capacity: geometry.txBatchFrames)
    }

    deinit {
        hoist_packet_ring_unmap(&ring)
        close(fd)
        scratch.deallocate()
        txBuffer.deallocate()
        txFrames.deallocate()
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

    /// Queues a copy of `frame` for transmission; `flush()` sends the queue. A full batch
    /// is flushed first. Frames larger than the batch buffer (never on a veth: 64 KiB at
    /// most) are dropped.
    public func enqueue(_ frame: UnsafeRawBufferPointer) {
        guard let base = frame.baseAddress, frame.count <= geometry.txBatchBytes else {
            statistics.txDropped += 1
            return
        }
        if txCount == geometry.txBatchFrames || txBytes + frame.count > geometry.txBatchBytes { flush() }
        let slot = txBuffer + txBytes
        slot.copyMemory(from: base, byteCount: frame.count)
        txFrames[txCount] = iovec(iov_base: slot, iov_len: frame.count)
        txCount += 1
        txBytes += (frame.count + 15) & ~15
    }

    /// Sends the queued frames: sendmmsg, 64 per call; none when nothing is queued. A frame
    /// the kernel refuses is dropped and the rest still go; when the socket can take no
    /// more, the rest are dropped (a full wire drops, it does not block).
    public func flush() {
        guard txCount > 0 else { return }
        var error: Int32 = 0
        let sent = Int(hoist_packet_send_batch(fd, txFrames, UInt32(txCount), &error))
        statistics.transmitted += sent
        statistics.txDropped += txCount - sent
        if error != 0 { statistics.lastTxError = error }
        statistics.batches += 1
        txCount = 0
        txBytes = 0
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
    public var description: String { "\(operation): \(Errno(rawValue: code))" }

    /// The same failure, its operation prefixed with what it was for (`port 1 (swp1): …`).
    public func on(_ context: String) -> PacketIOError {
        PacketIOError(operation: "\(context): \(operation)", code: code)
    }
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
