import Glibc
import SystemCall

/// A Prometheus scrape endpoint: HTTP/1.1 `GET /metrics` on a TCP address, served by the
/// process's `EventLoop` without ever blocking it — non-blocking sockets, each client's
/// request read and its answer written as the socket allows, at most `maxClients` at
/// once, a client that takes longer than `timeoutMilliseconds` dropped. One request per
/// connection (`Connection: close`), as Prometheus scrapes.
public final class MetricsEndpoint {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    final class Client {
        let fd: Int32
        var request: [UInt8] = []
        var response: [UInt8] = []
        var sent = 0
        var answered = false
        let deadline: UInt64
        init(fd: Int32, deadline: UInt64) {
            self.fd = fd
            self.deadline = deadline
        }
    }

    /// The address it listens on, as given (`127.0.0.1:9417`, `[::1]:9417`).
    public let address: String
    /// The port bound (the given one, or the kernel's choice for port 0).
    public private(set) var port: UInt16 = 0
    public let maxClients: Int
    public let timeoutMilliseconds: UInt64
    /// The body of `GET /metrics`.
    let body: () -> [UInt8]
    private let listener: Int32
    private var clients: [Int32: Client] = [:]
    /// Scrapes answered (tests, logs).
    public private(set) var served = 0

    /// Listens on `address` (`HOST:PORT`; IPv6 in brackets).
    public init(address: String, maxClients: Int = 16, timeoutMilliseconds: UInt64 = 5_000, body: @escaping () -> [UInt8]) throws {
        self.address = address
        self.maxClients = maxClients
        self.timeoutMilliseconds = timeoutMilliseconds
        self.body = body
        var (storage, length, family) = try Self.parse(address)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "metrics socket: \(Errno(rawValue: errno))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = Errno(rawValue: errno)
            close(fd)
            throw Failure(description: "metrics address \(address): \(code)")
        }
        listener = fd
        withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
            self.port = family == AF_INET
                ? p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                : p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }

    deinit {
        for fd in clients.keys { close(fd) }
        close(listener)
    }

    /// `HOST:PORT` (IPv6 in brackets) as a socket address; throws with what is wrong.
    public static func parse(_ address: String) throws -> (sockaddr_storage, socklen_t, Int32) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw Failure(description: "metrics address '\(address)': HOST:PORT, as 127.0.0.1:9417 or [::1]:9417")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var storage = sockaddr_storage()
        if var v4 = ipv4(host, port: port) {
            withUnsafeBytes(of: &v4) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
        }
        if var v6 = ipv6(host, port: port) {
            withUnsafeBytes(of: &v6) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
        }
        throw Failure(description: "metrics address '\(address)': '\(host)' is not an IPv4 or IPv6 address")
    }

    static func ipv4(_ host: String, port: UInt16) -> sockaddr_in? {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        return inet_pton(AF_INET, host, &a.sin_addr) == 1 ? a : nil
    }

    static func ipv6(_ host: String, port: UInt16) -> sockaddr_in6? {
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_port = port.bigEndian
        return inet_pton(AF_INET6, host, &a.sin6_addr) == 1 ? a : nil
    }

    /// What the loop waits on: new connections, requests to read, answers to write.
    public var descriptors: [pollfd] {
        [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            + clients.values.map { pollfd(fd: $0.fd, events: Int16($0.answered ? POLLOUT : POLLIN), revents: 0) }
    }

    /// While clients are open: wake for their deadlines.
    public var maxWaitMilliseconds: Int32? { clients.isEmpty ? nil : 500 }

    /// Accepts, reads, answers and drops what it can now; never blocks.
    public func serve() {
        let now = EventLoop.now()
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { break }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if clients.count >= maxClients {
                close(fd)            // a scraper retries; the loop is not held
                continue
            }
            clients[fd] = Client(fd: fd, deadline: now + timeoutMilliseconds * 1_000_000)
        }
        for client in Array(clients.values) {
            if now > client.deadline || !progress(client) {
                close(client.fd)
                clients[client.fd] = nil
            }
        }
    }

    /// Reads or writes what the socket takes; false when the client is done or gone.
    private func progress(_ c: Client) -> Bool {
        if !c.answered {
            var buffer = [UInt8](repeating: 0, count: 4096)
            receiving: while true {
                switch SystemCall.receive(c.fd, into: &buffer) {
                case .success(0): return false
                case .success(let n):
                    c.request += buffer[0..<n]
                    if c.request.count > 16 << 10 { answer(c, status: "431 Request Header Fields Too Large", body: []); break receiving }
                    if Self.headersEnd(c.request) { answer(c, to: c.request); break receiving }
                case .failure(let e): return e.isWouldBlock
                }
            }
        }
        while c.sent < c.response.count {
            switch c.response.withUnsafeBytes({ SystemCall.send(c.fd, UnsafeRawBufferPointer(rebasing: $0[c.sent...])) }) {
            case .success(let n) where n > 0: c.sent += n
            case .success: return false
            case .failure(let e): return e.isWouldBlock
            }
        }
        return false      // all sent: close
    }

    static func headersEnd(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && (0...(bytes.count - 4)).contains { i in bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 }
    }

    private func answer(_ c: Client, to request: [UInt8]) {
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        guard line.count == 3, line[2].hasPrefix("HTTP/1.") else { return answer(c, status: "400 Bad Request", body: []) }
        guard line[0] == "GET" || line[0] == "HEAD" else { return answer(c, status: "405 Method Not Allowed", body: []) }
        let path = line[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" else {
            return answer(c, status: "404 Not Found", body: Array("hoistd serves its metrics at /metrics\n".utf8))
        }
        served += 1
        answer(c, status: "200 OK", body: line[0] == "HEAD" ? [] : body(), type: "text/plain; version=0.0.4; charset=utf-8")
    }

    private func answer(_ c: Client, status: String, body: [UInt8], type: String = "text/plain; charset=utf-8") {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        c.response = Array(head.utf8) + body
        c.answered = true
    }
}
