#ifndef HOIST_PACKET_IO_H
#define HOIST_PACKET_IO_H

/* The kernel's ring layout (struct tpacket3_hdr, struct tpacket_block_desc, TP_STATUS_*,
   TPACKET_V3): Swift walks the rings itself (Drivers/EmulatedASICIO/WireSocket.swift). */
#include <stddef.h>
#include <stdint.h>
#include <linux/if_packet.h>

/// Opens (creating if needed) the TAP interface `name` (IFF_TAP | IFF_NO_PI), non-blocking.
/// Returns the file descriptor, or -errno.
int hoist_tap_open(const char *name);

/// Opens an AF_PACKET raw socket bound to interface `ifname` for all protocols, in
/// promiscuous mode, non-blocking, with PACKET_IGNORE_OUTGOING so it does not see its own
/// transmissions. Returns the file descriptor, or -errno.
int hoist_packet_open(const char *ifname);

/// Opens an AF_PACKET raw socket bound to interface `ifname` for sending only (protocol 0:
/// the kernel delivers it nothing). A socket with a TX ring sends only from its ring, so a
/// frame larger than a slot goes out through this one. Returns the descriptor, or -errno.
int hoist_packet_open_sender(const char *ifname);

/// Receives one frame from an AF_PACKET socket opened by `hoist_packet_open` into `buf`.
/// Sets `*checksum_pending` when the kernel left the L4 checksum to "hardware"
/// (TP_STATUS_CSUMNOTREADY: a CHECKSUM_PARTIAL packet from a veth peer). Returns the
/// frame length, 0 when nothing is waiting, or -errno.
long hoist_packet_recv(int fd, void *buf, unsigned long len, int *checksum_pending);

/// Moves the calling thread into the network namespace /var/run/netns/`name`. Returns a
/// descriptor of the thread's previous namespace for `hoist_netns_leave`, or -errno.
int hoist_netns_enter(const char *name);

/// Returns the calling thread to the namespace `saved` (from `hoist_netns_enter`) and
/// closes it. Returns 0, or -errno.
int hoist_netns_leave(int saved);

/// Sets or clears the carrier of a TAP (TUNSETCARRIER). Returns 0, or -errno.
int hoist_tap_set_carrier(int fd, int up);

/// The mapping of an AF_PACKET socket's rings (packet_mmap): the RX ring (TPACKET_V3,
/// `rx_block_count` blocks of `rx_block_size` bytes) at `map`, the TX ring (`tx_frame_count`
/// slots of `tx_frame_size` bytes, frame-based) right after it, as the kernel lays them out.
struct hoist_packet_ring {
    void *map;
    size_t map_size;
    unsigned rx_block_size, rx_block_count;
    unsigned tx_frame_size, tx_frame_count;
};

/// Sets up TPACKET_V3 rings on `fd` (from `hoist_packet_open`) and maps them: PACKET_VERSION,
/// PACKET_RX_RING (blocks retired to user space when full or after `timeout_ms`),
/// PACKET_TX_RING, PACKET_LOSS (a malformed TX frame is skipped rather than stalling the
/// ring), then one mmap of both. Sizes must be multiples of the page size (blocks) and of 16
/// (TX frames), TX frames must divide a page. On failure nothing stays mapped and the
/// socket keeps no ring. Returns 0, or -errno; `*failed_step` names the call that failed.
int hoist_packet_ring_setup(int fd, unsigned rx_block_size, unsigned rx_block_count, unsigned timeout_ms,
                            unsigned tx_frame_size, unsigned tx_frame_count,
                            struct hoist_packet_ring *ring, const char **failed_step);

/// Unmaps the rings (the socket's close frees them in the kernel).
void hoist_packet_ring_unmap(struct hoist_packet_ring *ring);

/// PACKET_STATISTICS for a TPACKET_V3 socket since the last call (the kernel resets them on
/// read): frames the ring took, frames dropped because it was full, times the queue froze.
/// Returns 0, or -errno.
int hoist_packet_ring_statistics(int fd, unsigned *packets, unsigned *drops, unsigned *freezes);

/// Where a TX frame's data starts in its slot when PACKET_TX_HAS_OFF is not set: the
/// kernel reads it at tp_hdrlen - sizeof(struct sockaddr_ll) = TPACKET_ALIGN(sizeof(struct tpacket3_hdr)).
static inline unsigned hoist_tx_data_offset(void) { return TPACKET_ALIGN(sizeof(struct tpacket3_hdr)); }

/// Fields of the V3 block descriptor (`hdr` is a union, which Swift reads awkwardly).
static inline uint32_t *hoist_block_status(void *block) {
    return &((struct tpacket_block_desc *)block)->hdr.bh1.block_status;
}
static inline uint32_t hoist_block_packets(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.num_pkts;
}
static inline uint32_t hoist_block_first_offset(const void *block) {
    return ((const struct tpacket_block_desc *)block)->hdr.bh1.offset_to_first_pkt;
}

/// A frame's status word (RX frame in a block, or TX slot).
static inline uint32_t *hoist_frame_status(void *frame) { return &((struct tpacket3_hdr *)frame)->tp_status; }

/// The 802.1Q/802.1ad tag the kernel took out of a received frame (TP_STATUS_VLAN_VALID):
/// the TCI, and the TPID (0x8100 unless TP_STATUS_VLAN_TPID_VALID says otherwise).
static inline uint16_t hoist_frame_vlan_tci(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->hv1.tp_vlan_tci;
}
static inline uint16_t hoist_frame_vlan_tpid(const void *frame) {
    const struct tpacket3_hdr *h = frame;
    return (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
}

/// A ring status word shared with the kernel: read with acquire order (the frame data the
/// kernel wrote before handing the block or slot over is visible after it)…
static inline uint32_t hoist_ring_load_status(const uint32_t *status) {
    return __atomic_load_n(status, __ATOMIC_ACQUIRE);
}

/// …and written with release order (our reads of a block, or our writes of a TX frame,
/// happen before the kernel sees it handed back).
static inline void hoist_ring_store_status(uint32_t *status, uint32_t value) {
    __atomic_store_n(status, value, __ATOMIC_RELEASE);
}

#endif
