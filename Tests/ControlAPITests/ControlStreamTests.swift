@testable import ControlAPI
import Foundation
import Glibc
import Rendering
import Testing
import UnixSocket

/// Streamed answers (`"stream": true`): produced on a worker thread and written as the
/// client reads, so a big answer neither holds the loop nor waits to be built; a client
/// that goes away stops its producer.
@Suite("Control socket: streamed answers")
struct ControlStreamTests {
    /// Counts what producers emitted, across threads.
    final class Produced: @unchecked Sendable {
        private let lock = NSLock()
        private var rows = 0
        private var ended = 0
        func add() { lock.withLock { rows += 1 } }
        func end() { lock.withLock { ended += 1 } }
        var count: Int { lock.withLock { rows } }
        var endings: Int { lock.withLock { ended } }
    }

    static func server(_ path: String, rows n: Int, produced: Produced, stallLimit: Double = 10) throws -> ControlServer {
        let server = try ControlServer(path: path, stallLimit: stallLimit) { _ in .objects([.string("one line")]) }
        server.streamer = { request in
            guard request.object == "rows" else { return nil }
            return ControlStream { emit in
                defer { produced.end() }
                for i in 0..<n {
                    produced.add()
                    if !emit(.object([("object", .string("row \(i)")), ("pad", .string(String(repeating: "p", count: 100)))])) { return }
                }
            }
        }
        return server
    }

    /// Serves on a thread of its own until `done` is set; the longest serve() in seconds.
    final class Loop: @unchecked Sendable {
        let server: ControlServer
        private let lock = NSLock()
        private var stop = false
        private var longest = 0.0
        private let finished = DispatchSemaphore(value: 0)
        init(_ server: ControlServer) {
            self.server = server
            Thread.detachNewThread { [self] in
                while !lock.withLock({ stop }) {
                    let t = ControlServer.monotonicNanoseconds()
                    self.server.serve()
                    let took = Double(ControlServer.monotonicNanoseconds() - t) / 1e9
                    lock.withLock { longest = max(longest, took) }
                    usleep(1000)
                }
                finished.signal()
            }
        }
        func end() -> Double {
            lock.withLock { stop = true }
            finished.wait()
            return lock.withLock { longest }
        }
    }

    @Test("300,000 rows arrive whole and in order, with the count; the loop's serve() stays short and another client is answered meanwhile")
    func whole() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let produced = Produced()
        let server = try Self.server(path, rows: 300_000, produced: produced)
        let loop = Loop(server)
        var seen = 0
        var inOrder = true
        var otherAnswered = false
        let count = try ControlClient.stream(ControlRequest(command: .show, object: "rows"), path: path) { row in
            if !row.hasPrefix("{\"object\":\"row \(seen)\"") { inOrder = false }
            seen += 1
            if seen == 1000 {
                // Mid-stream, a one-line request of another client is answered by the loop.
                otherAnswered = (try? ControlClient.send(ControlRequest(command: .show, object: "ports"), path: path, timeoutSeconds: 2))
                    == .objects([.string("one line")])
            }
        }
        let longest = loop.end()
        #expect(count == 300_000)
        #expect(seen == 300_000)
        #expect(inOrder)
        #expect(otherAnswered)
        #expect(longest < 0.05, "the longest serve() took \(longest) s")
    }

    @Test("a request the streamer does not take is answered in one line; an old-style request gets one line too")
    func notStreamed() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let produced = Produced()
        let server = try Self.server(path, rows: 10, produced: produced)
        let loop = Loop(server)
        defer { _ = loop.end() }
        var rows: [String] = []
        let count = try ControlClient.stream(ControlRequest(command: .show, object: "ports"), path: path) { rows.append($0) }
        #expect(count == 1 && rows == ["\"one line\""])
        #expect(try ControlClient.send(ControlRequest(command: .show, object: "rows"), path: path) == .objects([.string("one line")]))
        #expect(produced.count == 0)
    }

    @Test("a client that goes away mid-stream stops its producer; one that stops reading is dropped with the reason")
    func goneAndStalled() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let produced = Produced()
        let server = try Self.server(path, rows: 5_000_000, produced: produced, stallLimit: 0.5)
        let drops = Produced()
        var reasons: [String] = []
        let reasonLock = NSLock()
        server.onDrop = { reason in reasonLock.withLock { reasons.append(reason) }; drops.add() }
        let loop = Loop(server)
        // Gone: read a little, then close.
        let gone = try UnixSocket.connect(path: path)
        ControlJamTests.send(gone, ControlRequest(command: .show, object: "rows", stream: true).json.text + "\n")
        #expect(ControlJamTests.readLine(gone) == ControlResponse.streamHeader.text)
        close(gone)
        var waited = 0
        while produced.endings < 1, waited < 500 { usleep(10_000); waited += 1 }
        #expect(produced.endings == 1)
        #expect(produced.count < 5_000_000, "the producer ran to the end for a client that was gone")
        // Stalled: ask, never read.
        let stalled = try UnixSocket.connect(path: path)
        defer { close(stalled) }
        ControlJamTests.send(stalled, ControlRequest(command: .show, object: "rows", stream: true).json.text + "\n")
        waited = 0
        while produced.endings < 2, waited < 500 { usleep(10_000); waited += 1 }
        usleep(50_000)
        _ = loop.end()
        #expect(produced.endings == 2)
        #expect(drops.count == 1)
        #expect(reasonLock.withLock { reasons.first?.contains("read nothing of a streamed reply") } == true, "\(reasons)")
        #expect(server.clientCount == 0)
    }

    @Test("at most maxStreams run at once; the next request waits for a free worker and is then answered")
    func limit() throws {
        let path = SocketSafetyTests.freshPath()
        defer { unlink(path) }
        let produced = Produced()
        let server = try ControlServer(path: path, maxStreams: 1) { _ in .objects([]) }
        let gate = Produced()   // its count opens the first stream's producer
        let started = Produced()
        server.streamer = { request in
            ControlStream { emit in
                defer { produced.end() }
                started.add()
                if request.object == "first" { while gate.count == 0 { usleep(1000) } }
                _ = emit(.string(request.object))
            }
        }
        let loop = Loop(server)
        defer { _ = loop.end() }
        let first = try UnixSocket.connect(path: path)
        defer { close(first) }
        ControlJamTests.send(first, ControlRequest(command: .show, object: "first", stream: true).json.text + "\n")
        var waited = 0
        while started.count == 0, waited < 500 { usleep(10_000); waited += 1 }
        let second = try UnixSocket.connect(path: path)
        defer { close(second) }
        ControlJamTests.send(second, ControlRequest(command: .show, object: "second", stream: true).json.text + "\n")
        usleep(200_000)
        #expect(started.count == 1, "the second stream started while the first held the only worker")
        gate.add()
        #expect(ControlJamTests.readLine(first) == ControlResponse.streamHeader.text)
        #expect(ControlJamTests.readLine(first) == "\"first\"")
        #expect(ControlJamTests.readLine(first) == #"{"end":true,"objects":1}"#)
        #expect(ControlJamTests.readLine(second) == ControlResponse.streamHeader.text)
        #expect(ControlJamTests.readLine(second) == "\"second\"")
    }
}
