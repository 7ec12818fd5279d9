import Foundation
import Lab
import SwitchModel
import Testing

/// The lab file: a good file reads into the spec it says, every kind of mistake is refused
/// with its file, line and what is wrong, and the plan names and wires what the spec says.
@Suite("Lab files")
struct LabFileTests {
    static let twoSwitches = """
        # two switches, a host on each, an inter-switch link
        switch s1 ports 4
        switch s2 ports 8 profile datacenter report   # a comment after a statement

        host h1 s1:1 10.0.0.1/24 gw 10.0.0.254 mac 02:00:00:00:00:01
        host h2 s2:1 10.0.0.2/24 2001:db8::2/64 gw 2001:db8::1 gw 10.0.0.254
        link s1:4 s2:4
        start
        exec s1 ip link add br0 type bridge
        exec h1 sh -c 'echo "quoted # not a comment"' x"y z"
        """

    @Test("a good file reads into switches, hosts, links, start and commands in order")
    func goodFile() throws {
        let spec = try LabFile.parse(Self.twoSwitches, file: "two.lab")
        #expect(spec.switches == [
            LabSpec.Switch(name: "s1", ports: 4, profile: "small", report: false, line: 2),
            LabSpec.Switch(name: "s2", ports: 8, profile: "datacenter", report: true, line: 3),
        ])
        #expect(spec.hosts.count == 2)
        let h1 = try #require(spec.hostNamed("h1"))
        #expect(h1.port == LabSpec.PortRef("s1", 1) && h1.line == 5)
        #expect(h1.addresses.map { "\($0.address)/\($0.length)" } == ["10.0.0.1/24"])
        #expect(h1.gateways == [IPAddress("10.0.0.254")!])
        #expect(h1.mac == MACAddress("02:00:00:00:00:01"))
        let h2 = try #require(spec.hostNamed("h2"))
        #expect(h2.addresses.map { "\($0.address)/\($0.length)" } == ["10.0.0.2/24", "2001:db8::2/64"])
        #expect(h2.gateways.map(\.description) == ["2001:db8::1", "10.0.0.254"])
        #expect(spec.links == [LabSpec.Link(.init("s1", 4), .init("s2", 4), line: 7)])
        #expect(spec.start)
        #expect(spec.commands == [
            LabSpec.Command(node: "s1", arguments: ["ip", "link", "add", "br0", "type", "bridge"], line: 9),
            LabSpec.Command(node: "h1", arguments: ["sh", "-c", "echo \"quoted # not a comment\"", "xy z"], line: 10),
        ])
        #expect(spec.attachment(of: .init("s1", 4)) == .link(.init("s2", 4)))
        #expect(spec.attachment(of: .init("s2", 1)) == .host("h2"))
        #expect(spec.attachment(of: .init("s1", 2)) == .unplugged)
    }

    @Test("a switch's default profile is the smallest with enough ports")
    func defaultProfile() throws {
        let spec = try LabFile.parse("switch a ports 8\nswitch b ports 9")
        #expect(spec.switches.map(\.profile) == ["small", "datacenter"])
    }

    /// Each mistake, the line it is on, and words the message must contain.
    static let mistakes: [(text: String, line: Int, says: String)] = [
        ("switch s1 ports 4\nhost h1 s1:9", 2, "port 9 out of range 1…4 of switch s1"),
        ("switch s1 ports 4\nhost h1 s1:0", 2, "port 0 out of range 1…4"),
        ("switch s1 ports 4\nhost h1 s3:1", 2, "unknown switch 's3' in s3:1"),
        ("switch s1 ports 4\nhost h1 s1:1\nhost h2 s1:1", 3, "s1:1 is already used by host h1 (line 2)"),
        ("switch s1 ports 4\nhost h1 s1:1\nlink s1:2 s1:1", 3, "s1:1 is already used by host h1 (line 2)"),
        ("switch s1 ports 4\nlink s1:2 s1:2", 2, "a link joins two different ports"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.300/24", 2, "bad address '10.0.0.300/24'"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.1", 2, "bad address '10.0.0.1': expected ADDRESS/LENGTH"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.1/33", 2, "bad address"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.1/24\nhost h2 s1:2 10.0.0.1/24", 3, "address 10.0.0.1 is already h1's (line 2)"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.1/24 gw 10.1.0.1", 2, "gateway 10.1.0.1 is not in any of h1's subnets"),
        ("switch s1 ports 4\nhost h1 s1:1 10.0.0.1/24 gw 10.0.0.2 gw 10.0.0.3", 2, "two IPv4 gateways"),
        ("switch s1 ports 4\nhost h1 s1:1 gw nowhere", 2, "gw takes an address"),
        ("switch s1 ports 4\nhost h1 s1:1 mac 02:00", 2, "mac takes an address"),
        ("switch s1 ports 4\nhost h1 s1-1", 2, "bad port 's1-1': expected SWITCH:PORT"),
        ("switch s1 ports 4\nhost h1", 2, "usage: host NAME SWITCH:PORT"),
        ("switch s1", 1, "switch s1 needs `ports N`"),
        ("switch s1 ports four", 1, "ports takes a number"),
        ("switch s1 ports 9 profile small", 1, "ports takes 1…8 with profile small, not 9"),
        ("switch s1 ports 65", 1, "ports takes 1…64 with profile datacenter, not 65"),
        ("switch s1 ports 0", 1, "ports takes 1 or more, not 0"),
        ("switch s1 ports 4 profile huge", 1, "unknown profile 'huge'; choose one of: datacenter, small"),
        ("switch s1 ports 4 fast", 1, "unknown option 'fast'"),
        ("switch s1 ports 4\nswitch s1 ports 2", 2, "'s1' is already declared (line 1)"),
        ("switch s1 ports 4\nhost s1 s1:1", 2, "'s1' is already declared (line 1)"),
        ("switch s-1 ports 4", 1, "bad switch name 's-1'"),
        ("switch asic ports 4", 1, "bad switch name 'asic'"),
        ("switch s1 ports 4\nhost 1h s1:1", 2, "bad host name '1h'"),
        ("switch s1 ports 4\nhots h1 s1:1", 2, "unknown statement 'hots'; expected switch, host, link, start, ipv6, exec or frr"),
        ("switch s1 ports 4\nfrr s1", 2, "usage: frr NODE FILE"),
        ("switch s1 ports 4\nfrr s9 s9.conf", 2, "frr: unknown switch or host 's9'"),
        ("switch s1 ports 4\nfrr s1 a.conf\nfrr s1 b.conf", 3, "frr s1: it already runs FRR (line 2)"),
        ("switch s1 ports 4\nexec s9 true", 2, "exec: unknown switch or host 's9'"),
        ("switch s1 ports 4\nexec s1", 2, "usage: exec NODE COMMAND"),
        ("switch s1 ports 4\nexec s1 echo 'open", 2, "unterminated ' quote"),
        ("switch s1 ports 4\nstart now", 2, "start takes no arguments"),
        ("switch s1 ports 4\nlink s1:1", 2, "usage: link SWITCH:PORT SWITCH:PORT"),
        ("# nothing but a comment\n", 0, "a lab needs at least one `switch`"),
        ("switch s1 ports 4\nhost h1 s1:1,s1:2 10.0.0.1/24", 2, "host h1 has 2 ports: give `bond MODE`"),
        ("switch s1 ports 4\nhost h1 s1:1,s1:1 10.0.0.1/24 bond active-backup", 2, "s1:1 is already used by host h1 (line 2)"),
        ("switch s1 ports 4\nhost h1 s1:1,s1:2 bond round-robin", 2, "bond takes a mode"),
        ("switch s1 ports 4\nhost h1 s1:1,s1:2 hash layer2", 2, "hash comes after `bond MODE`"),
        ("switch s1 ports 4\nhost h1 s1:1,s1:2 bond balance-xor hash layer4", 2, "hash takes an xmit_hash_policy"),
    ]

    @Test("every mistake is refused with file, line and what is wrong", arguments: mistakes.indices)
    func mistake(_ index: Int) throws {
        let m = Self.mistakes[index]
        do {
            let spec = try LabFile.parse(m.text, file: "lab.hoist")
            Issue.record("accepted \(m.text.debugDescription) as \(spec)")
        } catch {
            #expect(error.line == m.line, "\(error)")
            #expect(error.description.hasPrefix(m.line > 0 ? "lab.hoist:\(m.line): " : "lab.hoist: "), "\(error)")
            #expect(error.message.contains(m.says), "\(error)")
        }
    }

    @Test("an IPv6 link-local gateway needs no subnet")
    func linkLocalGateway() throws {
        let spec = try LabFile.parse("switch s1 ports 1\nhost h1 s1:1 gw fe80::1")
        #expect(spec.hosts[0].gateways == [IPAddress("fe80::1")!])
    }

    @Test("the flag form is one switch `sw` with a host per port")
    func flagForm() throws {
        let spec = try LabSpec.oneSwitch(hosts: 3, subnet: "10.1.2")
        #expect(spec.switches == [LabSpec.Switch(name: "sw", ports: 3)])
        #expect(spec.hosts.map(\.name) == ["h1", "h2", "h3"])
        #expect(spec.hosts.map(\.port) == [.init("sw", 1), .init("sw", 2), .init("sw", 3)])
        #expect(spec.hosts[2].addresses.map { "\($0.address)/\($0.length)" } == ["10.1.2.3/24"])
        #expect(!spec.start)
        #expect(throws: LabError.self) { try LabSpec.oneSwitch(hosts: 2, subnet: "10.1") }
        #expect(try LabSpec.oneSwitch(hosts: 12).switches[0].profile == "datacenter")
    }

    @Test("the shipped example files parse")
    func examples() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["demo.lab", "two-switches.lab", "two-switches-bgp.lab", "fabric.lab"] {
            let path = root.appendingPathComponent("examples/\(name)").path
            let spec = try LabFile.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
            #expect(spec.start && !spec.commands.isEmpty, "\(name)")
            // Every FRR configuration a lab names is there, next to it.
            for r in spec.routing {
                #expect(FileManager.default.isReadableFile(atPath: root.appendingPathComponent("examples/\(r.file)").path), "\(name): \(r.file)")
            }
        }
    }

    @Test("frr NODE FILE: one FRR per node, its directory and daemons' arguments follow the lab's names")
    func frr() throws {
        let spec = try LabFile.parse("switch s1 ports 2\nhost h1 s1:1\nfrr s1 'my conf/s1.conf'\nfrr h1 /etc/h1.conf")
        #expect(spec.routing == [LabSpec.Routing(node: "s1", file: "my conf/s1.conf", line: 3), LabSpec.Routing(node: "h1", file: "/etc/h1.conf", line: 4)])
        let plan = try LabPlan(name: "hoist-x", spec: spec)
        #expect(plan.frrDirectory("s1") == "/run/hoist/hoist-x-s1-frr")
        #expect(plan.frrArguments("h1", daemon: "bgpd") == [
            "ip", "netns", "exec", "hoist-x-h1", "/usr/lib/frr/bgpd", "-f", "/run/hoist/hoist-x-h1-frr/bgpd.conf",
            "-i", "/run/hoist/hoist-x-h1-frr/bgpd.pid", "-z", "/run/hoist/hoist-x-h1-frr/zserv.api",
            "--vty_socket", "/run/hoist/hoist-x-h1-frr", "-P", "0", "--log", "file:/run/hoist/hoist-x-h1-frr/bgpd.log",
        ])
        #expect(LabPlan.ownsFRRDirectory(lab: "hoist-x", "hoist-x-s1-frr"))
        #expect(!LabPlan.ownsFRRDirectory(lab: "hoist-x", "hoist-x-2-s1-frr") && !LabPlan.ownsFRRDirectory(lab: "hoist-x", "hoist-x-s1.log"))
    }
}

@Suite("Lab plans")
struct LabPlanTests {
    @Test("namespaces, wires, cables, unplugged ports and hoistd's arguments follow the names")
    func plan() throws {
        let spec = try LabFile.parse(LabFileTests.twoSwitches)
        let plan = try LabPlan(name: "hoist-x", spec: spec)
        #expect(plan.namespaces == ["hoist-x-s1-asic", "hoist-x-s1", "hoist-x-s2-asic", "hoist-x-s2", "hoist-x-h1", "hoist-x-h2"])
        #expect(plan.namespace(ofNode: "s1") == "hoist-x-s1" && plan.namespace(ofNode: "h2") == "hoist-x-h2")
        let steps = plan.buildSteps.map { $0.joined(separator: " ") }
        for expected in [
            "netns add hoist-x-s1-asic",
            "-n hoist-x-s1-asic link add fp1 type veth peer name eth0 netns hoist-x-h1",
            "-n hoist-x-h1 link set eth0 address 02:00:00:00:00:01",
            "-n hoist-x-h1 addr add 10.0.0.1/24 dev eth0",
            "-n hoist-x-h1 -4 route add default via 10.0.0.254",
            "-n hoist-x-h2 -6 route add default via 2001:db8::1",
            "-n hoist-x-s1-asic link add fp4 type veth peer name fp4 netns hoist-x-s2-asic",
            "-n hoist-x-s2-asic link set fp4 up",
            "-n hoist-x-s1-asic link add fp2 type veth peer name fp2-nc",
            "-n hoist-x-s2-asic link add fp8 type veth peer name fp8-nc",
        ] {
            #expect(steps.contains(expected), "missing: \(expected)")
        }
        #expect(!steps.contains("-n hoist-x-s1-asic link add fp4 type veth peer name fp4-nc"))
        // Namespaces exist before anything is put in them; addresses before the default route.
        let index = { (s: String) in try #require(steps.firstIndex(of: s)) }
        #expect(try index("netns add hoist-x-h1") < index("-n hoist-x-s1-asic link add fp1 type veth peer name eth0 netns hoist-x-h1"))
        #expect(try index("-n hoist-x-h1 link set eth0 up") < index("-n hoist-x-h1 -4 route add default via 10.0.0.254"))

        let s2 = try #require(spec.switchNamed("s2"))
        #expect(plan.asicArguments(s2) == ["-n", "hoist-x-s2", "--wire-netns", "hoist-x-s2-asic"]
            + (1...8).flatMap { ["--port", "\($0)=fp\($0)"] }
            + ["--profile", "datacenter", "--socket", "/run/hoist/hoist-x-s2-asic.sock"])
        #expect(plan.hoistdArguments(s2) == ["-n", "hoist-x-s2", "--asic", "/run/hoist/hoist-x-s2-asic.sock",
                                             "--socket", "/run/hoist/hoist-x-s2.sock", "--report"])
        #expect(plan.chipLog("s2") == "/run/hoist/hoist-x-s2-asic.log")
        #expect(plan.log("s1") == "/run/hoist/hoist-x-s1.log")
    }

    @Test("a dual-homed host: eth0 and eth1 on its ports, bonded as bond0, which has the MAC and the addresses")
    func dualHomedHost() throws {
        let spec = try LabFile.parse("switch s1 ports 4\nhost a s1:1,s1:3 10.0.0.1/24 gw 10.0.0.254 mac 02:00:00:00:00:0a bond 802.3ad hash layer3+4\n")
        #expect(spec.hosts[0].ports == [LabSpec.PortRef("s1", 1), LabSpec.PortRef("s1", 3)])
        #expect(spec.attachment(of: LabSpec.PortRef("s1", 3)) == .host("a"))
        let steps = try LabPlan(name: "x", spec: spec).buildSteps.map { $0.joined(separator: " ") }
        let expected = [
            "-n x-s1-asic link add fp1 type veth peer name eth0 netns x-a",
            "-n x-s1-asic link add fp3 type veth peer name eth1 netns x-a",
            "-n x-a link add bond0 type bond mode 802.3ad miimon 100 xmit_hash_policy layer3+4",
            "-n x-a link set eth0 master bond0",
            "-n x-a link set eth1 master bond0",
            "-n x-a link set bond0 address 02:00:00:00:00:0a",
            "-n x-a addr add 10.0.0.1/24 dev bond0",
            "-n x-a link set eth0 up",
            "-n x-a link set eth1 up",
            "-n x-a link set bond0 up",
            "-n x-a -4 route add default via 10.0.0.254",
        ]
        // In this order, and nothing else in the host's namespace but lo (and IPv6 off).
        #expect(steps.filter { expected.contains($0) } == expected)
        #expect(steps.filter { $0.hasPrefix("-n x-a ") } == ["-n x-a link set lo up"] + expected.filter { $0.hasPrefix("-n x-a ") })
    }

    @Test("a lab owns exactly its own namespaces, also when another lab's name extends it")
    func ownership() {
        #expect(LabPlan.owns(lab: "lab", namespace: "lab-s1"))
        #expect(LabPlan.owns(lab: "lab", namespace: "lab-s1-asic"))
        #expect(LabPlan.owns(lab: "lab", namespace: "lab-h_2"))
        #expect(!LabPlan.owns(lab: "lab", namespace: "lab-2-h1"))       // lab "lab-2"'s host
        #expect(!LabPlan.owns(lab: "lab", namespace: "lab-x-s1-asic"))  // lab "lab-x"'s wires
        #expect(!LabPlan.owns(lab: "lab", namespace: "lab-asic"))
        #expect(!LabPlan.owns(lab: "lab", namespace: "lab"))
        #expect(!LabPlan.owns(lab: "lab", namespace: "labs-s1"))
        #expect(!LabPlan.owns(lab: "hoist", namespace: "hoist-t-cs-123-456"))
    }

    @Test("labs are found in a namespace list, with broken ones")
    func found() {
        let found = LabPlan.labs(in: ["a-s1-asic", "a-s1", "a-s2-asic", "a-h1", "a-2-sw-asic", "a-2-sw", "a-2-h1", "other", "hoist-t-x-1-2"])
        #expect(found.map(\.name) == ["a", "a-2"])
        #expect(found[0].switches == [.init(name: "s1", hasSwitchNamespace: true), .init(name: "s2", hasSwitchNamespace: false)])
        #expect(found[0].hosts == ["h1"])
        #expect(found[1].switches.map(\.name) == ["sw"] && found[1].hosts == ["h1"])
    }

    @Test("lab names are checked")
    func labNames() {
        #expect(throws: LabError.self) { try LabPlan(name: "-x", spec: LabSpec()) }
        #expect(throws: LabError.self) { try LabPlan(name: "a b", spec: LabSpec()) }
        #expect(throws: LabError.self) { try LabPlan(name: String(repeating: "a", count: 33), spec: LabSpec()) }
        #expect((try? LabPlan(name: "hoist-demo-123", spec: LabSpec())) != nil)
    }
}

@Suite("Lab files: ipv6 off")
struct LabIPv6Tests {
    @Test("`ipv6 off` disables IPv6 in every switch and host namespace right after it is made")
    func ipv6Off() throws {
        let spec = try LabFile.parse("switch s1 ports 2\nhost h1 s1:1 10.0.0.1/24\nipv6 off\n")
        #expect(spec.ipv6 == false)
        let steps = try LabPlan(name: "x", spec: spec).buildSteps.map { $0.joined(separator: " ") }
        let off = "net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
        for ns in ["x-s1", "x-h1"] {
            let i = try #require(steps.firstIndex(of: "netns exec \(ns) sysctl -qw \(off)"), "\(ns) keeps IPv6")
            #expect(i == steps.firstIndex(of: "netns add \(ns)")! + 1)
        }
        #expect(try LabFile.parse("switch s1 ports 1\n").ipv6)
        #expect(!(try LabPlan(name: "x", spec: LabFile.parse("switch s1 ports 1\n")).buildSteps.contains { $0.contains("sysctl") }))
        #expect(throws: LabError.self) { try LabFile.parse("switch s1 ports 1\nipv6 maybe\n") }
    }
}
