#ifndef HOIST_PACKET_IO_H
#define HOIST_PACKET_IO_H

/* The kernel's ring layout (struct tpacket3_hdr, struct tpacket_block_desc, TP_STATUS_*,
   TPACKET_V3): Swift walks the rings itself (Drivers/EmulatedASICIO/WireSocket.swift). */
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/if_packet.h>

/// Opens the TAP interface `name` (IFF_TAP | IFF_NO_PI), non-blocking: attaches to it when
/// it exists (a chip process that restarted finds its host interfaces with the kernel's
/// configuration intact), creates it otherwise, and makes it persistent (TUNSETPERSIST),
/// so it outlives this process — it goes with `ip link del` or with its namespace.
/// Returns the file descriptor, or -errno.
int hoist_tap_open(const char *name);

/// Whether TAP descriptor `fd` is still attached to its interface (TUNGETIFF): 0, or
/// -errno (-EBADFD once the interface was deleted, `ip link del`).
int hoist_tap_attached(int fd);

/// Reads and clears a socket's pending error (SO_ERROR): an AF_PACKET socket whose
/// interface went away holds ENETDOWN, and poll() reports POLLERR until it is read.
/// Returns the error (0 when none), or -errno.
int hoist_socket_take_error(int fd);

/// Opens an AF_PACKET raw socket for interface `ifname` (in the calling thread's
/// namespace), in promiscuous mode, non-blocking, with PACKET_IGNORE_OUTGOING so it does
/// not see its own transmissions. It receives nothing until `hoist_packet_bind`: set the
/// ring up first. Returns the file descriptor, or -errno.
int hoist_packet_open(const char *ifname);

/// Binds socket `fd` to interface `ifname` (looked up in the socket's namespace) for all
/// protocols. Call it after `hoist_packet_ring_setup`: a ring set up on a bound socket
/// whose interface is down races with the interface coming up (PACKET_RX_RING detaches
/// the socket meanwhile, and a NETDEV_UP in that window leaves it detached for good).
/// Returns 0, or -errno.
int hoist_packet_bind(int fd, const char *ifname);

/// Moves the calling thread into the network namespace /var/run/netns/`name`. Returns a
/// descriptor of the thread's previous namespace for `hoist_netns_leave`, or -errno.
int hoist_netns_enter(const char *name);

/// Returns the calling thread to the namespace `saved` (from `hoist_netns_enter`) and
/// closes it. Returns 0, or -errno.
int hoist_netns_leave(int saved);

/// Sets or clears the carrier of a TAP (TUNSETCARRIER). Returns 0, or -errno.
int hoist_tap_set_carrier(int fd, int up);

/// The mapping of an AF_PACKET socket's RX ring (packet_mmap, TPACKET_V3):
/// `block_count` blocks of `block_size` bytes at `map`.
struct hoist_packet_ring {
    void *map;
    size_t map_size;
    unsigned block_size, block_count;
};

/// Sets up a TPACKET_V3 RX ring on `fd` (from `hoist_packet_open`) and maps it:
/// PACKET_VERSION, PACKET_RX_RING (a block goes to user space when full or after
/// `timeout_ms`), mmap. `block_size` must be a multiple of the page size. On failure
/// nothing stays mapped and the socket keeps no ring. Returns 0, or -errno;
/// `*failed_step` names the call that failed.
int hoist_packet_ring_setup(int fd, unsigned block_size, unsigned block_count, unsigned timeout_ms,
                            struct hoist_packet_ring *ring, const char **failed_step);

/// Unmaps the ring (the socket's close frees it in the kernel).
void hoist_packet_ring_unmap(struct hoist_packet_ring *ring);

/// Sends `count` frames on `fd` with sendmmsg(MSG_DONTWAIT), up to 64 per call: one
/// syscall per 64 frames rather than one each. A frame the kernel refuses (EMSGSIZE over
/// the MTU, …) is skipped; when the socket can take no more (EAGAIN, ENOBUFS) the rest are
/// not sent. Returns the number sent; `*first_error` is the first errno seen, or 0.
unsigned hoist_packet_send_batch(int fd, const struct iovec *frames, unsigned count, int *first_error);

/// PACKET_STATISTICS for a TPACKET_V3 socket since the last call (the kernel resets them on
/// read): frames the ring took, frames dropped because it was full, times the queue froze.
/// Returns 0, or -errno.
int hoist_packet_ring_statistics(int fd, unsigned *packets, unsigned *drops, unsigned *freezes);

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

/// The 802.1Q/802.1ad tag the kernel took out of a received frame (TP_STATUS_VLAN_VALID):
/// the TCI, and the TPID (0x8100 unless TP_STATUS_VLAN_TPID_VALID says otherwise).
static inline uint16_t hoist_frame_vlan_tci(const void *frame) {
    return ((const struct tpacket3_hdr *)frame)->hv1.tp_vlan_tci;
}
static inline uint16_t hoist_frame_vlan_tpid(const void *frame) {
    const struct tpacket3_hdr *h = frame;
    return (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : 0x8100;
}

/// A capture socket (difftest hosts): `hoist_packet_open` plus PACKET_AUXDATA and a
/// `rcvbuf`-byte receive buffer. Returns the descriptor, or -errno.
int hoist_capture_open(const char *ifname, int rcvbuf);

/// Receives one frame from a capture socket into `buf` as it was on the wire: an 802.1Q/
/// 802.1ad tag the kernel took out of the frame (PACKET_AUXDATA, TP_STATUS_VLAN_VALID) is
/// put back after the MACs. Returns the frame's length (at most `size`), or -errno
/// (-EAGAIN when none is waiting).
int hoist_capture_receive(int fd, unsigned char *buf, int size);

/// A block status word shared with the kernel: read with acquire order (the frames the
/// kernel wrote before handing the block over are visible after it)…
static inline uint32_t hoist_ring_load_status(const uint32_t *status) {
    return __atomic_load_n(status, __ATOMIC_ACQUIRE);
}

/// …and written with release order (our reads of the block happen before the kernel sees
/// it handed back).
static inline void hoist_ring_store_status(uint32_t *status, uint32_t value) {
    __atomic_store_n(status, value, __ATOMIC_RELEASE);
}

#endif
