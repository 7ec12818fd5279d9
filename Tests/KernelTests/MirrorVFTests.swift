import Foundation
import KernelMirror
import Netlink
import SwitchModel
import Testing

/// The mirror and SR-IOV VF lists, through the scripted transport: the kernel puts
/// `IFLA_VFINFO_LIST` only into replies to requests with `RTEXT_FILTER_VF`, never into
/// notifications.
@Suite("Mirror: SR-IOV VFs")
struct MirrorVFTests {
    /// An `RTM_NEWLINK` for PF eth0 (index 4), with one VF whose trust is `trust` when `vfs`.
    static func pf(seq: UInt32, flags: UInt16, vfs: Bool, trust: UInt32 = 0) -> [UInt8] {
        let le32 = { (v: UInt32) in withUnsafeBytes(of: v.littleEndian, Array.init) }
        let b = NetlinkMessageBuilder(type: 16, flags: flags, sequence: seq)
            .append(header: [0, 0, 1, 0] + le32(4) + le32(0x1003) + le32(0))
            .put(3, string: "eth0")
        if vfs {
            b.nest(22) { list in                                             // IFLA_VFINFO_LIST
                list.nest(1) { vf in                                         // IFLA_VF_INFO
                    vf.put(1, bytes: le32(0) + [2, 0, 0, 0, 0, 0x10] + [UInt8](repeating: 0, count: 26))  // IFLA_VF_MAC
                    vf.put(9, bytes: le32(0) + le32(trust))                  // IFLA_VF_TRUST
                }
            }
        }
        return b.bytes
    }

    @Test("link dumps ask for VFs; a PF's notification (without them) makes the mirror read that PF again")
    func refetchOnNotification() throws {
        var trust: UInt32 = 0
        var asked: [(dump: Bool, mask: Bool)] = []
        let requests = ScriptedNetlinkTransport()
        requests.responder = { request in
            let seq = ScriptedResyncTests.sequence(of: request)
            guard ScriptedResyncTests.type(of: request) == 18, request[16] == 0 else { return [ScriptedResyncTests.done(seq)] }
            let dump = request[6..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } & 0x300 != 0
            // IFLA_EXT_MASK (29) with RTEXT_FILTER_VF (1) somewhere in the attributes.
            let mask = request.count >= 40 && (32..<request.count - 7).contains { i in
                request[i + 2] == 29 && request[i + 3] == 0 && request[i + 4] & 1 == 1
            }
            asked.append((dump, mask))
            let link = ScriptedNetlinkTransport.Item.datagram(Self.pf(seq: seq, flags: dump ? 2 : 0, vfs: mask, trust: trust))
            let ack = ScriptedNetlinkTransport.Item.datagram(
                NetlinkMessageBuilder(type: 2, sequence: seq).append(header: [UInt8](repeating: 0, count: 20)).bytes)
            return dump ? [link, ScriptedResyncTests.done(seq)] : [link, ack]
        }
        let events = ScriptedNetlinkTransport()
        let mirror = KernelMirror(events: NetlinkChannel(transport: events), requests: NetlinkChannel(transport: requests))
        _ = try mirror.start()
        #expect(asked.first.map { $0.dump && $0.mask } == true, "the link dump asks for VFs")
        #expect(mirror.tables.links[4]?.vfs?.map(\.trust) == [false])

        trust = 1  // `ip link set eth0 vf 0 trust on`: the kernel notifies the PF, without VFs
        events.enqueue(datagram: Self.pf(seq: 0, flags: 0, vfs: false))
        let batch = try mirror.poll(timeoutMilliseconds: 50) ?? mirror.flush()
        #expect(asked.last.map { !$0.dump && $0.mask } == true, "one RTM_GETLINK for the PF, with RTEXT_FILTER_VF")
        #expect(mirror.tables.links[4]?.vfs?.map(\.trust) == [true])
        #expect(batch.count == 1)
    }
}
