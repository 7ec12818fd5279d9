import SwitchDriver

/// The chip link: how hoistd drives a switch chip that runs in its own process
/// (`hoist-asic`), so the control plane can restart while the chip keeps forwarding.
///
/// Each message is one frame on a unix stream socket: a 4-byte little-endian body length,
/// then the body — a kind byte and the kind's payload in the binary form of
/// `ByteWriter`. Every request gets exactly one response, in order. The first request on
/// a connection is `hello`; a peer with another `version` is refused.
///
/// The kernel's counterpart is the driver/firmware mailbox of a real ASIC (mlxsw's EMAD
/// registers, prestera's firmware messages): batched writes, read-back for reconciliation.
public enum ChipLink {
    /// The protocol version; bumped on any incompatible change of the frame or codec.
    public static let version: UInt16 = 7   // 2: learned MACs, routed families; 3: port trap reasons; 4: hardware reports in objectState; 5: sticky FDB entries, bridge querier, controller role in hello; 6: router interface VRF, bridge neighbour suppression; 7: ingress ACLs (objects, the port's ingressACL, rule counters)
    /// The largest frame either side accepts (a read-back of a million routes is ~40 MB).
    public static let maxFrameBytes = 256 << 20
    /// The largest request the chip accepts (its server buffers a request whole before
    /// answering; `RemoteChipDriver` splits `apply` into batches of `maxApplyBatch`).
    public static let maxRequestBytes = 64 << 20
    /// Operations per `apply` request.
    public static let maxApplyBatch = 65_536
    /// hoist-asic's default socket.
    public static let defaultSocketPath = "/run/hoist/asic.sock"
}

/// What hoistd asks of the chip: the `SwitchDriver` protocol, one message per method.
public enum ChipRequest: Equatable {
    /// The first request. `controller`: this connection programs the chip (hoistd); the
    /// chip takes one at a time. Other connections (hoistd's audit, tools, tests injecting
    /// faults) claim nothing.
    case hello(version: UInt16, controller: Bool = true)
    case apply([DriverOperation])
    case readBack
    case pollEvents(limit: Int)
    case counters
    /// The chip process's own statistics (operations applied, connections).
    case statistics
    /// The MACs the chip learned itself (`SwitchDriver.learnedMACs()`).
    case learnedMACs

    var kind: UInt8 {
        switch self {
        case .hello: 1
        case .apply: 2
        case .readBack: 3
        case .pollEvents: 4
        case .counters: 5
        case .statistics: 7
        case .learnedMACs: 8
        }
    }

    public func encode(into w: inout ByteWriter) {
        w.u8(kind)
        switch self {
        case .hello(let v, let controller): w.u16(v); w.bool(controller)
        case .apply(let ops):
            w.count(ops.count)
            for op in ops { w.operation(op) }
        case .pollEvents(let limit): w.count(limit)
        case .readBack, .counters, .statistics, .learnedMACs: break
        }
    }

    public static func decode(_ r: inout ByteReader) throws -> ChipRequest {
        let kind = try r.u8()
        let request: ChipRequest
        switch kind {
        case 1:
            let v = try r.u16()
            request = .hello(version: v, controller: try r.bool())
        case 2:
            let n = try r.count(minimumSize: 3)
            var ops: [DriverOperation] = []
            ops.reserveCapacity(n)
            for _ in 0..<n { ops.append(try r.operation()) }
            request = .apply(ops)
        case 3: request = .readBack
        case 4: request = .pollEvents(limit: Int(try r.u32()))
        case 5: request = .counters
        case 7: request = .statistics
        case 8: request = .learnedMACs
        default: throw ChipLinkError.malformed("unknown request kind \(kind)", offset: r.offset - 1)
        }
        guard r.isAtEnd else { throw ChipLinkError.malformed("trailing bytes after the request", offset: r.offset) }
        return request
    }
}

/// What the chip process counts about itself.
public struct ChipStatistics: Equatable, Sendable {
    /// `set` and `remove` operations applied since the process started.
    public var sets: UInt64 = 0
    public var removes: UInt64 = 0
    /// Connections accepted, and frames refused as malformed.
    public var connections: UInt64 = 0
    public var malformed: UInt64 = 0
    public init() {}
}

/// The chip's answer to one request.
public enum ChipResponse: Equatable {
    case hello(version: UInt16, DriverCapabilities)
    case results([DriverResult])
    case objects([HardwareObject])
    case events([DriverEvent])
    case counters(DriverCounters)
    case statistics(ChipStatistics)
    /// The chip's learned MACs; nil when its driver cannot read them back.
    case learned([HardwareFDBEntry]?)
    /// The request could not be served; the connection stays usable unless framing broke.
    case error(String)

    public func encode(into w: inout ByteWriter) {
        switch self {
        case .hello(let v, let caps): w.u8(0x81); w.u16(v); w.capabilities(caps)
        case .results(let rs):
            w.u8(0x82); w.count(rs.count)
            for r in rs { w.result(r) }
        case .objects(let os):
            w.u8(0x83); w.count(os.count)
            for o in os { w.object(o) }
        case .events(let es):
            w.u8(0x84); w.count(es.count)
            for e in es { w.event(e) }
        case .counters(let c): w.u8(0x85); w.counters(c)
        case .statistics(let s): w.u8(0x87); w.u64(s.sets); w.u64(s.removes); w.u64(s.connections); w.u64(s.malformed)
        case .learned(let entries):
            w.u8(0x88); w.bool(entries != nil)
            if let entries {
                w.count(entries.count)
                for e in entries { w.object(.fdb(e)) }
            }
        case .error(let e): w.u8(0xFF); w.string(e)
        }
    }

    public static func decode(_ r: inout ByteReader) throws -> ChipResponse {
        let kind = try r.u8()
        let response: ChipResponse
        switch kind {
        case 0x81:
            let v = try r.u16()
            response = .hello(version: v, try r.capabilities())
        case 0x82:
            let n = try r.count()
            var rs: [DriverResult] = []
            rs.reserveCapacity(n)
            for _ in 0..<n { rs.append(try r.result()) }
            response = .results(rs)
        case 0x83:
            let n = try r.count(minimumSize: 3)
            var os: [HardwareObject] = []
            os.reserveCapacity(n)
            for _ in 0..<n { os.append(try r.object()) }
            response = .objects(os)
        case 0x84:
            let n = try r.count(minimumSize: 3)
            var es: [DriverEvent] = []
            es.reserveCapacity(n)
            for _ in 0..<n { es.append(try r.event()) }
            response = .events(es)
        case 0x85: response = .counters(try r.counters())
        case 0x87:
            var s = ChipStatistics()
            s.sets = try r.u64(); s.removes = try r.u64(); s.connections = try r.u64(); s.malformed = try r.u64()
            response = .statistics(s)
        case 0x88:
            guard try r.bool() else {
                response = .learned(nil)
                break
            }
            let n = try r.count(minimumSize: 3)
            var es: [HardwareFDBEntry] = []
            es.reserveCapacity(n)
            for _ in 0..<n {
                let at = r.offset
                guard case .fdb(let e) = try r.object() else {
                    throw ChipLinkError.malformed("a learned MAC that is not an FDB entry", offset: at)
                }
                es.append(e)
            }
            response = .learned(es)
        case 0xFF: response = .error(try r.string())
        default: throw ChipLinkError.malformed("unknown response kind \(kind)", offset: r.offset - 1)
        }
        guard r.isAtEnd else { throw ChipLinkError.malformed("trailing bytes after the response", offset: r.offset) }
        return response
    }
}

extension ChipLink {
    /// A whole frame: the length header and the body `encode` writes.
    public static func frame(_ encode: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter(capacity: 4096)
        w.u32(0)
        encode(&w)
        w.patchU32(UInt32(w.bytes.count - 4), at: 0)
        return w.bytes
    }

    /// The body length a frame header announces, checked against `limit` before anything
    /// is buffered for it.
    public static func bodyLength(_ header: ArraySlice<UInt8>, limit: Int = maxFrameBytes) throws -> Int {
        var r = ByteReader(Array(header))
        let n = Int(try r.u32())
        guard n >= 1, n <= limit else { throw ChipLinkError.malformed("frame length \(n) outside 1…\(limit)", offset: 0) }
        return n
    }
}
