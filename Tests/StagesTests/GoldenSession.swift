import Foundation
import Stages
import SwitchDriver
import SwitchModel
import Testing

/// A pipeline whose output, batch by batch, is compared with `Golden/<name>.txt`.
///
/// The file holds a `# <step>` line per batch followed by one line per desired change, in
/// emission order: `DesiredChange.description`, plus the settings that description leaves
/// out when they differ from the default (port learning and flooding, bridge protocol and
/// snooping, router interface MTU, route table). With `HOIST_RECORD=1` in the environment the file is rewritten
/// instead, and the test fails with "re-recorded" so a recording run is never green.
struct GoldenSession {
    let name: String
    private(set) var pipeline: StagePipeline
    private var lines: [String] = []

    init(_ name: String, capabilities: DriverCapabilities = testCapabilities()) {
        self.name = name
        pipeline = StagePipeline(capabilities: capabilities)
    }

    /// Applies one batch and records its output under `title`.
    @discardableResult
    mutating func step(_ title: String, _ deltas: [MirrorDelta]) -> [DesiredChange] {
        let changes = pipeline.apply(deltas)
        lines.append("# \(title)")
        lines += changes.map(Self.render)
        return changes
    }

    static func render(_ change: DesiredChange) -> String {
        guard case .set(let desired) = change else { return change.description }
        var line = "set \(desired.object)"
        switch desired.object {
        case .port(let p):
            if p.bridge != nil, !p.learning { line += " learning off" }
            if !p.unicastFlood { line += " flood off" }
            if !p.multicastFlood { line += " mcast_flood off" }
            if !p.broadcastFlood { line += " bcast_flood off" }
            if p.multicastRouter { line += " mcast_router" }
            if p.isolated { line += " isolated" }
            if p.locked { line += p.mab ? " locked mab" : " locked" }
        case .bridge(let b):
            if b.vlanProtocol != 0x8100 { line += " proto \(BridgeAttributes.vlanProtocolName(b.vlanProtocol))" }
            if !b.multicastSnooping { line += " snooping off" }
        case .routerInterface(let r):
            if r.mtu != 1500 { line += " mtu \(r.mtu)" }
        case .route(let r):
            if r.vrf != 254 { line += " table \(r.vrf)" }
        default:
            break
        }
        if let reason = desired.trapReason { line += " [trap: \(reason)]" }
        if !desired.programmable { line += " [cpu only]" }
        return line
    }

    /// Compares the recorded output with the golden file (or rewrites it).
    func verify(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Golden").appendingPathComponent("\(name).txt")
        let actual = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["HOIST_RECORD"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            Issue.record("re-recorded Golden/\(name).txt", sourceLocation: sourceLocation)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("Golden/\(name).txt is missing; record it with HOIST_RECORD=1", sourceLocation: sourceLocation)
            return
        }
        guard actual != expected else { return }
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let i = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
        let got = i < a.count ? String(a[i]) : "<end>"
        let want = i < e.count ? String(e[i]) : "<end>"
        Issue.record("Golden/\(name).txt differs at line \(i + 1):\n  expected: \(want)\n  actual:   \(got)",
                     sourceLocation: sourceLocation)
    }
}
