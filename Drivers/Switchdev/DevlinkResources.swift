#if canImport(Glibc)
import Glibc
#endif
import Netlink
import SwitchDriver

/// One devlink resource of a switch device (`devlink resource show DEV`): a named table
/// with an occupancy and, unless unlimited, a size.
///
/// The kernel counterpart is a `DEVLINK_ATTR_RESOURCE` nest of `DEVLINK_CMD_RESOURCE_DUMP`
/// (`DEVLINK_ATTR_RESOURCE_NAME`, `_SIZE`, `_OCC`), nested by path (`/IPv4/fib`).
public struct DevlinkResource: Hashable, Sendable {
    /// The device, `bus/name` (`netdevsim/netdevsim10`).
    public var device: String
    /// The resource's path from the root (`/IPv4/fib`).
    public var path: String
    /// Entries it may hold; nil when unlimited.
    public var size: Int?
    /// Entries in use.
    public var occupancy: Int

    public init(device: String, path: String, size: Int?, occupancy: Int) {
        self.device = device
        self.path = path
        self.size = size
        self.occupancy = occupancy
    }

    /// The hardware table a resource counts, for the resources netdevsim and mlxsw name:
    /// `/IPv4/fib` and `/IPv6/fib` (LPM), `/nexthops`; nil for others (`fib-rules`, …).
    public var table: TableKind? {
        switch path.lowercased() {
        case "/ipv4/fib": .lpmIPv4
        case "/ipv6/fib": .lpmIPv6
        case "/nexthops": .nexthops
        default: nil
        }
    }
}

/// Where the driver reads devlink resources from.
public protocol DevlinkResourceSource: AnyObject {
    /// The resources of the devlink devices that own `netdevs` (interface names), or of
    /// every device when `netdevs` is empty.
    func resources(ownerOf netdevs: Set<String>) throws -> [DevlinkResource]
}

/// Reads devlink resources over generic netlink (``DevlinkChannel``, opened in the
/// driver's namespace at the first read): `DEVLINK_CMD_PORT_GET` to find the devices of
/// the ports, `DEVLINK_CMD_RESOURCE_DUMP` per device. The driver caches the answer for a
/// second (`SwitchdevDriver`). A kernel without devlink has no resources, which is no error.
public final class DevlinkNetlinkResources: DevlinkResourceSource {
    public let namespace: String?
    private var channel: DevlinkChannel?

    public init(namespace: String?) {
        self.namespace = namespace
    }

    public func resources(ownerOf netdevs: Set<String>) throws -> [DevlinkResource] {
        if channel == nil {
            do {
                channel = try DevlinkChannel(namespace: namespace)
            } catch let e as NetlinkError where e.code == ENOENT && e.operation.hasPrefix("genl_ctrl_resolve") {
                return []
            }
        }
        guard let channel else { return [] }
        var out: [DevlinkResource] = []
        for device in Self.devices(owning: netdevs, ports: try channel.ports()).sorted() {
            out += Self.flatten(device: device, try channel.resources(of: device))
        }
        return out
    }

    /// The devices whose ports are `netdevs`; every device with a port when empty.
    public static func devices(owning netdevs: Set<String>, ports: [DevlinkPort]) -> Set<DevlinkDevice> {
        Set(ports.filter { netdevs.isEmpty || $0.netdevName.map(netdevs.contains) == true }.map(\.device))
    }

    /// A device's resource tree flattened with paths (`/IPv4/fib`), sorted by path.
    /// An unlimited size stays nil; a resource the driver does not count has occupancy 0.
    public static func flatten(device: DevlinkDevice, _ nodes: [DevlinkResourceNode]) -> [DevlinkResource] {
        var out: [DevlinkResource] = []
        func walk(_ list: [DevlinkResourceNode], _ prefix: String) {
            for r in list {
                let path = prefix + "/" + r.name
                out.append(DevlinkResource(device: device.description, path: path, size: r.size.map { Int(clamping: $0) },
                                           occupancy: Int(clamping: r.occupancy ?? 0)))
                walk(r.children, path)
            }
        }
        walk(nodes, "")
        return out.sorted { ($0.device, $0.path) < ($1.device, $1.path) }
    }
}
