import EmulatedASIC
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// A driver whose hardware can be lost and replaced by a new, empty chip, as a chip
/// process that dies and is started again.
final class RestartingChip: SwitchDriver {
    var chip = EmulatedASIC()
    var lost: String?
    var capabilities: DriverCapabilities { chip.capabilities }
    func apply(_ batch: [DriverOperation]) -> [DriverResult] {
        lost == nil ? chip.apply(batch) : batch.map { _ in .invalid("chip link down") }
    }
    func readBack() -> [HardwareObject] { lost == nil ? chip.readBack() : [] }
    func pollEvents(limit: Int) -> [DriverEvent] { lost == nil ? chip.pollEvents(limit: limit) : [] }
    func counters() -> DriverCounters { chip.counters() }
    var health: DriverHealth { lost.map { .lost($0) } ?? .connected }
    func reconnect() -> DriverHealth { health }
}

@Suite("Offload engine: hardware that goes away")
struct HardwareHealthTests {
    let f = L3Fixture()

    @Test("the chip is lost: every object pending with the reason; a new, empty chip gets everything, including what changed meanwhile")
    func chipReplaced() {
        let driver = RestartingChip()
        let engine = OffloadEngine(driver: driver)
        engine.submit(sets(f.all))
        engine.run()
        for o in f.all { #expect(engine.state(of: o.key) == .offloaded, "\(o.key)") }

        driver.lost = "the chip closed the connection"
        engine.hardwareLost("chip not connected")
        for o in f.all { #expect(engine.state(of: o.key) == .pending(reason: "chip not connected"), "\(o.key)") }
        #expect(engine.takeChangedKeys().count == f.all.count, "watchers see every object go pending")
        let added = HardwareObject.route(f.route("10.10.0.0/16"))
        engine.submit(sets([added]))
        #expect(engine.state(of: added.key) == .pending(reason: "chip not connected"))

        driver.chip = EmulatedASIC()
        driver.lost = nil
        engine.hardwareReplaced(by: driver.readBack())
        #expect(engine.unavailableReason == nil)
        engine.run()
        for o in f.all + [added] { #expect(engine.state(of: o.key) == .offloaded, "\(o.key)") }
        #expect(Set(driver.chip.readBack()) == Set(f.all + [added]))
        #expect(engine.audit().isEmpty)
    }

    @Test("a port the chip reports broken (wire missing) is failed with the reason, also after a read-back and a new setting, until it works again")
    func brokenPort() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        let port = HardwareObject.port(PortSettings(port: 1))
        engine.submit(sets([port]))
        engine.run()
        func report() {
            for event in asic.pollEvents(limit: 100) {
                if case .objectState(let key, let result) = event { engine.hardwareReported(key, result) }
            }
        }
        report()
        #expect(engine.state(of: port.key) == .offloaded)

        asic.chip.setPortFault(1, "front-panel wire fp1 missing")
        #expect(!asic.chip.isLinkUp(1))
        report()
        #expect(engine.state(of: port.key) == .failed(reason: "hardware failure: front-panel wire fp1 missing"))
        // A restarted control plane reads back and learns the fault again.
        _ = asic.readBack()
        #expect(asic.pollEvents(limit: 100).contains(.objectState(.port(1), .failed(.hardwareFailure("front-panel wire fp1 missing"), evidence: "reported by the chip"))))
        // New settings for the port do not mend it.
        engine.submit(sets([.port(PortSettings(port: 1, adminUp: false))]))
        engine.run()
        report()
        #expect(engine.state(of: port.key) == .failed(reason: "hardware failure: front-panel wire fp1 missing"))

        asic.chip.setPortFault(1, nil)
        report()
        #expect(engine.state(of: port.key) == .offloaded)
    }

    @Test("a neighbour resolving changes the state of every route over it: watchers are told of each (derived changes)")
    func derivedChanges() {
        let engine = OffloadEngine(driver: EmulatedASIC())
        let routes = (0..<100).map { HardwareObject.route(f.route("10.\($0).0.0/16")) }
        engine.submit(sets([.port(f.port), .routerInterface(f.rif), .nexthop(f.nexthop)] + routes))
        engine.run()
        for r in routes {
            if case .trapped? = engine.state(of: r.key) {} else { Issue.record("\(r.key): \(String(describing: engine.state(of: r.key)))") }
        }
        _ = engine.takeChangedKeys()
        engine.submit(sets([.neighbor(f.neighbor)]))
        engine.run()
        for r in routes { #expect(engine.state(of: r.key) == .offloaded, "\(r.key)") }
        let changed = engine.takeChangedKeys(dependents: true)
        #expect(changed.isSuperset(of: routes.map(\.key) + [.nexthop(f.nexthop), HardwareObject.neighbor(f.neighbor).key]), "\(changed.count) keys")
    }
}
