import Foundation
import Testing

/// Docs/Commands — one page per command — is generated from the executables' argument
/// definitions (`scripts/docs`); this fails when the pages in the tree say something the
/// built executables do not (a flag added, renamed or re-documented without `scripts/docs`).
@Suite("Command reference pages")
struct CommandPagesTests {
    @Test("Docs/Commands equals what scripts/docs generates from hoist, hoistd and hoist-asic")
    func pagesMatchDefinitions() throws {
        guard HoistLabTests.built() else { return }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hoist-commandpages-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let script = HoistLabTests.root.appendingPathComponent("scripts/package.d/commandpages.py").path
        let run = try HoistdCLITests.run("/usr/bin/python3", [script, out.path, HoistdCLITests.binaries.path])
        try #require(run.status == 0, "\(run.output) \(run.error)")
        let tree = HoistLabTests.root.appendingPathComponent("Docs/Commands")
        let generated = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let committed = try FileManager.default.contentsOfDirectory(atPath: tree.path).sorted()
        #expect(generated == committed, "pages: run scripts/docs")
        #expect(generated.contains("hoist-show.md") && generated.contains("hoistd.md") && generated.contains("README.md"))
        for name in generated where committed.contains(name) {
            let fresh = try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
            let kept = try String(contentsOf: tree.appendingPathComponent(name), encoding: .utf8)
            #expect(fresh == kept, "Docs/Commands/\(name) differs from the argument definitions: run scripts/docs")
        }
    }
}
