#include "link_state.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>

/// Asks socket `fd`'s namespace about `ifname` with `request` (SIOCGIFFLAGS,
/// SIOCGIFINDEX, SIOCSIFFLAGS); `ifr` carries the answer. Returns 0 or -errno.
static int link_ioctl(int fd, const char *ifname, unsigned long request, struct ifreq *ifr, int name) {
    if (name) {
        memset(ifr, 0, sizeof *ifr);
        strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
    }
    return ioctl(fd, request, ifr) < 0 ? -errno : 0;
}

int hoist_link_running(int fd, const char *ifname) {
    struct ifreq ifr;
    int r = link_ioctl(fd, ifname, SIOCGIFFLAGS, &ifr, 1);
    return r < 0 ? r : (ifr.ifr_flags & IFF_RUNNING) ? 1 : 0;
}

int hoist_link_admin_up(int fd, const char *ifname) {
    struct ifreq ifr;
    int r = link_ioctl(fd, ifname, SIOCGIFFLAGS, &ifr, 1);
    return r < 0 ? r : (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

int hoist_link_index(int fd, const char *ifname) {
    struct ifreq ifr;
    int r = link_ioctl(fd, ifname, SIOCGIFINDEX, &ifr, 1);
    return r < 0 ? r : ifr.ifr_ifindex;
}

int hoist_link_set_up(int fd, const char *ifname, int up) {
    struct ifreq ifr;
    int r = link_ioctl(fd, ifname, SIOCGIFFLAGS, &ifr, 1);
    if (r < 0 || ((ifr.ifr_flags & IFF_UP) != 0) == (up != 0)) return r;
    if (up) ifr.ifr_flags |= IFF_UP; else ifr.ifr_flags &= ~IFF_UP;
    return link_ioctl(fd, ifname, SIOCSIFFLAGS, &ifr, 0);
}
