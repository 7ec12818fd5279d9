import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// The bridging behaviour of `Documentation/networking/switchdev.rst` ("expected
/// behaviour"), frame by frame.
@Suite("Emulated chip: bridging")
struct ChipBridgeTests {
    @Test("unknown unicast floods, the source is learned, known unicast goes to one port")
    func learningAndForwarding() throws {
        let sw = try EmbeddedSwitch.bridged()
        let first = Frame.udp(from: 1, to: 2)
        sw.inject(first, on: 1)
        #expect(sw.drainOutbound() == [2: [first], 3: [first], 4: [first]])
        #expect(sw.readEvents() == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))])
        let reply = Frame.udp(from: 2, to: 1)
        sw.inject(reply, on: 2)
        #expect(sw.drainOutbound() == [1: [reply]])
        sw.inject(first, on: 1)
        #expect(sw.drainOutbound() == [2: [first]])
        #expect(sw.asic.counters().ports[1]?.txPackets == 1)
        try sw.finish()
    }

    @Test("a MAC seen on another port moves, with an event")
    func move() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        sw.inject(Frame.udp(from: 1, to: 2), on: 3)
        _ = sw.drainOutbound()
        #expect(sw.readEvents().last == .macMoved(bridge: 10, vid: .none, mac: Host.mac(1), from: .port(1), to: .port(3)))
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [3: 1])
    }

    @Test("learned MACs age out on the virtual clock after the bridge's ageing time")
    func ageing() throws {
        let sw = EmbeddedSwitch()
        try sw.program([.bridge(BridgeSettings(bridge: 10, ageingTime: 10))] + (1...3).map { .port(PortSettings(port: PortID($0), bridge: 10)) })
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        sw.advanceTime(bySeconds: 5)
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        sw.advanceTime(bySeconds: 11)
        #expect(sw.readEvents().contains(.macAged(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))))
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1])
    }

    @Test("a port's link going down flushes what the chip learned there, reported as aged")
    func linkDownFlush() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        sw.chip.setLink(1, up: false)
        #expect(sw.readEvents() == [.portOperState(1, up: false), .macAged(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [3: 1, 4: 1])
    }

    @Test("a full event queue counts what it loses and says so after the events queued before the loss")
    func eventOverflow() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.chip.eventLimit = 4
        for host in UInt8(1)...10 { sw.inject(Frame.udp(from: host, to: .broadcast), on: 1) }
        _ = sw.drainOutbound()
        #expect(sw.asic.counters().eventsLost == 6)
        #expect(sw.chip.eventOverflows == 6)
        // A poll that stops short of the loss gets events only; the one that reaches it ends with the notice.
        #expect(sw.asic.pollEvents(limit: 3) == (1...3).map { .macLearned(bridge: 10, vid: .none, mac: Host.mac($0), destination: .port(1)) })
        #expect(sw.asic.pollEvents(limit: 10) == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(4), destination: .port(1)),
                                                  .eventsLost(count: 6)])
        #expect(sw.asic.pollEvents(limit: 10).isEmpty)
        // The MAC table holds all ten: the read-back is how the control plane catches up.
        let learned = try #require(sw.asic.learnedMACs())
        #expect(Set(learned.map(\.mac)) == Set((1...10).map { Host.mac($0) }))
        #expect(learned.allSatisfy { !$0.isStatic && $0.destination == .port(1) && $0.bridge == 10 })
    }

    @Test("the learned-MAC read-back leaves out what the control plane programmed")
    func learnedReadBack() throws {
        let sw = try EmbeddedSwitch.bridged()
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(2))),
                        .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(8), destination: .port(3), isStatic: false))])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        _ = sw.drainOutbound()
        #expect(sw.asic.learnedMACs() == [HardwareFDBEntry(bridge: 10, mac: Host.mac(1), destination: .port(1), isStatic: false)])
    }

    @Test("learning off: the source is not learned")
    func learningOff() throws {
        let sw = try EmbeddedSwitch.bridged { $0.learning = $0.port != 1 }
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        _ = sw.drainOutbound()
        #expect(sw.readEvents().isEmpty)
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
    }

    @Test("flood flags: unicast, broadcast and multicast flooding per port")
    func floodFlags() throws {
        let sw = try EmbeddedSwitch.bridged(snooping: false) { s in
            if s.port == 2 { s.unicastFlood = false }
            if s.port == 3 { s.broadcastFlood = false }
            if s.port == 4 { s.multicastFlood = false }
        }
        sw.inject(Frame.udp(from: 1, to: 9), on: 1)
        #expect(sw.drainCounts() == [3: 1, 4: 1])
        sw.inject(Frame.broadcast(from: 1), on: 1)
        #expect(sw.drainCounts() == [2: 1, 4: 1])
        sw.inject(Frame.udp(from: 1, to: MACAddress("01:00:5e:01:02:03")!, dst: "239.1.2.3"), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1])
        try sw.finish()
    }

    @Test("a static FDB entry pins a MAC; seen elsewhere it goes up whole unless sticky; a local entry goes to the CPU")
    func staticAndLocal() throws {
        let sw = try EmbeddedSwitch.bridged()
        try sw.program([
            .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(4))),
            .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(6), destination: .port(4), isSticky: true)),
            .fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(8), destination: .cpu)),
        ])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [4: 1])
        // The kernel's bridge moves a static entry that is not sticky (br_fdb_update): the
        // frame goes up whole, unforwarded, and frames to the MAC go up too (the kernel
        // forwards them by its moved entry) until the control plane reprograms it.
        sw.inject(Frame.udp(from: 7, to: 1), on: 2)
        #expect(sw.drainOutbound().isEmpty)
        #expect(sw.drainTrapReasons() == [.stationMove])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainTrapReasons() == [.stationMove])
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(2)))])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // A sticky entry never moves: the frame is forwarded, the entry stays.
        sw.inject(Frame.udp(from: 6, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        sw.inject(Frame.udp(from: 1, to: 6), on: 1)
        #expect(sw.drainCounts() == [4: 1])
        // Local entries (the CPU) never move either.
        sw.inject(Frame.udp(from: 8, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        sw.inject(Frame.udp(from: 1, to: 8), on: 1)
        #expect(sw.drainTrapReasons() == [.localAddress])
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("snooped groups follow the MDB only while the bridge is a settled querier and no other querier was just heard")
    func querier() throws {
        let sw = try EmbeddedSwitch.bridged()
        let group = Host.ip("239.1.1.1")
        try sw.program([.mdb(HardwareMDBEntry(bridge: 10, group: .ip(group), ports: [2]))])
        let stream = Frame.udp(from: 1, to: MACAddress("01:00:5e:01:01:01")!, dst: "239.1.1.1")
        // No querier: the kernel floods (br_multicast_querier_exists false), so up whole.
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        // The bridge becomes querier: the kernel waits the response interval (2 s) first.
        try sw.program([.bridge(BridgeSettings(bridge: 10, queryResponseInterval: 2000))])
        try sw.program([.bridge(BridgeSettings(bridge: 10, ownQuerier: .ipv4, queryResponseInterval: 2000))])
        sw.advanceTime(bySeconds: 1)
        sw.inject(stream, on: 1)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        sw.advanceTime(bySeconds: 1.5)
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // Another querier's IGMPv2 query (max response 5 s) on swp3: distrusted 5.5 s.
        sw.inject(FrameBuilder.igmpQuery(srcMAC: Host.mac(3), src: Host.ip("10.0.0.3"), maxResponseTime: 50), on: 3)
        #expect(sw.drainTrapReasons() == [.igmp])
        sw.advanceTime(bySeconds: 5)
        sw.inject(stream, on: 1)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        sw.advanceTime(bySeconds: 1)
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // Querier and a shorter interval in one update: the kernel applied the querier
        // first, with the old interval (br_changelink), so the chip waits the longer one.
        try sw.program([.bridge(BridgeSettings(bridge: 10, queryResponseInterval: 2000))])
        try sw.program([.bridge(BridgeSettings(bridge: 10, ownQuerier: .ipv4, queryResponseInterval: 500))])
        sw.advanceTime(bySeconds: 1)
        sw.inject(stream, on: 1)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        sw.advanceTime(bySeconds: 1.5)
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts() == [2: 1])
        // IPv6 groups: the bridge is no MLD querier here, so they go up.
        let v6 = FrameBuilder.udp(srcMAC: Host.mac(1), dstMAC: MACAddress("33:33:00:00:00:01")!,
                                  src: Host.ip("2001:db8::1"), dst: Host.ip("ff0e::1"), srcPort: 1, dstPort: 2)
        try sw.program([.mdb(HardwareMDBEntry(bridge: 10, group: .ip(Host.ip("ff0e::1")), ports: [2]))])
        sw.inject(v6, on: 1)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        // Querier off again: up whole.
        try sw.program([.bridge(BridgeSettings(bridge: 10))])
        sw.inject(stream, on: 1)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        _ = sw.readEvents()
        try sw.finish()
    }

    @Test("a dynamic entry the control plane programmed moves with its host but only the kernel ages it")
    func pinnedDynamic() throws {
        let sw = try EmbeddedSwitch.bridged()
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(4), isStatic: false))])
        sw.advanceTime(bySeconds: 400)
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [4: 1])
        sw.inject(Frame.udp(from: 7, to: 1), on: 2)
        _ = sw.drainOutbound()
        #expect(sw.readEvents().contains(.macMoved(bridge: 10, vid: .none, mac: Host.mac(7), from: .port(4), to: .port(2))))
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [2: 1])
    }

    /// route-svi (issue 11): the chip learns h2 from the frame it traps, the kernel learns h2
    /// from the same frame (a dynamic entry hoistd programs), then hoistd's `extern_learn`
    /// write-back takes the kernel's entry over and the stage removes the program. The chip
    /// must still know h2 (the kernel forwards to it), as its own learning, which it ages.
    @Test("a kernel-learned entry programmed over the chip's own learning leaves that learning when it goes")
    func programOverLearned() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        _ = sw.drainOutbound()
        #expect(sw.readEvents() == [.macLearned(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))])
        let kernelLearned = HardwareFDBEntry(bridge: 10, mac: Host.mac(1), destination: .port(1), isStatic: false)
        try sw.program([.fdb(kernelLearned)])
        #expect(sw.asic.learnedMACs() == [kernelLearned])
        try sw.apply([.remove(HardwareObject.fdb(kernelLearned).key)])
        #expect(sw.readEvents().isEmpty)
        #expect(sw.asic.learnedMACs() == [kernelLearned])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        // The chip's again, so the chip ages it (a program is aged by the kernel only).
        sw.advanceTime(bySeconds: 301)
        #expect(sw.readEvents().contains(.macAged(bridge: 10, vid: .none, mac: Host.mac(1), destination: .port(1))))
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
    }

    @Test("a programmed dynamic entry the chip moved stays, as its learning, when the program goes")
    func programMovedByChip() throws {
        let sw = try EmbeddedSwitch.bridged()
        let kernelLearned = HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(4), isStatic: false)
        try sw.program([.fdb(kernelLearned)])
        sw.inject(Frame.udp(from: 7, to: 1), on: 2)
        _ = sw.drainOutbound()
        #expect(sw.readEvents().contains(.macMoved(bridge: 10, vid: .none, mac: Host.mac(7), from: .port(4), to: .port(2))))
        try sw.apply([.remove(HardwareObject.fdb(kernelLearned).key)])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [2: 1])
    }

    @Test("a programmed dynamic entry the chip never learned goes with its program; so does the chip's learning where the port stopped learning")
    func programRemovedWhole() throws {
        let sw = try EmbeddedSwitch.bridged()
        let kernelLearned = HardwareFDBEntry(bridge: 10, mac: Host.mac(7), destination: .port(4), isStatic: false)
        try sw.program([.fdb(kernelLearned)])
        try sw.apply([.remove(HardwareObject.fdb(kernelLearned).key)])
        #expect(sw.asic.learnedMACs() == [])
        sw.inject(Frame.udp(from: 1, to: 7), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1, 4: 1])
        // Learned, then programmed, then the port stops learning: the program goes whole and
        // the chip's learning is reported aged (its extern_learn entry must go too).
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        let second = HardwareFDBEntry(bridge: 10, mac: Host.mac(2), destination: .port(2), isStatic: false)
        try sw.program([.fdb(second)])
        try sw.setPort(2) { $0.learning = false }
        try sw.apply([.remove(HardwareObject.fdb(second).key)])
        #expect(sw.readEvents() == [.macAged(bridge: 10, vid: .none, mac: Host.mac(2), destination: .port(2))])
        #expect(sw.asic.learnedMACs()?.map(\.mac) == [Host.mac(1)])
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.drainCounts() == [2: 1, 3: 1, 4: 1])
    }

    /// `br_handle_frame_finish` with `BR_PORT_LOCKED` (issue 11, difftest `bridge-locked`):
    /// the chip checks the source MAC itself, so the frames of authorised hosts are forwarded
    /// by the chip to where it learned the destination — no trap, no wait for the kernel
    /// to hear of chip-learned MACs.
    @Test("a locked port forwards only frames whose source MAC has an FDB entry on it; the rest are dropped, never learned, never roam")
    func lockedPort() throws {
        let sw = try EmbeddedSwitch.bridged { $0.locked = $0.port == 2 }
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)       // host 1 learned on port 1
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        // Unknown source: dropped, not learned.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        sw.inject(Frame.broadcast(from: 2), on: 2)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons().isEmpty)
        #expect(sw.readEvents().isEmpty)
        #expect(sw.asic.counters().drops[.lockedPort] == 2)
        // Authorised (bridge fdb add … dev swp2 master static): forwarded to the learned port.
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(2), destination: .port(2)))])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        // A MAC whose entry is on another port is dropped and does not move.
        sw.inject(Frame.udp(from: 1, to: 3), on: 2)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.readEvents().isEmpty)
        sw.inject(Frame.udp(from: 3, to: 1), on: 3)
        #expect(sw.drainCounts() == [1: 1])
        // The bridge's own address as the source: the kernel drops it (a local entry).
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(9), destination: .cpu))])
        sw.inject(Frame.udp(from: 9, to: 1), on: 2)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.lockedPort])
        #expect(sw.asic.counters().drops[.lockedPort] == 3)
    }

    @Test("MAB on a locked port: an unknown source goes to the CPU (the kernel adds a locked entry and drops the frame)")
    func lockedPortMAB() throws {
        let sw = try EmbeddedSwitch.bridged { $0.locked = $0.port == 2; $0.mab = $0.port == 2 }
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.lockedPort])
        #expect(!sw.readEvents().contains { if case .macLearned = $0 { true } else { false } })
        // The kernel's locked entry comes back as a CPU entry: frames from the host keep going up (refreshed there).
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(2), destination: .cpu))])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainTrapReasons() == [.lockedPort])
        // Authorised: the chip forwards.
        try sw.program([.fdb(HardwareFDBEntry(bridge: 10, mac: Host.mac(2), destination: .port(2)))])
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
    }

    @Test("locking a port keeps what the chip learned there: those hosts stay authorised, as in the kernel")
    func lockKeepsLearned() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        _ = sw.drainOutbound()
        _ = sw.readEvents()
        try sw.setPort(2) { $0.locked = true }
        #expect(sw.readEvents().isEmpty)
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
        sw.inject(Frame.udp(from: 5, to: 1), on: 2)
        #expect(sw.drainCounts().isEmpty)
    }

    @Test("VLAN filtering: PVID, tagging, ingress filtering, VID 0 as untagged")
    func vlanFiltering() throws {
        let sw = try EmbeddedSwitch.bridged(ports: [1, 2, 3, 4], vlanFiltering: true)
        try sw.program([
            .vlanMember(VLANMember(bridge: 10, port: 1, vid: 10, untagged: true, pvid: true)),   // access 10
            .vlanMember(VLANMember(bridge: 10, port: 2, vid: 10)),                                // trunk
            .vlanMember(VLANMember(bridge: 10, port: 2, vid: 20)),
            .vlanMember(VLANMember(bridge: 10, port: 3, vid: 20, untagged: true, pvid: true)),   // access 20
        ])
        // Untagged on the access port → VLAN 10 → tagged on the trunk only.
        sw.inject(Frame.broadcast(from: 1), on: 1)
        let out = try #require(sw.readOutbound(on: 2))
        #expect(Frame.parse(out).tagCount == 1 && Frame.parse(out).outerVID == 10)
        #expect(Array(out[0..<12] + out[16...]) == Frame.broadcast(from: 1))
        #expect(sw.drainCounts().isEmpty)
        // Tagged 20 on the trunk → untagged on port 3.
        sw.inject(Frame.broadcast(from: 2, vlan: [.ctag(20)]), on: 2)
        let out3 = try #require(sw.readOutbound(on: 3))
        #expect(Frame.parse(out3).tagCount == 0)
        #expect(sw.drainCounts().isEmpty)
        // VLAN 30 is not configured on the trunk: ingress filtering drops it.
        sw.inject(Frame.broadcast(from: 2, vlan: [.ctag(30)]), on: 2)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.asic.counters().drops[.vlanIngressFilter] == 1)
        // Priority-tagged (VID 0) on the access port is treated as untagged: VLAN 10.
        sw.inject(Frame.broadcast(from: 1, vlan: [.ctag(0, pcp: 5)]), on: 1)
        let prio = try #require(sw.readOutbound(on: 2))
        #expect(Frame.parse(prio).outerVID == 10 && Frame.parse(prio).outerPCP == 5)
        // Untagged on a port without a PVID is dropped.
        sw.inject(Frame.broadcast(from: 4), on: 4)
        #expect(sw.drainCounts().isEmpty)
        try sw.finish()
    }

    @Test("without VLAN filtering, tagged frames are bridged unchanged")
    func vlanUnaware() throws {
        let sw = try EmbeddedSwitch.bridged()
        let tagged = Frame.broadcast(from: 1, vlan: [.ctag(77)])
        sw.inject(tagged, on: 1)
        #expect(sw.drainOutbound() == [2: [tagged], 3: [tagged], 4: [tagged]])
    }

    @Test("802.1ad bridge: the S-tag selects the VLAN; the C-tag rides inside")
    func qinq() throws {
        let sw = EmbeddedSwitch()
        try sw.program([.bridge(BridgeSettings(bridge: 10, vlanFiltering: true, vlanProtocol: 0x88A8)),
                        .port(PortSettings(port: 1, bridge: 10)), .port(PortSettings(port: 2, bridge: 10)),
                        .vlanMember(VLANMember(bridge: 10, port: 1, vid: 100, untagged: true, pvid: true)),
                        .vlanMember(VLANMember(bridge: 10, port: 2, vid: 100))])
        sw.inject(Frame.broadcast(from: 1, vlan: [.ctag(5)]), on: 1)
        let out = try #require(sw.readOutbound(on: 2))
        let pf = Frame.parse(out)
        #expect(pf.outerTPID == 0x88A8 && pf.outerVID == 100 && pf.innerTPID == 0x8100 && pf.innerVID == 5)
        try sw.finish()
    }

    @Test("STP states: blocking and listening drop, learning learns only, BPDUs are trapped")
    func stpStates() throws {
        let sw = try EmbeddedSwitch.bridged()
        try sw.setPort(1) { $0.stpState = .blocking }
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.readEvents().isEmpty)
        sw.inject(FrameBuilder.stpConfigurationBPDU(srcMAC: Host.mac(1), rootID: 1, bridgeID: 2), on: 1)
        #expect(sw.drainTrapReasons() == [.stp])
        try sw.setPort(1) { $0.stpState = .learning }
        sw.inject(Frame.udp(from: 1, to: 2), on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.readEvents().contains { if case .macLearned = $0 { true } else { false } })
        // Frames towards a blocked port are not sent either.
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts().isEmpty)
        try sw.setPort(1) { $0.stpState = .forwarding }
        sw.inject(Frame.udp(from: 2, to: 1), on: 2)
        #expect(sw.drainCounts() == [1: 1])
        sw.inject(FrameBuilder.lldp(srcMAC: Host.mac(3), chassisID: Host.mac(3), portID: "eth0"), on: 3)
        #expect(sw.drainTrapReasons() == [.linkLocal])
        try sw.finish()
    }

    @Test("IGMP snooping: reports go to the CPU, groups reach members and routers, unregistered groups go to the CPU")
    func igmpSnooping() throws {
        let sw = try EmbeddedSwitch.bridged(querier: true) { s in
            if s.port == 4 { s.multicastRouter = true }
            if s.port == 3 { s.multicastFlood = false }
        }
        let group = Host.ip("239.1.1.1")
        sw.inject(FrameBuilder.igmpv2Report(srcMAC: Host.mac(2), src: Host.ip("10.0.0.2"), group: group), on: 2)
        #expect(sw.drainTrapReasons() == [.igmp])
        #expect(sw.drainCounts().isEmpty)
        try sw.program([.mdb(HardwareMDBEntry(bridge: 10, group: .ip(group), ports: [2]))])
        let stream = Frame.udp(from: 1, to: MACAddress("01:00:5e:01:01:01")!, dst: "239.1.1.1")
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts() == [2: 1, 4: 1])
        // An unregistered group goes whole to the CPU, copied nowhere: the kernel floods it
        // without a querier and sends it to router ports only with one (issue 11 §2.2).
        sw.inject(Frame.udp(from: 1, to: MACAddress("01:00:5e:01:01:02")!, dst: "239.1.1.2"), on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        // After the last member left (the MDB entry removed), the group is unregistered:
        // nothing reaches the port that left.
        try sw.apply([.remove(.mdb(BridgeID(rawValue: 10), .none, .ip(group)))])
        sw.inject(stream, on: 1)
        #expect(sw.drainCounts().isEmpty)
        #expect(sw.drainTrapReasons() == [.unregisteredMulticast])
        // 224.0.0.x control traffic is never snooped: flooded like broadcast.
        sw.inject(Frame.udp(from: 1, to: MACAddress("01:00:5e:00:00:fb")!, dst: "224.0.0.251"), on: 1)
        #expect(sw.drainCounts() == [2: 1, 4: 1])
        try sw.finish()
    }

    @Test("snooping off: IGMP and group traffic are flooded")
    func snoopingOff() throws {
        let sw = try EmbeddedSwitch.bridged(snooping: false)
        sw.inject(FrameBuilder.igmpv2Report(srcMAC: Host.mac(2), src: Host.ip("10.0.0.2"), group: Host.ip("239.1.1.1")), on: 2)
        #expect(sw.drainCounts() == [1: 1, 3: 1, 4: 1])
        try sw.finish()
    }

    @Test("isolated ports do not talk to each other")
    func isolation() throws {
        let sw = try EmbeddedSwitch.bridged { $0.isolated = $0.port == 1 || $0.port == 2 }
        sw.inject(Frame.broadcast(from: 1), on: 1)
        #expect(sw.drainCounts() == [3: 1, 4: 1])
        sw.inject(Frame.broadcast(from: 3), on: 3)
        #expect(sw.drainCounts() == [1: 1, 2: 1, 4: 1])
    }

    @Test("a full FDB refuses to learn and counts it; forwarding goes on")
    func bucketFull() throws {
        let sw = try EmbeddedSwitch.bridged()
        sw.asic.inject(.shrink(.fdb, capacity: 4))
        for n in 1...6 { sw.inject(Frame.udp(from: UInt8(n), to: 99), on: 1) }
        _ = sw.drainOutbound()
        #expect(sw.chip.learnFailures == 2)
        #expect(sw.asic.counters().tables[.fdb] == TableOccupancy(used: 4, capacity: 4))
    }

    @Test("a standalone (unconfigured) port traps everything to the CPU")
    func standalone() throws {
        let sw = EmbeddedSwitch()
        sw.inject(Frame.udp(from: 1, to: 2), on: 5)
        #expect(sw.drainTrapReasons() == [.unknownPort])
        try sw.finish()
    }
}
