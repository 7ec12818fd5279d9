internal import CNetlink

/// Builds one netlink message with libnl (`nlmsg_alloc_size`, `nlmsg_put`, `nlmsg_append`, `nla_put`,
/// `nla_nest_start`), for requests to the kernel and for tests that need messages in the
/// kernel's exact format.
public final class NetlinkMessageBuilder {
    private let message: OpaquePointer

    /// - Parameters:
    ///   - type: the message type (`RTM_NEWROUTE`, …).
    ///   - flags: `NLM_F_*` flags.
    ///   - capacity: the most bytes the message may grow to.
    public init(type: UInt16, flags: UInt16 = 0, sequence: UInt32 = 0, capacity: Int = 64 << 10) {
        guard let msg = nlmsg_alloc_size(capacity),
              nlmsg_put(msg, 0, sequence, Int32(type), 0, Int32(flags)) != nil else {
            preconditionFailure("nlmsg_alloc_size failed: out of memory")
        }
        message = msg
    }

    deinit { nlmsg_free(message) }

    public var sequence: UInt32 {
        get { nlmsg_hdr(message).pointee.nlmsg_seq }
        set { nlmsg_hdr(message).pointee.nlmsg_seq = newValue }
    }

    public var flags: UInt16 {
        get { nlmsg_hdr(message).pointee.nlmsg_flags }
        set { nlmsg_hdr(message).pointee.nlmsg_flags = newValue }
    }

    /// The message read back as the kernel's notification of the same object would be (an
    /// `RTM_NEWNEIGH` for the bridge as `.newFDB`, …): what a refused request was about.
    public var decoded: [KernelMessage] {
        var out: [KernelMessage] = []
        try? MessageDecoder.decode(NetlinkMessageView(header: nlmsg_hdr(message))) { out.append($0) }
        return out
    }

    /// Appends a fixed family header (`ifinfomsg`, `rtmsg`, …) given as raw bytes.
    @discardableResult
    public func append(header bytes: [UInt8]) -> Self {
        var copy = bytes
        let rc = copy.withUnsafeMutableBytes { nlmsg_append(message, $0.baseAddress, $0.count, Int32(NLMSG_ALIGNTO)) }
        precondition(rc == 0, "nlmsg_append failed: \(LibNL.errorText(rc))")
        return self
    }

    /// Appends an attribute with a raw payload.
    @discardableResult
    public func put(_ type: Int, bytes: [UInt8]) -> Self {
        var copy = bytes
        let rc = copy.withUnsafeMutableBytes { nla_put(message, Int32(type), Int32($0.count), $0.baseAddress) }
        precondition(rc == 0, "nla_put failed: \(LibNL.errorText(rc))")
        return self
    }

    @discardableResult public func put(_ type: Int, u8 value: UInt8) -> Self { put(type, bytes: [value]) }
    @discardableResult public func put(_ type: Int, u16 value: UInt16) -> Self { put(type, bytes: withUnsafeBytes(of: value.littleEndian, Array.init)) }
    @discardableResult public func put(_ type: Int, u32 value: UInt32) -> Self { put(type, bytes: withUnsafeBytes(of: value.littleEndian, Array.init)) }
    @discardableResult public func put(_ type: Int, u64 value: UInt64) -> Self { put(type, bytes: withUnsafeBytes(of: value.littleEndian, Array.init)) }
    /// A 16-bit value in network byte order (`IFLA_VXLAN_PORT`, `IFLA_BR_VLAN_PROTOCOL`).
    @discardableResult public func put(_ type: Int, be16 value: UInt16) -> Self { put(type, bytes: withUnsafeBytes(of: value.bigEndian, Array.init)) }
    @discardableResult public func put(_ type: Int, string: String) -> Self { put(type, bytes: Array(string.utf8) + [0]) }
    /// A zero-length flag attribute.
    @discardableResult public func put(flag type: Int) -> Self { put(type, bytes: []) }

    /// Appends a nested attribute whose contents `body` puts.
    @discardableResult
    public func nest(_ type: Int, _ body: (NetlinkMessageBuilder) -> Void) -> Self {
        guard let start = nla_nest_start(message, Int32(type)) else { preconditionFailure("nla_nest_start failed") }
        body(self)
        let rc = nla_nest_end(message, start)
        precondition(rc == 0, "nla_nest_end failed: \(LibNL.errorText(rc))")
        return self
    }

    /// The finished message, header included.
    public var bytes: [UInt8] {
        let header = nlmsg_hdr(message)!
        let length = Int(header.pointee.nlmsg_len)
        return Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(header), count: length))
    }
}
