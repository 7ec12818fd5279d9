internal import CNetlink

// Every call into libnl's message and attribute helpers lives in this folder (LibNL/).
// The decoders elsewhere in the module only use the wrappers below.

/// One netlink message inside a received datagram. Valid only during the callback that
/// hands it out: it points into the receive buffer.
struct NetlinkMessageView {
    let header: UnsafeMutablePointer<nlmsghdr>

    var type: UInt16 { header.pointee.nlmsg_type }
    var flags: UInt16 { header.pointee.nlmsg_flags }
    var sequence: UInt32 { header.pointee.nlmsg_seq }
    var length: Int { Int(header.pointee.nlmsg_len) }
    /// Bytes after the netlink header (`nlmsg_datalen`).
    var payloadLength: Int { Int(nlmsg_datalen(header)) }

    /// Loads the family header (`ifinfomsg`, `rtmsg`, …) that starts the payload.
    func familyHeader<T>(_: T.Type) throws -> T {
        guard payloadLength >= MemoryLayout<T>.size else {
            throw NetlinkDecodeError("message type \(type) too short for its \(T.self) header (\(payloadLength) bytes)")
        }
        return UnsafeRawPointer(nlmsg_data(header)!).loadUnaligned(as: T.self)
    }

    /// The payload as raw bytes.
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: nlmsg_data(header), count: payloadLength)
    }

    /// Parses the attributes that follow a family header of `familyHeaderSize` bytes
    /// (`nlmsg_parse`). Attributes that run past the message are an error.
    func attributes(familyHeaderSize: Int, maxType: Int32) throws -> NetlinkAttributes {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(maxType) + 1)
        let rc = table.withUnsafeMutableBufferPointer {
            nlmsg_parse(header, Int32(familyHeaderSize), $0.baseAddress, maxType, nil)
        }
        guard rc == 0 else { throw NetlinkDecodeError("message type \(type): \(LibNL.errorText(rc))") }
        let start = nlmsg_attrdata(header, Int32(familyHeaderSize))
        let count = nlmsg_attrlen(header, Int32(familyHeaderSize))
        try NetlinkAttributes.checkComplete(start, count, context: "message type \(type)")
        return NetlinkAttributes(table: table)
    }

    /// Calls `body` with the type of every top-level attribute after a family header of
    /// `familyHeaderSize` bytes, in order (`nlmsg_attrdata`, `nla_ok`, `nla_next`).
    func forEachAttribute(familyHeaderSize: Int, _ body: (Int32) throws -> Void) throws {
        var remaining = nlmsg_attrlen(header, Int32(familyHeaderSize))
        guard remaining > 0, var nla = nlmsg_attrdata(header, Int32(familyHeaderSize)) else { return }
        while nla_ok(nla, remaining) != 0 {
            try body(nla_type(nla))
            guard let next = nla_next(nla, &remaining) else { break }
            nla = next
        }
    }
}

/// The attributes of one message or nest, indexed by type (`struct nlattr *tb[]`).
///
/// Getters return nil for an absent attribute and throw ``NetlinkDecodeError`` for one too
/// short for its type; they never read past an attribute.
struct NetlinkAttributes {
    fileprivate var table: [UnsafeMutablePointer<nlattr>?]

    static func checkComplete(_ start: UnsafeMutablePointer<nlattr>?, _ length: Int32, context: String) throws {
        guard length > 0, var nla = start else { return }
        var remaining = length
        while nla_ok(nla, remaining) != 0 {
            guard let next = nla_next(nla, &remaining) else { break }
            nla = next
        }
        if remaining > 0 {
            throw NetlinkDecodeError("\(context): \(remaining) bytes of truncated or misaligned attributes")
        }
    }

    func has(_ type: Int) -> Bool { type < table.count && table[type] != nil }

    /// The raw payload of an attribute.
    func bytes(_ type: Int) -> UnsafeRawBufferPointer? {
        guard type < table.count, let nla = table[type] else { return nil }
        return NetlinkAttribute(nla).payload
    }

    func attribute(_ type: Int) -> NetlinkAttribute? {
        guard type < table.count, let nla = table[type] else { return nil }
        return NetlinkAttribute(nla)
    }

    func u8(_ type: Int) throws -> UInt8? { try attribute(type)?.u8() }
    func u16(_ type: Int) throws -> UInt16? { try attribute(type)?.u16() }
    func u32(_ type: Int) throws -> UInt32? { try attribute(type)?.u32() }
    func u64(_ type: Int) throws -> UInt64? { try attribute(type)?.u64() }
    /// A 16-bit value in network byte order, returned in host order.
    func be16(_ type: Int) throws -> UInt16? { try attribute(type).map { UInt16(bigEndian: try $0.u16()) } }
    /// A 32-bit value in network byte order, returned in host order.
    func be32(_ type: Int) throws -> UInt32? { try attribute(type).map { UInt32(bigEndian: try $0.u32()) } }
    func string(_ type: Int) -> String? { attribute(type)?.string() }
    func nested(_ type: Int, maxType: Int32) throws -> NetlinkAttributes? {
        try attribute(type)?.nested(maxType: maxType)
    }
}

/// One attribute (`struct nlattr`).
struct NetlinkAttribute {
    let pointer: UnsafeMutablePointer<nlattr>

    init(_ pointer: UnsafeMutablePointer<nlattr>) { self.pointer = pointer }

    var type: Int32 { nla_type(pointer) }
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: nla_data(pointer), count: Int(nla_len(pointer)))
    }

    private func need(_ n: Int) throws {
        guard Int(nla_len(pointer)) >= n else {
            throw NetlinkDecodeError("attribute \(type) has \(nla_len(pointer)) bytes, needs \(n)")
        }
    }
    func u8() throws -> UInt8 { try need(1); return nla_get_u8(pointer) }
    func u16() throws -> UInt16 { try need(2); return nla_get_u16(pointer) }
    func u32() throws -> UInt32 { try need(4); return nla_get_u32(pointer) }
    func u64() throws -> UInt64 { try need(8); return nla_get_u64(pointer) }
    func load<T>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        return UnsafeRawPointer(nla_data(pointer)!).loadUnaligned(as: T.self)
    }
    /// A NUL-terminated (or length-bounded) string.
    func string() -> String {
        let bytes = payload
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
    }

    /// Parses this attribute's payload as nested attributes (`nla_parse_nested`).
    func nested(maxType: Int32) throws -> NetlinkAttributes {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(maxType) + 1)
        let rc = table.withUnsafeMutableBufferPointer {
            nla_parse_nested($0.baseAddress, maxType, pointer, nil)
        }
        guard rc == 0 else { throw NetlinkDecodeError("nested attribute \(type): \(LibNL.errorText(rc))") }
        try NetlinkAttributes.checkComplete(nla_data(pointer).map { $0.assumingMemoryBound(to: nlattr.self) },
                                            nla_len(pointer), context: "nested attribute \(type)")
        return NetlinkAttributes(table: table)
    }

    /// Calls `body` for each attribute nested in this one, in order, repeated types included.
    func forEachNested(_ body: (NetlinkAttribute) throws -> Void) throws {
        var remaining = nla_len(pointer)
        guard remaining > 0, var nla = nla_data(pointer).map({ $0.assumingMemoryBound(to: nlattr.self) }) else { return }
        while nla_ok(nla, remaining) != 0 {
            try body(NetlinkAttribute(nla))
            guard let next = nla_next(nla, &remaining) else { break }
            nla = next
        }
        if remaining > 0 { throw NetlinkDecodeError("nested attribute \(type): \(remaining) bytes truncated") }
    }
}

enum LibNL {
    static func errorText(_ code: Int32) -> String { String(cString: nl_geterror(code)) }

    /// Calls `body` for each netlink message in a datagram (`nlmsg_ok` / `nlmsg_next`).
    /// Bytes left over that do not form a whole message are an error.
    static func forEachMessage(in datagram: UnsafeMutableRawBufferPointer,
                               _ body: (NetlinkMessageView) throws -> Void) throws {
        guard var header = datagram.baseAddress?.assumingMemoryBound(to: nlmsghdr.self) else { return }
        var remaining = Int32(datagram.count)
        while nlmsg_ok(header, remaining) != 0 {
            try body(NetlinkMessageView(header: header))
            guard let next = nlmsg_next(header, &remaining) else { break }
            header = next
        }
        if remaining > 0 {
            throw NetlinkDecodeError("datagram has \(remaining) bytes that are not a whole message")
        }
    }
}

extension NetlinkAttributes {
    /// Parses a run of attributes that is not a whole message or nest — for example the
    /// attributes after a `struct rtnexthop` or a `struct br_mdb_entry` (`nla_parse`).
    static func parse(_ raw: UnsafeRawBufferPointer, maxType: Int32, context: String) throws -> NetlinkAttributes {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(maxType) + 1)
        guard raw.count > 0, let base = raw.baseAddress else { return NetlinkAttributes(table: table) }
        let head = UnsafeMutableRawPointer(mutating: base).assumingMemoryBound(to: nlattr.self)
        let rc = table.withUnsafeMutableBufferPointer { nla_parse($0.baseAddress, maxType, head, Int32(raw.count), nil) }
        guard rc == 0 else { throw NetlinkDecodeError("\(context): \(LibNL.errorText(rc))") }
        try checkComplete(head, Int32(raw.count), context: context)
        return NetlinkAttributes(table: table)
    }
}
