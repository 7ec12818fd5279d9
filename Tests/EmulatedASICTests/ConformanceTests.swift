import DriverConformance
import EmulatedASIC
import SwitchDriver
import Testing

/// The driver conformance suite against the emulated chip, in both table profiles.
@Suite("Driver conformance: EmulatedASIC")
struct ConformanceTests {
    @Test("small profile", arguments: ConformanceSuite.cases)
    func small(_ c: ConformanceCase) {
        let failures = c.run(on: EmulatedASIC(profile: .small))
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
    }

    @Test("datacenter profile", arguments: ConformanceSuite.cases)
    func datacenter(_ c: ConformanceCase) {
        let failures = c.run(on: EmulatedASIC(profile: .datacenter))
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
    }
}
