import Daemon
import Foundation
import SwitchDriver
import SwitchModel
import Testing

/// EVPN-VXLAN with real FRR: the switch's zebra installs the remote MACs a peer
/// advertises (`MAC dev vxlan100 dst VTEP self extern_learn`, and the bridge's entry), in
/// the same form as hoistd's write-back of what the chip learned — told apart by the
/// `offload` hoistd's write-back carries (`FDBEntry.isDriverWriteBack`).
@Suite("EVPN with FRR", needsFRR, .serialized)
struct EVPNTests {
    typealias Lab = EmulatedSwitchL2Tests.Lab

    static let remoteHostMAC = "02:00:00:00:20:02"

    @Test("FRR's remote MACs are tunnel FDB entries in the chip: known unicast leaves only toward the VTEP, the chip's own learning and its reconciliation leave them alone")
    func remoteMACsOffloaded() throws {
        // Port 1: host h1 in br0; port 2: the routed underlay to h2, a Linux leaf (kernel
        // bridge and vxlan100, its own FRR) with a host behind it at 10.0.0.2; port 3: h3
        // in br0, which sees whatever the chip floods.
        let lab = try Lab(hosts: 3, address: { $0 == 2 ? "192.168.100.2/24" : "10.0.0.\($0)/24" }, configure: { sw in
            try sw.ipScript("""
                addr add 192.168.100.1/24 dev swp2
                link set swp2 up
                link add br0 type bridge
                link set swp1 master br0
                link set swp3 master br0
                link set swp1 up
                link set swp3 up
                link add vxlan100 type vxlan id 100 local 192.168.100.1 dstport 4789 nolearning
                link set vxlan100 master br0
                link set vxlan100 up
                link set br0 up
                """)
            try sw.bridge("link set dev vxlan100 learning off")
        })
        let leaf = lab.hosts[1]
        try leaf.ipScript("""
            link add br100 type bridge
            link add vxlan100 type vxlan id 100 local 192.168.100.2 dstport 4789 nolearning
            link set vxlan100 master br100
            link add r0 type veth peer name r1
            link set r0 master br100
            link set r1 address \(Self.remoteHostMAC)
            addr add 10.0.0.2/24 dev r1
            link set vxlan100 up
            link set r0 up
            link set r1 up
            link set br100 up
            """)
        try leaf.bridge("link set dev vxlan100 learning off")
        let frr = try FRRInstance(in: lab.sw, bgpConfig: FRRInstance.evpnLeaf(asn: 65001, routerID: "192.168.100.1", neighbor: "192.168.100.2"))
        defer { frr.stop() }
        let peer = try FRRInstance(in: leaf, bgpConfig: FRRInstance.evpnLeaf(asn: 65002, routerID: "192.168.100.2", neighbor: "192.168.100.1"))
        defer { peer.stop() }

        // The leaf's host speaks once: its bridge learns the MAC, its zebra advertises it
        // (type 2), the switch's zebra installs it. Each zebra installs the other's flood
        // entry (type 3) meanwhile.
        let br0 = BridgeID(rawValue: try #require(lab.daemon.mirror.tables.link(named: "br0")).index.rawValue)
        let mac = MACAddress(Self.remoteHostMAC)!
        let key = HardwareKey.fdb(br0, .none, mac)
        var installed: [[String: Any]] = []
        let arrived = try lab.pump(seconds: 30) {
            if lab.daemon.engine.state(of: key) == .offloaded { return true }
            _ = try? lab.run(["ping", "-c", "1", "-W", "1", "10.0.0.9"], in: leaf, seconds: 1.5)
            return false
        }
        installed = try lab.sw.bridgeJSON("fdb show dev vxlan100").filter { ($0["mac"] as? String) == Self.remoteHostMAC }
        #expect(arrived, """
            the remote MAC was not offloaded: engine \(String(describing: lab.daemon.engine.state(of: key))), kernel \(installed), \
            evpn \((try? frr.vtysh("show bgp l2vpn evpn summary")) ?? "?")
            """)
        // zebra's entry, as FRR writes it: the VTEP, extern_learn, no offload.
        let zebras = installed.filter { ($0["dst"] as? String) == "192.168.100.2" }
        #expect(zebras.count == 1 && zebras.allSatisfy {
            let flags = ($0["flags"] as? [String]) ?? []
            return flags.contains("extern_learn") && !flags.contains("offload")
        }, "\(installed)")
        // In the chip: a tunnel entry to the leaf's VTEP.
        #expect(lab.daemon.engine.desiredObject(key) == .fdb(HardwareFDBEntry(
            bridge: br0, mac: mac, destination: .tunnel(vni: 100, remote: IPAddress("192.168.100.2")!), isStatic: true)))

        // Known unicast from h1 to the leaf's host: the chip sends it into the tunnel only.
        // h3 counts the frames addressed to that MAC (the kernel would flood none to it).
        _ = try lab.run(["ping", "-c", "1", "-W", "2", "10.0.0.2"], in: lab.hosts[0])   // ARP first
        let witness = Process()
        witness.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        witness.arguments = ["netns", "exec", lab.hosts[2].name, "python3", "-c", Self.countFramesTo(Self.remoteHostMAC, seconds: 3)]
        let counted = Pipe()
        witness.standardOutput = counted
        try witness.run()
        usleep(200_000)
        let txBefore = lab.asic.counters().ports[2]?.txPackets ?? 0
        let status = try lab.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2"], in: lab.hosts[0])
        #expect(status == 0, "h1 could not reach the leaf's host: \(lab.lastOutput)")
        while witness.isRunning { try lab.pump(milliseconds: 20) }
        let flooded = Int(String(decoding: counted.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(flooded == 0, "h3 saw \(flooded) frames for the leaf's host: known unicast was flooded")
        #expect((lab.asic.counters().ports[2]?.txPackets ?? 0) - txBefore >= 5, "the chip encapsulated nothing toward the VTEP")
        // The other way: what the chip learned on its ports, written back (extern_learn on
        // swp1), is a local MAC to the switch's zebra, which advertises it — the leaf's
        // zebra installs h1's MAC behind this switch's VTEP.
        let h1 = "02:00:00:00:10:01"
        var leafEntries: [[String: Any]] = []
        let advertised = try lab.pump(seconds: 10) {
            leafEntries = ((try? leaf.bridgeJSON("fdb show dev vxlan100")) ?? []).filter { ($0["mac"] as? String) == h1 }
            return leafEntries.contains { ($0["dst"] as? String) == "192.168.100.1" }
        }
        #expect(advertised, "the leaf did not learn h1 through EVPN: \(leafEntries)")

        // The chip's own learning leaves zebra's entries alone: a reconciliation with the
        // chip (as at every start) deletes none of them, and writes no copy of its own.
        let reconciled = try #require(try lab.daemon.reconcileLearnedMACs())
        #expect(reconciled.removed == 0, "\(reconciled)")
        try lab.pump(milliseconds: 200)
        let after = try lab.sw.bridgeJSON("fdb show dev vxlan100").filter { ($0["mac"] as? String) == Self.remoteHostMAC }
        #expect(after.count == installed.count, "before \(installed), after \(after)")
        #expect(after.allSatisfy { !((($0["flags"] as? [String]) ?? []).contains("offload")) }, "\(after)")
        #expect(lab.daemon.engine.state(of: key) == .offloaded)
        #expect(lab.daemon.statistics.fdbWriteFailures == 0)
    }

    /// Counts, for `seconds`, the frames on eth0 whose destination MAC is `mac`; prints the count.
    static func countFramesTo(_ mac: String, seconds: Int) -> String {
        """
        import socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind(("eth0", 0))
        s.settimeout(0.2)
        want = bytes.fromhex("\(mac.replacingOccurrences(of: ":", with: ""))")
        n, end = 0, time.time() + \(seconds)
        while time.time() < end:
            try:
                f = s.recv(2048)
            except socket.timeout:
                continue
            if f[0:6] == want:
                n += 1
        print(n)
        """
    }
}
