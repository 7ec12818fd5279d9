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

long hoist_packet_recv(int fd, void *buf, unsigned long len, int *checksum_pending) {
    if (len < 64) return -EINVAL;
    // Four bytes kept free for a VLAN tag the kernel moved out of the frame (below).
    struct iovec iov = { .iov_base = buf, .iov_len = len - 4 };
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
            // The kernel takes the outer VLAN tag out of every received frame (into the
            // skb's metadata) before packet sockets see it, so a tagged frame arrives
            // untagged with the tag here. Put it back where it was on the wire.
            if ((aux.tp_status & TP_STATUS_VLAN_VALID) && n >= 12) {
                unsigned short tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
                unsigned char *p = buf;
                memmove(p + 16, p + 12, (size_t)n - 12);
                p[12] = (unsigned char)(tpid >> 8);
                p[13] = (unsigned char)tpid;
                p[14] = (unsigned char)(aux.tp_vlan_tci >> 8);
                p[15] = (unsigned char)aux.tp_vlan_tci;
                n += 4;
            }
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
