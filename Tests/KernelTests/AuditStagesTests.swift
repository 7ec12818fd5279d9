import Daemon
import Foundation
import Stages
import SwitchDriver
import SwitchModel
import Testing

extension EmulatedSwitchL3Tests {
    @Test("the on-demand audit's stage side: an object hoistd lost between mirror and engine is reported as stages/missing, and --repair restores it")
    func auditStages() throws {
        let lab = try Lab(hosts: 2, address: { "10.\($0).0.2/24" }, gateway: { "10.\($0).0.1" }) { sw in
            try sw.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try sw.ipScript("""
                addr add 10.1.0.1/24 dev swp1
                addr add 10.2.0.1/24 dev swp2
                link set swp1 up
                link set swp2 up
                route add 198.51.100.0/24 via 10.2.0.2
                """)
        }
        let daemon = lab.daemon
        let route = HardwareKey.route(vrf: 254, IPPrefix("198.51.100.0/24")!)
        #expect(try lab.pump(until: { daemon.engine.state(of: route) != nil }))
        try lab.pump(milliseconds: 200)
        let clean = try daemon.auditNow(repair: false)
        #expect(clean.findings.isEmpty, "\(clean.findings)")
        #expect(clean.kernelObjects > 0 && clean.desiredObjects > 0 && clean.chipObjects > 0)

        // As if a delta had been lost on its way to the engine: hoistd no longer wants the
        // route (and removes it from the chip), though the kernel has it.
        daemon.engine.submit([.remove(route)])
        daemon.engine.run()
        let lost = try daemon.auditNow(repair: false)
        #expect(lost.findings.map { "\($0.side) \($0.kind) \($0.object)" } == ["stages missing route 198.51.100.0/24"], "\(lost.findings)")
        #expect(daemon.auditStatistics.onDemandDrift == 1)

        let repaired = try daemon.auditNow(repair: true)
        #expect(repaired.repaired && repaired.findings.count == 1)
        #expect(daemon.engine.desiredObject(route) != nil)
        #expect(daemon.driver.readBack().contains { $0.key == route })
        #expect(try daemon.auditNow(repair: false).findings.isEmpty)
    }
}
