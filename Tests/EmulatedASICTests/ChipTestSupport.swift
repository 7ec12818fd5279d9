import EmulatedASIC
import SwitchDriver
import SwitchModel
import Testing

/// Hosts and addresses the chip tests use.
enum Host {
    static func mac(_ n: UInt8) -> MACAddress { MACAddress(rawValue: 0x0200_0000_0000 | UInt64(n)) }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static let routerMAC = MACAddress("02:aa:00:00:00:01")!
}

extension EmbeddedSwitch {
    /// A bridge over `ports`, VLAN-aware or not, every port forwarding.
    /// With `querier`, the bridge is its own IGMP/MLD querier, settled (the clock moves
    /// 10 s on), so snooped groups follow the MDB.
    static func bridged(ports: [PortID] = [1, 2, 3, 4], vlanFiltering: Bool = false, snooping: Bool = true, querier: Bool = false,
                        profile: TableProfile = .small, configure: (inout PortSettings) -> Void = { _ in }) throws -> EmbeddedSwitch {
        let sw = EmbeddedSwitch(profile: profile)
        var objects: [HardwareObject] = [.bridge(BridgeSettings(bridge: 10, vlanFiltering: vlanFiltering, multicastSnooping: snooping,
                                                                ownQuerier: querier ? .all : [], queryResponseInterval: 0))]
        for p in ports {
            var s = PortSettings(port: p, bridge: 10)
            configure(&s)
            objects.append(.port(s))
        }
        try sw.program(objects)
        if querier { sw.advanceTime(bySeconds: 10) }     // a new bridge's querier settles after 10 s at most
        return sw
    }

    /// Updates one port's settings.
    func setPort(_ port: PortID, bridge: BridgeID? = 10, _ change: (inout PortSettings) -> Void) throws {
        var s = PortSettings(port: port, bridge: bridge)
        change(&s)
        try program([.port(s)])
    }
}

/// Frames, briefly.
enum Frame {
    static func udp(from a: UInt8, to b: MACAddress, vlan: [VLANTag] = [], src: String = "10.0.0.1", dst: String = "10.0.0.2",
                    srcPort: UInt16 = 1000, ttl: UInt8 = 64) -> [UInt8] {
        FrameBuilder.udp(srcMAC: Host.mac(a), dstMAC: b, vlan: vlan, src: Host.ip(src), dst: Host.ip(dst),
                         srcPort: srcPort, dstPort: 2000, payload: Array("hoist".utf8), ttl: ttl)
    }

    static func udp(from a: UInt8, to b: UInt8, vlan: [VLANTag] = []) -> [UInt8] { udp(from: a, to: Host.mac(b), vlan: vlan) }

    static func broadcast(from a: UInt8, vlan: [VLANTag] = []) -> [UInt8] { udp(from: a, to: .broadcast, vlan: vlan) }

    /// The parsed view of bytes that must parse.
    static func parse(_ bytes: [UInt8]) -> ParsedFrame {
        var pf = ParsedFrame()
        let reason = bytes.withUnsafeBytes { FrameParser.parse($0, into: &pf, options: ParserOptions()) }
        #expect(reason == nil, "frame does not parse: \(String(describing: reason))")
        return pf
    }
}
