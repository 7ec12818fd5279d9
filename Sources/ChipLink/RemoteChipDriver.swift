import Glibc
import SwitchDriver
import SystemCall
import UnixSocket

/// A `SwitchDriver` whose chip runs in another process (`hoist-asic`), reached over the
/// chip link. Each method is one request/response round trip; `apply` batches as the
/// engine hands them.
///
/// The driver protocol does not throw: when the link fails, `linkFailure` says why and
/// `health` is `lost`, `apply` answers `invalid("chip link down: …")` for every item, the
/// rest answer empty. `reconnect()` connects again (a restarted chip process listens on
/// the same path); the chip behind it may be a new, empty one, so the caller reads it back.
public final class RemoteChipDriver: SwitchDriver {
    public let path: String
    public private(set) var capabilities: DriverCapabilities
    /// Why the link failed, once it has (nil again after a successful `reconnect()`).
    public private(set) var linkFailure: ChipLinkError?
    let timeoutMilliseconds: Int
    let controller: Bool
    var fd: Int32 = -1
    var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// Connects to the chip at `path` and says hello; throws when nothing listens or the
    /// chip speaks another version.
    /// `controller`: this driver programs the chip (the chip refuses a second controller);
    /// false for a connection that claims nothing (hoistd's audit connection, a tool).
    /// `timeoutMilliseconds` is how long the chip may stay silent while an answer is due
    /// (between received chunks, not for the whole answer): past it the link counts as
    /// lost, hoistd's loop goes on with every object pending and reconnects. A chip answers
    /// within milliseconds; a million-object read-back starts within about a second.
    public init(path: String = ChipLink.defaultSocketPath, timeoutMilliseconds: Int = 5_000, controller: Bool = true) throws {
        self.path = path
        self.timeoutMilliseconds = timeoutMilliseconds
        self.controller = controller
        capabilities = DriverCapabilities(name: "", ports: [], tables: [:], features: [])
        try connect()
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Closes the connection as a process exit would (tests of what the chip sees).
    public func closeForTesting() {
        if fd >= 0 { close(fd) }
        fd = -1
        linkFailure = .connection("closed")
    }

    /// Opens a connection and says hello; on success `fd` and `capabilities` are the new
    /// connection's, on failure nothing is left open. An old connection is closed first:
    /// the chip takes one controller at a time.
    private func connect() throws {
        if fd >= 0 { close(fd) }
        fd = -1
        let socket: Int32
        do {
            socket = try UnixSocket.connect(path: path)
        } catch let failure as UnixSocket.Failure where failure.isNotListening {
            throw ChipLinkError.connection("no chip listens on \(path); start hoist-asic, or pass --asic")
        } catch {
            throw ChipLinkError.connection("\(error)")
        }
        UnixSocket.setReceiveTimeout(socket, milliseconds: timeoutMilliseconds)
        fd = socket
        do {
            switch try call(.hello(version: ChipLink.version, controller: controller)) {
            case .hello(let version, let caps):
                guard version == ChipLink.version else { throw ChipLinkError.versionMismatch(local: ChipLink.version, remote: version) }
                capabilities = caps
            case .error(let e): throw ChipLinkError.remote(e)
            default: throw ChipLinkError.connection("the chip did not answer hello")
            }
        } catch {
            close(socket)
            fd = -1
            throw error
        }
    }

    /// `lost` with the link's failure, once a request failed.
    public var health: DriverHealth {
        linkFailure.map { .lost("\($0)") } ?? .connected
    }

    /// After a failure, connects to the chip at `path` again (one attempt, no waiting
    /// beyond the hello's timeout). Returns `connected` when a chip answered; its
    /// capabilities replace the old ones.
    public func reconnect() -> DriverHealth {
        guard linkFailure != nil else { return .connected }
        do {
            try connect()
            linkFailure = nil
        } catch let e as ChipLinkError {
            linkFailure = e
        } catch {
            linkFailure = .connection("\(error)")
        }
        return health
    }

    /// Applies `batch` in requests of at most `ChipLink.maxApplyBatch` operations.
    public func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        guard batch.count > ChipLink.maxApplyBatch else { return applyOne(batch) }
        var results: [DriverResult] = []
        results.reserveCapacity(batch.count)
        for start in stride(from: 0, to: batch.count, by: ChipLink.maxApplyBatch) {
            results += applyOne(Array(batch[start..<min(start + ChipLink.maxApplyBatch, batch.count)]))
        }
        return results
    }

    private func applyOne(_ batch: [DriverOperation]) -> [DriverResult] {
        if linkFailure == nil, case .results(let rs)? = attempt(.apply(batch)), rs.count == batch.count { return rs }
        if linkFailure == nil { linkFailure = .connection("the chip answered apply with the wrong number of results") }
        return batch.map { _ in .invalid("chip link down: \(linkFailure!)") }
    }

    public func readBack() -> [HardwareObject] {
        if case .objects(let os)? = attempt(.readBack) { return os }
        return []
    }

    public func learnedMACs() -> [HardwareFDBEntry]? {
        if case .learned(let es)? = attempt(.learnedMACs) { return es }
        return nil
    }

    public func pollEvents(limit: Int) -> [DriverEvent] {
        if case .events(let es)? = attempt(.pollEvents(limit: limit)) { return es }
        return []
    }

    public func counters() -> DriverCounters {
        if case .counters(let c)? = attempt(.counters) { return c }
        return DriverCounters()
    }

    /// The chip process's own statistics.
    public func statistics() throws -> ChipStatistics {
        guard case .statistics(let s) = try call(.statistics) else { throw ChipLinkError.connection("unexpected answer to statistics") }
        return s
    }

    private func attempt(_ request: ChipRequest) -> ChipResponse? {
        guard linkFailure == nil else { return nil }
        do {
            let response = try call(request)
            if case .error(let e) = response {
                linkFailure = .remote(e)
                return nil
            }
            return response
        } catch let e as ChipLinkError {
            linkFailure = e
        } catch {
            linkFailure = .connection("\(error)")
        }
        return nil
    }

    /// One round trip.
    func call(_ request: ChipRequest) throws -> ChipResponse {
        let frame = ChipLink.frame { request.encode(into: &$0) }
        if case .failure(let e) = frame.withUnsafeBytes({ UnixSocket.sendAll(fd, $0, timeoutMilliseconds: 10_000) }) {
            throw ChipLinkError.connection("sending to the chip at \(path): \(e)")
        }
        let header = try receive(4)
        let body = try receive(try ChipLink.bodyLength(header[...]))
        var reader = ByteReader(body)
        return try ChipResponse.decode(&reader)
    }

    private func receive(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            switch SystemCall.receive(fd, into: &buffer, limit: count - out.count) {
            case .success(0): throw ChipLinkError.connection("the chip at \(path) closed the connection")
            case .success(let n): out.append(contentsOf: buffer[0..<n])
            case .failure(let e) where e.isWouldBlock: throw ChipLinkError.connection("no answer from the chip at \(path)")
            case .failure(let e): throw ChipLinkError.connection("reading from the chip: \(e)")
            }
        }
        return out
    }
}
