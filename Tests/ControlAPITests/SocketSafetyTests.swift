@testable import ControlAPI
import Foundation
import Glibc
import Rendering
import Testing
import UnixSocket

/// `--socket PATH` (hoistd's control socket, hoist-asic's chip link): only a stale socket
/// is replaced; a live daemon's socket, a regular file or a directory at PATH is refused
/// and left alone; the socket has its final mode from its creation; a server removes the
/// file at exit only while it is still its own.
@Suite("Unix sockets: what is at the path is safe")
struct SocketSafetyTests {
    static func freshPath() -> String { "/tmp/hoist-sock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    @Test("a regular file or a directory at the path is refused and kept")
    func notASocket() throws {
        let path = Self.freshPath()
        defer { unlink(path); rmdir(path) }
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: UnixSocket.Failure.self) { try UnixSocket.listen(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
        unlink(path)
        mkdir(path, 0o755)
        #expect(throws: UnixSocket.Failure.self) { try UnixSocket.listen(path: path) }
        var st = stat()
        #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR)
    }

    @Test("a live server's socket is refused and keeps working; a stale one is replaced")
    func liveAndStale() throws {
        let path = Self.freshPath()
        defer { unlink(path) }
        let first = try ControlServer(path: path) { _ in .error("first") }
        do {
            _ = try ControlServer(path: path) { _ in .error("second") }
            Issue.record("a second server took a live socket")
        } catch {
            #expect("\(error)".contains("another process listens on"), "\(error)")
        }
        let fd = try UnixSocket.connect(path: path)
        close(fd)
        _ = first
        // A stale socket: bound, then its listener closed without removing the file.
        let stale = Self.freshPath()
        defer { unlink(stale) }
        let listener = try UnixSocket.listen(path: stale)
        close(listener)
        let replacement = try UnixSocket.listen(path: stale)
        close(replacement)
    }

    @Test("the socket has its mode from its creation, whatever the umask")
    func mode() throws {
        let path = Self.freshPath()
        defer { unlink(path) }
        let old = umask(0)
        defer { umask(old) }
        let fd = try UnixSocket.listen(path: path, mode: 0o660)
        defer { close(fd) }
        var st = stat()
        #expect(lstat(path, &st) == 0 && st.st_mode & 0o777 == 0o660)
    }

    @Test("a server removes its socket at exit only while it is still its own")
    func removeOwnOnly() throws {
        let path = Self.freshPath()
        defer { unlink(path) }
        var server: ControlServer? = try ControlServer(path: path) { _ in .error("x") }
        // Someone replaced the file meanwhile (an operator, a successor after a stale check).
        unlink(path)
        try Data("successor".utf8).write(to: URL(fileURLWithPath: path))
        server = nil
        #expect(server == nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "successor")
        unlink(path)
        server = try ControlServer(path: path) { _ in .error("x") }
        server = nil
        #expect(access(path, F_OK) != 0, "the server left its own socket behind")
    }
}

/// Issue 12 item 3: no client can hold hoistd's loop, and the number of clients is bounded.
@Suite("Control socket: no client can jam it")
struct ControlJamTests {
    static func connect(_ path: String) throws -> Int32 { try UnixSocket.connect(path: path) }

    static func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads one line (2 s at most).
    static func readLine(_ fd: Int32) -> String? {
        UnixSocket.setReceiveTimeout(fd, milliseconds: 2000)
        var out: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == 0x0A { return String(decoding: out, as: UTF8.self) }
            out.append(byte)
        }
        return nil
    }

    static let request = #"{"version":1,"command":"show","object":"ports"}"# + "\n"

    @Test("a client that pipelines 100 big requests and never reads holds no serve() and is dropped after the stall limit; others are answered meanwhile")
    func jammed() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let big = String(repeating: "x", count: 1 << 20)    // a 1 MiB answer: far more than a socket buffer holds
        var drops: [String] = []
        let server = try ControlServer(path: path, stallLimit: 0.5) { _ in .error(big) }
        server.onDrop = { drops.append($0) }
        let jam = try Self.connect(path)
        defer { close(jam) }
        Self.send(jam, String(repeating: Self.request, count: 100))
        let other = try Self.connect(path)
        defer { close(other) }
        var slowest = 0.0
        var answered = false
        let start = ControlServer.monotonicNanoseconds()
        while Double(ControlServer.monotonicNanoseconds() - start) / 1e9 < 1.5 {
            let t = ControlServer.monotonicNanoseconds()
            server.serve()
            slowest = max(slowest, Double(ControlServer.monotonicNanoseconds() - t) / 1e9)
            if !answered {
                Self.send(other, Self.request)
                var got: [UInt8] = []
                // The other client reads its whole reply while serve() keeps sending it.
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while !got.contains(0x0A) {
                    server.serve()
                    let n = chunk.withUnsafeMutableBytes { recv(other, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 { got += chunk[0..<n] } else { usleep(1000) }
                }
                answered = got.count > big.count
            }
            usleep(10_000)
        }
        #expect(answered, "the second client got no answer while the first jammed")
        #expect(slowest < 0.5, "one serve() took \(slowest) s")
        #expect(server.clientCount == 1, "the jamming client was not dropped")
        #expect(drops.contains { $0.contains("read nothing of a") }, "\(drops)")
    }

    @Test("past the client limit a new connection is told so and closed; the others are served")
    func clientLimit() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        var drops: [String] = []
        let server = try ControlServer(path: path, maxClients: 8) { _ in .error("pong") }
        server.onDrop = { drops.append($0) }
        let fds = try (0..<8).map { _ in try Self.connect(path) }
        defer { fds.forEach { close($0) } }
        server.serve()
        let extra = try Self.connect(path)
        defer { close(extra) }
        server.serve()
        #expect(Self.readLine(extra)?.contains("hoistd serves 8 clients at most") == true)
        #expect(server.clientCount == 8 && drops.count == 1)
        Self.send(fds[7], Self.request)
        server.serve()
        #expect(Self.readLine(fds[7])?.contains("pong") == true)
    }
}

/// Issue 12 item 4: a watcher that falls behind loses nothing silently.
@Suite("Control socket: a slow watcher")
struct SlowWatcherTests {
    @Test("past its backlog a watcher gets {\"lost\": N} and then the current state, not a closed connection")
    func lostMarker() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let server = try ControlServer(path: path, watcherBacklog: 64 << 10) { _ in .watching }
        server.snapshot = { kind in [.object([("object", .string("state of \(kind)"))])] }
        let fd = try UnixSocket.connect(path: path)
        defer { close(fd) }
        ControlJamTests.send(fd, #"{"version":1,"command":"watch","object":"routes"}"# + "\n")
        server.serve()
        #expect(ControlJamTests.readLine(fd)?.contains("watching") == true)
        // 50,000 changes while the watcher reads nothing: far more than its backlog.
        let line = JSONValue.object([("object", .string("route 10.0.0.0/24")), ("offload", .string("offloaded"))])
        for _ in 0..<500 { server.publish(Array(repeating: (kind: "routes", object: line), count: 100)) }
        server.publish([(kind: "fdb", object: line)])           // another kind: not counted
        server.serve()
        // The watcher reads: its backlog, the marker, then the state.
        var lines: [String] = []
        let start = ControlServer.monotonicNanoseconds()
        while !(lines.last?.contains("state of routes") ?? false), Double(ControlServer.monotonicNanoseconds() - start) / 1e9 < 5 {
            server.serve()
            UnixSocket.setReceiveTimeout(fd, milliseconds: 50)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { lines += String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        }
        let text = lines.joined(separator: "\n")
        let received = text.components(separatedBy: "route 10.0.0.0/24").count - 1
        let marker = try #require(text.range(of: #"{"lost":"#), "no lost marker")
        let lostCount = Int(text[marker.upperBound...].prefix { $0.isNumber }) ?? -1
        #expect(received + lostCount == 50_000, "received \(received), lost \(lostCount)")
        #expect(received > 0 && lostCount > 0)
        #expect(text.hasSuffix(#"{"object":"state of routes"}"#) || text.contains(#"{"object":"state of routes"}"#))
        #expect(server.clientCount == 1, "the watcher was dropped")
    }
}
