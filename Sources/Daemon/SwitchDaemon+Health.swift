import SwitchDriver

extension SwitchDaemon {
    /// Follows the driver's health once per step. When the hardware is lost, every object
    /// becomes `pending("chip not connected")` and nothing is programmed; the kernel is
    /// still mirrored and the stages' changes wait. The daemon tries to reconnect, first
    /// after 100 ms, then backing off to once a second; when the hardware answers again it
    /// is read back (a restarted chip is empty) and programmed fully with what the kernel
    /// wants now, and the kernel's `extern_learn` entries are made equal to what it learned.
    /// Returns true when the hardware is reachable.
    func followHealth() -> Bool {
        guard case .lost(let why) = driver.health else { return true }
        let now = ContinuousClock.now
        if engine.unavailableReason == nil {
            engine.hardwareLost(Self.lostReason)
            reconnectDelay = .milliseconds(100)
            nextReconnect = now + reconnectDelay
            statistics.hardwareLosses += 1
            onHealthChange?("lost the chip: \(why); objects are pending until it returns")
            return false
        }
        guard now >= nextReconnect else { return false }
        guard case .connected = driver.reconnect() else {
            reconnectDelay = min(reconnectDelay * 2, .seconds(1))
            nextReconnect = now + reconnectDelay
            return false
        }
        let held = driver.readBack()
        engine.hardwareReplaced(by: held)
        let progress = engine.run()
        onHealthChange?("the chip is back: \(held.count) objects read back, \(progress.programmed) programmed, \(progress.removed) removed")
        // A restarted chip learned nothing yet: the old chip's extern_learn entries go.
        if let result = try? reconcileLearnedMACs() { onLearnedReconciled?(result) }
        return true
    }

    /// The pending reason of every object while the hardware cannot be reached.
    public static let lostReason = "chip not connected"
}
