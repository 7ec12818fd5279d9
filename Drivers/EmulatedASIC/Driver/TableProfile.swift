import SwitchDriver

/// Table sizes and limits of an emulated chip.
///
/// The kernel counterpart is a devlink resource profile (netdevsim's `resource set`, or
/// Spectrum's KVD partitioning).
public struct TableProfile: Hashable, Sendable {
    public var name: String
    public var ports: Int
    public var tables: [TableKind: Int]
    public var maxBridges: Int
    public var maxECMPWidth: Int
    /// The most members of one LAG (the `.lags` table counts the groups).
    public var maxLAGMembers: Int
    /// Per-trap policer: packets per second and burst.
    public var trapRate: UInt64
    public var trapBurst: UInt64

    public init(name: String, ports: Int, tables: [TableKind: Int], maxBridges: Int = 16, maxECMPWidth: Int = 64,
                maxLAGMembers: Int = 8, trapRate: UInt64 = 10_000, trapBurst: UInt64 = 1_000) {
        precondition(ports >= 1 && ports <= Int(PortID.lagBase), "1…\(PortID.lagBase) ports")
        precondition(maxBridges >= 1 && maxBridges <= 16, "at most 16 bridges (4 bits of the FDB key)")
        self.name = name
        self.ports = ports
        self.tables = tables
        self.maxBridges = maxBridges
        self.maxECMPWidth = maxECMPWidth
        self.maxLAGMembers = maxLAGMembers
        self.trapRate = trapRate
        self.trapBurst = trapBurst
    }

    public func capacity(_ table: TableKind) -> Int { tables[table] ?? 0 }

    /// A small chip, as in a lab or an access switch: tables that tests can fill.
    public static let small = TableProfile(name: "small", ports: 8, tables: [
        .fdb: 1024, .vlanMembers: 512, .mdb: 128, .routerInterfaces: 64, .neighbors: 512,
        .nexthops: 256, .nexthopGroups: 64, .lpmIPv4: 8192, .lpmIPv6: 2048,
        .vxlanTunnels: 16, .vxlanFlood: 64, .vrfs: 16, .lags: 4, .acl: 256,
    ], maxECMPWidth: 16, maxLAGMembers: 4)

    /// Sized like a datacenter switch chip (Spectrum/Trident class): a full Internet table.
    public static let datacenter = TableProfile(name: "datacenter", ports: 64, tables: [
        .fdb: 524_288, .vlanMembers: 65_536, .mdb: 8192, .routerInterfaces: 4096, .neighbors: 131_072,
        .nexthops: 65_536, .nexthopGroups: 4096, .lpmIPv4: 1_310_720, .lpmIPv6: 262_144,
        .vxlanTunnels: 4096, .vxlanFlood: 16_384, .vrfs: 256, .lags: 64, .acl: 4096,
    ], maxECMPWidth: 64, maxLAGMembers: 32)

    /// The profiles by name (`hoist-asic --profile NAME`).
    public static let all: [String: TableProfile] = ["small": small, "datacenter": datacenter]
}
