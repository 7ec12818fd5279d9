import Daemon
import Offload
import SwitchDriver
import SwitchModel

/// What is offloaded, per object, and how full each table is — for people.
public struct OffloadReport {
    let daemon: SwitchDaemon

    public init(daemon: SwitchDaemon) { self.daemon = daemon }

    public var text: String {
        let states = daemon.engine.states()
        var out = "offload states (\(states.count) objects):"
        for (name, count) in daemon.engine.stateSummary().sorted(by: { $0.key < $1.key }) { out += " \(name) \(count)" }
        out += "\n"
        let width = min(48, states.map { $0.key.description.count }.max() ?? 0)
        for s in states {
            let key = s.key.description
            out += "  " + key + String(repeating: " ", count: max(1, width + 2 - key.count)) + s.state.description + "\n"
        }
        out += "tables:\n"
        for (table, use) in daemon.engine.occupancy().sorted(by: { $0.key.rawValue < $1.key.rawValue }) where use.used > 0 {
            out += "  \(table.title): \(use)\n"
        }
        return out
    }
}
