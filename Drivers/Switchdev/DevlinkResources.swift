import Foundation
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

/// Reads devlink resources through iproute2's `devlink -j port show` and
/// `devlink -j resource show` (run in the namespace with `ip netns exec`).
///
/// Chosen over generic netlink (`DEVLINK_CMD_RESOURCE_DUMP` through libnl-genl-3) for
/// time: it costs a process per read, so the driver caches it (`SwitchdevDriver`). The
/// JSON parsing is pure (`parse…`) and tested on the output measured in the test VM.
public final class DevlinkTool: DevlinkResourceSource {
    public let namespace: String?
    public let executable: String

    public init(namespace: String?, executable: String = "devlink") {
        self.namespace = namespace
        self.executable = executable
    }

    /// Whether the tool can run here (a missing `devlink` means no resources, not an error).
    public var isAvailable: Bool {
        ["/usr/sbin/devlink", "/sbin/devlink", "/usr/bin/devlink"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public func resources(ownerOf netdevs: Set<String>) throws -> [DevlinkResource] {
        guard isAvailable else { return [] }
        let devices = try Self.parseDevices(owning: netdevs, portJSON: run(["-j", "port", "show"]))
        var out: [DevlinkResource] = []
        for device in devices.sorted() {
            out += try Self.parseResources(run(["-j", "resource", "show", device]))
        }
        return out
    }

    /// The devices whose ports are `netdevs` in `devlink -j port show`
    /// (`{"port":{"netdevsim/netdevsim10/0":{"netdev":"eth4",…}}}`); all when empty.
    public static func parseDevices(owning netdevs: Set<String>, portJSON: Data) throws -> Set<String> {
        guard let root = try JSONSerialization.jsonObject(with: portJSON) as? [String: Any],
              let ports = root["port"] as? [String: Any] else { return [] }
        var out: Set<String> = []
        for (name, value) in ports {
            let netdev = (value as? [String: Any])?["netdev"] as? String
            guard netdevs.isEmpty || netdev.map(netdevs.contains) == true else { continue }
            // "bus/device/index" → "bus/device"
            let parts = name.split(separator: "/")
            guard parts.count >= 3 else { continue }
            out.insert(parts.dropLast().joined(separator: "/"))
        }
        return out
    }

    /// The resources in `devlink -j resource show DEV`
    /// (`{"resources":{"netdevsim/netdevsim10":[{"name":"IPv4","size":…,"occ":…,"resources":[…]}]}}`),
    /// flattened with their paths. `"size":"unlimited"` reads as nil.
    public static func parseResources(_ json: Data) throws -> [DevlinkResource] {
        guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
              let devices = root["resources"] as? [String: Any] else { return [] }
        var out: [DevlinkResource] = []
        func walk(_ device: String, _ list: [Any], _ prefix: String) {
            for case let r as [String: Any] in list {
                guard let name = r["name"] as? String else { continue }
                let path = prefix + "/" + name
                out.append(DevlinkResource(device: device, path: path, size: integer(r["size"]),
                                           occupancy: integer(r["occ"]) ?? 0))
                if let children = r["resources"] as? [Any] { walk(device, children, path) }
            }
        }
        for (device, list) in devices {
            if let list = list as? [Any] { walk(device, list, "") }
        }
        return out.sorted { ($0.device, $0.path) < ($1.device, $1.path) }
    }

    private static func integer(_ value: Any?) -> Int? {
        if let n = value as? NSNumber { return n.intValue }
        if let s = value as? String { return Int(s) }
        return nil
    }

    /// Runs the tool and returns its standard output. posix_spawn and a pipe, not
    /// Foundation's `Process`, whose run loop needs a socket pair the test VM's minimal
    /// root cannot always give it.
    private func run(_ arguments: [String]) throws -> Data {
        let argv = (namespace.map { ["ip", "netns", "exec", $0, executable] } ?? [executable]) + arguments
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw DevlinkError(message: "pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw DevlinkError(message: "cannot run \(argv[0]): errno \(rc)")
        }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n > 0 { out.append(contentsOf: buffer[0..<n]); continue }
            if n < 0, errno == EINTR { continue }
            break
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw DevlinkError(message: "\(argv.joined(separator: " ")) exited with status \(exited ? code : 128 + (status & 0x7f))")
        }
        return out
    }
}

/// A devlink read that failed: the message says which command and how.
public struct DevlinkError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
