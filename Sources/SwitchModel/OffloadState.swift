/// Where one object Hoist manages is handled: in the switch chip, deliberately on the CPU,
/// not yet decided, or not in hardware because something failed.
///
/// The kernel's counterparts are the route flags `RTM_F_OFFLOAD` (`offload`),
/// `RTM_F_TRAP` (`trap`) and `RTM_F_OFFLOAD_FAILED` (`offload_failed`), and the FDB flag
/// `NTF_OFFLOADED`; Hoist gives every object kind one of these, with a reason.
public enum OffloadState: Hashable, Sendable, CustomStringConvertible {
    /// Programmed into the chip, which handles it without the CPU.
    case offloaded
    /// Deliberately handled by the CPU path (the chip traps the traffic); the reason says why.
    case trapped(reason: String)
    /// Waiting: for a dependency, or for the driver to take the next batch.
    case pending(reason: String)
    /// Not in hardware although it should be; the reason names the blocker. Traffic still
    /// reaches the CPU path.
    case failed(reason: String)

    /// `offloaded`, `trapped`, `pending` or `failed`: the name in `--json` output.
    public var name: String {
        switch self {
        case .offloaded: "offloaded"
        case .trapped: "trapped"
        case .pending: "pending"
        case .failed: "failed"
        }
    }

    /// The reason, if the state carries one.
    public var reason: String? {
        switch self {
        case .offloaded: nil
        case .trapped(let r), .pending(let r), .failed(let r): r
        }
    }

    public var description: String {
        if let reason { return "\(name): \(reason)" }
        return name
    }
}
