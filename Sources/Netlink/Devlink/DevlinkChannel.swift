internal import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// devlink over generic netlink: the family `devlink`, its id resolved with libnl-genl-3's
/// `genl_ctrl_resolve`, and typed requests for what Hoist's drivers read and set.
///
/// ```
///   driver ──ports() / resources(of:) / eswitchMode(of:) / rates() / setRate(…)──► DevlinkChannel
///            ◄── DevlinkPort · DevlinkResourceNode · DevlinkEswitchMode · DevlinkRate ──┘
///   DevlinkChannel ──genlmsghdr + DEVLINK_ATTR_*──► NetlinkChannel (framing, ACKs, extack) ──► NETLINK_GENERIC socket
/// ```
///
/// | method | command | iproute2 |
/// |---|---|---|
/// | ``ports()`` | `DEVLINK_CMD_PORT_GET` dump | `devlink port show` |
/// | ``resources(of:)`` | `DEVLINK_CMD_RESOURCE_DUMP` | `devlink resource show DEV` |
/// | ``eswitchMode(of:)`` | `DEVLINK_CMD_ESWITCH_GET` | `devlink dev eswitch show DEV` |
/// | ``rates()`` | `DEVLINK_CMD_RATE_GET` dump | `devlink port function rate show` |
/// | ``setRate(_:txShare:txMax:)`` | `DEVLINK_CMD_RATE_SET` | `devlink port function rate set DEV/PORT tx_share … tx_max …` |
///
/// Errors are ``NetlinkError``s with the kernel's errno and extack text ("netdevsim: TX rate
/// value exceed link maximum speed 5000Mbps."). One channel is used from one thread at a time.
public final class DevlinkChannel {
    /// The generic netlink family id of `devlink` in this kernel.
    public let familyID: UInt16
    let channel: NetlinkChannel

    /// A channel over any transport (a ``ScriptedNetlinkTransport`` in tests).
    public init(transport: NetlinkTransport, familyID: UInt16) {
        self.familyID = familyID
        channel = NetlinkChannel(transport: transport)
    }

    /// Opens a `NETLINK_GENERIC` socket (in `namespace`, a name under `/var/run/netns`, like
    /// ``NetlinkChannel``) and resolves the `devlink` family.
    /// - Throws: ``NetlinkError`` `ENOENT` when the kernel has no devlink (`CONFIG_NET_DEVLINK`).
    public convenience init(namespace: String? = nil) throws {
        let socket = try RouteNetlinkSocket(netlinkProtocol: NETLINK_GENERIC, namespace: namespace, groups: [],
                                            receiveBufferBytes: 1 << 20)
        let id = try socket.resolveGenericFamily("devlink")
        self.init(transport: socket, familyID: id)
    }

    /// How long each request waits for each reply datagram.
    public var replyTimeoutMilliseconds: Int32 {
        get { channel.replyTimeoutMilliseconds }
        set { channel.replyTimeoutMilliseconds = newValue }
    }

    // MARK: Requests

    /// Every devlink port of every device in the channel's namespace.
    public func ports() throws -> [DevlinkPort] {
        var out: [DevlinkPort] = []
        try channel.dumpMessages(message(DEVLINK_CMD_PORT_GET), operation: "devlink port dump") { reply in
            guard reply.type == familyID else { return }
            out.append(try DevlinkDecoder.port(reply))
        }
        return out
    }

    /// The resource tree of one device.
    public func resources(of device: DevlinkDevice) throws -> [DevlinkResourceNode] {
        var out: [DevlinkResourceNode] = []
        try channel.requestMessages(message(DEVLINK_CMD_RESOURCE_DUMP, device: device),
                                    operation: "devlink resource dump \(device)") { reply in
            guard reply.type == familyID else { return }
            out += try DevlinkDecoder.resources(reply).1
        }
        return out
    }

    /// The device's eswitch mode.
    /// - Throws: ``NetlinkError`` `EOPNOTSUPP` when the device has no eswitch.
    public func eswitchMode(of device: DevlinkDevice) throws -> DevlinkEswitchMode {
        var mode: DevlinkEswitchMode?
        let operation = "devlink eswitch get \(device)"
        try channel.requestMessages(message(DEVLINK_CMD_ESWITCH_GET, device: device), operation: operation) { reply in
            guard reply.type == familyID else { return }
            mode = try DevlinkDecoder.eswitchMode(reply)
        }
        guard let mode else { throw NetlinkError(code: ENODATA, message: "no eswitch mode in the answer", operation: operation) }
        return mode
    }

    /// Every rate object (leaves and nodes) of every device.
    public func rates() throws -> [DevlinkRate] {
        var out: [DevlinkRate] = []
        try channel.dumpMessages(message(DEVLINK_CMD_RATE_GET), operation: "devlink rate dump") { reply in
            guard reply.type == familyID else { return }
            out.append(try DevlinkDecoder.rate(reply))
        }
        return out
    }

    /// Sets a port function's rate (bytes per second; nil leaves that limit unchanged).
    /// - Throws: ``NetlinkError`` with the driver's refusal in `message`.
    public func setRate(_ port: DevlinkPortAddress, txShare: UInt64?, txMax: UInt64?) throws {
        try channel.requestMessages(DevlinkRequest.setRate(port, txShare: txShare, txMax: txMax, familyID: familyID),
                                    operation: "devlink rate set \(port)") { _ in }
    }

    private func message(_ command: devlink_command, device: DevlinkDevice? = nil) -> NetlinkMessageBuilder {
        DevlinkRequest.message(UInt8(command.rawValue), device: device, familyID: familyID)
    }
}

/// A devlink port by device and index (`bus/name/index`).
public struct DevlinkPortAddress: Hashable, Sendable, CustomStringConvertible {
    public var device: DevlinkDevice
    public var index: UInt32
    public init(device: DevlinkDevice, index: UInt32) {
        self.device = device
        self.index = index
    }

    /// Parses iproute2's `bus/name/index`.
    public init?(_ handle: String) {
        guard let slash = handle.lastIndex(of: "/"), let index = UInt32(handle[handle.index(after: slash)...]),
              let device = DevlinkDevice(String(handle[..<slash])) else { return nil }
        self.init(device: device, index: index)
    }

    public var description: String { "\(device)/\(index)" }
}

/// devlink request messages (`nlmsghdr` of the family's type, `genlmsghdr`, attributes).
public enum DevlinkRequest {
    static func message(_ command: UInt8, device: DevlinkDevice?, familyID: UInt16) -> NetlinkMessageBuilder {
        let m = NetlinkMessageBuilder(type: familyID).append(header: [command, UInt8(CNL_DEVLINK_GENL_VERSION), 0, 0])
        if let device {
            m.put(DevlinkDecoder.attr(DEVLINK_ATTR_BUS_NAME), string: device.bus)
            m.put(DevlinkDecoder.attr(DEVLINK_ATTR_DEV_NAME), string: device.name)
        }
        return m
    }

    /// `DEVLINK_CMD_RATE_SET` of a port function: `DEVLINK_ATTR_RATE_TX_SHARE` / `_TX_MAX` (u64, bytes/s).
    public static func setRate(_ port: DevlinkPortAddress, txShare: UInt64?, txMax: UInt64?, familyID: UInt16) -> NetlinkMessageBuilder {
        let m = message(UInt8(DEVLINK_CMD_RATE_SET.rawValue), device: port.device, familyID: familyID)
        m.put(DevlinkDecoder.attr(DEVLINK_ATTR_PORT_INDEX), u32: port.index)
        if let txShare { m.put(DevlinkDecoder.attr(DEVLINK_ATTR_RATE_TX_SHARE), u64: txShare) }
        if let txMax { m.put(DevlinkDecoder.attr(DEVLINK_ATTR_RATE_TX_MAX), u64: txMax) }
        return m
    }
}
