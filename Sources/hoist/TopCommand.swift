import ArgumentParser
import ControlAPI
import Glibc
import Rendering
import ServiceSupport

/// `hoist top`: a live view of one switch, refreshed every `--interval` seconds — per-port
/// rates and drops (as `bwm-ng`/`nload`, or SONiC's `show interfaces counters rates`),
/// table occupancy bars, objects per kind and state, traps and drops per reason per
/// second. `--once` prints one frame (two samples an interval apart) for scripts;
/// `--json` with it, the same as one JSON object.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of the switch: port rates and drops, table occupancy, objects per state, traps per reason."
    )

    @Flag(help: "Print one frame (rates over one interval) and exit.")
    var once = false

    @Option(help: "Seconds between refreshes (default 1).")
    var interval: Double = 1

    @OptionGroup var options: DaemonOptions

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval takes 0.1…3600 seconds, not \(interval)") }
    }

    /// What one refresh reads from hoistd.
    struct Sample {
        var time: Double
        var counters: [JSONValue]
        var traps: [JSONValue]
        var resources: [JSONValue]
        var summary: [JSONValue]
    }

    func sample() throws -> Sample {
        func ask(_ kind: String) throws -> [JSONValue] { try options.objects(ControlRequest(command: .show, object: kind)) }
        return Sample(time: Self.now(), counters: try ask("counters"), traps: try ask("traps"), resources: try ask("resources"), summary: try ask("summary"))
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func run() throws {
        StopSignal.install()
        let place = try options.netns.map { "netns \($0)" } ?? options.path()
        var last = try sample()
        while !StopSignal.requested {
            let deadline = last.time + interval
            while !StopSignal.requested, Self.now() < deadline { usleep(20_000) }
            if StopSignal.requested { break }
            let now = try sample()
            let frame = Self.frame(from: last, to: now, title: "hoist top: \(place), every \(Self.number(interval)) s")
            if once {
                options.output(options.json ? frame.json.text + "\n" : frame.text)
                return
            }
            // Home and clear, then the frame: a terminal shows one at a time.
            options.output("\u{1B}[H\u{1B}[2J" + frame.text)
            last = now
        }
    }

    /// One frame: as text and as JSON.
    struct Frame {
        var text: String
        var json: JSONValue
    }

    /// Rates between two samples, occupancy and states of the later one.
    static func frame(from a: Sample, to b: Sample, title: String) -> Frame {
        let seconds = max(b.time - a.time, 0.001)
        func int(_ row: JSONValue, _ key: String) -> Int64 { if case .int(let v)? = row[key] { v } else { 0 } }
        func string(_ row: JSONValue, _ key: String) -> String? { if case .string(let s)? = row[key] { s } else { nil } }
        func rate(_ old: Int64?, _ new: Int64) -> Double { Double(max(new - (old ?? new), 0)) / seconds }

        let before = Dictionary(a.counters.compactMap { row in string(row, "ifname").map { ($0, row) } }, uniquingKeysWith: { x, _ in x })
        let ports: [JSONValue] = b.counters.compactMap { row in
            guard let name = string(row, "ifname") else { return nil }
            let old = before[name]
            return .object([
                ("port", .string(name)),
                ("rx_pps", .string(number(rate(old.map { int($0, "rx_packets") }, int(row, "rx_packets"))))),
                ("tx_pps", .string(number(rate(old.map { int($0, "tx_packets") }, int(row, "tx_packets"))))),
                ("rx_bps", .string(bits(8 * rate(old.map { int($0, "rx_bytes") }, int(row, "rx_bytes"))))),
                ("tx_bps", .string(bits(8 * rate(old.map { int($0, "tx_bytes") }, int(row, "tx_bytes"))))),
                ("drop_ps", .string(number(rate(old.map { int($0, "rx_dropped") }, int(row, "rx_dropped"))))),
                ("rx_packets", .int(int(row, "rx_packets"))), ("tx_packets", .int(int(row, "tx_packets"))),
            ])
        }
        let tables: [JSONValue] = b.resources.compactMap { row in
            let used = int(row, "used"), capacity = int(row, "capacity")
            guard let name = string(row, "table"), capacity > 0 else { return nil }
            let share = Double(used) / Double(capacity)
            return .object([("table", .string(name)), ("use", .string(bar(share))), ("used", .int(used)), ("capacity", .int(capacity)),
                            ("percent", .string(number(100 * share)))])
        }
        let oldTraps = Dictionary(a.traps.compactMap { row in string(row, "trap").map { ($0, int(row, "packets")) } }, uniquingKeysWith: { x, _ in x })
        let traps: [JSONValue] = b.traps.compactMap { row in
            guard let reason = string(row, "trap") else { return nil }
            return .object([("trap", .string(reason)), ("per_second", .string(number(rate(oldTraps[reason], int(row, "packets"))))),
                            ("packets", .int(int(row, "packets")))])
        }
        let oldDrops = Dictionary(a.counters.compactMap { row in string(row, "drop").map { ($0, int(row, "packets")) } }, uniquingKeysWith: { x, _ in x })
        let drops: [JSONValue] = b.counters.compactMap { row in
            guard let reason = string(row, "drop") else { return nil }
            return .object([("drop", .string(reason)), ("per_second", .string(number(rate(oldDrops[reason], int(row, "packets"))))),
                            ("packets", .int(int(row, "packets")))])
        }
        var text = title + "\n\n" + DaemonOptions.table(ports) + "\n" + DaemonOptions.table(tables) + "\n" + DaemonOptions.table(b.summary)
        if !traps.isEmpty { text += "\n" + DaemonOptions.table(traps) }
        if !drops.isEmpty { text += "\n" + DaemonOptions.table(drops) }
        let json = JSONValue.object([("interval_s", .string(number(seconds))), ("ports", .array(ports)), ("tables", .array(tables)),
                                     ("objects", .array(b.summary)), ("traps", .array(traps)), ("drops", .array(drops))])
        return Frame(text: text, json: json)
    }

    /// One decimal below 100, none above: `0.0`, `12.5`, `1234`.
    static func number(_ x: Double) -> String {
        x >= 100 ? String(Int(x.rounded())) : String(Double(Int((x * 10).rounded())) / 10)
    }

    /// Bits per second with a unit: `0`, `840`, `1.2k`, `94.1M`, `9.9G`.
    static func bits(_ x: Double) -> String {
        for (unit, scale) in [("G", 1e9), ("M", 1e6), ("k", 1e3)] where x >= scale { return number(x / scale) + unit }
        return number(x)
    }

    /// A 20-character occupancy bar: `[#####···············]`.
    static func bar(_ share: Double) -> String {
        let filled = min(20, max(0, Int((share * 20).rounded(.up))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "·", count: 20 - filled) + "]"
    }
}
