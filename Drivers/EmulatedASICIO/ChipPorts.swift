import CPacketIO
import EmulatedASIC
import Glibc
import SwitchDriver
import SystemCall

/// The emulated chip's packet I/O: each front-panel port is a veth (read and written
/// through a `WireSocket`: AF_PACKET, a TPACKET_V3 RX ring, sendmmsg), and each port has a
/// TAP host interface (`swp1`…) that the kernel sees. Frames from the wire go through
/// `SwitchChip.process`; what the chip forwards leaves through the egress port's veth,
/// what it traps goes up the ingress port's TAP, and what the kernel sends on a TAP leaves
/// through that port's veth.
///
/// ```
///   wire ⇄ veth ──RX ring──► SwitchChip.process ──TX batch of the egress port──► veth
///                                   └──────trap──────► TAP swpN ──► kernel (bridge, IP)
///   kernel ──► TAP swpN ──read()──► TX batch of port N ──► veth
/// ```
///
/// Frames move in bursts: each `pollOnce` reads up to `budget` frames per ring or TAP and
/// then flushes each egress port's batch once (sendmmsg, 64 frames per call), as a NIC driver's
/// NAPI poll does. One thread drives it; the chip is not shared with other threads.
public final class ChipPorts {
    /// A front-panel port: the chip port, the veth that is its wire, the TAP name.
    public struct Binding: Sendable {
        public var port: PortID
        public var wire: String
        public var host: String
        public init(port: PortID, wire: String, host: String? = nil) {
            self.port = port
            self.wire = wire
            self.host = host ?? port.description
        }
    }

    /// A socket, ring or TAP call failed.
    public typealias IOError = PacketIOError

    public let chip: SwitchChip
    public let bindings: [Binding]
    /// Where wires and TAPs live, and the wires' ring geometry: a port whose wire or TAP
    /// went away opens them again with these.
    public let wireNamespace: String?
    public let hostNamespace: String?
    public let geometry: WireSocket.Geometry
    /// Called with what happened to a port's wire or TAP (gone, back, made again), for logging.
    public var log: ((String) -> Void)?
    /// Per port index (0 unused): the wire (nil while it is missing) and the TAP
    /// descriptor (-1 while it is missing).
    var wires: [WireSocket?]
    var tapFDs: [Int32]
    /// Per port: whether the chip left its wire enabled (false: set down because the
    /// control plane set the port down; see `followAdminState`).
    var phyEnabled: [Bool]
    /// The port index of each binding, in binding order.
    let portIndices: [Int]
    /// Poll entries: each binding's wire, then its TAP (fd -1, which poll() skips, while
    /// missing), then the caller's extras.
    var pollFDs: [pollfd] = []
    let buffer: UnsafeMutableRawPointer
    static let bufferSize = 65_536

    /// What an event loop waits on: every wire and TAP, readable.
    public var descriptors: [pollfd] { pollFDs }

    /// True while a ring still holds frames a budget left behind: poll again at once.
    public var hasBacklog: Bool { portIndices.contains { wires[$0]?.hasFrames == true } }

    /// Frames read from the wire, and frames the kernel sent on a TAP to the wire.
    public private(set) var wireFrames = 0
    public private(set) var hostFrames = 0

    /// Opens every binding's wire in `wireNamespace` with rings of `geometry`, and creates
    /// its TAP in `hostNamespace` (the caller's when nil). Keep the wires out of the
    /// switch's own namespace: there the kernel would answer ARP on them and route around
    /// the chip. Throws `IOError` naming the port and the step that failed (a kernel
    /// without TPACKET_V3 rings, or too little memory for them, fails here).
    public init(chip: SwitchChip, bindings: [Binding], wireNamespace: String? = nil, hostNamespace: String? = nil,
                geometry: WireSocket.Geometry = .standard) throws {
        self.chip = chip
        self.bindings = bindings
        self.wireNamespace = wireNamespace
        self.hostNamespace = hostNamespace
        self.geometry = geometry
        let size = Int(bindings.map(\.port.rawValue).max() ?? 0) + 1
        wires = Array(repeating: nil, count: size)
        tapFDs = Array(repeating: -1, count: size)
        phyEnabled = Array(repeating: true, count: size)
        portIndices = bindings.map { Int($0.port.rawValue) }
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        // Every stored property is set: a throw from here on runs `deinit`, which closes
        // what was opened and frees the buffer (freeing it here too was a double free).
        for b in bindings {
            do {
                wires[Int(b.port.rawValue)] = try WireSocket(interface: b.wire, namespace: wireNamespace, geometry: geometry)
            } catch let e as IOError {
                throw e.on("port \(b.port.rawValue) (\(b.host)): front-panel wire \(b.wire)")
            }
        }
        try withNetworkNamespace(hostNamespace) {
            for b in bindings {
                let tap = hoist_tap_open(b.host)
                guard tap >= 0 else { throw IOError(operation: "port \(b.port.rawValue): host interface \(b.host): TAP via /dev/net/tun", code: -tap) }
                tapFDs[Int(b.port.rawValue)] = tap
            }
        }
        // A wire found down is taken as one the chip set down (a chip killed before it
        // could set it up again): the port's first configuration as up enables it.
        for b in bindings {
            let i = Int(b.port.rawValue)
            phyEnabled[i] = hoist_link_admin_up(wires[i]!.fd, b.wire) != 0
        }
        for i in portIndices {
            pollFDs.append(pollfd(fd: wires[i]!.fd, events: Int16(POLLIN), revents: 0))
            pollFDs.append(pollfd(fd: tapFDs[i], events: Int16(POLLIN), revents: 0))
        }
    }

    deinit {
        closeAll()
        buffer.deallocate()
    }

    private func closeAll() {
        // Wires the chip set down are left as they were found: up.
        for b in bindings where !phyEnabled[Int(b.port.rawValue)] {
            if let wire = wires[Int(b.port.rawValue)] { _ = hoist_link_set_up(wire.fd, b.wire, 1) }
        }
        for fd in tapFDs where fd >= 0 { close(fd) }
        tapFDs = tapFDs.map { _ in -1 }
        wires = wires.map { _ in nil }
    }

    /// Points binding `k`'s poll entries at its current wire and TAP.
    func updatePollEntries(_ k: Int) {
        let i = portIndices[k]
        pollFDs[2 * k].fd = wires[i]?.fd ?? -1
        pollFDs[2 * k + 1].fd = tapFDs[i]
    }

    /// Mirrors a port's link state to its TAP's carrier, so the kernel sees the port down.
    public func setCarrier(_ port: PortID, up: Bool) {
        let i = Int(port.rawValue)
        guard i < tapFDs.count, tapFDs[i] >= 0 else { return }
        _ = hoist_tap_set_carrier(tapFDs[i], up ? 1 : 0)
    }

    /// The ring counters of a port's wire (the kernel's drop counts read now).
    public func wireStatistics(_ port: PortID) -> WireSocket.Statistics? {
        let i = Int(port.rawValue)
        guard i < wires.count, let wire = wires[i] else { return nil }
        wire.readKernelStatistics()
        return wire.statistics
    }

    /// Waits up to `timeoutMilliseconds` for frames, then moves every frame that is ready
    /// (at most `budget` per ring or TAP). Returns the number of frames handled.
    @discardableResult
    public func pollOnce(timeoutMilliseconds: Int32, budget: Int = 256) throws -> Int {
        var none: [pollfd] = []
        return try pollOnce(timeoutMilliseconds: timeoutMilliseconds, budget: budget, also: &none)
    }

    /// As `pollOnce(timeoutMilliseconds:budget:)`, and waits for `extra` descriptors too (a
    /// control socket): their `revents` say which are ready; the caller handles them.
    /// Does not sleep while a ring still holds frames (a burst larger than `budget`).
    @discardableResult
    public func pollOnce(timeoutMilliseconds: Int32, budget: Int = 256, also extra: inout [pollfd]) throws -> Int {
        let ports = pollFDs.count
        let backlog = hasBacklog
        pollFDs.append(contentsOf: extra)
        defer { pollFDs.removeSubrange(ports...) }
        let ready: Int32
        switch SystemCall.once({ poll(&pollFDs, nfds_t(pollFDs.count), backlog ? 0 : timeoutMilliseconds) }) {
        case .success(let n): ready = n
        case .failure(.interrupted): return 0        // a signal: the caller looks at its flag
        case .failure(let e): throw IOError(operation: "poll", code: e.rawValue)
        }
        for k in extra.indices { extra[k].revents = pollFDs[ports + k].revents }
        guard ready > 0 || backlog else { return 0 }
        var handled = 0
        var sink = WireSink(wires: wires, tapFDs: tapFDs)
        let failed = Int16(POLLERR | POLLHUP | POLLNVAL)
        for (k, i) in portIndices.enumerated() {
            // A wire that reports an error may be gone (`ip link del`): its socket would
            // report it forever, and poll() would never sleep.
            if pollFDs[2 * k].revents & failed != 0 { checkWire(k) }
            // The wire: its ring is read whether or not poll() saw it (a block may have
            // been handed over since, or be left from the last burst).
            let wire = wires[i]
            let port = PortID(UInt16(i))
            if let wire {
                let n = wire.receive(budget: budget) { frame, checksumPending in
                    if checksumPending { ChecksumCompletion.complete(frame) }
                    chip.process(UnsafeRawBufferPointer(frame), from: port, into: &sink)
                }
                wireFrames += n
                handled += n
                if n > 0 { sink.flush() }
            }
            // The TAP: a character device, one read() per frame. One whose interface was
            // deleted reports an error: it is made again.
            if pollFDs[2 * k + 1].revents & failed != 0 {
                checkHostInterface(k)
                continue
            }
            guard pollFDs[2 * k + 1].revents & Int16(POLLIN) != 0, tapFDs[i] >= 0 else { continue }
            var fromHost = 0
            while fromHost < budget {
                let m = read(tapFDs[i], buffer, Self.bufferSize)
                guard m > 0 else { break }
                fromHost += 1
                // With the wire missing the frame is lost, as on an unplugged port.
                wire?.enqueue(UnsafeRawBufferPointer(start: buffer, count: m))
            }
            wire?.flush()
            hostFrames += fromHost
            handled += fromHost
        }
        return handled
    }
}

/// Sends the chip's output: forwarded frames into the egress port's TX batch (sent by
/// `flush()` once per burst), trapped frames up the ingress port's TAP. A full socket or
/// TAP drops the frame, as a wire would.
struct WireSink: FrameSink {
    let wires: [WireSocket?]
    let tapFDs: [Int32]
    /// The ports with frames queued since the last flush.
    var queued: UInt64 = 0
    var queuedHigh: Set<Int> = []

    mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) {
        let i = Int(port.rawValue)
        guard i < wires.count, let wire = wires[i] else { return }
        wire.enqueue(frame)
        if i < 64 { queued |= 1 << UInt64(i) } else { queuedHigh.insert(i) }
    }

    mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) {
        let i = Int(port.rawValue)
        guard i > 0, i < tapFDs.count, tapFDs[i] >= 0 else { return }
        _ = write(tapFDs[i], frame.baseAddress, frame.count)
    }

    /// Sends every port's queued batch.
    mutating func flush() {
        while queued != 0 {
            let i = queued.trailingZeroBitCount
            queued &= queued - 1
            wires[i]?.flush()
        }
        for i in queuedHigh { wires[i]?.flush() }
        queuedHigh.removeAll(keepingCapacity: true)
    }
}
