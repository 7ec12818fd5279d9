import EmulatedASIC
import Foundation
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// The continuous audit's engine side: a pass over one read-back, in bounded slices.
@Suite("Offload engine: audit in slices")
struct AuditSliceTests {
    let f = L3Fixture()

    @Test("slices find missing, changed and unexpected objects; keys the engine changed since the snapshot are skipped; repair fixes the rest")
    func slices() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        let routes = (0..<100).map { HardwareObject.route(f.route("10.\(100 + $0 / 250).\($0 % 250).0/24")) }
        engine.submit(sets(f.all + routes))
        engine.run()
        // Behind the engine's back: one route gone, one changed, one added.
        let gone = HardwareKey.route(vrf: 254, IPPrefix("10.100.1.0/24")!)
        let changed = HardwareRoute(prefix: IPPrefix("10.100.2.0/24")!, action: .drop)
        let extra = HardwareRoute(prefix: IPPrefix("198.18.0.0/16")!, action: .drop)
        let skipped = HardwareKey.route(vrf: 254, IPPrefix("10.100.3.0/24")!)
        _ = asic.apply([.remove(gone), .set(.route(changed)), .set(.route(extra)), .remove(skipped)])

        let total = engine.beginAudit()
        #expect(total == f.all.count + routes.count + 1)
        // The engine changes 10.100.3.0/24 after the snapshot: not reported in this pass.
        engine.submit([.remove(skipped)])
        engine.run()
        var found: [Drift] = []
        var slices = 0
        while engine.auditInProgress {
            let d = engine.auditSlice(budget: 10)
            slices += 1
            found += d
            engine.repair(d)
            engine.run()
        }
        #expect(slices == (total + 9) / 10)
        #expect(Set(found) == [.missing(.route(f.route("10.100.1.0/24"))),
                               .changed(expected: .route(f.route("10.100.2.0/24")), actual: .route(changed)),
                               .unexpected(.route(extra))])
        for d in found { #expect(engine.isSettled(d.key), "\(d)") }
        #expect(engine.audit().isEmpty)
        #expect(engine.state(of: gone) == .offloaded)
        #expect(!asic.readBack().contains(.route(extra)))
    }

    @Test("a snapshot read elsewhere after markAudit: keys the engine changed meanwhile are skipped, the rest compared")
    func markThenLoad() {
        let asic = EmulatedASIC()
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all + [.route(f.route("10.10.0.0/16")), .route(f.route("10.11.0.0/16"))]))
        engine.run()
        engine.markAudit()
        // Between the mark and the read: the engine changes 10.10/16 (the read sees the new
        // route), and the chip loses 10.11/16 behind the engine's back.
        engine.submit(sets([.route(HardwareRoute(prefix: IPPrefix("10.10.0.0/16")!, action: .drop))]))
        engine.run()
        _ = asic.apply([.remove(.route(vrf: 254, IPPrefix("10.11.0.0/16")!))])
        let snapshot = OffloadEngine.snapshot(asic.readBack())
        // After the read, the engine changes 10.10/16 back: the snapshot is stale for it.
        engine.submit(sets([.route(f.route("10.10.0.0/16"))]))
        engine.run()
        #expect(engine.auditSlice(budget: 100).isEmpty, "no slice before the snapshot is loaded")
        engine.loadAudit(snapshot)
        var found: [Drift] = []
        while engine.auditInProgress { found += engine.auditSlice(budget: 2) }
        #expect(found == [.missing(.route(f.route("10.11.0.0/16")))])
    }

    @Test("100k routes: one read-back, then slices of 4096 keys; prints what each costs")
    func cost() {
        let asic = EmulatedASIC(profile: .datacenter)
        let engine = OffloadEngine(driver: asic)
        engine.submit(sets(f.all.dropLast()))
        engine.submit(sets((0..<100_000).map { i in
            .route(HardwareRoute(prefix: IPPrefix(address: IPAddress(ipv4: 0x2000_0000 | UInt32(i) << 8), length: 24), action: .nexthop(f.nexthop)))
        }))
        engine.run()
        let start = Date()
        let total = engine.beginAudit()
        let begin = Date().timeIntervalSince(start)
        var worst = 0.0, slices = 0, drift = 0
        while engine.auditInProgress {
            let t = Date()
            drift += engine.auditSlice(budget: 4096).count
            worst = max(worst, Date().timeIntervalSince(t))
            slices += 1
        }
        print("audit of \(total) objects: read-back and snapshot \(Int(begin * 1000)) ms, \(slices) slices of 4096, slowest \(Int(worst * 1000)) ms")
        #expect(drift == 0)
        #expect(total == 100_004)
    }
}
