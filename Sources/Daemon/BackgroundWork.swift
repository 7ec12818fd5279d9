import Foundation

/// A value handed to the one other thread that uses it while its owner does not (the
/// driver read back at start; the stages and engine fed by the start's worker).
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A value computed on a thread of its own; `wait()` blocks until it is there.
final class BackgroundValue<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)

    init<Input>(_ input: Input, _ body: @escaping @Sendable (Input) -> T) where Input: Sendable {
        Thread.detachNewThread { [self] in
            value = body(input)
            done.signal()
        }
    }

    func wait() -> T {
        done.wait()
        done.signal()
        return value!
    }

    /// Waits, and moves the value out (this object keeps no second reference to it: a
    /// dictionary taken so can be changed in place). Call once.
    func take() -> T {
        done.wait()
        return value.take()!
    }
}

/// Batches from one thread to another, in order: `push` waits while `limit` batches are
/// queued (the producer cannot run away with memory); `pop` waits for the next one and
/// returns nil once the pipe is closed and empty.
final class BatchPipe<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var closed = false
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func push(_ batch: Batch) {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= limit, !closed { condition.wait() }
        queue.append(batch)
        condition.broadcast()
    }

    func pop() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty, !closed { condition.wait() }
        guard !queue.isEmpty else { return nil }
        condition.broadcast()
        return queue.removeFirst()
    }

    /// No more batches: `pop` drains what is queued, then returns nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
