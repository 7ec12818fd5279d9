import Netlink
import Testing

/// devlink over generic netlink on messages built in the kernel's format (`nlmsghdr`,
/// `genlmsghdr`, `DEVLINK_ATTR_*`), answered by a scripted transport; and, on this host,
/// that the `devlink` family resolves or fails with a clear error.
@Suite("Netlink: devlink over generic netlink")
struct DevlinkTests {
    // uapi values (linux/devlink.h, linux/netlink.h), as the kernel writes them.
    static let family: UInt16 = 0x15
    enum A {
        static let bus = 1, dev = 2, portIndex = 3, netdevIndex = 6, netdevName = 7, eswitchMode = 25
        static let resourceList = 63, resource = 64, resourceName = 65, resourceID = 66, resourceSize = 67
        static let resourceUnit = 73, resourceOcc = 74, flavour = 77, pfNumber = 127, vfNumber = 128
        static let rateType = 165, txShare = 166, txMax = 167, nodeName = 168
    }
    enum Cmd {
        static let portGet: UInt8 = 5, portNew: UInt8 = 7, eswitchGet: UInt8 = 29, resourceDump: UInt8 = 36
        static let rateGet: UInt8 = 74, rateSet: UInt8 = 75, rateNew: UInt8 = 76
    }
    static let NLMSG_ERROR: UInt16 = 2, NLMSG_DONE: UInt16 = 3, NLM_F_MULTI: UInt16 = 2, NLM_F_DUMP: UInt16 = 0x300
    static let NLM_F_CAPPED: UInt16 = 0x100, NLM_F_ACK_TLVS: UInt16 = 0x200

    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func sequence(_ m: [UInt8]) -> UInt32 { m[8..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }

    /// A devlink message: `nlmsghdr` (type = the family id), `genlmsghdr` (cmd, version 1).
    static func genl(_ cmd: UInt8, seq: UInt32, flags: UInt16 = 0, device: (String, String)? = ("netdevsim", "netdevsim10")) -> NetlinkMessageBuilder {
        let m = NetlinkMessageBuilder(type: family, flags: flags, sequence: seq).append(header: [cmd, 1, 0, 0])
        if let device { m.put(A.bus, string: device.0).put(A.dev, string: device.1) }
        return m
    }
    static func done(_ seq: UInt32) -> [UInt8] {
        NetlinkMessageBuilder(type: NLMSG_DONE, flags: NLM_F_MULTI, sequence: seq).append(header: le32(0)).bytes
    }
    /// `NLMSG_ERROR` with `NETLINK_CAP_ACK` (the request's header echoed) and an extack message.
    static func error(_ seq: UInt32, errno: Int32, message: String? = nil) -> [UInt8] {
        let echoed = le32(16) + [UInt8(family & 0xff), UInt8(family >> 8), 5, 0] + le32(seq) + le32(0)
        let m = NetlinkMessageBuilder(type: NLMSG_ERROR, flags: message == nil ? NLM_F_CAPPED : NLM_F_CAPPED | NLM_F_ACK_TLVS, sequence: seq)
            .append(header: le32(UInt32(bitPattern: -errno)) + echoed)
        if let message { m.put(1, string: message) }
        return m.bytes
    }

    /// The attributes of a sent request (after nlmsghdr and genlmsghdr), type → payload.
    static func attributes(_ m: [UInt8]) -> [Int: [UInt8]] {
        var out: [Int: [UInt8]] = [:]
        var i = 20
        while i + 4 <= m.count {
            let len = Int(m[i]) | Int(m[i + 1]) << 8, type = Int(m[i + 2]) | Int(m[i + 3]) << 8
            out[type & 0x3fff] = Array(m[(i + 4)..<(i + len)])
            i += (len + 3) & ~3
        }
        return out
    }
    static func string(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
    static func u64(_ b: [UInt8]?) -> UInt64? { b.map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } }

    @Test("port dump: request is DEVLINK_CMD_PORT_GET with NLM_F_DUMP; multipart answer decoded")
    func ports() throws {
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            let pf = Self.genl(Cmd.portNew, seq: seq, flags: Self.NLM_F_MULTI).put(A.portIndex, u32: 0).put(A.flavour, u16: 0)
                .put(A.netdevIndex, u32: 4).put(A.netdevName, string: "eth4").put(A.pfNumber, u16: 0).bytes
            let vf = Self.genl(Cmd.portNew, seq: seq, flags: Self.NLM_F_MULTI).put(A.portIndex, u32: 129).put(A.flavour, u16: 4)
                .put(A.netdevIndex, u32: 9).put(A.netdevName, string: "eth4vf1").put(A.pfNumber, u16: 0).put(A.vfNumber, u16: 1).bytes
            return [.datagram(pf + vf), .datagram(Self.done(seq))]
        }
        let devlink = DevlinkChannel(transport: transport, familyID: Self.family)
        let ports = try devlink.ports()
        let d = DevlinkDevice(bus: "netdevsim", name: "netdevsim10")
        #expect(ports == [DevlinkPort(device: d, index: 0, flavour: .physical, netdevIndex: 4, netdevName: "eth4", pfNumber: 0),
                          DevlinkPort(device: d, index: 129, flavour: .pciVF, netdevIndex: 9, netdevName: "eth4vf1", pfNumber: 0, vfNumber: 1)])
        #expect(ports[1].handle == "netdevsim/netdevsim10/129" && ports[1].flavour.description == "pcivf")
        let sent = try #require(transport.sent.first)
        #expect(sent[4] == UInt8(Self.family) && sent[16] == Cmd.portGet && sent[17] == 1)
        #expect((UInt16(sent[6]) | UInt16(sent[7]) << 8) & Self.NLM_F_DUMP == Self.NLM_F_DUMP)
    }

    @Test("resource dump: nested lists in several NLM_F_MULTI parts, unlimited size, occupancy, then the ACK")
    func resources() throws {
        func resource(_ m: NetlinkMessageBuilder, _ name: String, id: UInt64, size: UInt64, occ: UInt64?, children: ((NetlinkMessageBuilder) -> Void)? = nil) {
            m.nest(A.resource) { r in
                r.put(A.resourceName, string: name).put(A.resourceID, u64: id).put(A.resourceSize, u64: size).put(A.resourceUnit, u8: 0)
                if let occ { r.put(A.resourceOcc, u64: occ) }
                if let children { r.nest(A.resourceList, children) }
            }
        }
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            let part1 = Self.genl(Cmd.resourceDump, seq: seq, flags: Self.NLM_F_MULTI).nest(A.resourceList) { l in
                resource(l, "IPv4", id: 1, size: .max, occ: nil) { c in
                    resource(c, "fib", id: 3, size: 12, occ: 12)
                    resource(c, "fib-rules", id: 4, size: .max, occ: 3)
                }
            }.bytes
            let part2 = Self.genl(Cmd.resourceDump, seq: seq, flags: Self.NLM_F_MULTI).nest(A.resourceList) { l in
                resource(l, "nexthops", id: 5, size: .max, occ: 1)
            }.bytes
            return [.datagram(part1), .datagram(part2 + Self.done(seq)), .datagram(Self.error(seq, errno: 0))]
        }
        let devlink = DevlinkChannel(transport: transport, familyID: Self.family)
        let tree = try devlink.resources(of: DevlinkDevice("netdevsim/netdevsim10")!)
        #expect(tree.map(\.name) == ["IPv4", "nexthops"])
        #expect(tree[0].size == nil && tree[0].occupancy == nil && tree[0].id == 1)
        #expect(tree[0].children == [DevlinkResourceNode(name: "fib", id: 3, size: 12, occupancy: 12),
                                     DevlinkResourceNode(name: "fib-rules", id: 4, size: nil, occupancy: 3)])
        #expect(tree[1].occupancy == 1)
        let attrs = Self.attributes(try #require(transport.sent.first))
        #expect(Self.string(attrs[A.bus]) == "netdevsim" && Self.string(attrs[A.dev]) == "netdevsim10")
        #expect(transport.sent.first?[16] == Cmd.resourceDump)
    }

    @Test("eswitch mode: legacy / switchdev; a device without an eswitch is EOPNOTSUPP")
    func eswitch() throws {
        var mode: UInt16? = 1
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            guard let m = mode else { return [.datagram(Self.error(seq, errno: 95))] }
            return [.datagram(Self.genl(Cmd.eswitchGet, seq: seq).put(A.eswitchMode, u16: m).bytes + Self.error(seq, errno: 0))]
        }
        let devlink = DevlinkChannel(transport: transport, familyID: Self.family)
        let d = DevlinkDevice(bus: "netdevsim", name: "netdevsim10")
        #expect(try devlink.eswitchMode(of: d) == .switchdev)
        mode = 0
        #expect(try devlink.eswitchMode(of: d).description == "legacy")
        mode = nil
        #expect { try devlink.eswitchMode(of: d) } throws: { ($0 as? NetlinkError)?.code == 95 }
        #expect(transport.sent.first?[16] == Cmd.eswitchGet)
    }

    @Test("rate dump: leaves by port index, nodes by name, bytes per second")
    func rates() throws {
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            let leaf = Self.genl(Cmd.rateNew, seq: seq, flags: Self.NLM_F_MULTI).put(A.rateType, u16: 0).put(A.portIndex, u32: 128)
                .put(A.txShare, u64: 0).put(A.txMax, u64: 1_250_000).bytes
            let node = Self.genl(Cmd.rateNew, seq: seq, flags: Self.NLM_F_MULTI).put(A.rateType, u16: 1).put(A.nodeName, string: "group1")
                .put(A.txShare, u64: 125_000).put(A.txMax, u64: 0).bytes
            return [.datagram(leaf + node + Self.done(seq))]
        }
        let rates = try DevlinkChannel(transport: transport, familyID: Self.family).rates()
        #expect(rates.map(\.handle) == ["netdevsim/netdevsim10/128", "netdevsim/netdevsim10/group1"])
        #expect(rates[0].kind == .leaf(port: 128) && rates[0].txMax == 10 * DevlinkRate.bytesPerMbit)
        #expect(rates[1].kind == .node(name: "group1") && rates[1].txShare == 125_000)
        #expect(transport.sent.first?[16] == Cmd.rateGet)
    }

    @Test("rate set: DEVLINK_CMD_RATE_SET with port index and u64 tx_share/tx_max; the kernel's extack text on refusal")
    func setRate() throws {
        var refuse = false
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            return [.datagram(refuse ? Self.error(seq, errno: 22, message: "netdevsim: TX rate value exceed link maximum speed 5000Mbps.")
                                     : Self.error(seq, errno: 0))]
        }
        let devlink = DevlinkChannel(transport: transport, familyID: Self.family)
        let port = try #require(DevlinkPortAddress("netdevsim/netdevsim10/128"))
        #expect(port.device == DevlinkDevice(bus: "netdevsim", name: "netdevsim10") && port.index == 128)
        try devlink.setRate(port, txShare: 0, txMax: 10 * DevlinkRate.bytesPerMbit)
        let sent = try #require(transport.sent.first)
        #expect(sent[16] == Cmd.rateSet)
        let attrs = Self.attributes(sent)
        #expect(Self.string(attrs[A.dev]) == "netdevsim10" && attrs[A.portIndex] == Self.le32(128))
        #expect(Self.u64(attrs[A.txShare]) == 0 && Self.u64(attrs[A.txMax]) == 1_250_000)
        refuse = true
        #expect {
            try devlink.setRate(port, txShare: 0, txMax: 6000 * DevlinkRate.bytesPerMbit)
        } throws: { e in
            guard let e = e as? NetlinkError else { return false }
            return e.code == 22 && e.message == "netdevsim: TX rate value exceed link maximum speed 5000Mbps."
        }
    }

    @Test("a devlink answer without its device names is a decode error, not a port")
    func malformed() throws {
        let transport = ScriptedNetlinkTransport { sent in
            let seq = Self.sequence(sent)
            return [.datagram(Self.genl(Cmd.portNew, seq: seq, flags: Self.NLM_F_MULTI, device: nil).put(A.portIndex, u32: 0).bytes + Self.done(seq))]
        }
        #expect(throws: NetlinkDecodeError.self) { try DevlinkChannel(transport: transport, familyID: Self.family).ports() }
    }

    @Test("this host's kernel: the devlink family resolves (and dumps its ports), or fails with ENOENT and a clear message")
    func hostFamily() throws {
        do {
            let devlink = try DevlinkChannel()
            #expect(devlink.familyID >= 16, "generic netlink ids start after GENL_ID_CTRL")
            _ = try devlink.ports()  // no devlink devices here: usually empty
        } catch let e as NetlinkError {
            #expect(e.code == 2 && e.description.contains("no generic netlink family devlink"), "\(e)")
        }
        #expect { try DevlinkChannel(namespace: "hoist-no-such-netns") } throws: {
            ($0 as? NetlinkError)?.description.contains("no network namespace named hoist-no-such-netns") == true
        }
    }
}
