import Glibc
import Rendering
import SystemCall
import UnixSocket

/// The `hoist` CLI's end of the control socket.
public enum ControlClient {
    /// Sends one request and waits up to `timeoutSeconds` for its response.
    public static func send(_ request: ControlRequest, path: String = ControlProtocol.defaultSocketPath,
                            timeoutSeconds: Int = 10) throws -> ControlResponse {
        let fd = try ask(request, path: path, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }
        // The timeout is for hoistd's silence, not the whole answer: a big answer that keeps
        // arriving is read to its end. Only the new bytes are searched for the newline.
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var end: Int?
        while end == nil {
            let n = try received(fd, into: &buffer, timeoutSeconds: timeoutSeconds, closed: "hoistd closed the connection")
            if let i = buffer[0..<n].firstIndex(of: 0x0A) { end = reply.count + i }
            reply += buffer[0..<n]
        }
        return try ControlResponse.decode(String(decoding: reply[..<end!], as: UTF8.self))
    }

    /// Sends `request` as a stream request and hands each object line, as hoistd wrote it
    /// (one JSON object), to `row` as it arrives; returns how many objects hoistd said it
    /// sent. `timeoutSeconds` bounds hoistd's silence between chunks, not the whole answer.
    /// A hoistd that answers in one line (an error, or one from before streams) is read as
    /// such: an error throws, objects are handed over one by one.
    @discardableResult
    public static func stream(_ request: ControlRequest, path: String = ControlProtocol.defaultSocketPath,
                              timeoutSeconds: Int = 10, row: (String) throws -> Void) throws -> Int {
        var request = request
        request.stream = true
        let fd = try ask(request, path: path, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }
        var pending: [UInt8] = []
        var start = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var header = true
        while true {
            let n = try received(fd, into: &buffer, timeoutSeconds: timeoutSeconds,
                                 closed: "hoistd closed the connection before the end of its answer")
            // Complete lines are handed over; only the new bytes are searched.
            var searchFrom = pending.count
            pending += buffer[0..<n]
            while let newline = pending[searchFrom...].firstIndex(of: 0x0A) {
                let text = String(decoding: pending[start..<newline], as: UTF8.self)
                start = newline + 1
                searchFrom = start
                if header {
                    header = false
                    if text.hasPrefix(ControlResponse.streamHeader.text) { continue }
                    switch try ControlResponse.decode(text) {
                    case .objects(let objects):
                        for o in objects { try row(o.text) }
                        return objects.count
                    case .error(let e): throw ControlError(message: e)
                    case .watching: throw ControlError(message: "hoistd started a watch for a one-shot request")
                    }
                }
                if text.hasPrefix("{\"end\":") {
                    guard case .int(let count)? = try JSONValue.parse(text)["objects"] else {
                        throw ControlError(message: "hoistd ended its answer without a count")
                    }
                    return Int(count)
                }
                try row(text)
            }
            if start > 1 << 16 {
                pending.removeSubrange(..<start)
                start = 0
            }
        }
    }

    /// Asks hoistd to stream changes of `kind` ("" for all) and calls `line` with each
    /// one until `stop` returns true or hoistd closes the connection.
    public static func watch(_ kind: String, path: String = ControlProtocol.defaultSocketPath,
                             stop: () -> Bool, line: (JSONValue) -> Void) throws {
        let fd = try connect(path)
        defer { close(fd) }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        try sendLine(fd, ControlRequest(command: .watch, object: kind).json.text)
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var first = true
        while !stop() {
            let n: Int
            switch SystemCall.receive(fd, into: &buffer) {
            case .success(0): throw ControlError(message: "hoistd closed the connection")
            case .success(let got): n = got
            case .failure(let e) where e.isWouldBlock: continue       // the 200 ms timeout: ask `stop` again
            case .failure(let e): throw ControlError(message: "reading from hoistd: \(e)")
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

    /// Connects, sets `timeoutSeconds` as the limit of hoistd's silence, sends `request`'s
    /// line; returns the connection.
    static func ask(_ request: ControlRequest, path: String, timeoutSeconds: Int) throws -> Int32 {
        let fd = try connect(path)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        do {
            try sendLine(fd, request.json.text)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Sends `text` and a newline whole (a request is far below the socket's buffer).
    static func sendLine(_ fd: Int32, _ text: String) throws {
        let line = Array((text + "\n").utf8)
        switch line.withUnsafeBytes({ SystemCall.send(fd, $0) }) {
        case .success(line.count): return
        case .success(let n): throw ControlError(message: "sending to hoistd: \(n) of \(line.count) bytes sent")
        case .failure(let e): throw ControlError(message: "sending to hoistd: \(e)")
        }
    }

    /// Bytes received from hoistd into `buffer` (> 0); throws when hoistd closed the
    /// connection (`closed` says so), stayed silent past the receive timeout, or the socket failed.
    static func received(_ fd: Int32, into buffer: inout [UInt8], timeoutSeconds: Int, closed: String) throws -> Int {
        switch SystemCall.receive(fd, into: &buffer) {
        case .success(0): throw ControlError(message: closed)
        case .success(let n): return n
        case .failure(let e) where e.isWouldBlock: throw ControlError(message: "no answer from hoistd within \(timeoutSeconds) s")
        case .failure(let e): throw ControlError(message: "reading from hoistd: \(e)")
        }
    }

    static func connect(_ path: String) throws -> Int32 {
        do {
            return try UnixSocket.connect(path: path)
        } catch let failure as UnixSocket.Failure where failure.isNotListening {
            throw ControlError(message: "hoistd is not running (nothing listens on \(path)); start it with `hoistd`, or name its namespace (-n NETNS) or socket (--socket, HOIST_SOCKET)")
        } catch {
            throw ControlError(message: "\(error)")
        }
    }
}
