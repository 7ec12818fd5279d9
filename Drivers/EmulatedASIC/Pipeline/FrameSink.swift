import SwitchDriver

/// Where the chip's forwarding core puts what leaves it: frames out of front-panel ports,
/// and frames trapped to the CPU (which the packet I/O layer hands to the port's host
/// interface). The bytes are valid only during the call.
public protocol FrameSink {
    mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID)
    mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason)
}

/// A sink that keeps copies of everything, per port and for the CPU (tests, the harness).
public struct CollectingSink: FrameSink {
    public var transmitted: [PortID: [[UInt8]]] = [:]
    public var trapped: [(port: PortID, reason: TrapReason, frame: [UInt8])] = []
    public init() {}
    public mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) {
        transmitted[port, default: []].append(Array(frame))
    }
    public mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) {
        trapped.append((port, reason, Array(frame)))
    }
}

/// A sink that only counts (benchmarks): no copies.
public struct CountingSink: FrameSink {
    public var transmitted = 0
    public var trapped = 0
    public var bytes = 0
    public init() {}
    @inline(__always) public mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) {
        transmitted += 1
        bytes &+= frame.count
    }
    @inline(__always) public mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) {
        trapped += 1
    }
}

/// Holds what one pipeline step sent, in order, for the step that called it to pass on or
/// drop (the chip's own use: a route whose result decides whether a frame is forwarded too).
struct HeldSink: FrameSink {
    var transmitted: [([UInt8], PortID)] = []
    var trapped: [(PortID, TrapReason, [UInt8])] = []
    mutating func transmit(_ frame: UnsafeRawBufferPointer, port: PortID) { transmitted.append((Array(frame), port)) }
    mutating func trap(_ frame: UnsafeRawBufferPointer, port: PortID, reason: TrapReason) { trapped.append((port, reason, Array(frame))) }
}
