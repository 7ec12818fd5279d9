#define _GNU_SOURCE
#include "packet_io.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>

int hoist_tap_open(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int hoist_tap_attached(int fd) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    return ioctl(fd, TUNGETIFF, &ifr) < 0 ? -errno : 0;
}

int hoist_socket_take_error(int fd) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) return -errno;
    return error;
}

int hoist_packet_open(const char *ifname) {
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) return -errno;
    /* Protocol 0: no frames until hoist_packet_bind. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct packet_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = ifindex;
    mreq.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) goto fail;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int hoist_packet_bind(int fd, const char *ifname) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) return -errno;
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifr.ifr_ifindex;
    return bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ? -errno : 0;
}

int hoist_netns_enter(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "/var/run/netns/%s", name);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) return -errno;
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0) {
        int e = errno;
        close(target);
        return -e;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        int e = errno;
        close(target);
        close(saved);
        return -e;
    }
    close(target);
    return saved;
}

int hoist_netns_leave(int saved) {
    int rc = setns(saved, CLONE_NEWNET);
    int e = errno;
    close(saved);
    return rc < 0 ? -e : 0;
}

int hoist_tap_set_carrier(int fd, int up) {
    int value = up ? 1 : 0;
    return ioctl(fd, TUNSETCARRIER, &value) < 0 ? -errno : 0;
}

#include <sys/mman.h>

int hoist_packet_ring_setup(int fd, unsigned block_size, unsigned block_count, unsigned timeout_ms,
                            struct hoist_packet_ring *ring, const char **failed_step) {
    memset(ring, 0, sizeof *ring);
    int version = TPACKET_V3;
    *failed_step = "PACKET_VERSION TPACKET_V3";
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return -errno;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block_size;
    req.tp_block_nr = block_count;
    req.tp_frame_size = TPACKET_ALIGNMENT << 7;   /* V3 frames are variable; only checked for consistency */
    req.tp_frame_nr = (block_size / req.tp_frame_size) * block_count;
    req.tp_retire_blk_tov = timeout_ms;
    *failed_step = "PACKET_RX_RING";
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return -errno;
    size_t size = (size_t)block_size * block_count;
    *failed_step = "mmap of the RX ring";
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        /* A zero-sized request tears the ring down again, so the socket is as before. */
        int e = errno;
        memset(&req, 0, sizeof req);
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
        return -e;
    }
    ring->map = map;
    ring->map_size = size;
    ring->block_size = block_size;
    ring->block_count = block_count;
    return 0;
}

unsigned hoist_packet_send_batch(int fd, const struct iovec *frames, unsigned count, int *first_error) {
    struct mmsghdr msgs[64];
    unsigned sent = 0, next = 0;
    *first_error = 0;
    while (next < count) {
        unsigned n = count - next < 64 ? count - next : 64;
        for (unsigned i = 0; i < n; i++) {
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = (struct iovec *)&frames[next + i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
        if (r > 0) {
            sent += (unsigned)r;
            next += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (!*first_error) *first_error = r < 0 ? errno : EIO;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) break;
        next += 1;   /* this frame was refused: skip it */
    }
    return sent;
}

void hoist_packet_ring_unmap(struct hoist_packet_ring *ring) {
    if (ring->map) munmap(ring->map, ring->map_size);
    memset(ring, 0, sizeof *ring);
}

int hoist_packet_ring_statistics(int fd, unsigned *packets, unsigned *drops, unsigned *freezes) {
    struct tpacket_stats_v3 stats;
    memset(&stats, 0, sizeof stats);
    socklen_t len = sizeof stats;
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) < 0) return -errno;
    *packets = stats.tp_packets;
    *drops = stats.tp_drops;
    *freezes = stats.tp_freeze_q_cnt;
    return 0;
}
