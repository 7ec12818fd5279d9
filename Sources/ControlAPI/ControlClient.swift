import Glibc
import Rendering

/// The `hoist` CLI's end of the control socket.
public enum ControlClient {
    /// Sends one request and waits up to `timeoutSeconds` for its response.
    public static func send(_ request: ControlRequest, path: String = ControlProtocol.defaultSocketPath,
                            timeoutSeconds: Int = 10) throws -> ControlResponse {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8.prefix(100)) + [0]) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            if e == ENOENT || e == ECONNREFUSED {
                throw ControlError(message: "hoistd is not running (nothing listens on \(path)); start it with `hoistd`, or pass --socket")
            }
            throw ControlError(message: "connecting to hoistd at \(path): \(String(cString: strerror(e)))")
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((request.json.text + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else {
            throw ControlError(message: "sending to hoistd: \(String(cString: strerror(errno)))")
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !reply.contains(0x0A) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else {
                throw ControlError(message: n == 0 ? "hoistd closed the connection" : "no answer from hoistd within \(timeoutSeconds) s")
            }
            reply += buffer[0..<n]
        }
        return try ControlResponse.decode(String(decoding: reply.prefix { $0 != 0x0A }, as: UTF8.self))
    }
}
