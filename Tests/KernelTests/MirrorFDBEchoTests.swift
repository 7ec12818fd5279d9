import KernelMirror
import Netlink
import SwitchModel
import Testing

/// The echo some kernels (6.1) send after a vxlan device's own FDB notification: the same
/// `self` entry once more without `NDA_DST` (`rtnl_fdb_notify` in `rtnl_fdb_add`), which the
/// device's dump never lists. Found by the random operator in the test VM (hoist audit
/// reported the mirror's extra entry as drift).
@Suite("Mirror: the vxlan FDB echo")
struct MirrorFDBEchoTests {
    static let vx0 = IfIndex(9)

    static func apply(_ messages: [KernelMessage]) -> MirrorTables {
        var t = MirrorTables()
        var deltas: [MirrorDelta] = []
        for m in messages { t.apply(m, into: &deltas) }
        return t
    }

    static func entry(_ mac: String, remote: String?) -> KernelMessage {
        .newFDB(FDBEntry(key: FDBEntry.Key(port: vx0, mac: MACAddress(mac)!, isSelf: true, remote: remote.flatMap { IPAddress($0) }),
                         state: .permanent))
    }

    @Test("an entry's dst-less echo is dropped; a dst-less entry for a MAC the device does not hold is kept")
    func echo() {
        let link = KernelMessage.newLink(Link(index: Self.vx0, name: "vx0", kind: .vxlan, adminUp: true))
        let t = Self.apply([link, Self.entry("00:00:00:00:00:00", remote: "10.0.4.1"), Self.entry("00:00:00:00:00:00", remote: nil)])
        #expect(t.fdb.count == 1 && t.fdb.keys.first?.remote == IPAddress("10.0.4.1"), "\(t.fdb)")
        let real = Self.apply([link, Self.entry("02:00:00:00:00:07", remote: nil)])
        #expect(real.fdb.count == 1, "\(real.fdb)")
    }
}
