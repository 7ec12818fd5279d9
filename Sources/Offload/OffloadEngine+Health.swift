import SwitchDriver
import SwitchModel

extension OffloadEngine {
    /// The hardware went away (the chip process died): until `hardwareReplaced(by:)`,
    /// every desired object is `pending(reason)` — nothing is in hardware, whatever was
    /// programmed — and the caller does not `run()` (the driver would refuse everything).
    /// Desired changes are still accepted and wait.
    public func hardwareLost(_ reason: String) {
        unavailable = reason
        guard tracksChanges else { return }
        for (key, e) in entries where e.desired != nil { changed.insert(key) }
    }

    /// Why the hardware cannot be reached, while it cannot (`hardwareLost`).
    public var unavailableReason: String? { unavailable }

    /// The hardware is back, but it is a new one (a restarted chip process starts empty):
    /// nothing programmed before is assumed held. Every entry starts over from `hardware`
    /// (the new chip's read-back), as at a first start — so the next `run()` programs
    /// everything the stages want that the chip lacks, and removes what it holds that they
    /// do not want.
    public func hardwareReplaced(by hardware: [HardwareObject]) {
        unavailable = nil
        waiters.removeAll()
        users.removeAll()
        waitingForSpace.removeAll()
        routesProgrammedBesideFailures = false
        for (key, var e) in entries {
            guard e.desired != nil else {
                store(key, nil)
                continue
            }
            e.programmed = nil
            e.status = .pending
            store(key, e)
            dirty.insert(key)
        }
        reconcile(with: hardware)
    }
}
