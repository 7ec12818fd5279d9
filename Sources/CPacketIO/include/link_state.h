#ifndef HOIST_LINK_STATE_H
#define HOIST_LINK_STATE_H

/// Reports whether interface `ifname` has carrier (IFF_RUNNING), asked through socket `fd`
/// so the answer comes from the socket's network namespace (SIOCGIFFLAGS). Returns 1 or 0,
/// or -errno.
int hoist_link_running(int fd, const char *ifname);

/// The interface index of `ifname` in the namespace of socket `fd` (SIOCGIFINDEX): a
/// wire deleted and made again under the same name has a new index. Returns it, or -errno
/// (-ENODEV when no such interface exists).
int hoist_link_index(int fd, const char *ifname);

/// Sets interface `ifname` administratively up or down (IFF_UP through SIOCSIFFLAGS on
/// socket `fd`, in the socket's network namespace): a veth set down takes its peer's
/// carrier away. Returns 0, or -errno.
int hoist_link_set_up(int fd, const char *ifname, int up);

/// Whether interface `ifname` is administratively up (IFF_UP), asked through socket `fd`
/// as `hoist_link_running`. Returns 1 or 0, or -errno.
int hoist_link_admin_up(int fd, const char *ifname);

#endif
