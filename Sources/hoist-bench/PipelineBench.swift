import EmulatedASIC
import Foundation
import Offload
import Stages
import SwitchDriver
import SwitchModel

/// In-memory benchmarks of the emulated chip: the forwarding pipeline (L2, L3 with a full
/// table, VXLAN encapsulation) and route programming. One core, release build, no I/O.
/// The peer is the goal (no in-memory peer exists to measure in the same run).
enum PipelineBench {
    static let routerMAC = MACAddress("02:aa:00:00:00:01")!
    static func host(_ n: UInt64) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | n) }

    /// The best rate of passes of `n` frames through the chip, and whether every pass
    /// delivered exactly `expected` frames of `bytes` each (0: any size).
    static func measure(_ chip: SwitchChip, _ buffers: [UnsafeRawBufferPointer], n: Int, expected: Int, bytes: Int = 0) throws -> Double {
        var wrong: CountingSink?
        let mask = buffers.count - 1
        precondition(buffers.count & mask == 0, "a power-of-two number of frames")
        let rate = bestRate(opsPerPass: n) {
            var sink = CountingSink()
            for i in 0..<n { chip.process(buffers[i & mask], from: 1, into: &sink) }
            if sink.transmitted != expected || (bytes > 0 && sink.bytes != expected * bytes) { wrong = sink }
            return UInt64(sink.bytes)
        }
        if let wrong { throw BenchError(message: "a pass sent \(wrong.transmitted) frames (\(wrong.bytes) bytes), trapped \(wrong.trapped); expected \(expected)") }
        return rate
    }

    static func program(_ asic: any SwitchDriver, _ objects: [HardwareObject]) throws {
        for (o, r) in zip(objects, asic.apply(objects.map { .set($0) })) where r != .ok {
            throw BenchError(message: "programming \(o) failed: \(r)")
        }
    }

    static func l2() throws {
        let asic = EmulatedASIC(profile: .datacenter)
        try program(asic, [.bridge(BridgeSettings(bridge: 1)), .port(PortSettings(port: 1, bridge: 1)), .port(PortSettings(port: 2, bridge: 1)),
                           .fdb(HardwareFDBEntry(bridge: 1, mac: host(2), destination: .port(2)))])
        // 64-byte frames from 1,024 source hosts (all learned after the first pass).
        let frames = (0..<1024).map {
            FrameBuilder.udp(srcMAC: host(0x1000 + UInt64($0)), dstMAC: host(2), src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!,
                             srcPort: 1, dstPort: 2)
        }
        let n = 4_000_000
        let rate = try withContiguous(frames) { try measure(asic.chip, $0, n: n, expected: n) }
        emit([("bench", "\"pipeline-l2\""), ("value", String(Int(rate))), ("unit", "\"frames/s\""), ("peer", "\"goal\""),
              ("peer_value", "10000000"), ("ratio", number(rate / 10e6)), ("frame_bytes", String(frames[0].count))])
    }

    /// A DFZ-like table of `count` distinct IPv4 prefixes (`lpm-lookup`'s) over 16 next hops.
    static func routedChip(routes count: Int) throws -> (EmulatedASIC, programRate: Double) {
        let asic = EmulatedASIC(profile: .datacenter)
        return (asic, try programRoutes(count, into: asic))
    }

    /// Programs a router with 16 next hops and `count` DFZ-like routes into `driver` in
    /// batches of 4,096; returns the routes/s of the route part.
    static func programRoutes(_ count: Int, into driver: any SwitchDriver) throws -> Double {
        var objects: [HardwareObject] = [.port(PortSettings(port: 1)), .port(PortSettings(port: 2)),
            .routerInterface(RouterInterface(id: 1, binding: .port(1), mac: routerMAC)),
            .routerInterface(RouterInterface(id: 2, binding: .port(2), mac: routerMAC))]
        var hops: [HardwareNexthop] = []
        for i in 0..<16 {
            let nh = HardwareNexthop(rif: 2, gateway: IPAddress(ipv4: 0x0A02_0000 + UInt32(i + 2)))
            hops.append(nh)
            objects += [.neighbor(HardwareNeighbor(rif: 2, address: nh.gateway, mac: host(UInt64(0x100 + i)))), .nexthop(nh)]
        }
        try program(driver, objects)
        var rng = SplitMix64(seed: 0x10AD_BEEF)
        let ops: [DriverOperation] = LPMLookup.dfzPrefixes(count, &rng).enumerated().map { i, p in
            .set(.route(HardwareRoute(prefix: IPPrefix(address: IPAddress(ipv4: p.prefix), length: p.length), action: .nexthop(hops[i % 16]))))
        }
        let t0 = now()
        var start = 0
        while start < ops.count {
            let end = min(start + 4096, ops.count)
            let results = driver.apply(Array(ops[start..<end]))
            if let bad = results.firstIndex(where: { $0 != .ok }) { throw BenchError(message: "route \(ops[start + bad]) → \(results[bad])") }
            start = end
        }
        return Double(count) / (now() - t0)
    }

    static func l3(routes: Int) throws {
        let (asic, _) = try routedChip(routes: routes)
        // 4,096 destinations drawn across the whole routed space.
        var frames: [[UInt8]] = []
        while frames.count < 4096 {
            let dst = UInt32.random(in: 0x0100_0000...0xDFFF_FFFF)
            guard asic.chip.lookupIPv4(dst) != nil else { continue }
            frames.append(FrameBuilder.udp(srcMAC: host(1), dstMAC: routerMAC, src: IPAddress("10.1.0.2")!, dst: IPAddress(ipv4: dst),
                                           srcPort: UInt16(frames.count), dstPort: 80))
        }
        let n = 2_000_000
        let rate = try withContiguous(frames) { try measure(asic.chip, $0, n: n, expected: n) }
        emit([("bench", "\"pipeline-l3\""), ("value", String(Int(rate))), ("unit", "\"frames/s\""), ("peer", "\"goal\""),
              ("peer_value", "5000000"), ("ratio", number(rate / 5e6)), ("routes", String(routes)),
              ("destinations", "4096")])
    }

    static func vxlan() throws {
        let asic = EmulatedASIC(profile: .datacenter)
        let nh = HardwareNexthop(rif: 4, gateway: IPAddress("10.0.4.2")!)
        try program(asic, [.bridge(BridgeSettings(bridge: 1)), .port(PortSettings(port: 1, bridge: 1)), .port(PortSettings(port: 4)),
                           .routerInterface(RouterInterface(id: 4, binding: .port(4), mac: routerMAC)),
                           .neighbor(HardwareNeighbor(rif: 4, address: nh.gateway, mac: host(44))), .nexthop(nh),
                           .route(HardwareRoute(prefix: IPPrefix("192.0.2.0/24")!, action: .nexthop(nh))),
                           .vxlanTunnel(VXLANTunnel(vni: 100, bridge: 1, local: IPAddress("10.0.4.1")!)),
                           .fdb(HardwareFDBEntry(bridge: 1, mac: host(50), destination: .tunnel(vni: 100, remote: IPAddress("192.0.2.2")!)))])
        let frames = (0..<1024).map {
            FrameBuilder.udp(srcMAC: host(0x1000 + UInt64($0)), dstMAC: host(50), src: IPAddress("10.0.0.1")!, dst: IPAddress("10.0.0.2")!,
                             srcPort: UInt16($0), dstPort: 2)
        }
        let n = 2_000_000
        let rate = try withContiguous(frames) { try measure(asic.chip, $0, n: n, expected: n, bytes: frames[0].count + 50) }
        emit([("bench", "\"pipeline-vxlan\""), ("value", String(Int(rate))), ("unit", "\"frames/s\""), ("peer", "\"goal\""),
              ("peer_value", "5000000"), ("ratio", number(rate / 5e6)), ("overhead_bytes", "50")])
    }

    static func routeProgram(routes: Int) throws {
        let (_, chipRate) = try routedChip(routes: routes)
        emit([("bench", "\"route-program\""), ("value", String(Int(chipRate))), ("unit", "\"routes/s\""), ("peer", "\"goal\""),
              ("peer_value", "1000000"), ("ratio", number(chipRate / 1e6)), ("routes", String(routes))])
    }

    /// Copies frames into one allocation and hands out buffer pointers into it.
    static func withContiguous<R>(_ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R {
        let total = frames.reduce(0) { $0 + $1.count }
        let base = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 64)
        defer { base.deallocate() }
        var buffers: [UnsafeRawBufferPointer] = []
        var offset = 0
        for f in frames {
            f.withUnsafeBytes { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: f.count) }
            buffers.append(UnsafeRawBufferPointer(start: base + offset, count: f.count))
            offset += f.count
        }
        return try body(buffers)
    }
}
