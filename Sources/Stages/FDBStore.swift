import SwitchDriver
import SwitchModel

/// Kernel FDB entries a stage keeps so that it can map them again when the topology
/// changes (a port joins a bridge after its entries arrived, VLAN filtering is switched
/// on). Indexed by port, for topology changes, and by MAC and VLAN, for the hardware key
/// (bridge, VID, MAC) that several kernel entries can share.
///
/// The kernel counterpart is the AF_BRIDGE neighbour table (`bridge fdb show`).
struct FDBStore: Sendable {
    struct Stored: Sendable {
        var entry: FDBEntry
        /// When the entry first arrived; the newest entry wins a shared hardware key.
        var sequence: UInt64
    }

    private struct Address: Hashable, Sendable {
        var mac: MACAddress
        var vlan: VLANID
    }

    private var byPort: [IfIndex: [FDBEntry.Key: Stored]] = [:]
    private var byAddress: [Address: Set<FDBEntry.Key>] = [:]

    /// Adds or replaces an entry; a replaced entry keeps its age.
    mutating func insert(_ entry: FDBEntry, sequence: UInt64) {
        let k = entry.key
        let age = byPort[k.port]?[k]?.sequence ?? sequence
        byPort[k.port, default: [:]][k] = Stored(entry: entry, sequence: age)
        byAddress[Address(mac: k.mac, vlan: k.vlan), default: []].insert(k)
    }

    mutating func remove(_ k: FDBEntry.Key) {
        guard byPort[k.port]?.removeValue(forKey: k) != nil else { return }
        if byPort[k.port]?.isEmpty == true { byPort[k.port] = nil }
        let a = Address(mac: k.mac, vlan: k.vlan)
        byAddress[a]?.remove(k)
        if byAddress[a]?.isEmpty == true { byAddress[a] = nil }
    }

    func entries(on port: IfIndex) -> Dictionary<FDBEntry.Key, Stored>.Values {
        (byPort[port] ?? [:]).values
    }

    func entries(mac: MACAddress, vlan: VLANID) -> [Stored] {
        (byAddress[Address(mac: mac, vlan: vlan)] ?? []).compactMap { byPort[$0.port]?[$0] }
    }
}

/// One kernel entry's claim on a hardware FDB key. Permanent (local) entries beat static
/// ones, static beat dynamic; among equals the newest wins (the kernel moved the MAC).
struct FDBCandidate: Sendable {
    var object: HardwareFDBEntry
    var priority: UInt8
    var sequence: UInt64
    /// Why the entry's traffic is the CPU's (a MAC behind a port the chip does not have),
    /// or why there is nothing to program.
    var trapReason: String? = nil
    /// False for a record of a kernel entry the chip has no use for (priority 0): shown
    /// `trapped(trapReason)`, never programmed.
    var programmable = true

    /// What the engine is asked for.
    var desired: DesiredObject { DesiredObject(.fdb(object), trapReason: trapReason, programmable: programmable) }

    func beats(_ other: FDBCandidate?) -> Bool {
        guard let other else { return true }
        return (priority, sequence) > (other.priority, other.sequence)
    }

    /// The best of several claims.
    static func best<S: Sequence>(_ candidates: S) -> FDBCandidate? where S.Element == FDBCandidate {
        candidates.reduce(nil) { best, c in c.beats(best) ? c : best }
    }
}
