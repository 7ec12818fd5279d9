import Foundation
import KernelMirror
import SwitchModel
import Testing

extension KernelMirror {
    /// Polls the mirror (applying events, resyncs and re-dumps) until `condition` holds on
    /// its tables or `seconds` pass; returns whether it held, and every delta seen.
    @discardableResult
    func pump(seconds: Double = 10, until condition: (MirrorTables) -> Bool) throws -> (held: Bool, deltas: [MirrorDelta]) {
        var seen: [MirrorDelta] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let batch = try poll(timeoutMilliseconds: 20) { seen += batch }
            if condition(tables) {
                seen += flush()
                return (true, seen)
            }
        }
        seen += flush()
        return (condition(tables), seen)
    }

    /// Polls for `milliseconds`, applying whatever arrives.
    func settle(milliseconds: Int = 300) throws -> [MirrorDelta] {
        try pump(seconds: Double(milliseconds) / 1000) { _ in false }.deltas
    }
}

extension MirrorTables {
    func link(named name: String) -> Link? { links.values.first { $0.name == name } }
}
