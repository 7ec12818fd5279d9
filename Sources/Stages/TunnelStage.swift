import SwitchDriver
import SwitchModel

/// Stage 4: VXLAN. A vxlan device enslaved to an offloaded bridge becomes a tunnel; the
/// device's own FDB becomes the tunnel's flood list (all-zeros MAC entries, head-end
/// replication) and bridge FDB entries that point into the tunnel (other MACs).
///
/// The kernel counterparts are the vxlan netdev (`IFLA_VXLAN_ID`, `_LOCAL`, `_PORT`,
/// `_TTL`) and its `NTF_SELF` FDB entries with `NDA_DST` (`bridge fdb append … dst`).
struct TunnelStage: Sendable {
    /// One flood-list entry of a device.
    private struct Flood: Hashable, Sendable {
        var remote: IPAddress
        var vni: VNI?
    }

    private var flood: [IfIndex: Set<Flood>] = [:]
    private var remoteMACs = FDBStore()

    /// Device entries with a remote: the only ones this stage maps. A unicast entry that is
    /// `extern_learn` *and* `offload` is a driver's own learning written back — hoistd's
    /// (`KernelRequest.addExternLearnedVXLANFDB` sets `NTF_OFFLOADED`, which the vxlan
    /// driver keeps and reports) or a kernel switchdev driver's — and programming it would
    /// loop. Every other one is the control plane's: an operator's static entry, or a
    /// remote MAC FRR's zebra installed from an EVPN type-2 route (`extern_learn` without
    /// `offload`), which becomes a tunnel FDB entry in the chip.
    private static func remote(of entry: FDBEntry) -> IPAddress? {
        guard entry.key.isSelf, entry.key.mac == .zero || !entry.isDriverWriteBack else { return nil }
        return entry.key.remote
    }

    /// True when a control-plane entry (`remote(of:)`) puts `mac` behind a VTEP on `device`:
    /// the MAC's kernel entries there are not hoistd's to write or delete.
    func holdsControlPlaneMAC(_ mac: MACAddress, on device: IfIndex) -> Bool {
        remoteMACs.entries(mac: mac, vlan: .none).contains { $0.entry.key.port == device }
    }

    mutating func apply(_ change: Change<FDBEntry>, sequence: UInt64) {
        if case .changed(let old, let new) = change, old.key != new.key { remove(old) }
        if case .removed(let e) = change { remove(e); return }
        let e = change.current
        guard let remote = Self.remote(of: e) else {
            // An entry this stage mapped that now is not its own (it became a write-back).
            if case .changed(let old, _) = change { remove(old) }
            return
        }
        if e.key.mac == .zero {
            flood[e.key.port, default: []].insert(Flood(remote: remote, vni: e.key.vni))
        } else {
            remoteMACs.insert(e, sequence: sequence)
        }
    }

    private mutating func remove(_ e: FDBEntry) {
        guard let remote = Self.remote(of: e) else { return }
        if e.key.mac == .zero {
            flood[e.key.port]?.remove(Flood(remote: remote, vni: e.key.vni))
            if flood[e.key.port]?.isEmpty == true { flood[e.key.port] = nil }
        } else {
            remoteMACs.remove(e.key)
        }
    }

    // MARK: Keys and values

    func keys(of link: IfIndex, in topology: Topology, into keys: inout Set<HardwareKey>) {
        guard let tunnel = tunnelObject(of: link, in: topology) else { return }
        keys.insert(tunnel.key)
        guard tunnel.programmable, case .vxlanTunnel(let t) = tunnel.object else { return }
        for f in flood[link] ?? [] { keys.insert(.vxlanFlood(f.vni ?? t.vni, f.remote)) }
        for stored in remoteMACs.entries(on: link) { keys.insert(.fdb(t.bridge, t.vid, stored.entry.key.mac)) }
    }

    /// The hardware key a device entry maps to now, if any.
    func keys(of entry: FDBEntry, in topology: Topology, into keys: inout Set<HardwareKey>) {
        guard let remote = Self.remote(of: entry), let t = usableTunnel(of: entry.key.port, in: topology) else { return }
        let k = entry.key
        keys.insert(k.mac == .zero ? .vxlanFlood(k.vni ?? t.vni, remote) : .fdb(t.bridge, t.vid, k.mac))
    }

    /// The tunnel of a vxlan device in a bridge with a chip port. It stays on the CPU (not
    /// programmable) when the device cannot be a chip tunnel (`Topology.vxlanTrapReason`:
    /// no VXLAN in the driver, no VNI, no local address, an IPv6 or multicast underlay, no
    /// PVID in a VLAN-filtering bridge) — which also keeps its bridge on the CPU — or when
    /// the bridge stays on the CPU for another reason.
    func tunnelObject(of link: IfIndex, in topology: Topology) -> DesiredObject? {
        guard let device = topology.links[link], device.kind == .vxlan, let a = device.vxlan,
              let bridge = topology.bridge(of: link), let state = topology.bridgeState(bridge) else { return nil }
        let settings: BridgeSettings, bridgeReason: String?
        switch state {
        case .offloaded(let s): (settings, bridgeReason) = (s, nil)
        case .trapped(let s, let r): (settings, bridgeReason) = (s, "bridge \(topology.name(of: bridge)) stays on the CPU: \(r)")
        }
        let pvid = settings.vlanFiltering ? topology.pvid(of: link) : VLANID.none
        let tunnel = VXLANTunnel(vni: a.vni ?? 0, bridge: settings.bridge, vid: pvid ?? .none,
                                 local: a.local ?? .anyIPv4, udpPort: a.port, ttl: a.ttl, ttlInherit: a.ttlInherit,
                                 tos: a.tos, dontFragment: VXLANTunnel.DontFragment(rawValue: a.df) ?? .unset,
                                 sourcePorts: a.sourcePorts ?? VXLANTunnel.defaultSourcePorts,
                                 learning: Self.learning(device, in: topology), udpChecksum: a.udpChecksum)
        let reason = topology.vxlanTrapReason(device, vlanFiltering: settings.vlanFiltering) ?? bridgeReason
        return DesiredObject(.vxlanTunnel(tunnel), trapReason: reason, programmable: reason == nil)
    }

    /// What the chip may learn from the tunnel: the bridge port's learning on the vxlan port
    /// and the device's own (the case where only the device learns keeps the tunnel on the
    /// CPU: `Topology.vxlanTrapReason`).
    static func learning(_ device: Link, in topology: Topology) -> VXLANTunnel.Learning {
        let bridgeLearns = (device.bridgePort?.learning ?? true) && topology.features.contains(.learning)
        guard bridgeLearns else { return .off }
        return device.vxlan?.learning == true ? .remote : .defaultRemotes
    }

    /// A tunnel the chip holds; flood entries and tunnel FDB entries need one.
    private func usableTunnel(of link: IfIndex, in topology: Topology) -> VXLANTunnel? {
        guard let o = tunnelObject(of: link, in: topology), o.programmable,
              case .vxlanTunnel(let t) = o.object else { return nil }
        return t
    }

    /// The tunnel with this VNI; when several devices share one, the lowest ifindex.
    func tunnelValue(_ vni: VNI, in topology: Topology) -> DesiredObject? {
        for link in topology.vxlanLinks {
            if let o = tunnelObject(of: link, in: topology), o.key == .vxlanTunnel(vni) { return o }
        }
        return nil
    }

    func floodValue(_ vni: VNI, _ remote: IPAddress, in topology: Topology) -> DesiredObject? {
        for (link, entries) in flood {
            guard let t = usableTunnel(of: link, in: topology) else { continue }
            if entries.contains(where: { $0.remote == remote && ($0.vni ?? t.vni) == vni }) {
                return DesiredObject(.vxlanFlood(VXLANFloodEntry(vni: vni, remote: remote)))
            }
        }
        return nil
    }

    /// The best tunnel claim on a hardware FDB key: a remote MAC behind a VTEP.
    func fdbCandidate(_ bridge: BridgeID, _ vid: VLANID, _ mac: MACAddress, in topology: Topology) -> FDBCandidate? {
        FDBCandidate.best(remoteMACs.entries(mac: mac, vlan: .none).lazy.compactMap { stored -> FDBCandidate? in
            let k = stored.entry.key
            guard let remote = k.remote, let t = self.usableTunnel(of: k.port, in: topology),
                  t.bridge == bridge, t.vid == vid else { return nil }
            let object = HardwareFDBEntry(bridge: bridge, vid: vid, mac: mac,
                                          destination: .tunnel(vni: k.vni ?? t.vni, remote: remote), isStatic: true)
            return FDBCandidate(object: object, priority: 2, sequence: stored.sequence)
        })
    }
}
