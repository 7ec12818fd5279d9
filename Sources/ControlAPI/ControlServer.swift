import Glibc
import Rendering

/// hoistd's end of the control socket: a non-blocking unix stream listener that the daemon
/// loop services between its other work (`serve()`), one request line → one response line.
/// The socket is created mode 0660; a stale socket file is replaced.
public final class ControlServer {
    public let path: String
    let listener: Int32
    var clients: [Int32: [UInt8]] = [:]
    /// Connections that asked to watch, with the filter they gave.
    var watchers: [Int32: String] = [:]
    let handler: (ControlRequest) -> ControlResponse

    public init(path: String = ControlProtocol.defaultSocketPath, handler: @escaping (ControlRequest) -> ControlResponse) throws {
        self.path = path
        self.handler = handler
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !dir.isEmpty { mkdir(dir, 0o755) }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError(message: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw ControlError(message: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, chmod(path, 0o660) == 0, listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw ControlError(message: "listening on \(path): \(String(cString: strerror(e)))")
        }
        listener = fd
    }

    deinit {
        for fd in clients.keys { close(fd) }
        close(listener)
        unlink(path)
    }

    /// Accepts waiting clients and answers every complete request line; never blocks.
    public func serve() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { break }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            clients[fd] = []
        }
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
        var sent = 0
        var spins = 0
        while sent < bytes.count, spins < 1000 {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n } else if errno == EAGAIN { spins += 1; usleep(100) } else { break }
        }
    }
}
