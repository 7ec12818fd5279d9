import Glibc
import SystemCall

/// The unix stream sockets Hoist's processes talk over: hoistd's control socket and the
/// chip link between hoistd and hoist-asic. Descriptors are close-on-exec.
public enum UnixSocket {
    /// A socket call failed: which, on what path, and why.
    public struct Failure: Error, CustomStringConvertible {
        public var operation: String
        public var path: String
        public var errno: Errno
        public init(operation: String, path: String, code: Int32) {
            self.operation = operation
            self.path = path
            self.errno = Errno(rawValue: code)
        }
        public var description: String { "\(operation) \(path): \(errno)" }
        /// Nothing listens there (no socket file, or a stale one).
        public var isNotListening: Bool { errno == .noSuchFileOrDirectory || errno == .connectionRefused }
    }

    /// Listens on `path` (its directory is created), mode `mode` from its creation (no
    /// umask window), non-blocking. Returns the listening descriptor. Only a stale socket
    /// is replaced: when a process still answers on `path` it throws `EADDRINUSE`, and when
    /// `path` is something other than a socket (a regular file, a directory) it throws
    /// `EEXIST` and leaves it alone.
    public static func listen(path: String, mode: mode_t = 0o660) throws -> Int32 {
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !dir.isEmpty { mkdir(dir, 0o755) }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else {
                throw Failure(operation: "refusing to replace what is not a socket at", path: path, code: EEXIST)
            }
            if let live = try? connect(path: path) {
                close(live)
                throw Failure(operation: "another process listens on", path: path, code: EADDRINUSE)
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(operation: "socket for", path: path, code: errno) }
        guard var addr = address(path) else {
            close(fd)
            throw Failure(operation: "socket path too long:", path: path, code: ENAMETOOLONG)
        }
        let previousMask = umask(~mode & 0o777)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindError = errno
        umask(previousMask)
        guard rc == 0 else {
            close(fd)
            throw Failure(operation: "listening on", path: path, code: bindError)
        }
        guard chmod(path, mode) == 0, Glibc.listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw Failure(operation: "listening on", path: path, code: e)
        }
        return fd
    }

    /// The identity (device, inode) of the file at `path`, or nil: taken right after
    /// `listen`, it lets a server remove its socket file at exit only if it is still its own.
    public static func identity(of path: String) -> (dev_t, ino_t)? {
        var st = stat()
        return lstat(path, &st) == 0 ? (st.st_dev, st.st_ino) : nil
    }

    /// Removes `path` if it is still the file `identity` names (not a successor's socket).
    public static func remove(_ path: String, ifIdentity identity: (dev_t, ino_t)?) {
        guard let identity, let now = Self.identity(of: path), now == identity else { return }
        unlink(path)
    }

    /// Accepts one waiting connection as a non-blocking descriptor, or nil when none waits.
    public static func accept(_ listener: Int32) -> Int32? {
        guard case .success(let fd) = SystemCall.retrying({ Glibc.accept(listener, nil, nil) }) else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Connects to `path` (blocking descriptor).
    public static func connect(path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(operation: "socket for", path: path, code: errno) }
        guard var addr = address(path) else {
            close(fd)
            throw Failure(operation: "socket path too long:", path: path, code: ENAMETOOLONG)
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw Failure(operation: "connecting to", path: path, code: e)
        }
        return fd
    }

    /// Sends all of `bytes`, waiting for the peer to read for at most `timeoutMilliseconds`
    /// in total. Fails with `.timedOut` when the peer read too little in that time, with the
    /// socket's error (`.brokenPipe`, `.connectionReset`) when it is gone.
    public static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, timeoutMilliseconds: Int32 = 2000) -> Result<Void, Errno> {
        var sent = 0
        var waited: Int32 = 0
        while sent < bytes.count {
            switch SystemCall.send(fd, UnsafeRawBufferPointer(rebasing: bytes[sent...]), flags: Int32(MSG_DONTWAIT)) {
            case .success(let n) where n > 0:
                sent += n
            case .success:
                return .failure(.brokenPipe)
            case .failure(let e) where e.isWouldBlock:
                guard waited < timeoutMilliseconds else { return .failure(.timedOut) }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if case .success(0) = SystemCall.retrying({ poll(&p, 1, 50) }) { waited += 50 }
            case .failure(let e):
                return .failure(e)
            }
        }
        return .success(())
    }

    /// Sets a receive timeout on a blocking descriptor.
    public static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func address(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes + [0]) }
        return addr
    }
}
