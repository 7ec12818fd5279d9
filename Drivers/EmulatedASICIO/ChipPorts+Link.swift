import CPacketIO
import Glibc
import SwitchDriver

extension ChipPorts {
    /// Checks every port's wire and TAP, then reads each wire's carrier and, where it
    /// changed, tells the chip (`setLink`, which reports `portOperState` and flushes the
    /// port's learned MACs when it goes down) and mirrors it to the port's TAP carrier, so
    /// the kernel sees `swpN` go `NO-CARRIER` as it would with a real PHY. Returns the
    /// ports whose link changed. Call it periodically (hoist-asic: every 100 ms).
    ///
    /// - A wire that is gone (`ip link del`, or deleted and made again: another ifindex)
    ///   is a broken port: link down, TAP carrier off, and the chip reports
    ///   `hardwareFailure("front-panel wire fpN missing")` on the port object. Its socket is
    ///   closed (it would report the error forever). When an interface of that name exists
    ///   again, the socket and its ring are opened again and the port works as before.
    /// - A TAP whose interface was deleted is made again under the same name, with the
    ///   port's carrier: the host interface of a front-panel port always exists while the
    ///   chip runs. What the kernel had configured on it (addresses, bridge membership) went
    ///   with the deleted interface; the operator configures it again.
    ///
    /// The kernel counterpart is a switch driver's PHY link handling (`netif_carrier_on/off`);
    /// a missing wire is a missing transceiver.
    @discardableResult
    public func refreshLinks() -> [(port: PortID, up: Bool)] {
        var changed: [(PortID, Bool)] = []
        for (k, b) in bindings.enumerated() {
            checkHostInterface(k)
            checkWire(k)
            followAdminState(k)
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

    /// Powers binding `k`'s PHY as the control plane set the port: a port set down (`ip
    /// link set swpN down`, programmed as the port's admin state) sets its wire down, so
    /// the host on it loses carrier — as a switch ASIC disables a down port's PHY, and as
    /// the kernel's veth takes its peer's carrier when one end goes down (the kernel
    /// bridge the chip is compared with). The port's link then follows the wire (down),
    /// and comes back when the port is set up again and the wire has carrier.
    ///
    /// Edge-triggered: only a change of the admin state touches the wire, so a wire set
    /// down by someone else (a cable pulled) stays down; a port nothing configured leaves
    /// its wire alone. Wires set down are set up again when the chip stops.
    func followAdminState(_ k: Int) {
        let b = bindings[k]
        let i = Int(b.port.rawValue)
        guard let up = chip.adminState(b.port), up != phyEnabled[i], let wire = wires[i] else { return }
        phyEnabled[i] = up
        let r = hoist_link_set_up(wire.fd, b.wire, up ? 1 : 0)
        if r < 0 { log?("\(b.host): could not set front-panel wire \(b.wire) \(up ? "up" : "down"): \(String(cString: strerror(-r)))") }
    }

    /// Checks that binding `k`'s wire is still the interface its socket was bound to;
    /// when it is not, the port breaks (see `refreshLinks`). A missing wire is looked for
    /// again (it may have been made again already).
    func checkWire(_ k: Int) {
        let b = bindings[k]
        let i = Int(b.port.rawValue)
        if let wire = wires[i] {
            // Clears the socket's pending error (ENETDOWN once its interface went away).
            _ = hoist_socket_take_error(wire.fd)
            let index = hoist_link_index(wire.fd, b.wire)
            guard index != wire.ifindex else { return }
            wires[i] = nil
            updatePollEntries(k)
            breakPort(k, reason: "front-panel wire \(b.wire) missing")
        }
        reopenWire(k)
    }

    /// Opens binding `k`'s missing wire again when an interface of that name exists; the
    /// port then works again (its link follows the wire's carrier at the next check).
    private func reopenWire(_ k: Int) {
        let b = bindings[k]
        let i = Int(b.port.rawValue)
        guard wires[i] == nil else { return }
        do {
            wires[i] = try WireSocket(interface: b.wire, namespace: wireNamespace, geometry: geometry)
        } catch let e as IOError {
            // Still missing (ENODEV) keeps the reason; anything else is the new reason.
            if e.code != ENODEV { breakPort(k, reason: "front-panel wire \(b.wire): \(e)") }
            return
        } catch {
            return
        }
        updatePollEntries(k)
        phyEnabled[i] = true    // a new wire, up as whoever made it left it
        chip.setPortFault(b.port, nil)
        log?("\(b.host): front-panel wire \(b.wire) is back; port working again")
    }

    private func breakPort(_ k: Int, reason: String) {
        let b = bindings[k]
        guard chip.portFaults[b.port] != reason else { return }
        chip.setPortFault(b.port, reason)
        setCarrier(b.port, up: false)
        log?("\(b.host): \(reason); link down until it returns")
    }

    /// Checks that binding `k`'s TAP still has its interface, and makes a missing one
    /// again (see `refreshLinks`).
    func checkHostInterface(_ k: Int) {
        let b = bindings[k]
        let i = Int(b.port.rawValue)
        if tapFDs[i] >= 0 {
            guard hoist_tap_attached(tapFDs[i]) < 0 else { return }
            close(tapFDs[i])
            tapFDs[i] = -1
            updatePollEntries(k)
            log?("\(b.host) was deleted; making it again")
        }
        var tap: Int32 = -1
        try? withNetworkNamespace(hostNamespace) { tap = hoist_tap_open(b.host) }
        guard tap >= 0 else { return }
        tapFDs[i] = tap
        updatePollEntries(k)
        _ = hoist_tap_set_carrier(tap, chip.isLinkUp(b.port) ? 1 : 0)
        log?("\(b.host) made again; the kernel's configuration of the deleted \(b.host) is gone")
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
