import ControlAPI
import Foundation
import Glibc
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
