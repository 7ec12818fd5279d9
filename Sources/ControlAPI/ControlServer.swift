import Foundation
import Glibc
import Rendering
import SystemCall
import UnixSocket

/// hoistd's end of the control socket: a non-blocking unix stream listener that the daemon
/// loop services between its other work (`serve()`), one request line → one response line.
/// The socket is created mode 0660; only a stale socket file is replaced.
///
/// No client can hold the loop: replies go into the client's own output buffer and are
/// sent as the client reads (never waiting on it); a client's next request is answered
/// only once its previous reply has left, so one that pipelines requests and never reads
/// holds one reply, not a hundred. A client that reads nothing of a pending reply for
/// `stallLimit` seconds, or lets more than `maxPendingOutput` bytes pile up (a watcher
/// that falls behind), is dropped with the reason given to `onDrop`; past `maxClients`
/// connections a new one is told so and closed.
///
/// A request that asks for a stream (`"stream": true`) and that `streamer` takes is
/// answered off the loop: a worker thread produces its rows (from a snapshot the streamer
/// took on the loop) and writes them to the client as it reads — a header line, one
/// object per line, an `end` line with the count — so a million-row answer neither waits
/// to be built nor holds the loop. At most `maxStreams` run at once; a client's request
/// waits for a free worker. A client that goes away stops its worker; one that reads
/// nothing for `stallLimit` seconds is dropped.
public final class ControlServer {
    public let path: String
    let listener: Int32
    let identity: (dev_t, ino_t)?
    struct Client {
        var input: [UInt8] = []
        /// Reply bytes not yet sent: `output[sent...]`.
        var output: [UInt8] = []
        var sent = 0
        /// When (monotonic ns) the pending output last made progress.
        var lastProgress: UInt64 = 0
        var pending: Int { output.count - sent }
    }
    var clients: [Int32: Client] = [:]
    /// Connections that asked to watch, with the filter they gave.
    var watchers: [Int32: String] = [:]
    let handler: (ControlRequest) -> ControlResponse
    /// At most this many connections at once.
    public let maxClients: Int
    /// A client's unsent output may grow to this many bytes (one big reply, or a
    /// watcher's backlog) before the client is dropped.
    public let maxPendingOutput: Int
    /// Seconds a client may leave a reply unread before it is dropped.
    public let stallLimit: Double
    /// Why a client was dropped or refused (hoistd logs it).
    public var onDrop: ((String) -> Void)?
    /// A watcher's unsent change lines may reach this many bytes; past it, changes are
    /// counted instead of queued, and once the watcher has read its backlog it gets
    /// `{"lost": N}` and then the current state of what it watches (as netlink's ENOBUFS
    /// is followed by a dump).
    public let watcherBacklog: Int
    /// The current state of what a watcher watches (its filter: a kind, or "" for all), as
    /// change lines: what follows a `lost` marker.
    public var snapshot: ((String) -> [JSONValue])?
    /// Changes a watcher missed since its backlog filled.
    var lost: [Int32: Int] = [:]
    /// Takes a streamed request (nil: answer it with `handler` on the loop). Called on the
    /// loop; what it returns runs on a worker thread.
    public var streamer: ((ControlRequest) -> ControlStream?)?
    /// At most this many streamed answers are produced at once.
    public let maxStreams: Int
    /// Clients whose connection a worker owns while it streams their answer.
    var streaming: Set<Int32> = []
    let workers = StreamWorkers()

    public init(path: String = ControlProtocol.defaultSocketPath, maxClients: Int = 256, maxPendingOutput: Int = 1 << 30,
                stallLimit: Double = 10, watcherBacklog: Int = 64 << 20, maxStreams: Int = 4,
                handler: @escaping (ControlRequest) -> ControlResponse) throws {
        self.watcherBacklog = watcherBacklog
        self.maxStreams = maxStreams
        self.path = path
        self.handler = handler
        self.maxClients = maxClients
        self.maxPendingOutput = maxPendingOutput
        self.stallLimit = stallLimit
        do {
            listener = try UnixSocket.listen(path: path)
        } catch {
            throw ControlError(message: "\(error)")
        }
        identity = UnixSocket.identity(of: path)
    }

    deinit {
        workers.stopAll()
        for fd in clients.keys { close(fd) }
        close(listener)
        UnixSocket.remove(path, ifIdentity: identity)
    }

    /// How many clients are connected.
    public var clientCount: Int { clients.count }

    /// What an event loop waits on for `serve()`: the listener and each client it serves
    /// (readable; writable too while a reply waits to leave).
    public var descriptors: [pollfd] {
        var out = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        for (fd, c) in clients where !streaming.contains(fd) {
            out.append(pollfd(fd: fd, events: Int16(POLLIN) | (c.pending > 0 ? Int16(POLLOUT) : 0), revents: 0))
        }
        return out
    }

    /// The longest an event loop may wait before `serve()`: streams that end hand their
    /// connection back without a descriptor to wake on, and a stalled reply is timed.
    public var maxWaitMilliseconds: Int32? {
        if !streaming.isEmpty { return 5 }
        return clients.values.contains { $0.pending > 0 } ? 100 : nil
    }

    /// How many streamed answers workers are producing now.
    public var activeStreams: Int { streaming.count }

    /// Accepts waiting clients, sends what their readers take, answers complete request
    /// lines of clients with nothing pending; never blocks.
    public func serve() {
        while let fd = UnixSocket.accept(listener) {
            guard clients.count < maxClients else {
                let line = Array((ControlResponse.error("hoistd serves \(maxClients) clients at most; try again later").json.text + "\n").utf8)
                _ = line.withUnsafeBytes { SystemCall.send(fd, $0, flags: Int32(MSG_DONTWAIT)) }
                close(fd)
                onDrop?("refused a client: \(maxClients) connected already")
                continue
            }
            clients[fd] = Client(lastProgress: Self.monotonicNanoseconds())
        }
        let now = Self.monotonicNanoseconds()
        // Connections whose streamed answer ended come back to the loop.
        for (fd, end) in workers.takeFinished() {
            streaming.remove(fd)
            switch end {
            case .done: clients[fd]?.lastProgress = now
            case .closed: drop(fd)
            case .stalled(let reason): drop(fd, reason: reason)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for fd in Array(clients.keys) where !streaming.contains(fd) {
            var closed = false
            receiving: while clients[fd]!.input.count <= ControlProtocol.maxRequestBytes {
                switch SystemCall.receive(fd, into: &buffer, flags: Int32(MSG_DONTWAIT)) {
                case .success(let n) where n > 0: clients[fd]!.input += buffer[0..<n]
                case .failure(let e) where e.isWouldBlock: break receiving
                default: closed = true; break receiving          // closed by the client, or failed
                }
            }
            if closed {
                drop(fd)
                continue
            }
            guard flush(fd, now: now) else { continue }
            resync(fd, now: now)
            answer(fd, now: now)
            guard clients[fd] != nil else { continue }
            if clients[fd]!.input.count > ControlProtocol.maxRequestBytes, !clients[fd]!.input.contains(0x0A) {
                enqueue(fd, Array((ControlResponse.error("request longer than \(ControlProtocol.maxRequestBytes) bytes").json.text + "\n").utf8))
                _ = flush(fd, now: now)
                drop(fd)
            }
        }
    }

    private func drop(_ fd: Int32, reason: String? = nil) {
        close(fd)
        clients[fd] = nil
        watchers[fd] = nil
        lost[fd] = nil
        if let reason { onDrop?("dropped a client: \(reason)") }
    }

    /// True when someone watches; callers skip building change lines otherwise.
    public var hasWatchers: Bool { !watchers.isEmpty }

    /// Queues each object for the watchers whose filter `matches` accepts it; a watcher
    /// whose backlog passes `maxPendingOutput` or that went away is dropped.
    public func publish(_ objects: [(kind: String, object: JSONValue)]) {
        guard !watchers.isEmpty, !objects.isEmpty else { return }
        let now = Self.monotonicNanoseconds()
        for (fd, filter) in watchers {
            var text = ""
            var lines = 0
            for (kind, object) in objects where filter.isEmpty || filter == kind {
                text += object.text + "\n"
                lines += 1
            }
            guard !text.isEmpty, let client = clients[fd] else { continue }
            if lost[fd] != nil || client.pending + text.utf8.count > watcherBacklog {
                lost[fd, default: 0] += lines
                continue
            }
            enqueue(fd, Array(text.utf8))
            _ = flush(fd, now: now)
        }
    }

    /// A watcher that lost changes and has read its backlog: the `lost` marker, then the
    /// current state of what it watches.
    private func resync(_ fd: Int32, now: UInt64) {
        guard let n = lost[fd], clients[fd]?.pending == 0 else { return }
        lost[fd] = nil
        var text = JSONValue.object([("lost", .int(Int64(n)))]).text + "\n"
        for object in snapshot?(watchers[fd] ?? "") ?? [] { text += object.text + "\n" }
        enqueue(fd, Array(text.utf8))
        _ = flush(fd, now: now)
    }

    /// Answers the client's complete request lines, one at a time, while nothing of an
    /// earlier reply is pending.
    private func answer(_ fd: Int32, now: UInt64) {
        while let client = clients[fd], client.pending == 0, let newline = client.input.firstIndex(of: 0x0A) {
            let line = String(decoding: client.input[..<newline], as: UTF8.self)
            let request = try? ControlRequest.decode(line)
            if let request, request.stream, let streamer {
                // Waits in the input for a free worker.
                guard streaming.count < maxStreams else { return }
                if let stream = streamer(request) {
                    clients[fd]!.input.removeSubrange(...newline)
                    streaming.insert(fd)
                    workers.start(stream, on: fd, stallLimit: stallLimit)
                    return
                }
            }
            clients[fd]!.input.removeSubrange(...newline)
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            let response: ControlResponse
            var watch: String?
            do {
                let request = try request ?? ControlRequest.decode(line)
                response = handler(request)
                if response == .watching { watch = request.object }
            } catch {
                response = .error("\(error)")
            }
            enqueue(fd, Array((response.json.text + "\n").utf8))
            if let watch { watchers[fd] = watch }
            guard flush(fd, now: now) else { return }
        }
    }

    /// Appends to a client's output; past `maxPendingOutput` the client is dropped.
    private func enqueue(_ fd: Int32, _ bytes: [UInt8]) {
        guard var c = clients[fd] else { return }
        if c.pending == 0 {
            c.output.removeAll(keepingCapacity: c.output.capacity <= 1 << 20)
            c.sent = 0
            c.lastProgress = Self.monotonicNanoseconds()
        }
        guard c.pending + bytes.count <= maxPendingOutput else {
            drop(fd, reason: "it did not read \(c.pending + bytes.count) bytes of replies (at most \(maxPendingOutput) wait)")
            return
        }
        c.output += bytes
        clients[fd] = c
    }

    /// Sends what the client's socket takes now. False when the client was dropped (gone,
    /// or its pending reply unread for `stallLimit`).
    private func flush(_ fd: Int32, now: UInt64) -> Bool {
        guard var c = clients[fd] else { return false }
        sending: while c.pending > 0 {
            let result = c.output.withUnsafeBytes { SystemCall.send(fd, UnsafeRawBufferPointer(rebasing: $0[c.sent..<(c.sent + c.pending)]), flags: Int32(MSG_DONTWAIT)) }
            switch result {
            case .success(let n) where n > 0:
                c.sent += n
                c.lastProgress = now
            case .failure(let e) where e.isWouldBlock: break sending
            default:
                drop(fd)
                return false
            }
        }
        clients[fd] = c
        if c.pending > 0, now > c.lastProgress, Double(now - c.lastProgress) / 1e9 > stallLimit {
            drop(fd, reason: "it read nothing of a \(c.pending)-byte reply for \(Int(stallLimit)) s")
            return false
        }
        return true
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A streamed answer: `produce` runs on a worker thread and hands each row, in order, to
/// `emit`, which returns false once the client is gone (stop producing then). Whatever
/// `produce` reads must be its own (a snapshot), not the loop's live state.
public struct ControlStream: Sendable {
    public let produce: @Sendable (_ emit: (JSONValue) -> Bool) -> Void
    public init(_ produce: @escaping @Sendable (_ emit: (JSONValue) -> Bool) -> Void) { self.produce = produce }
}

/// The worker threads of streamed answers, and the connections they hand back.
final class StreamWorkers: @unchecked Sendable {
    private let lock = NSLock()
    /// How a streamed answer ended: written whole, the client gone (or hoistd stopping),
    /// or the client dropped because it stopped reading.
    enum End { case done, closed, stalled(String) }
    private var finished: [(Int32, End)] = []
    private var stopping = false
    private let group = DispatchGroup()

    /// Writes `stream`'s header, rows and end line to `fd` on a thread of its own; the
    /// connection comes back through `takeFinished()`, with a reason when it must be dropped.
    func start(_ stream: ControlStream, on fd: Int32, stallLimit: Double) {
        group.enter()
        Thread.detachNewThread { [self] in
            // Queries are background work: the loop that offloads comes first for the CPU.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)    // 0: this thread, on Linux
            var writer = StreamWriter(fd: fd, stallMilliseconds: Int32(stallLimit * 1000), stop: { [self] in lock.withLock { stopping } })
            writer.line(ControlResponse.streamHeader)
            var rows: Int64 = 0
            stream.produce { row in
                rows += 1
                return writer.line(row)
            }
            writer.line(JSONValue.object([("end", .bool(true)), ("objects", .int(rows))]))
            writer.flush()
            let end: End = writer.stalled.map { .stalled($0) } ?? (writer.gone ? .closed : .done)
            lock.withLock { finished.append((fd, end)) }
            group.leave()
        }
    }

    func takeFinished() -> [(Int32, End)] {
        lock.withLock {
            defer { finished.removeAll() }
            return finished
        }
    }

    /// Stops every worker at its next row and waits for them.
    func stopAll() {
        lock.withLock { stopping = true }
        group.wait()
    }
}

/// Lines to a client in 64 KiB chunks, waiting for it to read; after a failure it writes nothing more.
struct StreamWriter {
    let fd: Int32
    let stallMilliseconds: Int32
    let stop: () -> Bool
    var chunk: [UInt8] = []
    /// Nothing more is written: the client went away, stalled, or hoistd stops.
    var gone = false
    /// Why the client must be dropped with a logged reason (it stopped reading), if so.
    var stalled: String?

    init(fd: Int32, stallMilliseconds: Int32, stop: @escaping () -> Bool) {
        self.fd = fd
        self.stallMilliseconds = stallMilliseconds
        self.stop = stop
        chunk.reserveCapacity(1 << 16)
    }

    /// Queues one object as a line; false once the client is gone or stalled.
    @discardableResult
    mutating func line(_ value: JSONValue) -> Bool {
        guard !gone else { return false }
        value.write(to: &chunk)
        chunk.append(0x0A)
        if chunk.count >= 1 << 16 { flush() }
        return !gone
    }

    mutating func flush() {
        guard !gone, !chunk.isEmpty else { return }
        if stop() {
            gone = true
            return
        }
        if case .failure(let e) = chunk.withUnsafeBytes({ UnixSocket.sendAll(fd, $0, timeoutMilliseconds: stallMilliseconds) }) {
            gone = true
            if e == .timedOut { stalled = "it read nothing of a streamed reply for \(stallMilliseconds / 1000) s" }
        }
        chunk.removeAll(keepingCapacity: true)
    }
}
