import Glibc
import Rendering
import UnixSocket

/// The `hoist` CLI's end of the control socket.
public enum ControlClient {
    /// Sends one request and waits up to `timeoutSeconds` for its response.
    public static func send(_ request: ControlRequest, path: String = ControlProtocol.defaultSocketPath,
                            timeoutSeconds: Int = 10) throws -> ControlResponse {
        let fd = try connect(path)
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((request.json.text + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else {
            throw ControlError(message: "sending to hoistd: \(String(cString: strerror(errno)))")
        }
        // The timeout is for hoistd's silence, not the whole answer: a big answer that keeps
        // arriving is read to its end. Only the new bytes are searched for the newline.
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var end: Int?
        while end == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else {
                if n < 0, errno == EINTR { continue }
                throw ControlError(message: n == 0 ? "hoistd closed the connection" : "no answer from hoistd within \(timeoutSeconds) s")
            }
            if let i = buffer[0..<n].firstIndex(of: 0x0A) { end = reply.count + i }
            reply += buffer[0..<n]
        }
        return try ControlResponse.decode(String(decoding: reply[..<end!], as: UTF8.self))
    }

    /// Asks hoistd to stream changes of `kind` ("" for all) and calls `line` with each
    /// one until `stop` returns true or hoistd closes the connection.
    public static func watch(_ kind: String, path: String = ControlProtocol.defaultSocketPath,
                             stop: () -> Bool, line: (JSONValue) -> Void) throws {
        let fd = try connect(path)
        defer { close(fd) }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let request = Array((ControlRequest(command: .watch, object: kind).json.text + "\n").utf8)
        guard request.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw ControlError(message: "sending to hoistd: \(String(cString: strerror(errno)))")
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var first = true
        while !stop() {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { throw ControlError(message: "hoistd closed the connection") }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                throw ControlError(message: "reading from hoistd: \(String(cString: strerror(errno)))")
            }
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: 0x0A) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if first {
                    first = false
                    switch try ControlResponse.decode(text) {
                    case .watching: continue
                    case .error(let e): throw ControlError(message: e)
                    case .objects: throw ControlError(message: "hoistd did not start watching")
                    }
                }
                line(try JSONValue.parse(text))
            }
        }
    }

    static func connect(_ path: String) throws -> Int32 {
        do {
            return try UnixSocket.connect(path: path)
        } catch let failure as UnixSocket.Failure where failure.isNotListening {
            throw ControlError(message: "hoistd is not running (nothing listens on \(path)); start it with `hoistd`, or pass --socket")
        } catch {
            throw ControlError(message: "\(error)")
        }
    }
}
