#ifndef HOIST_PACKET_IO_H
#define HOIST_PACKET_IO_H

/// Opens (creating if needed) the TAP interface `name` (IFF_TAP | IFF_NO_PI), non-blocking.
/// Returns the file descriptor, or -errno.
int hoist_tap_open(const char *name);

/// Opens an AF_PACKET raw socket bound to interface `ifname` for all protocols, in
/// promiscuous mode, non-blocking, with PACKET_IGNORE_OUTGOING so it does not see its own
/// transmissions. Returns the file descriptor, or -errno.
int hoist_packet_open(const char *ifname);

/// Receives one frame from an AF_PACKET socket opened by `hoist_packet_open` into `buf`.
/// Sets `*checksum_pending` when the kernel left the L4 checksum to "hardware"
/// (TP_STATUS_CSUMNOTREADY: a CHECKSUM_PARTIAL packet from a veth peer). A VLAN tag the
/// kernel took out of the frame (TP_STATUS_VLAN_VALID) is put back, so `len` must leave 4
/// bytes beyond the largest frame. Returns the frame length, 0 when nothing is waiting,
/// or -errno.
long hoist_packet_recv(int fd, void *buf, unsigned long len, int *checksum_pending);

/// Moves the calling thread into the network namespace /var/run/netns/`name`. Returns a
/// descriptor of the thread's previous namespace for `hoist_netns_leave`, or -errno.
int hoist_netns_enter(const char *name);

/// Returns the calling thread to the namespace `saved` (from `hoist_netns_enter`) and
/// closes it. Returns 0, or -errno.
int hoist_netns_leave(int saved);

/// Sets or clears the carrier of a TAP (TUNSETCARRIER). Returns 0, or -errno.
int hoist_tap_set_carrier(int fd, int up);

#endif
