import EmulatedASIC
import Offload
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// A port classified by an ingress ACL is `trapped` while the chip does not hold the ACL
/// (its traffic goes to the CPU there); an ACL refused for want of TCAM is `failed`, and
/// programmed once another ACL frees the room.
@Suite("Offload engine: ingress ACL states")
struct ACLStateTests {
    static func rules(_ n: Int, verdict: TCVerdict = .pass) -> [ACLRule] {
        (0..<n).map { ACLRule(priority: 1, handle: UInt32($0 + 1), etherType: 0x0003, match: FlowMatch(), verdict: verdict) }
    }

    @Test("TCAM full: the ACL fails with the table, its port is trapped; the other ACL removed, both offloaded")
    func tcamFull() {
        let asic = EmulatedASIC()          // small profile: 256 ACL entries
        let engine = OffloadEngine(driver: asic)
        let bridge = HardwareObject.bridge(BridgeSettings(bridge: 10))
        let ports = [1, 2].map { HardwareObject.port(PortSettings(port: PortID(UInt16($0)), bridge: 10, ingressACL: true)) }
        let big = HardwareObject.acl(HardwarePortACL(port: 1, rules: Self.rules(250)))
        let small = HardwareObject.acl(HardwarePortACL(port: 2, rules: Self.rules(10, verdict: .drop)))
        engine.submit(sets([bridge] + ports + [big]))
        engine.run()
        engine.submit(sets([small]))
        engine.run()
        #expect(engine.state(of: .acl(1)) == .offloaded)
        #expect(engine.state(of: .port(1)) == .offloaded)
        #expect(engine.state(of: .acl(2)) == .failed(reason: DriverResult.tableFull(.acl, used: 250, capacity: 256).description))
        guard case .trapped(let reason)? = engine.state(of: .port(2)) else {
            Issue.record("port 2 is \(String(describing: engine.state(of: .port(2))))")
            return
        }
        #expect(reason.contains("acl swp2 is not in the chip"), "\(reason)")
        #expect(engine.occupancy()[.acl] == TableOccupancy(used: 250, capacity: 256))
        engine.submit([.remove(.acl(1))])
        engine.run()
        engine.run()
        #expect(engine.state(of: .acl(2)) == .offloaded)
        #expect(engine.state(of: .port(2)) == .offloaded)
        #expect(engine.occupancy()[.acl] == TableOccupancy(used: 10, capacity: 256))
        #expect(engine.takeChangedKeys(dependents: true).contains(.port(2)), "the port's derived state change is not announced")
    }
}
