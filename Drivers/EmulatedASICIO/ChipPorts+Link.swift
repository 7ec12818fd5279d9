import CPacketIO
import SwitchDriver

extension ChipPorts {
    /// Reads each wire's carrier and, where it changed, tells the chip (`setLink`, which
    /// reports `portOperState` and flushes the port's learned MACs when it goes down) and
    /// mirrors it to the port's TAP carrier, so the kernel sees `swpN` go `NO-CARRIER` as it
    /// would with a real PHY. Returns the ports that changed.
    ///
    /// The kernel counterpart is a switch driver's PHY link handling (`netif_carrier_on/off`).
    @discardableResult
    public func refreshLinks() -> [(port: PortID, up: Bool)] {
        var changed: [(PortID, Bool)] = []
        for b in bindings {
            guard let wire = wires[Int(b.port.rawValue)] else { continue }
            let running = hoist_link_running(wire.fd, b.wire)
            guard running >= 0 else { continue }
            let up = running == 1
            guard up != chip.isLinkUp(b.port) else { continue }
            chip.setLink(b.port, up: up)
            setCarrier(b.port, up: up)
            changed.append((b.port, up))
        }
        return changed
    }
}

extension ChipPorts.Binding {
    /// Parses a `--port N=WIRE` argument: chip port N (1…`portLimit`) on veth WIRE.
    public static func parse(_ spec: String, portLimit: Int) -> ChipPorts.Binding? {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let n = UInt16(parts[0]), n >= 1, Int(n) <= portLimit, !parts[1].isEmpty else { return nil }
        return ChipPorts.Binding(port: PortID(n), wire: parts[1])
    }
}
