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
        #expect(!without.contains("vlan_filtering") && !without.contains("type vrf"))
        let with = Self.sequence(3, 400, features: ["vlan-filtering", "vrf"]).joined(separator: "\n")
        #expect(with.contains("vlan_filtering") && with.contains("type vrf"))
    }

    @Test("avoided patterns stay out (locked ports, vxlan, snooping off); host MACs get static entries on other ports too")
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
