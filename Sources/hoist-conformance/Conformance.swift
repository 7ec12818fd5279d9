import DriverConformance
import EmulatedASIC
import Foundation
import ServiceSupport
import SwitchDriver
import SRIOVDriver
import SwitchdevDriver

/// `hoist-conformance [--driver switchdev|sriov|emulated] [-n NETNS]`: runs the driver
/// conformance suite against a live driver, a fresh one per case, and prints one line per
/// case — `PASS name`, `SKIP name: why`, `FAIL name: failures` — then a summary. The exit
/// status is the number of failed cases (so 0 when the driver conforms where it applies).
/// The VM suites run it against the Switchdev driver on netdevsim ports and the SRIOV
/// driver on a netdevsim eswitch.
@main
struct Conformance {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var driverName = "switchdev"
        var namespace: String?
        while !arguments.isEmpty {
            let flag = arguments.removeFirst()
            switch flag {
            case "--version":
                print(HoistVersion.line("hoist-conformance"))
                exit(0)
            case "--driver" where !arguments.isEmpty: driverName = arguments.removeFirst()
            case "-n" where !arguments.isEmpty, "--netns" where !arguments.isEmpty: namespace = arguments.removeFirst()
            default:
                FileHandle.standardError.write(Data("usage: hoist-conformance [--driver switchdev|sriov|emulated] [-n NETNS]\n".utf8))
                exit(64)
            }
        }
        let make: () throws -> any SwitchDriver
        switch driverName {
        case "switchdev": make = { try SwitchdevDriver(namespace: namespace) }
        case "sriov": make = { try SRIOVDriver(namespace: namespace) }
        case "emulated": make = { EmulatedASIC(profile: .small) }
        default:
            FileHandle.standardError.write(Data("unknown driver '\(driverName)': switchdev, sriov or emulated\n".utf8))
            exit(64)
        }
        var passed = 0, skipped = 0, failed = 0
        for c in ConformanceSuite.cases {
            let driver: any SwitchDriver
            do { driver = try make() } catch {
                print("FAIL \(c.name): cannot start the driver: \(error)")
                failed += 1
                continue
            }
            switch c.outcome(on: driver) {
            case .passed:
                print("PASS \(c.name)")
                passed += 1
            case .skipped(let why):
                print("SKIP \(c.name): \(why)")
                skipped += 1
            case .failed(let failures):
                print("FAIL \(c.name): \(failures.joined(separator: "; "))")
                failed += 1
            }
        }
        print("conformance \(driverName): \(passed) passed, \(skipped) skipped, \(failed) failed")
        exit(Int32(min(failed, 125)))
    }
}
