import ArgumentParser
import ControlAPI
import Rendering

/// `hoist audit`: one full audit, kernel ↔ hoistd ↔ chip, on demand.
///
/// Prints one line per difference — its side (`kernel`: the mirror against a fresh dump;
/// `stages`: what hoistd asked of the engine against a fresh evaluation of the mirror;
/// `chip`: what hoistd programmed against the chip's read-back), `missing` / `unexpected` /
/// `changed`, expected and found — then a summary. Exits 0 when everything agrees, 1 when
/// drift was found (with `--repair`, too: the exit status says what was found).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Compare kernel, hoistd and chip now; print what differs (exit 1 when anything does)."
    )

    @Flag(help: "Also repair what differs (the continuous audit repairs the chip side on its own).")
    var repair = false

    @OptionGroup var options: DaemonOptions

    func run() throws {
        let request = ControlRequest(command: .audit, object: repair ? "repair" : "")
        let objects = try options.objects(request, timeoutSeconds: 120)
        guard let summary = objects.first, case .int(let drift)? = summary["drift"] else {
            throw CommandFailure("hoistd answered without an audit summary")
        }
        if options.json {
            options.output(JSONValue.array(objects).text + "\n")
        } else {
            options.output(DaemonOptions.table(Array(objects.dropFirst())))
            func n(_ k: String) -> String { if case .int(let v)? = summary[k] { "\(v)" } else { "?" } }
            let repaired = if case .bool(true)? = summary["repaired"] { ", repaired" } else { "" }
            options.output(drift == 0
                ? "no drift: kernel (\(n("kernel_objects")) objects), hoistd (\(n("desired_objects")) desired) and chip (\(n("chip_objects")) held) agree\n"
                : "\(drift) differences\(repaired) (kernel \(n("kernel_objects")) objects, hoistd \(n("desired_objects")) desired, chip \(n("chip_objects")) held)\n")
        }
        if drift > 0 { throw ExitCode(1) }
    }
}
