/// The narrow protocol every switch backend implements — Hoist's `ChannelCore`.
///
/// ```
///   Offload engine ──apply([DriverOperation])──► driver ──► hardware tables
///        ▲  ◄──────────[DriverResult] (one per item)──┘
///        │  ◄──readBack()── what is programmed (reconciliation, audit)
///        └──── pollEvents() ── learned / moved / aged MACs, port state, traps
///              counters()    ── per port, per table, per trap, per drop reason
///              health        ── connected, or lost (a chip process that died); reconnect()
/// ```
///
/// Objects are whole values keyed by `HardwareKey`: `set` replaces, `remove` deletes.
/// A driver checks each item on its own: a batch is not a transaction, and an item that
/// fails leaves the others applied. A driver never reorders: items are applied in the
/// order given, so the engine's dependency order holds.
///
/// The kernel counterpart is the switchdev driver interface (`switchdev_port_attr_set`,
/// `switchdev_port_obj_add`, FIB and FDB notifiers).
public protocol SwitchDriver: AnyObject {
    /// Ports, table sizes and features. Constant for the driver's lifetime except when a
    /// fault injector shrinks a table.
    var capabilities: DriverCapabilities { get }

    /// Applies `batch` in order and returns one result per operation, in the same order.
    func apply(_ batch: [DriverOperation]) -> [DriverResult]

    /// Everything the hardware holds now, as objects (for restart reconciliation and
    /// the audit). Chip-learned MACs are not included; they arrive as events, and
    /// ``learnedMACs()`` reads them back.
    func readBack() -> [HardwareObject]

    /// The MACs the hardware learned on its own and holds now (`isStatic` false), so the
    /// control plane can make the kernel's `extern_learn` entries equal to them after
    /// events were lost (``DriverEvent/eventsLost(count:)``), at its start, or when the chip
    /// reconnects. Entries the control plane programmed are not included. Nil when the
    /// driver cannot read them back (the default) — e.g. an observer, whose kernel driver
    /// writes its learned MACs to the kernel itself.
    func learnedMACs() -> [HardwareFDBEntry]?

    /// Removes and returns up to `limit` pending events, oldest first.
    func pollEvents(limit: Int) -> [DriverEvent]

    /// A snapshot of the counters.
    func counters() -> DriverCounters

    /// Whether the hardware can be reached now. Drivers whose hardware cannot go away
    /// (in process, or reached through the kernel) take the default: `connected`.
    var health: DriverHealth { get }

    /// After `lost`: one attempt to reach the hardware again. When it answers it may be new
    /// hardware (a restarted chip process starts empty): the caller reads it back.
    func reconnect() -> DriverHealth
}

extension SwitchDriver {
    /// Not readable: the default for drivers without hardware learning of their own.
    public func learnedMACs() -> [HardwareFDBEntry]? { nil }
}
