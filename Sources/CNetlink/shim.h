#ifndef HOIST_CNETLINK_SHIM_H
#define HOIST_CNETLINK_SHIM_H
/* glibc headers first: otherwise <linux/in6.h> defines its own in6_addr and Swift sees two. */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_bridge.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_gact.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/netconf.h>
#include <linux/fib_rules.h>
#include <linux/genetlink.h>
#include <linux/devlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/route/rtnl.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

/* Values whose C definitions are expressions Swift does not import. */
static const int CNL_NETLINK_EXT_ACK = 11;
static const int CNL_NETLINK_CAP_ACK = 10;
static const int CNL_NETLINK_GET_STRICT_CHK = 12;
static const int CNL_SOL_NETLINK = 270;
static const int CNL_CLONE_NEWNET = 0x40000000;
static const int CNL_IFLA_MAX = __IFLA_MAX - 1;
static const int CNL_IFLA_INFO_MAX = __IFLA_INFO_MAX - 1;
static const int CNL_IFLA_BR_MAX = __IFLA_BR_MAX - 1;
/* IFLA_BRPORT_MAB (Linux 6.2) follows IFLA_BRPORT_LOCKED; older uapi headers lack it. */
static const int CNL_IFLA_BRPORT_MAB = IFLA_BRPORT_LOCKED + 1;
/* IFLA_BRPORT_NEIGH_VLAN_SUPPRESS (Linux 6.7) and IFLA_BRPORT_BACKUP_NHID (6.7) follow
 * MAB, MCAST_N_GROUPS and MCAST_MAX_GROUPS. */
static const int CNL_IFLA_BRPORT_NEIGH_VLAN_SUPPRESS = IFLA_BRPORT_LOCKED + 4;
static const int CNL_IFLA_BRPORT_BACKUP_NHID = IFLA_BRPORT_LOCKED + 5;
static const int CNL_IFLA_BRPORT_MAX = (__IFLA_BRPORT_MAX - 1) > IFLA_BRPORT_LOCKED + 5 ? (__IFLA_BRPORT_MAX - 1) : IFLA_BRPORT_LOCKED + 5;
static const int CNL_IFLA_VXLAN_MAX = __IFLA_VXLAN_MAX - 1;
static const int CNL_IFLA_BRIDGE_MAX = __IFLA_BRIDGE_MAX - 1;
static const int CNL_NDA_MAX = __NDA_MAX - 1;
static const int CNL_IFA_MAX = __IFA_MAX - 1;
static const int CNL_RTA_MAX = __RTA_MAX - 1;
static const int CNL_NHA_MAX = __NHA_MAX - 1;
static const int CNL_NETCONFA_MAX = __NETCONFA_MAX - 1;
static const int CNL_FRA_MAX = __FRA_MAX - 1;
static const int CNL_NETCONFA_IFINDEX_ALL = NETCONFA_IFINDEX_ALL;
static const int CNL_NETCONFA_IFINDEX_DEFAULT = NETCONFA_IFINDEX_DEFAULT;
static const int CNL_MDBA_MAX = __MDBA_MAX - 1;
static const int CNL_MDBA_MDB_MAX = __MDBA_MDB_MAX - 1;
static const int CNL_MDBA_MDB_EATTR_MAX = __MDBA_MDB_EATTR_MAX - 1;
static const int CNL_BRIDGE_VLANDB_MAX = __BRIDGE_VLANDB_MAX - 1;
static const int CNL_BRIDGE_VLANDB_ENTRY_MAX = __BRIDGE_VLANDB_ENTRY_MAX - 1;
static const int CNL_TCA_MAX = __TCA_MAX - 1;
static const int CNL_TCA_FLOWER_MAX = __TCA_FLOWER_MAX - 1;
static const int CNL_TCA_MATCHALL_MAX = __TCA_MATCHALL_MAX - 1;
static const int CNL_TCA_ACT_MAX = __TCA_ACT_MAX - 1;
static const int CNL_TCA_GACT_MAX = __TCA_GACT_MAX - 1;
static const int CNL_TCA_ACT_MAX_PRIO = TCA_ACT_MAX_PRIO;
static const int CNL_TC_ACT_OK = TC_ACT_OK;
static const int CNL_TC_ACT_SHOT = TC_ACT_SHOT;
static const int CNL_TC_ACT_TRAP = TC_ACT_TRAP;
static const unsigned int CNL_TCA_CLS_FLAGS_SKIP_HW = TCA_CLS_FLAGS_SKIP_HW;
static const int CNL_NLMSGERR_ATTR_MAX = __NLMSGERR_ATTR_MAX - 1;
static const int CNL_IFLA_TUN_TYPE = 1;  /* IFLA_TUN_TYPE inside IFLA_INFO_DATA of kind "tun" */
static const int CNL_IFLA_VF_INFO_MAX = __IFLA_VF_INFO_MAX - 1;
static const int CNL_IFLA_VF_MAX = __IFLA_VF_MAX - 1;
static const int CNL_DEVLINK_ATTR_MAX = __DEVLINK_ATTR_MAX - 1;
static const int CNL_GENL_HDRLEN = GENL_HDRLEN;
static const int CNL_DEVLINK_GENL_VERSION = DEVLINK_GENL_VERSION;
static const int CNL_NFTA_CHAIN_MAX = __NFTA_CHAIN_MAX - 1;
static const int CNL_NFTA_HOOK_MAX = __NFTA_HOOK_MAX - 1;
static const int CNL_NFTA_RULE_MAX = __NFTA_RULE_MAX - 1;
static const int CNL_NFNLGRP_NFTABLES = NFNLGRP_NFTABLES;

/* setns(2) is behind _GNU_SOURCE in glibc; call the system call directly. */
static inline int cnl_setns(int fd, int nstype) { return (int)syscall(SYS_setns, fd, nstype); }
static inline int cnl_errno(void) { return errno; }
static inline int cnl_nlmsg_hdrlen(void) { return NLMSG_HDRLEN; }
static inline int cnl_nla_hdrlen(void) { return NLA_HDRLEN; }
#endif
