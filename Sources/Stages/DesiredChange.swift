import SwitchDriver
import SwitchModel

/// A hardware object a stage wants, with how its traffic is meant to be handled.
public struct DesiredObject: Hashable, Sendable, CustomStringConvertible {
    public var object: HardwareObject
    /// Set when the object's traffic is deliberately left to the CPU (a trap route, a
    /// feature the driver lacks); the reason says why, in words a person can act on.
    public var trapReason: String?
    /// False when the chip cannot hold the object at all: the engine records
    /// `trapped(trapReason)` for it and programs nothing.
    public var programmable: Bool

    public init(_ object: HardwareObject, trapReason: String? = nil, programmable: Bool = true) {
        self.object = object
        self.trapReason = trapReason
        self.programmable = programmable
    }

    public var key: HardwareKey { object.key }

    public var description: String {
        var s = object.description
        if let trapReason { s += " [trap: \(trapReason)]" }
        if !programmable { s += " [cpu only]" }
        return s
    }
}

/// One change to the desired hardware state, as stages emit it.
public enum DesiredChange: Hashable, Sendable, CustomStringConvertible {
    /// Want this object (replacing any with the same key).
    case set(DesiredObject)
    /// No longer want the object with this key.
    case remove(HardwareKey)

    public var key: HardwareKey {
        switch self {
        case .set(let d): d.key
        case .remove(let k): k
        }
    }

    public var description: String {
        switch self {
        case .set(let d): "set \(d)"
        case .remove(let k): "remove \(k)"
        }
    }
}
