internal import CNetlink

/// Decodes devlink's generic netlink messages: `struct genlmsghdr` (command, version) after
/// the `nlmsghdr`, then `DEVLINK_ATTR_*` attributes.
enum DevlinkDecoder {
    static func attr(_ a: devlink_attr) -> Int { Int(a.rawValue) }

    /// The command in the message's `genlmsghdr`, and its attributes.
    static func parse(_ message: NetlinkMessageView) throws -> (command: UInt8, attributes: NetlinkAttributes) {
        guard message.payloadLength >= Int(CNL_GENL_HDRLEN) else {
            throw NetlinkDecodeError("generic netlink message type \(message.type) too short for its genlmsghdr (\(message.payloadLength) bytes)")
        }
        let command = message.payload.load(as: UInt8.self)
        return (command, try message.attributes(familyHeaderSize: Int(CNL_GENL_HDRLEN), maxType: CNL_DEVLINK_ATTR_MAX))
    }

    static func device(_ a: NetlinkAttributes, _ context: String) throws -> DevlinkDevice {
        guard let bus = a.string(attr(DEVLINK_ATTR_BUS_NAME)), let name = a.string(attr(DEVLINK_ATTR_DEV_NAME)) else {
            throw NetlinkDecodeError("\(context) without DEVLINK_ATTR_BUS_NAME/DEV_NAME")
        }
        return DevlinkDevice(bus: bus, name: name)
    }

    /// A `DEVLINK_CMD_PORT_NEW` (the answer to `DEVLINK_CMD_PORT_GET`).
    static func port(_ message: NetlinkMessageView) throws -> DevlinkPort {
        let (_, a) = try parse(message)
        let device = try device(a, "devlink port")
        guard let index = try a.u32(attr(DEVLINK_ATTR_PORT_INDEX)) else {
            throw NetlinkDecodeError("devlink port of \(device) without DEVLINK_ATTR_PORT_INDEX")
        }
        return DevlinkPort(device: device, index: index,
                           flavour: DevlinkPortFlavour(rawValue: try a.u16(attr(DEVLINK_ATTR_PORT_FLAVOUR)) ?? 0),
                           netdevIndex: try a.u32(attr(DEVLINK_ATTR_PORT_NETDEV_IFINDEX)),
                           netdevName: a.string(attr(DEVLINK_ATTR_PORT_NETDEV_NAME)),
                           pfNumber: try a.u16(attr(DEVLINK_ATTR_PORT_PCI_PF_NUMBER)),
                           vfNumber: try a.u16(attr(DEVLINK_ATTR_PORT_PCI_VF_NUMBER)))
    }

    /// One part of a `DEVLINK_CMD_RESOURCE_DUMP` answer: its device and the top-level
    /// resources it carries (a large answer comes in several `NLM_F_MULTI` parts).
    static func resources(_ message: NetlinkMessageView) throws -> (DevlinkDevice, [DevlinkResourceNode]) {
        let (_, a) = try parse(message)
        let device = try device(a, "devlink resources")
        guard let list = a.attribute(attr(DEVLINK_ATTR_RESOURCE_LIST)) else { return (device, []) }
        return (device, try resourceList(list))
    }

    /// The `DEVLINK_ATTR_RESOURCE` nests of a `DEVLINK_ATTR_RESOURCE_LIST`, in order.
    static func resourceList(_ list: NetlinkAttribute) throws -> [DevlinkResourceNode] {
        var out: [DevlinkResourceNode] = []
        try list.forEachNested { item in
            guard Int(item.type) == attr(DEVLINK_ATTR_RESOURCE) else { return }
            let r = try item.nested(maxType: CNL_DEVLINK_ATTR_MAX)
            guard let name = r.string(attr(DEVLINK_ATTR_RESOURCE_NAME)) else {
                throw NetlinkDecodeError("devlink resource without DEVLINK_ATTR_RESOURCE_NAME")
            }
            let size = try r.u64(attr(DEVLINK_ATTR_RESOURCE_SIZE))
            out.append(DevlinkResourceNode(
                name: name, id: try r.u64(attr(DEVLINK_ATTR_RESOURCE_ID)) ?? 0,
                size: size == UInt64.max ? nil : size,
                occupancy: try r.u64(attr(DEVLINK_ATTR_RESOURCE_OCC)),
                unit: try r.u8(attr(DEVLINK_ATTR_RESOURCE_UNIT)) ?? 0,
                children: try r.attribute(attr(DEVLINK_ATTR_RESOURCE_LIST)).map(resourceList) ?? []))
        }
        return out
    }

    /// The mode in a `DEVLINK_CMD_ESWITCH_GET` answer.
    static func eswitchMode(_ message: NetlinkMessageView) throws -> DevlinkEswitchMode {
        let (_, a) = try parse(message)
        guard let mode = try a.u16(attr(DEVLINK_ATTR_ESWITCH_MODE)) else {
            throw NetlinkDecodeError("devlink eswitch answer without DEVLINK_ATTR_ESWITCH_MODE")
        }
        return DevlinkEswitchMode(rawValue: mode)
    }

    /// A `DEVLINK_CMD_RATE_NEW` (the answer to `DEVLINK_CMD_RATE_GET`).
    static func rate(_ message: NetlinkMessageView) throws -> DevlinkRate {
        let (_, a) = try parse(message)
        let device = try device(a, "devlink rate")
        let type = try a.u16(attr(DEVLINK_ATTR_RATE_TYPE)) ?? UInt16(DEVLINK_RATE_TYPE_LEAF.rawValue)
        let kind: DevlinkRate.Kind
        if type == UInt16(DEVLINK_RATE_TYPE_NODE.rawValue) {
            guard let name = a.string(attr(DEVLINK_ATTR_RATE_NODE_NAME)) else {
                throw NetlinkDecodeError("devlink rate node of \(device) without DEVLINK_ATTR_RATE_NODE_NAME")
            }
            kind = .node(name: name)
        } else {
            guard let port = try a.u32(attr(DEVLINK_ATTR_PORT_INDEX)) else {
                throw NetlinkDecodeError("devlink rate leaf of \(device) without DEVLINK_ATTR_PORT_INDEX")
            }
            kind = .leaf(port: port)
        }
        return DevlinkRate(device: device, kind: kind,
                           txShare: try a.u64(attr(DEVLINK_ATTR_RATE_TX_SHARE)) ?? 0,
                           txMax: try a.u64(attr(DEVLINK_ATTR_RATE_TX_MAX)) ?? 0,
                           parent: a.string(attr(DEVLINK_ATTR_RATE_PARENT_NODE_NAME)))
    }
}
