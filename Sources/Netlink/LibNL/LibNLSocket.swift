internal import CNetlink
#if canImport(Glibc)
import Glibc
import SystemCall
#endif

/// A `NETLINK_ROUTE` socket made and connected by libnl (`nl_socket_alloc`, `nl_connect`),
/// optionally inside a named network namespace, with a large receive buffer. The same
/// class opens the `NETLINK_GENERIC` socket of ``DevlinkChannel`` (internal initialiser),
/// whose family id it resolves with libnl-genl-3's `genl_ctrl_resolve`.
///
/// It moves whole datagrams; framing and decoding happen above it, in ``NetlinkChannel``.
public final class RouteNetlinkSocket: NetlinkTransport {
    /// The socket's descriptor now (a new one after `discardQueued()` reopens it).
    public var descriptor: Int32? { fd }

    private var socket: OpaquePointer
    private var fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    /// The effective receive buffer in bytes, as the kernel reports it (twice the request).
    public private(set) var receiveBufferBytes: Int = 0
    public let namespace: String?
    private let netlinkProtocol: Int32
    private let groups: [RouteNetlinkGroup]
    private var requestedReceiveBufferBytes: Int

    /// Opens a socket.
    /// - Parameters:
    ///   - namespace: a name under `/var/run/netns` (as `ip netns` makes), or nil for the
    ///     caller's namespace. The socket stays bound to that namespace for its lifetime.
    ///   - groups: multicast groups to join (`RTNLGRP_*`).
    ///   - receiveBufferBytes: requested with `SO_RCVBUFFORCE` (root), else `SO_RCVBUF`.
    public convenience init(namespace: String? = nil, groups: [RouteNetlinkGroup] = [], receiveBufferBytes: Int = 4 << 20) throws {
        try self.init(netlinkProtocol: NETLINK_ROUTE, namespace: namespace, groups: groups, receiveBufferBytes: receiveBufferBytes)
    }

    /// Opens a socket of any netlink protocol (`NETLINK_ROUTE`, `NETLINK_GENERIC`).
    init(netlinkProtocol: Int32, namespace: String?, groups: [RouteNetlinkGroup], receiveBufferBytes: Int) throws {
        socket = try Self.connect(netlinkProtocol, namespace: namespace, groups: groups)
        fd = nl_socket_get_fd(socket)
        self.namespace = namespace
        self.netlinkProtocol = netlinkProtocol
        self.groups = groups
        requestedReceiveBufferBytes = receiveBufferBytes
        buffer = .allocate(byteCount: 256 << 10, alignment: 8)
        setReceiveBuffer(bytes: receiveBufferBytes)
    }

    /// A connected libnl socket in `namespace`, joined to `groups`, with extended and
    /// capped ACKs (`NETLINK_EXT_ACK`, `NETLINK_CAP_ACK`).
    private static func connect(_ netlinkProtocol: Int32, namespace: String?,
                                groups: [RouteNetlinkGroup]) throws -> OpaquePointer {
        guard let sk = nl_socket_alloc() else { throw NetlinkError(code: ENOMEM, operation: "nl_socket_alloc") }
        nl_socket_disable_seq_check(sk)
        nl_socket_disable_auto_ack(sk)
        do {
            try Self.inNamespace(namespace) {
                let rc = nl_connect(sk, netlinkProtocol)
                if rc < 0 { throw NetlinkError(code: -rc, message: LibNL.errorText(rc), operation: "nl_connect") }
            }
        } catch {
            nl_socket_free(sk)
            throw error
        }
        for group in groups {
            let rc = nl_socket_add_membership(sk, Int32(group.rawValue))
            if rc < 0 {
                nl_socket_free(sk)
                throw NetlinkError(code: EINVAL, message: LibNL.errorText(rc), operation: "join group \(group.rawValue)")
            }
        }
        let fd = nl_socket_get_fd(sk)
        var one: Int32 = 1
        _ = setsockopt(fd, CNL_SOL_NETLINK, CNL_NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, CNL_SOL_NETLINK, CNL_NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        return sk
    }

    /// Reopens the socket, as VPP linux-cp does after an overrun: a new socket joins the
    /// same groups (in the same namespace, with the same receive buffer) *before* the old
    /// one is closed, so every notification sent from now on reaches the new one, while what
    /// queued in the old one — and its pending `ENOBUFS` — goes with it.
    public func discardQueued() throws {
        let fresh = try Self.connect(netlinkProtocol, namespace: namespace, groups: groups)
        nl_socket_free(socket)
        socket = fresh
        fd = nl_socket_get_fd(fresh)
        setReceiveBuffer(bytes: requestedReceiveBufferBytes)
    }

    /// The id of a generic netlink family (`CTRL_CMD_GETFAMILY` through `genl_ctrl_resolve`),
    /// for a socket opened with `NETLINK_GENERIC`. Call it before any other traffic.
    /// - Throws: ``NetlinkError`` `ENOENT` when the kernel has no such family.
    func resolveGenericFamily(_ name: String) throws -> UInt16 {
        let rc = genl_ctrl_resolve(socket, name)
        if rc < 0 {
            let notFound = -rc == NLE_OBJ_NOTFOUND
            throw NetlinkError(code: notFound ? ENOENT : EIO,
                               message: notFound ? "the kernel has no generic netlink family \(name)" : LibNL.errorText(rc),
                               operation: "genl_ctrl_resolve \(name)")
        }
        return UInt16(rc)
    }

    deinit {
        nl_socket_free(socket)
        buffer.deallocate()
    }

    public func setStrictChecking(_ on: Bool) {
        var value: Int32 = on ? 1 : 0
        _ = setsockopt(fd, CNL_SOL_NETLINK, CNL_NETLINK_GET_STRICT_CHK, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sets the receive buffer; above `net.core.rmem_max` this needs `SO_RCVBUFFORCE` (root).
    public func setReceiveBuffer(bytes: Int) {
        requestedReceiveBufferBytes = bytes
        var value = Int32(clamping: bytes)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        var actual: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &len)
        receiveBufferBytes = Int(actual)
    }

    public func send(_ message: [UInt8]) throws {
        let rc = message.withUnsafeBytes { raw in
            nl_sendto(socket, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
        }
        if rc < 0 { throw NetlinkError(code: EIO, message: LibNL.errorText(rc), operation: "nl_sendto") }
    }

    public func receive(timeoutMilliseconds: Int32, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        switch SystemCall.retrying({ poll(&pfd, 1, timeoutMilliseconds) }) {
        case .success(0): return false
        case .success: break
        case .failure(let e): throw NetlinkError(code: e.rawValue, operation: "poll")
        }
        while true {
            let got: Int
            switch SystemCall.retrying({ recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_TRUNC)) }) {
            case .success(let n): got = n
            case .failure(let e) where e.isWouldBlock: return false
            case .failure(let e): throw NetlinkError(code: e.rawValue, operation: "recv")
            }
            if got > buffer.count {
                // The datagram did not fit: it is lost, which is an overrun like ENOBUFS.
                let size = got
                buffer.deallocate()
                buffer = .allocate(byteCount: max(size, buffer.count * 2), alignment: 8)
                throw NetlinkError(code: EMSGSIZE, message: "datagram of \(size) bytes truncated", operation: "recv")
            }
            try body(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<got]))
            return true
        }
    }

    /// Runs `body` with the calling thread inside `namespace` (`setns(2)`), then returns the
    /// thread to its own namespace. Sockets made inside stay in `namespace`.
    static func inNamespace<T>(_ namespace: String?, _ body: () throws -> T) throws -> T {
        guard let namespace else { return try body() }
        let target = open("/var/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            throw NetlinkError(code: errno, message: "no network namespace named \(namespace)", operation: "open netns")
        }
        defer { close(target) }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(code: errno, operation: "open /proc/thread-self/ns/net") }
        defer { close(original) }
        guard cnl_setns(target, CNL_CLONE_NEWNET) == 0 else {
            throw NetlinkError(code: cnl_errno(), message: "setns into \(namespace)", operation: "setns")
        }
        defer {
            // Returning to our own namespace cannot fail for a thread that left it moments ago.
            precondition(cnl_setns(original, CNL_CLONE_NEWNET) == 0, "setns back to the original namespace failed")
        }
        return try body()
    }
}

/// rtnetlink multicast groups (`RTNLGRP_*`).
public struct RouteNetlinkGroup: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let link = RouteNetlinkGroup(rawValue: RTNLGRP_LINK.rawValue)
    public static let neighbor = RouteNetlinkGroup(rawValue: RTNLGRP_NEIGH.rawValue)
    public static let ipv4Address = RouteNetlinkGroup(rawValue: RTNLGRP_IPV4_IFADDR.rawValue)
    public static let ipv6Address = RouteNetlinkGroup(rawValue: RTNLGRP_IPV6_IFADDR.rawValue)
    public static let ipv4Route = RouteNetlinkGroup(rawValue: RTNLGRP_IPV4_ROUTE.rawValue)
    public static let ipv6Route = RouteNetlinkGroup(rawValue: RTNLGRP_IPV6_ROUTE.rawValue)
    public static let mdb = RouteNetlinkGroup(rawValue: RTNLGRP_MDB.rawValue)
    public static let nexthop = RouteNetlinkGroup(rawValue: RTNLGRP_NEXTHOP.rawValue)
    public static let bridgeVLAN = RouteNetlinkGroup(rawValue: RTNLGRP_BRVLAN.rawValue)
    /// Qdiscs and tc filters (`RTM_NEWQDISC`, `RTM_NEWTFILTER`, …).
    public static let trafficControl = RouteNetlinkGroup(rawValue: RTNLGRP_TC.rawValue)

    public static let ipv4NetConf = RouteNetlinkGroup(rawValue: RTNLGRP_IPV4_NETCONF.rawValue)
    public static let ipv6NetConf = RouteNetlinkGroup(rawValue: RTNLGRP_IPV6_NETCONF.rawValue)
    public static let ipv4Rule = RouteNetlinkGroup(rawValue: RTNLGRP_IPV4_RULE.rawValue)
    public static let ipv6Rule = RouteNetlinkGroup(rawValue: RTNLGRP_IPV6_RULE.rawValue)

    /// Every group the kernel mirror listens to.
    public static let mirror: [RouteNetlinkGroup] = [
        .link, .neighbor, .ipv4Address, .ipv6Address, .ipv4Route, .ipv6Route, .mdb, .nexthop, .bridgeVLAN,
        .ipv4NetConf, .ipv6NetConf, .ipv4Rule, .ipv6Rule, .trafficControl,
    ]
}
