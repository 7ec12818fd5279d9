import Glibc
import Rendering
import UnixSocket

/// hoistd's end of the control socket: a non-blocking unix stream listener that the daemon
/// loop services between its other work (`serve()`), one request line → one response line.
/// The socket is created mode 0660; a stale socket file is replaced.
public final class ControlServer {
    public let path: String
    let listener: Int32
    let identity: (dev_t, ino_t)?
    var clients: [Int32: [UInt8]] = [:]
    /// Connections that asked to watch, with the filter they gave.
    var watchers: [Int32: String] = [:]
    let handler: (ControlRequest) -> ControlResponse

    public init(path: String = ControlProtocol.defaultSocketPath, handler: @escaping (ControlRequest) -> ControlResponse) throws {
        self.path = path
        self.handler = handler
        do {
            listener = try UnixSocket.listen(path: path)
        } catch {
            throw ControlError(message: "\(error)")
        }
        identity = UnixSocket.identity(of: path)
    }

    deinit {
        for fd in clients.keys { close(fd) }
        close(listener)
        UnixSocket.remove(path, ifIdentity: identity)
    }

    /// Accepts waiting clients and answers every complete request line; never blocks.
    public func serve() {
        while let fd = UnixSocket.accept(listener) { clients[fd] = [] }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for fd in Array(clients.keys) {
            var closed = false
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n > 0 {
                    clients[fd]! += buffer[0..<n]
                    continue
                }
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { closed = true }
                break
            }
            answer(fd)
            if clients[fd]!.count > ControlProtocol.maxRequestBytes {
                reply(fd, .error("request longer than \(ControlProtocol.maxRequestBytes) bytes"))
                closed = true
            }
            if closed { drop(fd) }
        }
    }

    private func drop(_ fd: Int32) {
        close(fd)
        clients[fd] = nil
        watchers[fd] = nil
    }

    /// True when someone watches; callers skip building change lines otherwise.
    public var hasWatchers: Bool { !watchers.isEmpty }

    /// Sends each object to the watchers whose filter `matches` accepts it; a watcher that
    /// cannot keep up or went away is dropped.
    public func publish(_ objects: [(kind: String, object: JSONValue)]) {
        guard !watchers.isEmpty, !objects.isEmpty else { return }
        for (fd, filter) in watchers {
            var text = ""
            for (kind, object) in objects where filter.isEmpty || filter == kind { text += object.text + "\n" }
            guard !text.isEmpty else { continue }
            let bytes = Array(text.utf8)
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n != bytes.count { drop(fd) }
        }
    }

    private func answer(_ fd: Int32) {
        while let newline = clients[fd]!.firstIndex(of: 0x0A) {
            let line = String(decoding: clients[fd]![..<newline], as: UTF8.self)
            clients[fd]!.removeSubrange(...newline)
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            do {
                let request = try ControlRequest.decode(line)
                let response = handler(request)
                reply(fd, response)
                if response == .watching { watchers[fd] = request.object }
            } catch {
                reply(fd, .error("\(error)"))
            }
        }
    }

    private func reply(_ fd: Int32, _ response: ControlResponse) {
        let bytes = Array((response.json.text + "\n").utf8)
        _ = bytes.withUnsafeBytes { UnixSocket.sendAll(fd, $0) }
    }
}
