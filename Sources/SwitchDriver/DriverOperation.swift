import SwitchModel

/// One change a driver is asked to make. The set is closed.
public enum DriverOperation: Hashable, Sendable, CustomStringConvertible {
    /// Program the object, replacing any object with the same key.
    case set(HardwareObject)
    /// Remove the object with this key; removing what is not there succeeds.
    case remove(HardwareKey)

    public var key: HardwareKey {
        switch self {
        case .set(let o): o.key
        case .remove(let k): k
        }
    }

    public var description: String {
        switch self {
        case .set(let o): "set \(o)"
        case .remove(let k): "remove \(k)"
        }
    }
}

/// The outcome of one operation in a batch. Every case but `ok` carries what a person
/// needs to act on it (SONiC's success / retry / failed / invalid taxonomy).
public enum DriverResult: Hashable, Sendable, CustomStringConvertible {
    case ok
    /// The chip cannot do this at all; the engine keeps it on the CPU path.
    case notSupported(String)
    /// No room: retry once entries are freed.
    case tableFull(TableKind, used: Int, capacity: Int)
    /// A referenced object is not programmed: retry once it is.
    case dependencyMissing(HardwareKey)
    /// The request itself is wrong (a programmer error upstream).
    case invalid(String)
    /// The hardware tried and failed, in its own words (a kernel switchdev driver's
    /// `rt_offload_failed`, a firmware error): the object stays on the CPU path.
    case hardwareFailure(String)

    public var isOK: Bool { self == .ok }

    /// The message a person reads: "LPM table full 8192/8192".
    public var description: String {
        switch self {
        case .ok: "ok"
        case .notSupported(let what): "not supported: \(what)"
        case .tableFull(let t, let used, let cap): "\(t.title) full \(used)/\(cap)"
        case .dependencyMissing(let k): "\(k) not programmed"
        case .invalid(let why): "invalid: \(why)"
        case .hardwareFailure(let why): "hardware failure: \(why)"
        }
    }
}
