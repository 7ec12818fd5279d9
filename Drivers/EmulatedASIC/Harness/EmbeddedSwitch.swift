import SwitchDriver
import SwitchModel

/// The emulated chip in memory, for tests — in the spirit of swift-nio's `EmbeddedChannel`:
/// inject a frame on a port, read what left each port and what went to the CPU, advance
/// the virtual clock, and `finish()` to fail on anything left unread.
///
/// ```swift
/// let sw = EmbeddedSwitch()
/// try sw.program([.bridge(...), .port(...)])
/// sw.inject(frame, on: 1)
/// #expect(sw.readOutbound(on: 2) == frame)
/// try sw.finish()
/// ```
public final class EmbeddedSwitch {
    public let asic: EmulatedASIC
    public var chip: SwitchChip { asic.chip }
    var outbound: [PortID: [[UInt8]]] = [:]
    var trapped: [(port: PortID, reason: TrapReason, frame: [UInt8])] = []

    /// What `finish()` found unread.
    public struct LeftoverFrames: Error, CustomStringConvertible {
        public var outbound: [PortID: Int]
        public var trapped: [TrapReason: Int]
        public var description: String {
            let o = outbound.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            let t = trapped.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key): \($0.value)" }
            return "frames left unread — outbound [\(o.joined(separator: ", "))] trapped [\(t.joined(separator: ", "))]"
        }
    }

    /// A programming operation the chip refused.
    public struct ProgrammingFailed: Error, CustomStringConvertible {
        public var operation: DriverOperation
        public var result: DriverResult
        public var description: String { "\(operation): \(result)" }
    }

    public init(profile: TableProfile = .small) {
        asic = EmulatedASIC(profile: profile)
    }

    /// Programs `objects` in order; throws on the first refusal.
    public func program(_ objects: [HardwareObject]) throws {
        try apply(objects.map { .set($0) })
    }

    /// Applies `operations` in order; throws on the first refusal.
    public func apply(_ operations: [DriverOperation]) throws {
        for (op, result) in zip(operations, asic.apply(operations)) where result != .ok {
            throw ProgrammingFailed(operation: op, result: result)
        }
    }

    /// Runs one frame received on `port` through the chip.
    public func inject(_ frame: [UInt8], on port: PortID) {
        var sink = CollectingSink()
        frame.withUnsafeBytes { chip.process($0, from: port, into: &sink) }
        for (p, frames) in sink.transmitted { outbound[p, default: []] += frames }
        trapped += sink.trapped
    }

    /// The oldest unread frame that left `port`, or nil.
    public func readOutbound(on port: PortID) -> [UInt8]? {
        guard var q = outbound[port], !q.isEmpty else { return nil }
        let f = q.removeFirst()
        outbound[port] = q.isEmpty ? nil : q
        return f
    }

    /// Every unread frame that left any port, oldest first per port; clears them.
    public func drainOutbound() -> [PortID: [[UInt8]]] {
        defer { outbound = [:] }
        return outbound
    }

    /// How many unread frames left each port; clears them.
    public func drainCounts() -> [PortID: Int] { drainOutbound().mapValues(\.count) }

    /// The reasons of every unread trapped frame, oldest first; clears them.
    public func drainTrapReasons() -> [TrapReason] {
        defer { trapped = [] }
        return trapped.map(\.reason)
    }

    /// The ports with unread frames.
    public var portsWithOutbound: Set<PortID> { Set(outbound.keys) }

    /// The oldest unread trapped frame, or nil.
    public func readTrapped() -> (port: PortID, reason: TrapReason, frame: [UInt8])? {
        trapped.isEmpty ? nil : trapped.removeFirst()
    }

    /// Driver events (learned/aged MACs, port state, traps) not yet read.
    public func readEvents() -> [DriverEvent] {
        asic.pollEvents(limit: Int.max)
    }

    /// Advances the chip's virtual clock; learned MACs older than their bridge's ageing
    /// time are aged out (and reported as events).
    public func advanceTime(bySeconds seconds: Double) {
        chip.advance(byNanoseconds: UInt64(seconds * 1e9))
    }

    /// Fails if any frame was left unread.
    public func finish() throws {
        guard outbound.isEmpty, trapped.isEmpty else {
            var t: [TrapReason: Int] = [:]
            for x in trapped { t[x.reason, default: 0] += 1 }
            throw LeftoverFrames(outbound: outbound.mapValues(\.count), trapped: t)
        }
    }
}
