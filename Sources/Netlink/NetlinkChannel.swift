internal import CNetlink
import SwitchModel
#if canImport(Glibc)
import Glibc
#endif

/// rtnetlink over one transport: dumps, requests with ACK, and notifications, each
/// message decoded into a ``KernelMessage``.
///
/// ```
///   kernel ──datagram──► NetlinkTransport ──► NetlinkChannel ──KernelMessage──► caller
///                         (socket/script)      frame · decode · count malformed
/// ```
///
/// A malformed message is counted, reported to ``onMalformed`` and skipped; the rest of
/// its datagram is still read. One channel is used from one thread at a time.
public final class NetlinkChannel {
    public let transport: NetlinkTransport
    private var sequence: UInt32
    /// Messages that could not be decoded (bad lengths, truncated attributes, …).
    public private(set) var malformedCount = 0
    /// Called with each decode failure, for logging.
    public var onMalformed: ((NetlinkDecodeError) -> Void)?
    /// How long a dump or request waits for each reply datagram before giving up.
    public var replyTimeoutMilliseconds: Int32 = 10_000

    /// Where `/proc` says what netlink does not (`bondSlaves(of:)`): the socket's namespace
    /// (nil: the caller's). Unset for a scripted transport, which reads nothing there.
    private var procNamespace: String?? = .none

    public init(transport: NetlinkTransport) {
        self.transport = transport
        self.sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    /// Opens a real rtnetlink socket.
    public convenience init(namespace: String? = nil, groups: [RouteNetlinkGroup] = [], receiveBufferBytes: Int = 4 << 20) throws {
        self.init(transport: try RouteNetlinkSocket(namespace: namespace, groups: groups, receiveBufferBytes: receiveBufferBytes))
        procNamespace = .some(namespace)
    }

    /// A bond's slaves in the bond's own order — the order its transmit hash indexes
    /// (`bond_for_each_slave`) — as `/proc/net/bonding/NAME` lists them (`Slave Interface:`
    /// lines), read in the channel's namespace: netlink reports which links are slaves but
    /// not their order. Nil when it cannot be read (no such bond, no bonding module, a
    /// scripted transport).
    public func bondSlaves(of bond: String) -> [String]? {
        guard case .some(let namespace) = procNamespace, !bond.isEmpty, !bond.contains("/"), bond != ".", bond != ".." else { return nil }
        let read = try? RouteNetlinkSocket.inNamespace(namespace) { () -> [UInt8]? in
            let fd = open("/proc/thread-self/net/bonding/\(bond)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return n == 0 ? bytes : nil }
                bytes += chunk[0..<n]
            }
        }
        guard let bytes = read ?? nil else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.hasPrefix("Slave Interface: ") ? String(line.dropFirst("Slave Interface: ".count)) : nil
        }
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    // MARK: Dumps

    /// Dumps one kind of kernel object, calling `emit` for each.
    ///
    /// - Throws: ``NetlinkError`` for a kernel error reply, a timeout (`ETIMEDOUT`) or a dump
    ///   the kernel marked inconsistent (`NLM_F_DUMP_INTR`, reported as `EINTR`): the caller
    ///   discards what it got and dumps again.
    public func dump(_ kind: DumpKind, emit: (KernelMessage) -> Void) throws {
        try dumpMessages(kind.request(sequence: 0), operation: "dump \(kind)") { decode($0, emit: emit) }
    }

    /// Dumps the tc filters of one interface's hook or class (`parent`), calling `emit`
    /// for each (`RTM_NEWTFILTER`). Errors as in ``dump(_:emit:)``.
    public func dumpFilters(interface: IfIndex, parent: UInt32, emit: (KernelMessage) -> Void) throws {
        try dumpMessages(DumpKind.filterRequest(interface: interface, parent: parent),
                         operation: "dump filters of ifindex \(interface) parent \(Qdisc.handleText(parent))") { decode($0, emit: emit) }
    }

    /// Dumps the routes of every table and both families whose nexthops use `interface`
    /// (directly, or through a nexthop object or group), as the kernel's filtered dump
    /// answers (`RTA_OIF` under strict checking, which is on only for this request).
    public func dumpRoutes(through interface: IfIndex, emit: (KernelMessage) -> Void) throws {
        let request = NetlinkMessageBuilder(type: UInt16(RTM_GETROUTE), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: 0)
            .append(header: DumpKind.bytes(of: rtmsg()))
            .put(Int(RTA_OIF.rawValue), u32: interface.rawValue)
        transport.setStrictChecking(true)
        defer { transport.setStrictChecking(false) }
        try dumpMessages(request, operation: "dump routes through ifindex \(interface)") { decode($0, emit: emit) }
    }

    // MARK: Requests

    /// Sends one request with `NLM_F_ACK` and waits for the kernel's answer.
    /// - Throws: ``NetlinkError`` with the kernel's errno and extack message.
    public func request(_ message: NetlinkMessageBuilder) throws {
        let operation = "request type \(message.bytes[4..<6].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })"
        try requestMessages(message, operation: operation) { _ in }
    }

    /// Sends one `RTM_GET*` request for a single object (no `NLM_F_DUMP`), with `NLM_F_ACK`,
    /// and decodes the kernel's answer — e.g. ``KernelRequest/getLink(_:)``.
    /// - Throws: ``NetlinkError`` with the kernel's errno and extack message (`ENODEV`, …).
    public func get(_ message: NetlinkMessageBuilder, emit: (KernelMessage) -> Void) throws {
        try requestMessages(message, operation: "get") { decode($0, emit: emit) }
    }

    /// Sends several requests in one `send()` without waiting for answers (no `NLM_F_ACK`):
    /// the fast path for bulk programming. Errors still come back as `NLMSG_ERROR` messages,
    /// which ``drainErrors(timeoutMilliseconds:)`` collects.
    public func sendBatch(_ messages: [NetlinkMessageBuilder]) throws {
        var bytes: [UInt8] = []
        for m in messages {
            m.sequence = nextSequence()
            m.flags |= UInt16(NLM_F_REQUEST)
            bytes += m.bytes
        }
        try transport.send(bytes)
    }

    /// Reads whatever replies are queued and returns the errors among them.
    public func drainErrors(timeoutMilliseconds: Int32 = 0) throws -> [NetlinkError] {
        var errors: [NetlinkError] = []
        while try transport.receive(timeoutMilliseconds: timeoutMilliseconds, { datagram in
            try LibNL.forEachMessage(in: datagram) { reply in
                if Int32(reply.type) == NLMSG_ERROR, var e = try Self.error(in: reply, operation: "batched request") {
                    e.sequence = reply.sequence
                    errors.append(e)
                }
            }
        }) {}
        return errors
    }

    // MARK: Undecoded replies (the loops under the calls above; ``DevlinkChannel``)

    /// Sends `message` as a dump (`NLM_F_DUMP`, with a fresh sequence number) and hands each
    /// reply to `each` undecoded, up to `NLMSG_DONE`. Errors as in ``dump(_:emit:)``; `each` may throw (a decode error).
    func dumpMessages(_ message: NetlinkMessageBuilder, operation: String,
                      each: (NetlinkMessageView) throws -> Void) throws {
        let seq = nextSequence()
        message.sequence = seq
        message.flags |= UInt16(NLM_F_REQUEST | NLM_F_DUMP)
        try transport.send(message.bytes)
        var done = false
        var interrupted = false
        while !done {
            let got = try transport.receive(timeoutMilliseconds: replyTimeoutMilliseconds) { datagram in
                try LibNL.forEachMessage(in: datagram) { reply in
                    guard reply.sequence == seq else { return }
                    if reply.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                    switch Int32(reply.type) {
                    case NLMSG_DONE:
                        done = true
                        if reply.payloadLength >= 4 {
                            let code = reply.payload.loadUnaligned(as: Int32.self)
                            if code < 0 { throw NetlinkError(code: -code, operation: operation) }
                        }
                    case NLMSG_ERROR:
                        if let error = try Self.error(in: reply, operation: operation) { throw error }
                        done = true
                    default:
                        try each(reply)
                    }
                }
            }
            if !got { throw NetlinkError(code: ETIMEDOUT, operation: operation) }
        }
        if interrupted { throw NetlinkError(code: EINTR, message: "dump interrupted by a concurrent change", operation: operation) }
    }

    /// Sends `message` with `NLM_F_ACK` and hands each reply before the kernel's ACK to
    /// `each` undecoded (a multipart answer's `NLMSG_DONE` is skipped).
    /// - Throws: ``NetlinkError`` with the kernel's errno and extack message.
    func requestMessages(_ message: NetlinkMessageBuilder, operation: String,
                         each: (NetlinkMessageView) throws -> Void) throws {
        let seq = nextSequence()
        message.sequence = seq
        message.flags |= UInt16(NLM_F_REQUEST | NLM_F_ACK)
        try transport.send(message.bytes)
        var answered = false
        while !answered {
            let got = try transport.receive(timeoutMilliseconds: replyTimeoutMilliseconds) { datagram in
                try LibNL.forEachMessage(in: datagram) { reply in
                    guard reply.sequence == seq else { return }
                    switch Int32(reply.type) {
                    case NLMSG_ERROR:
                        answered = true
                        if let error = try Self.error(in: reply, operation: operation) { throw error }
                    case NLMSG_DONE:
                        break
                    default:
                        try each(reply)
                    }
                }
            }
            if !got { throw NetlinkError(code: ETIMEDOUT, operation: operation) }
        }
    }

    // MARK: Notifications

    /// Waits up to `timeoutMilliseconds` for one datagram of notifications and decodes it.
    /// - Returns: false when nothing arrived in time.
    /// - Throws: ``NetlinkError``; `isOverrun` means notifications were lost (`ENOBUFS`).
    public func receiveNotifications(timeoutMilliseconds: Int32, emit: (KernelMessage) -> Void) throws -> Bool {
        try transport.receive(timeoutMilliseconds: timeoutMilliseconds) { datagram in
            do {
                try LibNL.forEachMessage(in: datagram) { message in
                    decode(message, emit: emit)
                }
            } catch let error as NetlinkDecodeError {
                noteMalformed(error)
            }
        }
    }

    private func decode(_ message: NetlinkMessageView, emit: (KernelMessage) -> Void) {
        do {
            try MessageDecoder.decode(message, emit: emit)
        } catch let error as NetlinkDecodeError {
            noteMalformed(error)
        } catch {
            noteMalformed(NetlinkDecodeError("\(error)"))
        }
    }

    private func noteMalformed(_ error: NetlinkDecodeError) {
        malformedCount += 1
        onMalformed?(error)
    }

    /// The error in an `NLMSG_ERROR` message, or nil for an ACK (error 0).
    /// With `NETLINK_CAP_ACK` the kernel echoes only the request's header; the extack
    /// attributes (`NLMSGERR_ATTR_MSG`) follow when `NLM_F_ACK_TLVS` is set.
    static func error(in message: NetlinkMessageView, operation: String) throws -> NetlinkError? {
        guard message.payloadLength >= 4 else { throw NetlinkDecodeError("NLMSG_ERROR too short") }
        let code = message.payload.loadUnaligned(as: Int32.self)
        if code == 0 { return nil }
        var text: String?
        if message.flags & UInt16(NLM_F_ACK_TLVS) != 0, message.payloadLength >= 4 + 16 {
            let echoed = Int(message.payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let headerSize = message.flags & UInt16(NLM_F_CAPPED) != 0 ? 4 + 16 : 4 + ((echoed + 3) & ~3)
            if headerSize <= message.payloadLength,
               let attrs = try? message.attributes(familyHeaderSize: headerSize, maxType: CNL_NLMSGERR_ATTR_MAX) {
                text = attrs.string(Int(NLMSGERR_ATTR_MSG.rawValue))
            }
        }
        return NetlinkError(code: -code, message: text, operation: operation)
    }
}
