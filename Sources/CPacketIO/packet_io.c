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
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int hoist_packet_open(const char *ifname) {
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) return -errno;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -errno;
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) goto fail;
    struct packet_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = ifindex;
    mreq.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) goto fail;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) goto fail;
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int hoist_packet_open_sender(const char *ifname) {
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0) return -errno;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

long hoist_packet_recv(int fd, void *buf, unsigned long len, int *checksum_pending) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = &control;
    msg.msg_controllen = sizeof control;
    *checksum_pending = 0;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
            struct tpacket_auxdata aux;
            memcpy(&aux, CMSG_DATA(c), sizeof aux);
            if (aux.tp_status & TP_STATUS_CSUMNOTREADY) *checksum_pending = 1;
        }
    }
    return n;
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

int hoist_packet_ring_setup(int fd, unsigned rx_block_size, unsigned rx_block_count, unsigned timeout_ms,
                            unsigned tx_frame_size, unsigned tx_frame_count,
                            struct hoist_packet_ring *ring, const char **failed_step) {
    memset(ring, 0, sizeof *ring);
    int version = TPACKET_V3;
    *failed_step = "PACKET_VERSION TPACKET_V3";
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return -errno;
    int one = 1;
    *failed_step = "PACKET_LOSS";
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) < 0) return -errno;

    struct tpacket_req3 rx;
    memset(&rx, 0, sizeof rx);
    rx.tp_block_size = rx_block_size;
    rx.tp_block_nr = rx_block_count;
    rx.tp_frame_size = TPACKET_ALIGNMENT << 7;   /* only checked for consistency in V3 */
    rx.tp_frame_nr = (rx_block_size / rx.tp_frame_size) * rx_block_count;
    rx.tp_retire_blk_tov = timeout_ms;
    *failed_step = "PACKET_RX_RING";
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) < 0) return -errno;

    /* The TX ring is frame-based even in V3; a block is one page of whole frames. */
    unsigned page = (unsigned)sysconf(_SC_PAGESIZE);
    struct tpacket_req3 tx;
    memset(&tx, 0, sizeof tx);
    tx.tp_block_size = page;
    tx.tp_frame_size = tx_frame_size;
    tx.tp_block_nr = tx_frame_count / (page / tx_frame_size);
    tx.tp_frame_nr = tx.tp_block_nr * (page / tx_frame_size);
    *failed_step = "PACKET_TX_RING";
    if (tx_frame_size == 0 || page % tx_frame_size != 0 || tx.tp_frame_nr != tx_frame_count) {
        errno = EINVAL;
        goto fail_rings;
    }
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) < 0) goto fail_rings;

    size_t rx_size = (size_t)rx_block_size * rx_block_count;
    size_t tx_size = (size_t)tx.tp_block_size * tx.tp_block_nr;
    *failed_step = "mmap of the rings";
    void *map = mmap(NULL, rx_size + tx_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) goto fail_rings;
    ring->map = map;
    ring->map_size = rx_size + tx_size;
    ring->rx_block_size = rx_block_size;
    ring->rx_block_count = rx_block_count;
    ring->tx_frame_size = tx_frame_size;
    ring->tx_frame_count = tx_frame_count;
    return 0;
fail_rings:;
    /* A zero-sized request tears a ring down again, so the socket is as before. */
    int e = errno;
    struct tpacket_req3 none;
    memset(&none, 0, sizeof none);
    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &none, sizeof none);
    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof none);
    return -e;
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
