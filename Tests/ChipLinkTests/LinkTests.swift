import ChipLink
import DriverConformance
import EmulatedASIC
import Foundation
import Glibc
import SwitchDriver
import SwitchModel
import Testing

/// A chip-link server on a real unix socket at a fresh path, served by its own thread.
func servedChip(profile: TableProfile = .small) throws -> BackgroundChipLink {
    try BackgroundChipLink(path: "/tmp/hoist-chiplink-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock",
                           driver: EmulatedASIC(profile: profile))
}

/// Sends raw bytes on a fresh connection and returns what comes back before the server
/// closes it (or 2 s pass).
func rawExchange(_ path: String, _ bytes: [UInt8]) throws -> [UInt8] {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(rc == 0)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var tv = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { break }
        out += buffer[0..<n]
    }
    return out
}

func decodeResponses(_ bytes: [UInt8]) throws -> [ChipResponse] {
    var out: [ChipResponse] = []
    var at = 0
    while at + 4 <= bytes.count {
        let n = try ChipLink.bodyLength(bytes[at..<at + 4])
        var r = ByteReader(bytes, from: at + 4, to: at + 4 + n)
        out.append(try ChipResponse.decode(&r))
        at += 4 + n
    }
    return out
}

@Suite("Chip link over a unix socket", .serialized)
struct LinkTests {
    @Test("the driver conformance suite passes through the chip link", arguments: ConformanceSuite.cases)
    func conformance(_ c: ConformanceCase) throws {
        let chip = try servedChip()
        defer { chip.stop() }
        let failures = c.run(on: try RemoteChipDriver(path: chip.path))
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
    }

    @Test("a reconnecting driver finds what the first one programmed, and statistics count operations")
    func restart() throws {
        let chip = try servedChip()
        defer { chip.stop() }
        let first = try RemoteChipDriver(path: chip.path)
        let routes = (0..<20_000).map { i in
            DriverOperation.set(.route(HardwareRoute(prefix: IPPrefix(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(i) << 8), length: 24),
                                                     action: .drop)))
        }
        let results = first.apply(routes)
        #expect(results.allSatisfy(\.isOK) == false, "the small profile cannot hold 20k routes")
        let fitted = results.filter(\.isOK).count
        #expect(fitted == first.capabilities.capacity(.lpmIPv4))
        #expect(results.last == .tableFull(.lpmIPv4, used: fitted, capacity: fitted))
        let second = try RemoteChipDriver(path: chip.path, controller: false)
        #expect(second.readBack().count == fitted)
        #expect(second.counters().tables[.lpmIPv4] == TableOccupancy(used: fitted, capacity: fitted))
        let stats = try second.statistics()
        #expect(stats.sets == 20_000 && stats.removes == 0 && stats.connections == 2)
        #expect(first.linkFailure == nil && second.linkFailure == nil)
    }

    @Test("bad input gets an error and loses nothing")
    func badInput() throws {
        let chip = try servedChip()
        defer { chip.stop() }
        let driver = try RemoteChipDriver(path: chip.path)
        #expect(driver.apply([.set(.bridge(BridgeSettings(bridge: 1)))]) == [.ok])

        // No hello first.
        let noHello = try decodeResponses(try rawExchange(chip.path, ChipLink.frame { ChipRequest.readBack.encode(into: &$0) }))
        #expect(noHello == [.error("the first request must be hello")])
        // Another protocol version.
        let wrong = try decodeResponses(try rawExchange(chip.path, ChipLink.frame { ChipRequest.hello(version: 99).encode(into: &$0) }))
        #expect(wrong == [.error("chip-link version mismatch: this side speaks \(ChipLink.version), the chip 99")])
        // A frame header announcing 1 GiB.
        let huge = try decodeResponses(try rawExchange(chip.path, [0, 0, 0, 0x40, 1, 2, 3]))
        #expect(huge.count == 1 && "\(huge)".contains("frame length 1073741824 outside"))
        // A request header announcing 256 MiB: refused before anything is buffered for it.
        let big = try decodeResponses(try rawExchange(chip.path, [0, 0, 0, 0x10, 1, 2, 3]))
        #expect(big.count == 1 && "\(big)".contains("frame length 268435456 outside 1…\(ChipLink.maxRequestBytes)"))
        // A well-framed but garbled request after a good (read-only) hello: an error, the
        // connection stays.
        var hello = ChipLink.frame { ChipRequest.hello(version: ChipLink.version, controller: false).encode(into: &$0) }
        hello += [3, 0, 0, 0, 2, 9, 9]
        hello += ChipLink.frame { ChipRequest.statistics.encode(into: &$0) }
        let mixed = try decodeResponses(try rawExchange(chip.path, hello))
        try #require(mixed.count == 3, "\(mixed)")
        #expect("\(mixed[1])".contains("truncated"))
        if case .statistics(let s) = mixed[2] { #expect(s.malformed >= 2) } else { Issue.record("no statistics: \(mixed[2])") }

        // The chip and the first connection are unharmed.
        #expect(driver.readBack() == [.bridge(BridgeSettings(bridge: 1))])
        #expect(driver.linkFailure == nil)
    }

    @Test("one controller at a time: a second is refused with a clear error, other connections are not, a successor is accepted")
    func oneController() throws {
        let chip = try servedChip()
        defer { chip.stop() }
        let first = try RemoteChipDriver(path: chip.path)
        #expect(first.apply([.set(.bridge(BridgeSettings(bridge: 1)))]) == [.ok])
        do {
            _ = try RemoteChipDriver(path: chip.path)
            Issue.record("a second controller was accepted")
        } catch {
            #expect("\(error)".contains("the chip already has a controller"), "\(error)")
        }
        let reader = try RemoteChipDriver(path: chip.path, controller: false)
        #expect(reader.readBack() == [.bridge(BridgeSettings(bridge: 1))])
        // The controller is unharmed; once it is gone (kill -9 closes its socket), a new one may program.
        #expect(first.readBack() == [.bridge(BridgeSettings(bridge: 1))] && first.linkFailure == nil)
        first.closeForTesting()
        let successor = try RemoteChipDriver(path: chip.path)
        #expect(successor.apply([.set(.bridge(BridgeSettings(bridge: 3)))]) == [.ok])
    }

    @Test("apply splits a batch larger than one request may carry")
    func bigBatch() throws {
        let chip = try servedChip(profile: .datacenter)
        defer { chip.stop() }
        let driver = try RemoteChipDriver(path: chip.path)
        let routes = (0..<(ChipLink.maxApplyBatch + 10)).map { i in
            DriverOperation.set(.route(HardwareRoute(prefix: IPPrefix(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(i) << 8), length: 24),
                                                     action: .drop)))
        }
        let results = driver.apply(routes)
        #expect(results.count == routes.count && results.allSatisfy { $0 == .ok })
        #expect(driver.linkFailure == nil)
    }

    @Test("a chip process that restarts: health is lost, reconnect() reaches the new, empty chip at the same path")
    func chipRestarts() throws {
        var chip: BackgroundChipLink? = try servedChip()
        let path = chip!.path
        let driver = try RemoteChipDriver(path: path, timeoutMilliseconds: 2000)
        #expect(driver.apply([.set(.bridge(BridgeSettings(bridge: 1)))]) == [.ok])
        #expect(driver.health == .connected)
        chip!.stop()
        chip = nil
        #expect(driver.readBack().isEmpty)
        guard case .lost = driver.health else {
            Issue.record("a closed link is not reported: \(driver.health)")
            return
        }
        guard case .lost = driver.reconnect() else {
            Issue.record("reconnected with nothing listening")
            return
        }
        let second = try BackgroundChipLink(path: path, driver: EmulatedASIC(profile: .small))
        defer { second.stop() }
        #expect(driver.reconnect() == .connected)
        #expect(driver.linkFailure == nil)
        #expect(driver.readBack().isEmpty, "the new chip starts empty")
        #expect(driver.apply([.set(.bridge(BridgeSettings(bridge: 1)))]) == [.ok])
        #expect(driver.readBack() == [.bridge(BridgeSettings(bridge: 1))])
    }

    @Test("a chip that goes away is reported, not hung on")
    func chipGone() throws {
        let chip = try servedChip()
        let driver = try RemoteChipDriver(path: chip.path, timeoutMilliseconds: 2000)
        chip.stop()
        // The server still exists but no longer answers: the request times out.
        let results = withExtendedLifetime(chip) { driver.apply([.set(.bridge(BridgeSettings(bridge: 1)))]) }
        #expect(results == [.invalid("chip link down: chip link: no answer from the chip at \(chip.path)")])
        #expect(driver.linkFailure != nil)
        #expect(driver.readBack().isEmpty, "after a failure the driver answers without asking")
        #expect(throws: ChipLinkError.self) { try RemoteChipDriver(path: "/tmp/hoist-no-such-chip.sock") }
    }
}
