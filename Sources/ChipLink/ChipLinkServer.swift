import Glibc
import SwitchDriver
import SystemCall
import UnixSocket

/// The chip's end of the chip link (in `hoist-asic`): serves any `SwitchDriver` to the
/// connections on a unix socket (mode 0660). Non-blocking: the chip process's loop waits
/// on `descriptors` along with its ports and calls `serve()`; requests are answered in
/// order, whole. A malformed frame gets an error response and closes that connection
/// only; the chip keeps forwarding and serving others.
public final class ChipLinkServer {
    public let path: String
    public let driver: any SwitchDriver
    public private(set) var statistics = ChipStatistics()
    /// Called with what went wrong on a connection, for logging.
    public var onConnectionError: ((String) -> Void)?

    let listener: Int32
    let identity: (dev_t, ino_t)?
    struct Connection {
        var input: [UInt8] = []
        var greeted = false
        /// This connection programs the chip (said so in its hello).
        var controller = false
    }
    var connections: [Int32: Connection] = [:]
    var buffer = [UInt8](repeating: 0, count: 1 << 16)

    public init(path: String = ChipLink.defaultSocketPath, driver: any SwitchDriver) throws {
        self.path = path
        self.driver = driver
        listener = try UnixSocket.listen(path: path)
        identity = UnixSocket.identity(of: path)
    }

    deinit {
        for fd in connections.keys { close(fd) }
        close(listener)
        UnixSocket.remove(path, ifIdentity: identity)
    }

    /// The listener and every connection, for the caller's `poll`.
    public var descriptors: [pollfd] {
        [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            + connections.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    }

    /// How many connections are open (hoistd, and any `hoist` asking the chip directly).
    public var connectionCount: Int { connections.count }

    /// Accepts waiting connections and answers every complete request; never waits.
    public func serve() {
        while let fd = UnixSocket.accept(listener) {
            connections[fd] = Connection()
            statistics.connections += 1
        }
        for fd in Array(connections.keys) {
            guard connections[fd] != nil else { continue }     // dropped meanwhile (a dead controller found at a hello)
            var closed = false
            receiving: while true {
                switch SystemCall.receive(fd, into: &buffer, flags: Int32(MSG_DONTWAIT)) {
                case .success(let n) where n > 0:
                    connections[fd]!.input.append(contentsOf: buffer[0..<n])
                    if n < buffer.count { break receiving }
                case .failure(let e) where e.isWouldBlock: break receiving
                default: closed = true; break receiving          // closed by the peer, or failed
                }
            }
            if !answer(fd) || closed { drop(fd) }
        }
    }

    /// Whether the peer of `fd` is still there (a controller that died may not have been
    /// noticed yet when its successor says hello); drops it when it is gone.
    private func isOpen(_ fd: Int32) -> Bool {
        var byte: [UInt8] = [0]
        switch SystemCall.receive(fd, into: &byte, flags: Int32(MSG_PEEK | MSG_DONTWAIT)) {
        case .success(let n) where n > 0: return true
        case .failure(let e) where e.isWouldBlock: return true
        default:
            drop(fd)
            return false
        }
    }

    private func drop(_ fd: Int32) {
        close(fd)
        connections[fd] = nil
    }

    /// Answers the complete frames waiting on `fd`. False when the connection must close.
    private func answer(_ fd: Int32) -> Bool {
        var consumed = 0
        defer { if consumed > 0, connections[fd] != nil { connections[fd]!.input.removeFirst(consumed) } }
        while true {
            let input = connections[fd]!.input
            guard input.count - consumed >= 4 else { return true }
            let length: Int
            do {
                length = try ChipLink.bodyLength(input[consumed..<consumed + 4], limit: ChipLink.maxRequestBytes)
            } catch {
                statistics.malformed += 1
                reply(fd, .error("\(error)"))
                onConnectionError?("\(error)")
                return false
            }
            guard input.count - consumed - 4 >= length else { return true }
            var reader = ByteReader(input, from: consumed + 4, to: consumed + 4 + length)
            consumed += 4 + length
            let response: ChipResponse
            do {
                response = handle(try ChipRequest.decode(&reader), fd: fd)
            } catch {
                statistics.malformed += 1
                onConnectionError?("\(error)")
                response = .error("\(error)")
            }
            guard reply(fd, response) else { return false }
            if case .error = response, connections[fd]?.greeted == false { return false }
        }
    }

    private func handle(_ request: ChipRequest, fd: Int32) -> ChipResponse {
        if case .hello(let version, let controller) = request {
            guard version == ChipLink.version else {
                return .error("\(ChipLinkError.versionMismatch(local: ChipLink.version, remote: version))")
            }
            if controller, let other = connections.first(where: { $0.key != fd && $0.value.controller && isOpen($0.key) }) {
                return .error("the chip already has a controller (connection \(other.key)); one hoistd programs a chip at a time")
            }
            connections[fd]!.greeted = true
            connections[fd]!.controller = controller
            return .hello(version: ChipLink.version, driver.capabilities)
        }
        guard connections[fd]!.greeted else { return .error("the first request must be hello") }
        switch request {
        case .hello: fatalError("handled above")
        case .apply(let ops):
            for op in ops {
                if case .set = op { statistics.sets += 1 } else { statistics.removes += 1 }
            }
            return .results(driver.apply(ops))
        case .readBack: return .objects(driver.readBack())
        case .pollEvents(let limit): return .events(driver.pollEvents(limit: limit))
        case .counters: return .counters(driver.counters())
        case .statistics: return .statistics(statistics)
        case .learnedMACs: return .learned(driver.learnedMACs())
        }
    }

    @discardableResult
    private func reply(_ fd: Int32, _ response: ChipResponse) -> Bool {
        let frame = ChipLink.frame { response.encode(into: &$0) }
        if case .failure = frame.withUnsafeBytes({ UnixSocket.sendAll(fd, $0, timeoutMilliseconds: 5000) }) { return false }
        return true
    }
}
