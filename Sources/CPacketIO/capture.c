#define _GNU_SOURCE
#include "packet_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

int hoist_capture_open(const char *ifname, int rcvbuf) {
    int fd = hoist_packet_open(ifname);
    if (fd < 0) return fd;
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* hoist_packet_open leaves the socket unbound (for the ring's sake): bind it now. */
    int rc = hoist_packet_bind(fd, ifname);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int hoist_capture_receive(int fd, unsigned char *buf, int size) {
    if (size < 18) return -EINVAL;
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } control;
    /* Leave room for a tag: receive after the first 4 bytes, move the MACs down if tagged. */
    struct iovec iov = { .iov_base = buf + 4, .iov_len = (size_t)size - 4 };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = &control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return -errno;
    if (n > size - 4) n = size - 4;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
        struct tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || n < 12) break;
        uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : 0x8100;
        memmove(buf, buf + 4, 12);
        uint16_t be_tpid = htons(tpid), be_tci = htons(aux.tp_vlan_tci);
        memcpy(buf + 12, &be_tpid, 2);
        memcpy(buf + 14, &be_tci, 2);
        return (int)n + 4;
    }
    memmove(buf, buf + 4, (size_t)n);
    return (int)n;
}
