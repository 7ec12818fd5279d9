import Difftest
import Testing

@Suite("Random operator (hoist-difftest --random)")
struct RandomOperatorTests {
    /// The first `n` actions and probes of `seed`, every action accepted.
    static func sequence(_ seed: UInt64, _ n: Int, features: Set<String> = []) -> [String] {
        var g = RandomOperator(seed: seed, options: .init(features: features))
        var out = [g.labText()]
        for _ in 0..<n {
            let a = g.next()
            g.accepted(a)
            out.append(a.description)
            out.append(g.probes().sends.joined(separator: "; "))
        }
        return out
    }

    @Test("a seed replays: the same lab, commands and probes; another seed gives another sequence")
    func replay() throws {
        #expect(Self.sequence(7, 300) == Self.sequence(7, 300))
        #expect(Self.sequence(7, 50) != Self.sequence(8, 50))
        // The lab parses as a scenario.
        var g = RandomOperator(seed: 7, options: .init())
        let scenario = try Scenario.parse(g.labText(), name: "random")
        #expect(scenario.spec.hosts.count == 4)
    }

    @Test("commands needing a kernel feature are generated only when it is there")
    func features() {
        let without = Self.sequence(3, 400).joined(separator: "\n")
        #expect(!without.contains("vlan_filtering") && !without.contains("type vrf") && !without.contains("vxlan"))
        #expect(!without.contains("bond"))
        let with = Self.sequence(3, 600, features: ["vlan-filtering", "vrf", "vxlan", "bond"]).joined(separator: "\n")
        #expect(with.contains("vlan_filtering") && with.contains("type vrf"))
        // A bond: made, slaves in and out, in br0 or routed, deleted.
        #expect(!with.contains("Optional("))
        for command in ["ip link add bond0 type bond mode balance-xor", "ip link add bond0 type bond mode active-backup", "master bond0", "ip link del bond0"] {
            #expect(with.contains(command), "no `\(command)` in 600 steps")
        }
        // VXLAN: h4's VTEP in the lab; vx0 made, in and out of br0, learning toggled, deleted.
        #expect(with.contains("exec h4 ip link add vx0 type vxlan id 100 local 10.0.4.1"))
        for command in ["ip link add vx0 type vxlan", "ip link set vx0 nomaster", "bridge link set dev vx0 learning off", "ip link del vx0"] {
            #expect(with.contains(command), "no `\(command)` in 600 steps")
        }
        // The seeds CI runs on this machine's kernel (vxlan, no VLAN filtering or VRF) make vx0.
        for seed: UInt64 in [1, 20261206] {
            let run = Self.sequence(seed, 200, features: ["vxlan"])
            let made = run.filter { $0.hasPrefix("ip link add vx0") }.count
            let probed = run.filter { $0.contains("10.0.100.4") }.count
            print("seed \(seed): vx0 made \(made) times, \(probed) probe rounds to h4's VTEP")
            #expect(made > 0 && probed > 0)
        }
    }

    @Test("avoided patterns stay out (locked ports, snooping off; vxlan without the feature); host MACs get static entries on other ports too")
    func avoided() {
        let all = (1...5).flatMap { Self.sequence(UInt64($0), 300) }.joined(separator: "\n")
        #expect(!all.contains("locked") && !all.contains("vxlan"))
        #expect(all.contains("mcast_snooping 0"))
        #expect(!all.contains("send_redirects"))
        // A host's MAC on another host's port: the FDB move the kernel announces by the new port only.
        let moved = all.split(separator: "\n").contains { line in
            let words = line.split(separator: " ")
            guard line.contains("bridge fdb replace 02:00:00:00:01:0"), let i = words.firstIndex(of: "replace"), i + 3 < words.count else { return false }
            return words[i + 1].last != words[i + 3].last
        }
        #expect(moved)
    }
}
