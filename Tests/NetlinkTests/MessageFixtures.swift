import Netlink

/// Netlink messages built byte for byte in the kernel's format (the family headers of
/// `<linux/rtnetlink.h>` and friends), for decoder tests.
enum Fixtures {
    static let RTM_NEWLINK: UInt16 = 16
    static let RTM_NEWVLAN: UInt16 = 112
    static let AF_BRIDGE: UInt8 = 7

    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// `struct ifinfomsg`: family, pad, type, index, flags, change.
    static func ifinfomsg(family: UInt8 = 0, index: UInt32, flags: UInt32 = 0) -> [UInt8] {
        [family, 0] + le16(1) + le32(index) + le32(flags) + le32(0)
    }

    /// `struct bridge_vlan_info`: flags, vid.
    static func vlanInfo(_ vid: UInt16, flags: UInt16) -> [UInt8] { le16(flags) + le16(vid) }

    static let pvid: UInt16 = 2, untagged: UInt16 = 4, rangeBegin: UInt16 = 8, rangeEnd: UInt16 = 16

    /// An AF_BRIDGE `RTM_NEWLINK` for port `index` with `IFLA_PROTINFO` and the given VLAN entries in `IFLA_AF_SPEC`.
    static func bridgePortLink(index: UInt32, master: UInt32, state: UInt8, vlans: [[UInt8]]) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(family: AF_BRIDGE, index: index))
        b.put(3, string: "swp\(index)")            // IFLA_IFNAME
        b.put(10, u32: master)                      // IFLA_MASTER
        b.nest(12 | 0x8000) { p in                  // IFLA_PROTINFO | NLA_F_NESTED
            p.put(1, u8: state)                     // IFLA_BRPORT_STATE
            p.put(8, u8: 0)                         // IFLA_BRPORT_LEARNING
        }
        b.nest(26) { s in                           // IFLA_AF_SPEC
            for v in vlans { s.put(2, bytes: v) }   // IFLA_BRIDGE_VLAN_INFO
        }
        return b.bytes
    }

    /// An AF_BRIDGE `RTM_NEWLINK` of a locked port with MAB (`IFLA_BRPORT_LOCKED` 39,
    /// `IFLA_BRPORT_MAB` 40 — newer than this machine's uapi headers).
    static func lockedPortLink(index: UInt32, master: UInt32, mab: UInt8) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(family: AF_BRIDGE, index: index))
        b.put(3, string: "swp\(index)")
        b.put(10, u32: master)
        b.nest(12 | 0x8000) { p in
            p.put(1, u8: 3)
            p.put(39, u8: 1)
            p.put(40, u8: mab)
        }
        return b.bytes
    }

    /// A bridge with `mst_enabled` (`IFLA_BR_MULTI_BOOLOPT` 46: `struct br_boolopt_multi`
    /// with `BR_BOOLOPT_MST_ENABLE`, bit 2).
    static func mstBridgeLink(index: UInt32, enabled: Bool) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(index: index, flags: 0x1003))
        b.put(3, string: "br0")
        b.nest(18) { li in
            li.put(1, string: "bridge")
            li.nest(2) { d in
                d.put(7, u8: 1)
                d.put(46, bytes: le32(enabled ? 1 << 2 : 0) + le32(0x7))
            }
        }
        return b.bytes
    }

    /// An AF_BRIDGE `RTM_NEWNEIGH` with `NDA_FLAGS_EXT` = `NTF_EXT_LOCKED` (a MAB entry).
    static func lockedFDB(port: UInt32, master: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: 28)
        // struct ndmsg: family, pad1, pad2, ifindex, state (NUD_REACHABLE), flags (NTF_MASTER), type
        b.append(header: [AF_BRIDGE, 0, 0, 0] + le32(port) + le16(0x02) + [0x04, 0])
        b.put(2, bytes: [0x02, 0, 0, 0, 0, 0x99])     // NDA_LLADDR
        b.put(9, u32: master)                        // NDA_MASTER
        b.put(15, u32: 1 << 1)                       // NDA_FLAGS_EXT: NTF_EXT_LOCKED
        return b.bytes
    }

    /// An AF_UNSPEC `RTM_NEWLINK` for a bridge with the given VLAN protocol.
    static func bridgeLink(index: UInt32, name: String, vlanProtocol: UInt16, vlanFiltering: UInt8) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(index: index, flags: 0x1003))
        b.put(3, string: name)
        b.put(4, u32: 1500)                         // IFLA_MTU
        b.nest(18) { li in                          // IFLA_LINKINFO
            li.put(1, string: "bridge")             // IFLA_INFO_KIND
            li.nest(2) { d in                       // IFLA_INFO_DATA
                d.put(5, u32: 1)                    // IFLA_BR_STP_STATE
                d.put(7, u8: vlanFiltering)         // IFLA_BR_VLAN_FILTERING
                d.put(8, be16: vlanProtocol)        // IFLA_BR_VLAN_PROTOCOL
                d.put(39, u16: 1)                   // IFLA_BR_VLAN_DEFAULT_PVID
            }
        }
        return b.bytes
    }

    /// `RTM_NEWVLAN`: `struct br_vlan_msg` then one `BRIDGE_VLANDB_ENTRY` per tuple.
    static func vlanDB(port: UInt32, entries: [(vid: UInt16, flags: UInt16, rangeEnd: UInt16?, state: UInt8?)]) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWVLAN)
        b.append(header: [AF_BRIDGE, 0, 0, 0] + le32(port))
        for e in entries {
            b.nest(1 | 0x8000) { n in                         // BRIDGE_VLANDB_ENTRY
                n.put(1, bytes: vlanInfo(e.vid, flags: e.flags)) // BRIDGE_VLANDB_ENTRY_INFO
                if let end = e.rangeEnd { n.put(2, u16: end) }   // BRIDGE_VLANDB_ENTRY_RANGE
                if let s = e.state { n.put(3, u8: s) }           // BRIDGE_VLANDB_ENTRY_STATE
            }
        }
        return b.bytes
    }

    /// A bond (`IFLA_BOND_*`, from linux/if_link.h: the libnl headers lack most of them)
    /// in 802.3ad mode with an active aggregator.
    static func bondLink(index: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(index: index, flags: 0x1003))
        b.put(3, string: "bond0")
        b.nest(18) { li in
            li.put(1, string: "bond")
            li.nest(2) { d in
                d.put(1, u8: 4)                     // IFLA_BOND_MODE: 802.3ad
                d.put(14, u8: 1)                    // IFLA_BOND_XMIT_HASH_POLICY: layer3+4
                d.put(17, u8: 0)                    // IFLA_BOND_ALL_SLAVES_ACTIVE
                d.nest(23) { ad in                  // IFLA_BOND_AD_INFO
                    ad.put(1, u16: 2)               // IFLA_BOND_AD_INFO_AGGREGATOR
                    ad.put(2, u16: 2)               // IFLA_BOND_AD_INFO_NUM_PORTS
                }
            }
        }
        return b.bytes
    }

    /// A bond slave in the backup state with its MII down (`IFLA_INFO_SLAVE_DATA`).
    static func bondSlaveLink(index: UInt32, master: UInt32) -> [UInt8] {
        let b = NetlinkMessageBuilder(type: RTM_NEWLINK)
        b.append(header: ifinfomsg(index: index, flags: 0x1003))
        b.put(3, string: "swp\(index)")
        b.put(10, u32: master)
        b.nest(18) { li in
            li.put(4, string: "bond")               // IFLA_INFO_SLAVE_KIND
            li.nest(5) { d in                       // IFLA_INFO_SLAVE_DATA
                d.put(1, u8: 1)                     // IFLA_BOND_SLAVE_STATE: backup
                d.put(2, u8: 2)                     // IFLA_BOND_SLAVE_MII_STATUS: down
                d.put(6, u16: 3)                    // IFLA_BOND_SLAVE_AD_AGGREGATOR_ID
            }
        }
        return b.bytes
    }

    /// A minimal valid AF_UNSPEC `RTM_NEWLINK`.
    static func plainLink(index: UInt32, name: String) -> [UInt8] {
        NetlinkMessageBuilder(type: RTM_NEWLINK).append(header: ifinfomsg(index: index)).put(3, string: name).bytes
    }

    /// Decodes datagrams through a scripted transport, as the real listener does.
    static func decode(_ datagrams: [[UInt8]]) throws -> (messages: [KernelMessage], malformed: Int) {
        let transport = ScriptedNetlinkTransport()
        for d in datagrams { transport.enqueue(datagram: d) }
        let channel = NetlinkChannel(transport: transport)
        var out: [KernelMessage] = []
        while try channel.receiveNotifications(timeoutMilliseconds: 0, emit: { out.append($0) }) {}
        return (out, channel.malformedCount)
    }
}
