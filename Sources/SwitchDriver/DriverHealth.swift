/// Whether a driver reaches its hardware.
public enum DriverHealth: Hashable, Sendable, CustomStringConvertible {
    case connected
    /// The hardware cannot be reached (a chip process that exited), and why. Until
    /// `reconnect()` succeeds, `apply` refuses every operation and the other calls answer
    /// empty.
    case lost(String)

    public var description: String {
        switch self {
        case .connected: "connected"
        case .lost(let why): "lost: \(why)"
        }
    }
}

extension SwitchDriver {
    /// A driver whose hardware is reached in process (or through the kernel) never loses it.
    public var health: DriverHealth { .connected }

    public func reconnect() -> DriverHealth { health }
}
