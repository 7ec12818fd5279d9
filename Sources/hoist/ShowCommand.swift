import ArgumentParser
import ControlAPI
import Glibc
import Rendering
import ServiceSupport

/// Options shared by the commands that ask hoistd.
struct DaemonOptions: ParsableArguments {
    @Option(help: "hoistd's control socket (default: HOIST_SOCKET, else \(ControlProtocol.defaultSocketPath)).")
    var socket: String?

    @Option(name: [.customShort("n"), .customLong("netns")], help: "Ask the hoistd of this network namespace (as `ip -n`).")
    var netns: String?

    @Flag(name: [.customShort("j"), .customLong("json")], help: "JSON output, with iproute2's field names.")
    var json = false

    @Option(help: "Seconds hoistd may stay silent before the answer (default 10; audit 120).")
    var timeout: Int?

    /// The control socket these options name (`DaemonSocket`).
    func path() throws -> String { try DaemonSocket.path(socket: socket, namespace: netns) }

    /// Sends `request` and returns the objects of the answer; a refusal or an absent
    /// daemon is a runtime error (exit 1, no usage text).
    func objects(_ request: ControlRequest, timeoutSeconds: Int = 10) throws -> [JSONValue] {
        switch try ControlClient.send(request, path: try path(), timeoutSeconds: timeout ?? timeoutSeconds) {
        case .error(let message): throw CommandFailure(message)
        case .watching: throw CommandFailure("hoistd started a watch for a one-shot request")
        case .objects(let objects): return objects
        }
    }

    /// Sends `request` and prints the answer: JSON, or a table.
    func ask(_ request: ControlRequest) throws {
        let objects = try objects(request)
        if json {
            output(JSONValue.array(objects).text + "\n")
        } else {
            output(Self.table(objects))
        }
    }

    /// Rows as a text table (`TextTable`).
    static func table(_ objects: [JSONValue]) -> String {
        var table = TextTable()
        return objects.map { table.add($0) }.joined() + table.finish()
    }

    /// One object as a line for people (`hoist watch`): its name, then `field value`
    /// pairs, state last.
    static func line(_ object: JSONValue) -> String {
        let row = TextTable.Row(object)
        let name = row.cells.first { $0.0 == "object" }?.1 ?? ""
        let parts = row.cells.filter { $0.0 != "object" }.map { "\($0.0) \($0.1)" }
        var line = name.isEmpty ? "" : name.padding(toLength: max(name.count, 32)) + "  "
        line += parts.joined(separator: " ")
        if !row.state.isEmpty { line += (parts.isEmpty ? "" : "  ") + row.state }
        return line + "\n"
    }

    /// Sends `request` as a stream and prints each object as it arrives: `--json` as one
    /// JSON array (as `ip -j`), written in chunks; text as a table (`TextTable`).
    func stream(_ request: ControlRequest) throws {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        var first = true
        var table = TextTable()
        func push(_ text: String) {
            out.append(contentsOf: text.utf8)
            if out.count >= 1 << 16 {
                write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        do {
            try ControlClient.stream(request, path: try path(), timeoutSeconds: timeout ?? 10) { row in
                if json {
                    push((first ? "[" : ",") + row)
                } else {
                    push(table.add(try JSONValue.parse(row)))
                }
                first = false
            }
        } catch {
            if !json { push(table.finish()) }      // the rows that came before the error
            write(out)
            throw error
        }
        if json { push(first ? "[]\n" : "]\n") } else { push(table.finish()) }
        write(out)
    }

    private func write(_ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { return }
            done += n
        }
    }

    func output(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(1, $0.baseAddress, $0.count) }
    }
}

extension String {
    func padding(toLength n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

/// `hoist show OBJECT`: every object of a kind, with its offload state.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show what hoistd offloads: ports, bridges, fdb, vlans, stp, mdb, vxlan, routes, nexthops, neighbors, rifs, vrfs, lags, acl (tc ingress filters), resources, counters, traps, vfs; audit (the continuous audit's counters); summary (objects per kind and state)."
    )

    static let objects = ["ports", "bridges", "fdb", "vlans", "stp", "mdb", "vxlan", "routes", "nexthops", "neighbors", "rifs",
                          "vrfs", "lags", "acl", "resources", "counters", "traps", "vfs", "audit", "summary"]

    @Argument(help: "What to show (singular or plural: route or routes).")
    var object: String

    /// The kind `word` names, singular or plural, British or American (`route`, `routes`,
    /// `neighbour`); nil for none.
    static func kind(_ word: String) -> String? {
        let w = word.lowercased().replacing("neighbour", with: "neighbor")
        if objects.contains(w) { return w }
        if objects.contains(w + "s") { return w + "s" }
        if w == "rif" || w == "router-interfaces" { return "rifs" }
        if w == "acls" { return "acl" }
        return nil
    }

    /// The word `hoist why` and the rows use for one object of a plural kind (`routes` →
    /// `route`, `rifs` → `router interface`).
    static func singular(_ word: String) -> String? {
        guard let kind = kind(word) else { return nil }
        switch kind {
        case "rifs": return "router interface"
        case "fdb", "mdb", "vxlan", "stp", "audit", "acl": return kind
        default: return String(kind.dropLast())
        }
    }

    @Argument(help: "routes only: `PREFIX` (the route with exactly this prefix) and/or `vrf NAME` (a vrf device, a table id, or main), as `ip route show`.")
    var selectors: [String] = []

    @Option(help: "Only objects in this state: offloaded, trapped, pending or failed.")
    var state: String?

    @OptionGroup var options: DaemonOptions

    /// The prefix and VRF `selectors` name.
    func selection() throws -> (prefix: String?, vrf: String?) {
        var prefix: String?
        var vrf: String?
        var words = selectors[...]
        while let word = words.popFirst() {
            if word == "vrf" {
                guard let name = words.popFirst() else { throw ValidationError("vrf takes a name: hoist show routes vrf NAME") }
                vrf = name
            } else {
                guard prefix == nil else { throw ValidationError("one prefix at most, not '\(prefix!)' and '\(word)'") }
                prefix = word
            }
        }
        return (prefix, vrf)
    }

    func validate() throws {
        guard let kind = Self.kind(object) else {
            throw ValidationError("unknown object '\(object)'; one of: \(Self.objects.joined(separator: ", "))")
        }
        if !selectors.isEmpty, kind != "routes" {
            throw ValidationError("a prefix or vrf selects routes: hoist show routes [PREFIX] [vrf NAME]")
        }
        _ = try selection()
        if let state, !ControlRequest.states.contains(state) {
            throw ValidationError("unknown state '\(state)'; one of: \(ControlRequest.states.joined(separator: ", "))")
        }
    }

    func run() throws {
        let (prefix, vrf) = try selection()
        try options.stream(ControlRequest(command: .show, object: Self.kind(object) ?? object, prefix: prefix, state: state, vrf: vrf))
    }
}

/// `hoist why OBJECT`: one object's offload state and the chain of reasons behind it.
struct WhyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Explain an object's offload state: hoist why route 10.9.0.0/16"
    )

    @Argument(help: "The object, as `hoist show` names it (e.g. route 10.9.0.0/16, port swp1).")
    var object: [String]

    @OptionGroup var options: DaemonOptions

    func validate() throws {
        guard !object.isEmpty else { throw ValidationError("name an object, e.g. `hoist why route 10.9.0.0/16`") }
    }

    func run() throws {
        // `why routes 10.9.0.0/16` as `why route 10.9.0.0/16`: the rows name objects in the singular.
        var words = object
        if words.count > 1, let one = ShowCommand.singular(words[0]) { words[0] = one }
        try options.ask(ControlRequest(command: .why, object: words.joined(separator: " ")))
    }
}

/// `hoist watch [OBJECT]`: offload state changes as they happen.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print offload state changes as they happen (all objects, or one kind: routes, fdb, …)."
    )

    @Argument(help: "Only this kind of object (as `hoist show` names them).")
    var object: String?

    @Option(help: "Stop after this many seconds.")
    var seconds: Double?

    @Flag(name: [.customShort("t"), .long], help: "Prefix each change with the time it arrived (as `ip monitor -t`; with --json, a \"timestamp\" field).")
    var timestamp = false

    @OptionGroup var options: DaemonOptions

    /// Local time with microseconds, ISO 8601: `2026-12-06T19:30:01.123456`.
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let micros = String(ts.tv_nsec / 1000)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + "." + String(repeating: "0", count: 6 - micros.count) + micros
    }

    func validate() throws {
        if let object, ShowCommand.kind(object) == nil {
            throw ValidationError("unknown object '\(object)'; one of: \(ShowCommand.objects.joined(separator: ", "))")
        }
    }

    func run() throws {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let stopAt = seconds.map { Double(start.tv_sec) + Double(start.tv_nsec) / 1e9 + $0 }
        StopSignal.install()
        try ControlClient.watch(object.flatMap(ShowCommand.kind) ?? "", path: try options.path(), stop: {
            if StopSignal.requested { return true }
            guard let stopAt else { return false }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 >= stopAt
        }) { change in
            let stamp = timestamp ? Self.now() : nil
            if options.json {
                var line = change
                if let stamp, case .object(let fields) = change { line = .object([("timestamp", .string(stamp))] + fields) }
                options.output(line.text + "\n")
                return
            }
            let text: String
            if case .object(let fields) = change, fields.count == 1, fields[0].0 == "lost" {
                // hoistd could not keep this watcher up to date: what follows is the current state.
                text = "\(fields[0].1.text) changes lost; the current state follows\n"
            } else {
                text = DaemonOptions.line(change)
            }
            options.output((stamp.map { "[\($0)] " } ?? "") + text)
        }
    }
}
