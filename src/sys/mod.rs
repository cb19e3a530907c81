//! The kernel, reached from one place: network namespaces, packet sockets and their rings,
//! ICMP sockets, interface ioctls, netlink neighbours, process identities, xfrm states and
//! policies, the threads that do such work side by side, and the C library's malloc arenas. verify, trace, bench and the runtime build on these;
//! nothing here knows a lab.

pub mod icmp_socket;
pub mod ifreq;
pub mod malloc_arenas;
pub mod neigh;
pub mod neigh_device;
pub mod netns;
pub mod packet_ring;
pub mod packet_socket;
pub mod pid;
pub mod side_by_side;
pub mod tables;
pub mod tool;
pub mod wireguard;
pub mod xfrm;
