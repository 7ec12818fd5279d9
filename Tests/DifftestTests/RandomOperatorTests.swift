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

    @Test("the avoided known differences: no static or sticky entry for a host MAC off its port, no locked ports, no vxlan, snooping off")
    func avoided() {
        let all = (1...5).flatMap { Self.sequence(UInt64($0), 300) }.joined(separator: "\n")
        #expect(!all.contains("locked") && !all.contains("vxlan"))
        #expect(all.contains("mcast_snooping 0"))
        for line in all.split(separator: "\n") where line.contains("bridge fdb replace 02:00:00:00:01:0") {
            // hK's MAC 02:00:00:00:01:0K only on swpK.
            let words = line.split(separator: " ")
            guard let i = words.firstIndex(of: "replace"), i + 3 < words.count else { continue }
            #expect(words[i + 1].last == words[i + 3].last, "\(line)")
        }
    }
}
