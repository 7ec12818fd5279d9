/// The lowest boundary of Hoist's netlink stack: something that moves whole datagrams.
///
/// ``RouteNetlinkSocket`` is the real one; ``ScriptedNetlinkTransport`` replays datagrams
/// written by a test (multipart dumps, errors, overruns, malformed bytes), in the spirit
/// of Go's `nltest`. Everything above — framing, decoding, resync — is the same code for both.
public protocol NetlinkTransport: AnyObject {
    /// Sends one message (or several, concatenated) to the kernel.
    func send(_ message: [UInt8]) throws
    /// Waits up to `timeoutMilliseconds` (0: do not wait, -1: forever) for one datagram and
    /// hands it to `body`. Returns false when none arrived.
    /// - Throws: ``NetlinkError`` (`ENOBUFS` when the kernel dropped notifications).
    func receive(timeoutMilliseconds: Int32, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Bool
    /// Throws away every datagram queued for ``receive(timeoutMilliseconds:_:)`` and any
    /// pending overrun, keeping the group memberships: afterwards `receive` delivers only
    /// what the kernel sends from now on. The kernel mirror calls it after an overrun,
    /// before its resync dump, so notifications that predate the dump (and whose
    /// successors were lost) are never applied on top of it.
    func discardQueued() throws
    /// The descriptor an event loop waits on for `receive` (nil: none, as a script's).
    var descriptor: Int32? { get }
    /// Turns the kernel's strict checking of dump requests on or off
    /// (`NETLINK_GET_STRICT_CHK`): on, a dump honours its filter attributes (a route dump's
    /// `RTA_OIF`) and rejects what it cannot honour.
    func setStrictChecking(_ on: Bool)
}

extension NetlinkTransport {
    public var descriptor: Int32? { nil }
    public func setStrictChecking(_ on: Bool) {}
}

/// A transport that replays a script: datagrams queued by the test, and replies produced
/// by a responder for each message sent. An `Error` in the queue is thrown by `receive`
/// (for example `NetlinkError(code: ENOBUFS, …)` to simulate an overrun).
public final class ScriptedNetlinkTransport: NetlinkTransport {
    public enum Item {
        case datagram([UInt8])
        case error(NetlinkError)
    }

    public private(set) var sent: [[UInt8]] = []
    /// How many times ``discardQueued()`` was called.
    public private(set) var discards = 0
    /// Called by ``discardQueued()`` after it dropped the queue; what it returns is queued,
    /// as what the kernel sends after the socket was reopened.
    public var afterDiscard: () -> [Item] = { [] }
    private var queue: [Item] = []
    private var head = 0
    /// Called for every message sent; what it returns is queued for `receive`.
    public var responder: ([UInt8]) -> [Item]

    public init(responder: @escaping ([UInt8]) -> [Item] = { _ in [] }) {
        self.responder = responder
    }

    /// Queues items for `receive`, after those already queued.
    public func enqueue(_ items: [Item]) { queue.append(contentsOf: items) }
    public func enqueue(datagram: [UInt8]) { queue.append(.datagram(datagram)) }

    public var pending: Int { queue.count - head }

    public func send(_ message: [UInt8]) throws {
        sent.append(message)
        queue.append(contentsOf: responder(message))
    }

    /// Drops everything queued so far (datagrams and errors), then queues ``afterDiscard``.
    public func discardQueued() throws {
        discards += 1
        queue.removeAll()
        head = 0
        queue.append(contentsOf: afterDiscard())
    }

    public func receive(timeoutMilliseconds: Int32, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Bool {
        guard head < queue.count else { return false }
        let item = queue[head]
        head += 1
        if head > 1024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        switch item {
        case .error(let error):
            throw error
        case .datagram(let bytes):
            var copy = bytes
            try copy.withUnsafeMutableBytes { raw in
                // Netlink buffers are 4-byte aligned; copy into aligned storage like recv() does.
                let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(raw.count, 1), alignment: 8)
                defer { aligned.deallocate() }
                aligned.copyMemory(from: UnsafeRawBufferPointer(raw))
                try body(UnsafeMutableRawBufferPointer(rebasing: aligned[0..<raw.count]))
            }
            return true
        }
    }
}
