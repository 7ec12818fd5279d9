#if canImport(Glibc)
import Glibc
#endif
import Netlink
import SwitchDriver
import SwitchModel

/// What one reconciliation of the kernel's `extern_learn` entries with the hardware's
/// learned MACs found and changed.
public struct LearnedReconciliation: Sendable, Equatable, CustomStringConvertible {
    /// MACs the hardware had learned.
    public var learned = 0
    /// `extern_learn` entries in the kernel that the hardware no longer holds, deleted.
    public var removed = 0
    /// Learned MACs the kernel lacked (or held on another port), written.
    public var added = 0
    public init() {}

    public var description: String {
        "\(learned) learned MACs in the chip, \(removed) stale extern_learn entries removed, \(added) written"
    }
}

extension SwitchDaemon {
    func noteLearned(_ entry: HardwareFDBEntry) {
        learned[HardwareObject.fdb(entry).key] = entry
    }

    /// Makes the kernel's `extern_learn` FDB entries equal to the MACs the hardware learned
    /// (``SwitchDriver/learnedMACs()``): entries on chip ports, and on vxlan devices (the
    /// device's own entry with the remote, and the bridge's), that the hardware does not
    /// hold are deleted (`RTM_DELNEIGH`); learned MACs the kernel lacks are written as
    /// `extern_learn` (`RTM_NEWNEIGH`, `NLM_F_REPLACE`, so a MAC held on another port moves).
    /// The kernel side is a fresh `RTM_GETNEIGH` AF_BRIDGE dump, not the mirror, which may
    /// not have seen the daemon's latest write-backs yet.
    ///
    /// Hoist owns `extern_learn` entries on chip ports, and on vxlan devices the device's
    /// entries it marked `offload` (`FDBEntry.isDriverWriteBack`) and the bridge's entries
    /// that go with no one else's: a MAC with a device entry of the control plane's (FRR's
    /// EVPN remote MACs: `extern_learn` without `offload`) is FRR's, on the device and in
    /// the bridge, and is neither deleted nor written over.
    ///
    /// Called by `start()`, after an `eventsLost` notice, and by whoever reconnects the chip.
    /// - Returns: nil when the driver cannot read its learned MACs back.
    @discardableResult
    public func reconcileLearnedMACs() throws -> LearnedReconciliation? {
        guard let held = driver.learnedMACs() else { return nil }
        readsLearnedMACs = true
        learned = [:]
        for entry in held { noteLearned(entry) }
        var result = LearnedReconciliation()
        result.learned = held.count

        struct BridgeEntry: Hashable { var port: IfIndex, mac: MACAddress, vlan: VLANID }
        struct TunnelEntry: Hashable {
            var device: IfIndex, mac: MACAddress, remote: IPAddress
            /// The bridge entry's VLAN that goes with it (not part of the device's own entry).
            var vlan: VLANID = .none
            static func == (a: Self, b: Self) -> Bool { (a.device, a.mac, a.remote) == (b.device, b.mac, b.remote) }
            func hash(into h: inout Hasher) { h.combine(device); h.combine(mac); h.combine(remote) }
        }
        let links = mirror.tables.links
        let chipPorts = Set(portNames.values).union(stages.lagNames.values)   // a LAG's learning is on its bond
        func isChipPort(_ index: IfIndex) -> Bool { links[index].map { chipPorts.contains($0.name) } ?? false }
        func vxlanDevice(_ vni: UInt32) -> IfIndex? {
            links.values.first { $0.kind == .vxlan && $0.vxlan?.vni == vni }?.index
        }

        // What the kernel holds of the chip's learning; the control plane's remote MACs
        // (device, MAC) are left alone.
        var heldBridge: Set<BridgeEntry> = []
        var heldTunnel: Set<TunnelEntry> = []
        struct DeviceMAC: Hashable { var device: IfIndex, mac: MACAddress }
        var controlPlane: Set<DeviceMAC> = []
        // A dump the kernel marks interrupted (the FDB changed meanwhile: likely right after
        // an overflow) is taken again, as the mirror does.
        for attempt in 1...5 {
            heldBridge = []
            heldTunnel = []
            controlPlane = []
            do {
                try requests.dump(.fdb) { message in
                    guard case .newFDB(let e) = message, e.key.mac != .zero else { return }
                    let isVXLAN = links[e.key.port]?.kind == .vxlan
                    if e.key.isSelf, isVXLAN, let remote = e.key.remote {
                        if e.isDriverWriteBack {
                            heldTunnel.insert(TunnelEntry(device: e.key.port, mac: e.key.mac, remote: remote))
                        } else {
                            controlPlane.insert(DeviceMAC(device: e.key.port, mac: e.key.mac))
                        }
                    } else if !e.key.isSelf, e.flags.contains(.externLearn), isVXLAN || isChipPort(e.key.port) {
                        heldBridge.insert(BridgeEntry(port: e.key.port, mac: e.key.mac, vlan: e.key.vlan))
                    }
                }
                break
            } catch let error as NetlinkError where error.code == EINTR && attempt < 5 {
                continue
            }
        }
        heldBridge = heldBridge.filter { !controlPlane.contains(DeviceMAC(device: $0.port, mac: $0.mac)) }

        // What the kernel should hold for the chip.
        var wantedBridge: Set<BridgeEntry> = []
        var wantedTunnel: Set<TunnelEntry> = []
        for entry in held {
            switch entry.destination {
            case .port(let p):
                if let link = kernelPort(p) { wantedBridge.insert(BridgeEntry(port: link, mac: entry.mac, vlan: entry.vid)) }
            case .tunnel(let vni, let remote):
                if let device = vxlanDevice(vni), !controlPlane.contains(DeviceMAC(device: device, mac: entry.mac)) {
                    wantedBridge.insert(BridgeEntry(port: device, mac: entry.mac, vlan: entry.vid))
                    // Behind the device's default destinations (a `nolearning` device): the bridge's entry only.
                    if remote != .anyIPv4 { wantedTunnel.insert(TunnelEntry(device: device, mac: entry.mac, remote: remote, vlan: entry.vid)) }
                }
            case .cpu:
                break
            }
        }

        // Deletes first (a delete on the old port of a MAC that moved finds nothing), then adds.
        var batch: [NetlinkMessageBuilder] = []
        for stale in heldTunnel.subtracting(wantedTunnel) {
            batch += KernelRequest.deleteVXLANFDB(device: stale.device, mac: stale.mac, remote: stale.remote).prefix(1)
        }
        for stale in heldBridge.subtracting(wantedBridge) {
            batch.append(KernelRequest.deleteFDB(port: stale.port, mac: stale.mac, vlan: stale.vlan))
        }
        result.removed = heldTunnel.subtracting(wantedTunnel).count + heldBridge.subtracting(wantedBridge).count
        send(&batch, ignoring: [ENOENT])
        let tunnelled = Set(wantedTunnel.map { BridgeEntry(port: $0.device, mac: $0.mac, vlan: $0.vlan) })
        for missing in wantedBridge.subtracting(heldBridge) where !tunnelled.contains(missing) {
            batch.append(KernelRequest.addExternLearnedFDB(port: missing.port, mac: missing.mac, vlan: missing.vlan))
            batch += vlanCopyDeletes(port: missing.port, mac: missing.mac, vid: missing.vlan)
            result.added += 1
        }
        for missing in wantedTunnel where !heldTunnel.contains(missing)
            || !heldBridge.contains(BridgeEntry(port: missing.device, mac: missing.mac, vlan: missing.vlan)) {
            batch += KernelRequest.addExternLearnedVXLANFDB(device: missing.device, mac: missing.mac, remote: missing.remote,
                                                            vlan: missing.vlan)
            result.added += 1
        }
        send(&batch)
        statistics.learnedReconciliations += 1
        statistics.staleLearnedRemoved += result.removed
        statistics.missingLearnedAdded += result.added
        return result
    }

    /// Deletes of the copies the kernel adds by itself when a VLAN-0 entry is written to a
    /// port that has VLANs: `br_fdb_add` without `NDA_VLAN` also adds the entry in every VLAN
    /// of the port ("to be nice"), and a port of a VLAN-unaware bridge still has its
    /// `default_pvid` VLAN on a kernel with VLAN filtering support — while the bridge's own
    /// learning (`br_handle_frame_finish`, VID 0 without filtering) keeps the VLAN-0 entry only.
    /// A copy in a VLAN where the mirror already holds an entry of that MAC that is not
    /// `extern_learn` (the user's) is left alone.
    func vlanCopyDeletes(port: IfIndex, mac: MACAddress, vid: VLANID) -> [NetlinkMessageBuilder] {
        guard vid == .none else { return [] }
        let tables = mirror.tables
        guard let master = tables.links[port]?.master, tables.links[master]?.bridge?.vlanFiltering != true else { return [] }
        let vids = tables.vlans.keys.filter { $0.port == port && $0.vid != .none }.map(\.vid).sorted()
        return vids.compactMap { v in
            let users = tables.fdb.values.contains { $0.key.mac == mac && $0.key.vlan == v && !$0.key.isSelf && !$0.flags.contains(.externLearn) }
            return users ? nil : KernelRequest.deleteFDB(port: port, mac: mac, vlan: v)
        }
    }
}
