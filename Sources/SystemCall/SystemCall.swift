import Glibc
@_exported import SystemPackage

/// The one place Hoist's processes make a raw system call that can be interrupted: the
/// control socket, the chip link, the metrics endpoint, the event loop's `poll`, the chip's
/// packet I/O and the netlink socket all go through ``retrying(_:)``, which retries `EINTR`
/// and turns a failure into swift-system's `Errno` (its `description` is `strerror`'s text;
/// `Errno.interrupted` is C's `EINTR`). Plain files and pipes use swift-system's
/// `FileDescriptor` directly (`writeAll` retries `EINTR` the same way).
public enum SystemCall {
    /// Calls `call` — a C call that returns a negative value and sets `errno` on failure
    /// (`recv`, `send`, `poll`, `accept`, `read`, `write`) — again while it fails with
    /// `EINTR`; its result, or the `errno` it failed with.
    @inlinable
    public static func retrying<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
        while true {
            let result = once(call)
            if case .failure(.interrupted) = result { continue }
            return result
        }
    }

    /// Calls `call` once: its result, or the `errno` it failed with — `.interrupted` included,
    /// for a wait that a signal should end early (the event loop's `poll`: the loop then
    /// looks at the flag the signal set).
    @inlinable
    public static func once<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
        let result = call()
        return result >= 0 ? .success(result) : .failure(Errno(rawValue: errno))
    }

    /// `recv(2)` into `buffer` (at most `limit` bytes, default all of it), `EINTR` retried:
    /// the byte count — 0 when the peer closed the connection — or the failure
    /// (``Errno/isWouldBlock`` when nothing waits on a non-blocking call or the receive
    /// timeout ran out).
    @inlinable
    public static func receive(_ fd: Int32, into buffer: inout [UInt8], limit: Int? = nil, flags: Int32 = 0) -> Result<Int, Errno> {
        let count = min(limit ?? buffer.count, buffer.count)
        return buffer.withUnsafeMutableBytes { raw in retrying { recv(fd, raw.baseAddress, count, flags) } }
    }

    /// `send(2)` of `bytes` with `MSG_NOSIGNAL` (a peer gone is `EPIPE`, not a signal) and
    /// `flags`, `EINTR` retried: how many bytes the socket took, or the failure.
    @inlinable
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, flags: Int32 = 0) -> Result<Int, Errno> {
        retrying { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | flags) }
    }
}

extension Errno {
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking call found nothing to do now, or a blocking
    /// socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` ran out.
    @inlinable
    public var isWouldBlock: Bool { self == .resourceTemporarilyUnavailable || self == .wouldBlock }
}
