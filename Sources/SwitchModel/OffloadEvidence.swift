/// What an object's `OffloadState` rests on (`hoist show --json`: `confirmed`, `evidence`).
///
/// The state is one of four; the evidence says whether the hardware confirmed it. A driver
/// that programs the chip confirms by holding the object; an observer of a kernel
/// switchdev driver confirms only through the kernel's flags (`offload`, `rt_trap`,
/// `rt_offload_failed`), and for kinds the kernel never flags (VLANs, ports, router
/// interfaces) an `offloaded` object is only accepted: `confirmed` is false.
public struct OffloadEvidence: Hashable, Sendable, CustomStringConvertible {
    /// True when the hardware (or the driver that programs it) stands behind the state;
    /// false when the object was only accepted and nothing confirms it.
    public var confirmed: Bool
    /// What it rests on: "programmed by the emulated-asic driver", "kernel flag offload",
    /// "accepted by the switchdev driver; the kernel reports no offload flag for VLANs".
    public var detail: String

    public init(confirmed: Bool, detail: String) {
        self.confirmed = confirmed
        self.detail = detail
    }

    public var description: String { (confirmed ? "confirmed: " : "unconfirmed: ") + detail }
}
