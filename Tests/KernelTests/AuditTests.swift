import ChipLink
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// `hoist audit` and hoistd's continuous audit against drift injected into the chip behind
/// hoistd's back, through a second chip-link connection.
extension ChipRestartTests {
    @Test("drift injected into the chip: `hoist audit` lists it (exit 1); the continuous audit repairs it within seconds and counts it")
    func auditDrift() throws {
        let rig = try ChipRig("a", daemonArgs: ["--audit-interval", "0"])
        try Self.configureMix(rig.sw)
        #expect(try rig.wait(15) {
            let routes = try rig.show("routes").filter { ($0["dst"] as? String)?.hasPrefix("172.16.") == true }
            return routes.count == 12 && routes.allSatisfy { ($0["offload"] as? String) == "offloaded" }
        })
        usleep(300_000)
        let clean = try HoistdCLITests.run("hoist", ["audit", "--socket", rig.control])
        #expect(clean.status == 0 && clean.output.contains("no drift"), "\(clean.output) \(clean.error)")

        // Behind hoistd's back: a route removed, one changed, one added.
        let other = try RemoteChipDriver(path: rig.chipSocket, controller: false)
        func inject() {
            let results = other.apply([.remove(.route(vrf: 254, IPPrefix("172.16.0.0/24")!)),
                                       .set(.route(HardwareRoute(prefix: IPPrefix("172.16.1.0/24")!, action: .drop))),
                                       .set(.route(HardwareRoute(prefix: IPPrefix("198.18.0.0/16")!, action: .drop)))])
            #expect(results.allSatisfy { $0 == .ok }, "\(results)")
        }
        inject()
        let drift = try HoistdCLITests.run("hoist", ["audit", "--socket", rig.control])
        #expect(drift.status == 1, "\(drift.output) \(drift.error)")
        // A table (OBJECT SIDE DRIFT EXPECTED FOUND): each line's cells, split where two blanks or more are.
        let lines = drift.output.split(separator: "\n").map { $0.split(separator: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        #expect(lines.first?.prefix(3) == ["OBJECT", "SIDE", "DRIFT"], "\(drift.output)")
        #expect(lines.contains { $0.prefix(3) == ["route 172.16.0.0/24", "chip", "missing"] }, "\(drift.output)")
        #expect(lines.contains { $0.prefix(3) == ["route 172.16.1.0/24", "chip", "changed"] && $0.contains("route 172.16.1.0/24 blackhole") },
                "\(drift.output)")
        #expect(lines.contains { $0.prefix(3) == ["route 198.18.0.0/16", "chip", "unexpected"] }, "\(drift.output)")
        #expect(lines.last?.first?.hasPrefix("3 differences (kernel ") == true, "\(drift.output)")
        let json = try HoistdCLITests.run("hoist", ["audit", "--json", "--socket", rig.control])
        #expect(json.status == 1 && json.output.contains("\"side\":\"chip\""), "\(json.output)")

        // The continuous audit (1 s passes, small slices) repairs it on its own; the
        // restart's reconcile would repair it too, so the drift is injected again after.
        try rig.restartDaemon(["--audit-interval", "1", "--audit-slice", "16"])
        #expect(rig.wait(10) { rig.log.contains("reconciled with the chip") })
        inject()
        func held() -> Set<HardwareObject> { Set(other.readBack()) }
        let expected = HardwareObject.route(HardwareRoute(prefix: IPPrefix("172.16.0.0/24")!, action: .group(
            try #require(held().compactMap { if case .route(let r) = $0, r.prefix == IPPrefix("172.16.4.0/24")!, case .group(let g) = r.action { g } else { nil } }.first))))
        let repaired = rig.wait(10) {
            let h = held()
            return h.contains(expected) && !h.contains(.route(HardwareRoute(prefix: IPPrefix("198.18.0.0/16")!, action: .drop)))
                && !h.contains(.route(HardwareRoute(prefix: IPPrefix("172.16.1.0/24")!, action: .drop)))
        }
        #expect(repaired, "the continuous audit did not repair the chip")
        #expect(rig.wait(5) { rig.log.contains("audit: 3 objects differed from the chip (1 missing, 1 unexpected, 1 changed), repaired") }, "\(rig.log)")
        let stats = try rig.show("audit").first ?? [:]
        #expect((stats["drift_found"] as? Int) == 3 && (stats["drift_repaired"] as? Int) == 3 && (stats["passes"] as? Int ?? 0) >= 1, "\(stats)")
        let after = try HoistdCLITests.run("hoist", ["audit", "--socket", rig.control])
        #expect(after.status == 0, "\(after.output) \(after.error)")
    }
}
