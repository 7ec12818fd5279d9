import SwitchModel

/// Something the hardware reports on its own. The set is closed.
public enum DriverEvent: Hashable, Sendable, CustomStringConvertible {
    /// The chip learned a source MAC (switchdev's `SWITCHDEV_FDB_ADD_TO_BRIDGE`, written
    /// to the kernel as `extern_learn`).
    case macLearned(bridge: BridgeID, vid: VLANID, mac: MACAddress, destination: FDBDestination)
    /// A learned MAC was seen on another port or tunnel.
    case macMoved(bridge: BridgeID, vid: VLANID, mac: MACAddress, from: FDBDestination, to: FDBDestination)
    /// A learned MAC aged out (`SWITCHDEV_FDB_DEL_TO_BRIDGE`).
    case macAged(bridge: BridgeID, vid: VLANID, mac: MACAddress, destination: FDBDestination)
    /// A port's link came up or went down (mirrored to the host interface's carrier).
    case portOperState(PortID, up: Bool)
    /// A packet was sent to the CPU.
    case packetTrapped(PortID, reason: TrapReason, length: Int)
    /// The hardware's own word on an object `apply` had accepted (`ok`): a kernel switchdev
    /// driver offloads asynchronously and reports it with the object's flags
    /// (`RTM_F_OFFLOAD`, `RTM_F_TRAP`, `RTM_F_OFFLOAD_FAILED`, `NTF_OFFLOADED`); an observer
    /// also says when no flag will come, so `offloaded` shows as unconfirmed.
    case objectState(HardwareKey, HardwareReport)
    /// The hardware's event queue overflowed and `count` events were lost — a chip's FIFO
    /// overflow interrupt. It follows the last event queued before the loss; what was built
    /// from events (the kernel's `extern_learn` entries) is then re-read from
    /// ``SwitchDriver/learnedMACs()``.
    case eventsLost(count: Int)

    public var description: String {
        switch self {
        case .macLearned(_, let vid, let mac, let d): "learned \(mac) vlan \(vid) on \(d)"
        case .macMoved(_, let vid, let mac, let from, let to): "moved \(mac) vlan \(vid) from \(from) to \(to)"
        case .macAged(_, let vid, let mac, let d): "aged \(mac) vlan \(vid) on \(d)"
        case .portOperState(let p, let up): "\(p) \(up ? "up" : "down")"
        case .packetTrapped(let p, let r, let len): "trapped \(len) bytes from \(p): \(r)"
        case .objectState(let k, let r): "\(k): \(r)"
        case .eventsLost(let n): "event queue overflow: \(n) events lost"
        }
    }
}
