import SwitchModel

/// What the hardware itself says about an object `apply` accepted, carried by
/// `DriverEvent.objectState`: the evidence behind its offload state.
///
/// A driver that programs the hardware (the emulated chip) needs none: its `ok` is the
/// hardware holding the object. An observer — the Switchdev driver, whose kernel driver
/// programs the ASIC — reports one per accepted object: the kernel's flags (`offload`,
/// `rt_trap`, `rt_offload_failed`), that the flag has not come yet, or that the kernel
/// never flags objects of this kind, so only the acceptance stands behind `offloaded`.
public enum HardwareReport: Hashable, Sendable, CustomStringConvertible {
    /// In hardware and forwarding; `evidence` names what says so ("kernel flag offload").
    case offloaded(evidence: String)
    /// In hardware, sending its traffic to the CPU, where the kernel forwards it
    /// (`RTM_F_TRAP` `rt_trap`, `RTNH_F_TRAP`): the object is `trapped(reason)`.
    case trapped(reason: String, evidence: String)
    /// Not in hardware: what `apply` would have said (`rt_offload_failed` → `hardwareFailure`,
    /// or `tableFull` when the table is at its size).
    case failed(DriverResult, evidence: String)
    /// Accepted, and nothing will confirm or deny it: the hardware reports no verdict for
    /// objects of this kind ("accepted by the switchdev driver; the kernel reports no
    /// offload flag for VLANs"). The object is `offloaded`, unconfirmed.
    case unconfirmed(String)
    /// Accepted; the hardware's verdict is to come (the kernel flags this kind, and has not
    /// flagged this object yet). The object is `pending(reason)`.
    case awaiting(String)

    /// Whether the hardware itself gave this verdict (a flag), as opposed to acceptance only.
    public var isConfirmed: Bool {
        switch self {
        case .offloaded, .trapped, .failed: true
        case .unconfirmed, .awaiting: false
        }
    }

    /// What the verdict rests on, for a person: the flag, or why there is none.
    public var evidence: String {
        switch self {
        case .offloaded(let e), .trapped(_, let e), .failed(_, let e): e
        case .unconfirmed(let why), .awaiting(let why): why
        }
    }

    public var description: String {
        switch self {
        case .offloaded(let e): "offloaded (\(e))"
        case .trapped(let r, let e): "trapped: \(r) (\(e))"
        case .failed(let r, let e): "failed: \(r) (\(e))"
        case .unconfirmed(let why): "offloaded, unconfirmed: \(why)"
        case .awaiting(let why): "pending: \(why)"
        }
    }
}
