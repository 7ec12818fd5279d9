import Foundation
import Glibc
import ServiceSupport
import Testing

/// The processes' one loop: it sleeps until a descriptor is ready or a deadline is due,
/// then runs every source's work and the timers that are due.
@Suite("EventLoop: readiness, deadlines, timers")
struct EventLoopTests {
    @Test("a descriptor that becomes ready ends the wait at once; an idle loop sleeps its whole wait")
    func readiness() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let loop = EventLoop(maxWaitMilliseconds: 2000)
        var read = 0
        loop.add("pipe", descriptors: { [pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)] }) {
            var byte: UInt8 = 0
            let flags = fcntl(fds[0], F_GETFL)
            _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
            while Glibc.read(fds[0], &byte, 1) == 1 { read += 1 }
        }
        let writer = fds[1]
        Thread.detachNewThread {
            usleep(100_000)
            var byte: UInt8 = 7
            _ = write(writer, &byte, 1)
        }
        let t0 = EventLoop.now()
        let ready = try loop.runOnce()
        let took = Double(EventLoop.now() - t0) / 1e9
        #expect(ready == 1 && read == 1)
        #expect(took >= 0.09 && took < 1.0, "woke after \(took) s")

        let idle = EventLoop(maxWaitMilliseconds: 150)
        let t1 = EventLoop.now()
        #expect(try idle.runOnce() == 0)
        #expect(Double(EventLoop.now() - t1) / 1e9 >= 0.14)
    }

    @Test("a source's maxWait and a timer's due time bound the sleep; timers run at their interval")
    func deadlines() throws {
        let loop = EventLoop(maxWaitMilliseconds: 5000)
        var work = 0
        loop.add("batch", maxWait: { 20 }) { work += 1 }
        let t0 = EventLoop.now()
        try loop.runOnce()
        #expect(Double(EventLoop.now() - t0) / 1e9 < 1, "maxWait 20 ms did not bound the sleep")
        #expect(work == 1)

        let timed = EventLoop(maxWaitMilliseconds: 5000)
        var ticks = 0
        timed.every(0.05, "tick") { ticks += 1 }
        let t1 = EventLoop.now()
        try timed.run { ticks >= 4 || EventLoop.now() - t1 > 3_000_000_000 }
        let took = Double(EventLoop.now() - t1) / 1e9
        #expect(ticks == 4)
        #expect(took >= 0.19 && took < 1.5, "4 ticks of 50 ms took \(took) s")
        #expect(timed.turns <= 8, "the loop spun: \(timed.turns) turns for 4 ticks")
    }
}
