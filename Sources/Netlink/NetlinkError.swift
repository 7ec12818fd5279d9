#if canImport(Glibc)
import Glibc
import SystemCall
#endif

/// A failure reported by the kernel or by the netlink socket layer.
///
/// `code` is a positive `errno` (`ENOBUFS`, `EEXIST`, `EOPNOTSUPP`, …); `message` is the
/// kernel's extended-ACK text (`NLMSGERR_ATTR_MSG`) when it sent one, so a person sees
/// "Nexthop has invalid gateway" rather than only `EINVAL`.
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Int32
    /// The kernel's extack message, if any.
    public var message: String?
    /// What Hoist was doing ("recv", "dump RTM_GETROUTE", "request RTM_NEWROUTE", …).
    public var operation: String
    /// For an error among a batch's replies (`drainErrors`): the sequence number of the
    /// request it answers (`NetlinkMessageBuilder.sequence`).
    public var sequence: UInt32?

    public init(code: Int32, message: String? = nil, operation: String) {
        self.code = code
        self.message = message
        self.operation = operation
    }

    /// The kernel dropped notifications because the receive buffer was full (`ENOBUFS`):
    /// the listener must resynchronise.
    public var isOverrun: Bool { code == ENOBUFS }

    public var description: String {
        let text = Errno(rawValue: code).description
        if let message, !message.isEmpty { return "\(operation): \(text) (errno \(code)): \(message)" }
        return "\(operation): \(text) (errno \(code))"
    }
}

/// A message that does not follow the kernel's format: a length that runs past its buffer,
/// an attribute shorter than its type needs, a missing mandatory attribute.
///
/// Decoders throw it; listeners count it, log it, and carry on with the next message.
public struct NetlinkDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "malformed netlink message: \(reason)" }
}
