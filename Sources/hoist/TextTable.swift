import Rendering

/// `hoist show` for people: one row per object under a header, as `ip -br` and SONiC's
/// `show` tables print them. Columns are the rows' fields in an order all rows agree with
/// (`OBJECT` first unless every name just repeats a cell; the offload state — state,
/// reason, evidence — last, unpadded, under `OFFLOAD`); a missing field is `-`. Widths
/// are those of the widest cell among the first `window` rows, so a streamed
/// million-route table starts printing after `window` rows; a later, longer cell pushes
/// the rest of its line right, and a field the first rows did not have is appended as
/// `field value`.
struct TextTable {
    static let window = 2_000

    private var buffered: [Row] = []
    private var columns: [String]?
    private var widths: [String: Int] = [:]

    /// One object's cells and its state.
    struct Row {
        var cells: [(String, String)]
        var state: String

        init(_ object: JSONValue) {
            guard case .object(let fields) = object else {
                cells = [("object", object.text)]
                state = ""
                return
            }
            cells = []
            var state = "", confirmed = true
            var evidence: String?
            for (key, value) in fields {
                let text = Self.text(value)
                switch key {
                case "offload": state = text
                case "reason": state += ": " + text
                case "confirmed": confirmed = value != .bool(false)
                case "evidence": evidence = text
                default: cells.append((key, text))
                }
            }
            // `offloaded (unconfirmed: accepted by the switchdev driver; …)`, `(kernel flag offload)`.
            if let evidence { state += confirmed ? " (\(evidence))" : " (unconfirmed: \(evidence))" }
            else if !confirmed { state += " (unconfirmed)" }
            self.state = state
        }

        /// A field's value as a cell: strings as they are, lists joined by commas (`-` when
        /// empty), a list of objects (a multipath route's nexthops) as `field value` pairs
        /// joined by `; `.
        static func text(_ value: JSONValue) -> String {
            switch value {
            case .string(let s): return s
            case .array(let items) where items.isEmpty: return "-"
            case .array(let items):
                let objects = items.contains { if case .object = $0 { true } else { false } }
                return items.map { item -> String in
                    switch item {
                    case .string(let s): return s
                    case .object(let pairs): return pairs.map { "\($0.0) \(text($0.1))" }.joined(separator: " ")
                    default: return item.text
                    }
                }.joined(separator: objects ? "; " : ",")
            default: return value.text
            }
        }
    }

    /// Adds a row; returns what can be printed now (nothing while the first rows are
    /// measured).
    mutating func add(_ object: JSONValue) -> String {
        let row = Row(object)
        guard columns != nil else {
            buffered.append(row)
            return buffered.count >= Self.window ? flush() : ""
        }
        return line(row)
    }

    /// What is left to print once the rows are all in.
    mutating func finish() -> String { columns == nil ? flush() : "" }

    /// Prints the measured rows: one table per run of rows of one shape (rows whose first
    /// field differs — `hoist show counters`' ports, drops and event queue — start a new
    /// table after a blank line).
    private mutating func flush() -> String {
        var runs: [[Row]] = []
        for row in buffered {
            if let last = runs.last?.last, last.cells.first?.0 == row.cells.first?.0 { runs[runs.count - 1].append(row) } else { runs.append([row]) }
        }
        buffered = []
        columns = []
        var out: [String] = []
        for run in runs { out.append(start(run)) }
        return out.joined(separator: "\n")
    }

    /// Measures `rows`, makes them the current table, and prints them under a header.
    private mutating func start(_ rows: [Row]) -> String {
        // Columns in an order every row agrees with: a field first seen in a row goes
        // just before the next of that row's fields already placed, or last (`dst`,
        // `gateway`, `dev`, `scope`, `nexthops`, `flags` for routes).
        var order: [String] = []
        for row in rows {
            let keys = row.cells.map(\.0)
            for (i, key) in keys.enumerated() where !order.contains(key) {
                let next = keys[(i + 1)...].lazy.compactMap { order.firstIndex(of: $0) }.first
                order.insert(key, at: next ?? order.count)
            }
        }
        // The object's name says nothing a column does not (`route 10.0.0.0/8` and `dst`,
        // `port swp1` and `ifname`): left out.
        if order.contains("object"), rows.allSatisfy(Self.nameRepeatsACell) { order.removeAll { $0 == "object" } }
        widths = [:]
        for key in order { widths[key] = Self.header(key).count }
        for row in rows { for (key, cell) in row.cells where widths[key] != nil { widths[key] = max(widths[key]!, cell.count) } }
        columns = order
        let hasState = rows.contains { !$0.state.isEmpty }
        var header = order.map { Self.header($0).padding(toLength: widths[$0]!) }.joined(separator: "  ")
        if hasState { header += "  OFFLOAD" }
        while header.last == " " { header.removeLast() }
        return header + "\n" + rows.map(line).joined()
    }

    /// Whether the row's `object` is a kind word followed by one of its cells.
    static func nameRepeatsACell(_ row: Row) -> Bool {
        guard let name = row.cells.first(where: { $0.0 == "object" })?.1 else { return true }
        return row.cells.contains { $0.0 != "object" && !$0.1.isEmpty && name.hasSuffix(" " + $0.1) }
    }

    private func line(_ row: Row) -> String {
        let cells = Dictionary(row.cells, uniquingKeysWith: { a, _ in a })
        let shown = Set(columns ?? [])
        var parts = (columns ?? []).map { (cells[$0] ?? "-").padding(toLength: widths[$0] ?? 0) }
        parts += row.cells.filter { !shown.contains($0.0) && !($0.0 == "object" && Self.nameRepeatsACell(row)) }.map { "\($0.0) \($0.1)" }
        if !row.state.isEmpty { parts.append(row.state) }
        var text = parts.joined(separator: "  ")
        while text.last == " " { text.removeLast() }
        return text + "\n"
    }

    /// `ifname` → `IFNAME`, `mcast_flood` → `MCAST_FLOOD`.
    static func header(_ key: String) -> String { key.uppercased() }
}
