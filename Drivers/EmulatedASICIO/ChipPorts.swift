import CPacketIO
import EmulatedASIC
import Glibc
import SwitchDriver

/// The emulated chip's packet I/O: each front-panel port is a veth (read and written with an
/// AF_PACKET socket), and each port has a TAP host interface (`swp1`…) that the kernel
/// sees. Frames from the wire go through `SwitchChip.process`; what the chip forwards
/// leaves through the egress port's veth, what it traps goes up the ingress port's TAP,
/// and what the kernel sends on a TAP leaves through that port's veth.
///
/// ```
///   wire ⇄ veth ──AF_PACKET──► SwitchChip.process ──transmit──► veth of the egress port
///                                      └──────trap──────► TAP swpN ──► kernel (bridge, IP)
///   kernel ──► TAP swpN ──────────────────────────────────► veth of port N
/// ```
///
/// One thread drives it with `pollOnce`; the chip is not shared with other threads.
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

    /// A socket or TAP call failed.
    public struct IOError: Error, CustomStringConvertible {
        public var operation: String
        public var code: Int32
        public var description: String { "\(operation): \(String(cString: strerror(code)))" }
    }

    public let chip: SwitchChip
    public let bindings: [Binding]
    /// Per port index (0 unused): the wire socket and the TAP descriptor.
    var wireFDs: [Int32]
    var tapFDs: [Int32]
    var pollFDs: [pollfd] = []
    /// Which port each poll entry belongs to, and whether it is the TAP.
    var pollOwners: [(port: Int, isTap: Bool)] = []
    let buffer: UnsafeMutableRawPointer
    static let bufferSize = 65_536

    /// Frames read from the wire, sent to the kernel's TAPs, and sent from TAPs to the wire.
    public private(set) var wireFrames = 0
    public private(set) var hostFrames = 0

    /// Opens every binding's wire socket in `wireNamespace` and creates its TAP in
    /// `hostNamespace` (the caller's when nil). Keep the wires out of the switch's own
    /// namespace: there the kernel would answer ARP on them and route around the chip.
    public init(chip: SwitchChip, bindings: [Binding], wireNamespace: String? = nil, hostNamespace: String? = nil) throws {
        self.chip = chip
        self.bindings = bindings
        let size = Int(bindings.map(\.port.rawValue).max() ?? 0) + 1
        wireFDs = Array(repeating: -1, count: size)
        tapFDs = Array(repeating: -1, count: size)
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        do {
            try Self.inNamespace(wireNamespace) {
                for b in bindings {
                    let wire = hoist_packet_open(b.wire)
                    guard wire >= 0 else { throw IOError(operation: "AF_PACKET socket on \(b.wire)", code: -wire) }
                    wireFDs[Int(b.port.rawValue)] = wire
                }
            }
            try Self.inNamespace(hostNamespace) {
                for b in bindings {
                    let tap = hoist_tap_open(b.host)
                    guard tap >= 0 else { throw IOError(operation: "TAP \(b.host)", code: -tap) }
                    tapFDs[Int(b.port.rawValue)] = tap
                }
            }
        } catch {
            closeAll()
            buffer.deallocate()
            throw error
        }
        for b in bindings {
            let i = Int(b.port.rawValue)
            pollFDs.append(pollfd(fd: wireFDs[i], events: Int16(POLLIN), revents: 0))
            pollOwners.append((i, false))
            pollFDs.append(pollfd(fd: tapFDs[i], events: Int16(POLLIN), revents: 0))
            pollOwners.append((i, true))
        }
    }

    /// Runs `body` with the calling thread in `namespace`, then returns it to its own.
    static func inNamespace(_ namespace: String?, _ body: () throws -> Void) throws {
        guard let namespace else { return try body() }
        let saved = hoist_netns_enter(namespace)
        guard saved >= 0 else { throw IOError(operation: "enter network namespace \(namespace)", code: -saved) }
        defer { precondition(hoist_netns_leave(saved) == 0, "could not return to the original namespace") }
        try body()
    }

    deinit {
        closeAll()
        buffer.deallocate()
    }

    private func closeAll() {
        for fd in wireFDs + tapFDs where fd >= 0 { close(fd) }
        wireFDs = wireFDs.map { _ in -1 }
        tapFDs = tapFDs.map { _ in -1 }
    }

    /// Mirrors a port's link state to its TAP's carrier, so the kernel sees the port down.
    public func setCarrier(_ port: PortID, up: Bool) {
        let i = Int(port.rawValue)
        guard i < tapFDs.count, tapFDs[i] >= 0 else { return }
        _ = hoist_tap_set_carrier(tapFDs[i], up ? 1 : 0)
    }

    /// Waits up to `timeoutMilliseconds` for frames, then moves every frame that is ready
    /// (at most `budget` per descriptor). Returns the number of frames handled.
    @discardableResult
    public func pollOnce(timeoutMilliseconds: Int32, budget: Int = 256) throws -> Int {
        var none: [pollfd] = []
        return try pollOnce(timeoutMilliseconds: timeoutMilliseconds, budget: budget, also: &none)
    }

    /// As `pollOnce(timeoutMilliseconds:budget:)`, and waits for `extra` descriptors too (a
    /// control socket): their `revents` say which are ready; the caller handles them.
    @discardableResult
    public func pollOnce(timeoutMilliseconds: Int32, budget: Int = 256, also extra: inout [pollfd]) throws -> Int {
        let ports = pollFDs.count
        pollFDs.append(contentsOf: extra)
        defer { pollFDs.removeSubrange(ports...) }
        let ready = poll(&pollFDs, nfds_t(pollFDs.count), timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return 0 }
            throw IOError(operation: "poll", code: errno)
        }
        for k in extra.indices { extra[k].revents = pollFDs[ports + k].revents }
        guard ready > 0 else { return 0 }
        var handled = 0
        var sink = WireSink(wireFDs: wireFDs, tapFDs: tapFDs)
        for (k, p) in pollFDs[..<ports].enumerated() where p.revents & Int16(POLLIN) != 0 {
            let (port, isTap) = pollOwners[k]
            for _ in 0..<budget {
                // A TAP is a character device (read), a wire is a packet socket (recvmsg with
                // the kernel's checksum status).
                var pending: Int32 = 0
                let n = isTap ? read(p.fd, buffer, Self.bufferSize) : hoist_packet_recv(p.fd, buffer, UInt(Self.bufferSize), &pending)
                guard n > 0 else { break }
                if pending != 0 { ChecksumCompletion.complete(UnsafeMutableRawBufferPointer(start: buffer, count: n)) }
                handled += 1
                let frame = UnsafeRawBufferPointer(start: buffer, count: Int(n))
                if isTap {
                    // The kernel sends on the port's host interface: out of the port.
                    hostFrames += 1
                    _ = send(wireFDs[port], buffer, Int(n), Int32(MSG_DONTWAIT))
                } else {
                    wireFrames += 1
                    chip.process(frame, from: PortID(UInt16(port)), into: &sink)
                }
            }
        }
        return handled
    }
}

/// Sends the chip's output: forwarded frames on the egress port's wire socket, trapped
/// frames up the ingress port's TAP. A full socket drops the frame, as a wire would.
struct WireSink: FrameSink {
    let wireFDs: [Int32]
    let tapFDs: [Int32]

    mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) {
        let i = Int(port.rawValue)
        guard i < wireFDs.count, wireFDs[i] >= 0 else { return }
        _ = send(wireFDs[i], frame.baseAddress, frame.count, Int32(MSG_DONTWAIT))
    }

    mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) {
        let i = Int(port.rawValue)
        guard i > 0, i < tapFDs.count, tapFDs[i] >= 0 else { return }
        _ = write(tapFDs[i], frame.baseAddress, frame.count)
    }
}
