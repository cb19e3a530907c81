//! A packet socket's receive ring (PACKET_RX_RING, TPACKET_V3): the kernel writes frames into
//! blocks of memory it shares with cnilab and hands over a whole block at a time, so reading
//! costs no system call and no wakeup per frame. With a busy lab that is the difference
//! between one wakeup for every frame at every capture point and one per block.
//!
//! The layout is the kernel's (`Documentation/networking/packet_mmap.rst`): a block starts
//! with a `tpacket_block_desc`; the kernel owns it until it sets `TP_STATUS_USER` in the
//! block's status, and owns it again once cnilab writes `TP_STATUS_KERNEL` back. Frames in a
//! block are a chain of `tpacket3_hdr`, each followed by its `sockaddr_ll` and its bytes.
//!
//! No kept crate fits here: `af_packet` (GPL-3.0, unmaintained) opens its own socket outside
//! any namespace and takes no BPF program, and pcap's ring needs libpcap and its filter
//! language, where verify builds its classic BPF program itself.

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use nix::sys::socket::setsockopt;
use nix::{setsockopt_impl, sockopt_impl};
use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How a ring is cut: `blocks` blocks of `block` bytes (a multiple of the page size). A frame
/// longer than a block less its headers is cut to fit; its length on the wire is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSize {
    pub block: u32,
    pub blocks: u32,
    /// The kernel hands over a block that holds frames at the latest when this timer fires,
    /// full or not.
    pub retire_ms: u32,
}

impl RingSize {
    /// For verify's probes: small frames (the capture keeps 256 bytes of each, so a block
    /// holds over a hundred), at up to a thousand points at once, so memory per point matters
    /// more than room for bursts: 128 KiB, 127 MB at 254 hosts.
    pub const PROBES: RingSize = RingSize {
        block: 32 << 10,
        blocks: 4,
        retire_ms: 50,
    };
    /// For verify with `--pcap`, which keeps whole frames (a full-size probe takes 1.5 KiB).
    pub const PROBES_WHOLE: RingSize = RingSize {
        block: 32 << 10,
        blocks: 8,
        retire_ms: 50,
    };
    /// For whatever a wire carries, at a few points (trace).
    pub const WIRE: RingSize = RingSize {
        block: 128 << 10,
        blocks: 16,
        retire_ms: 5,
    };
    /// For one point under a flow at full speed (bench), with 64 KiB GSO frames.
    pub const BULK: RingSize = RingSize {
        block: 256 << 10,
        blocks: 64,
        retire_ms: 5,
    };

    /// A ring of about `bytes` in one-page blocks, at least one: what a user asks for with
    /// verify's `--capture-ring-kib`, and what tests use to make the kernel drop frames.
    pub fn sized(bytes: usize) -> RingSize {
        RingSize {
            block: page_size() as u32,
            blocks: (bytes / page_size()).max(1) as u32,
            retire_ms: 5,
        }
    }

    fn bytes(&self) -> usize {
        self.block as usize * self.blocks as usize
    }

    /// How long a partly filled block may stay with the kernel: once stopping, a reader waits
    /// this long before it concludes nothing more is coming.
    pub fn retire(&self) -> Duration {
        Duration::from_millis(u64::from(self.retire_ms))
    }
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize)
}

sockopt_impl!(
    /// PACKET_VERSION, set to TPACKET_V3 before the ring is made.
    PacketVersion,
    SetOnly,
    libc::SOL_PACKET,
    libc::PACKET_VERSION,
    libc::c_int
);
sockopt_impl!(
    /// PACKET_RX_RING with a version 3 request.
    RxRing,
    SetOnly,
    libc::SOL_PACKET,
    libc::PACKET_RX_RING,
    libc::tpacket_req3
);

/// A ring mapped into cnilab's memory; unmapped on drop.
pub struct Ring {
    base: NonNull<c_void>,
    size: RingSize,
    /// The next block to look at: the kernel fills blocks in order. Held while blocks are
    /// read, so two threads draining one ring take turns.
    next: Mutex<u32>,
}

// SAFETY: the mapping belongs to this Ring alone; blocks are shared only with the kernel,
// through the status word the protocol defines.
unsafe impl Send for Ring {}
// SAFETY: user space touches a block only in `drain`, under the `next` lock, so no two
// threads read or release the same block.
unsafe impl Sync for Ring {}

/// One frame as the ring holds it.
pub struct RingFrame<'a> {
    pub ts: Duration,
    pub pkttype: u8,
    pub hatype: u16,
    pub data: &'a [u8],
    pub wire_len: usize,
}

impl Ring {
    /// Makes a version 3 ring on `socket` and maps it. Call before binding, so no frame is
    /// queued the old way first.
    pub fn attach(socket: BorrowedFd<'_>, size: RingSize) -> nix::Result<Ring> {
        setsockopt(
            &socket,
            PacketVersion,
            &(libc::tpacket_versions::TPACKET_V3 as _),
        )?;
        let frame = 2048u32;
        let request = libc::tpacket_req3 {
            tp_block_size: size.block,
            tp_block_nr: size.blocks,
            tp_frame_size: frame,
            tp_frame_nr: (size.bytes() / frame as usize) as u32,
            tp_retire_blk_tov: size.retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&socket, RxRing, &request)?;
        let len = NonZeroUsize::new(size.bytes()).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a fresh shared mapping of the socket's ring, of the ring's exact size.
        let base = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                socket,
                0,
            )?
        };
        Ok(Ring {
            base,
            size,
            next: Mutex::new(0),
        })
    }

    pub fn size(&self) -> RingSize {
        self.size
    }

    /// Hands every frame of every block the kernel has passed over to `on_frame`, in order,
    /// and gives the blocks back; returns how many blocks were read.
    pub fn drain(&self, mut on_frame: impl FnMut(RingFrame<'_>)) -> usize {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let mut read = 0;
        while let Some(block) = self.ready_block(*next) {
            walk_block(block, self.size.block as usize, &mut on_frame);
            release(block);
            *next = (*next + 1) % self.size.blocks;
            read += 1;
            if read == self.size.blocks as usize {
                break;
            }
        }
        read
    }

    fn ready_block(&self, next: u32) -> Option<*mut libc::tpacket_block_desc> {
        let offset = next as usize * self.size.block as usize;
        // SAFETY: `offset` is the start of a block inside the mapping.
        let block = unsafe { self.base.as_ptr().cast::<u8>().add(offset) }
            .cast::<libc::tpacket_block_desc>();
        // SAFETY: the status word is inside the block descriptor; the kernel writes it, so it
        // is read as volatile, and the acquire fence orders the frames' reads after it.
        let status = unsafe { std::ptr::addr_of!((*block).hdr.bh1.block_status).read_volatile() };
        (status & libc::TP_STATUS_USER != 0).then(|| {
            fence(Ordering::Acquire);
            block
        })
    }
}

/// Walks the frames of a block the kernel has handed over.
fn walk_block(
    block: *mut libc::tpacket_block_desc,
    block_len: usize,
    on_frame: &mut impl FnMut(RingFrame<'_>),
) {
    // SAFETY: the kernel handed the block over (TP_STATUS_USER), so its descriptor and
    // frames stay put until `release`; every offset the kernel wrote is checked against the
    // block's length before it is followed.
    unsafe {
        let header = &(*block).hdr.bh1;
        let (count, mut offset) = (header.num_pkts, header.offset_to_first_pkt as usize);
        let start = block.cast::<u8>();
        for _ in 0..count {
            if offset + std::mem::size_of::<libc::tpacket3_hdr>() > block_len {
                return;
            }
            let frame = &*start.add(offset).cast::<libc::tpacket3_hdr>();
            let ll = &*start
                .add(offset + libc::TPACKET_ALIGN(std::mem::size_of::<libc::tpacket3_hdr>()))
                .cast::<libc::sockaddr_ll>();
            let data_at = offset + usize::from(frame.tp_mac);
            let len = (frame.tp_snaplen as usize).min(block_len.saturating_sub(data_at));
            on_frame(RingFrame {
                ts: Duration::new(u64::from(frame.tp_sec), frame.tp_nsec),
                pkttype: ll.sll_pkttype,
                hatype: ll.sll_hatype,
                data: std::slice::from_raw_parts(start.add(data_at), len),
                wire_len: frame.tp_len as usize,
            });
            offset += frame.tp_next_offset as usize;
        }
    }
}

/// Gives a block back to the kernel, after every read of its frames.
fn release(block: *mut libc::tpacket_block_desc) {
    fence(Ordering::Release);
    // SAFETY: the block is ours until this write, which hands it back.
    unsafe {
        std::ptr::addr_of_mut!((*block).hdr.bh1.block_status).write_volatile(libc::TP_STATUS_KERNEL)
    };
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `attach`, of that size, unmapped once.
        let _ = unsafe { munmap(self.base, self.size.bytes()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_ring_is_whole_pages_and_never_empty() {
        let page = page_size() as u32;
        assert_eq!(RingSize::sized(1).blocks, 1);
        assert_eq!(RingSize::sized(1).block, page);
        assert_eq!(RingSize::sized(3 * page as usize).blocks, 3);
    }

    #[test]
    fn ring_sizes_are_whole_pages() {
        for size in [
            RingSize::PROBES,
            RingSize::PROBES_WHOLE,
            RingSize::WIRE,
            RingSize::BULK,
        ] {
            assert_eq!(size.block as usize % page_size(), 0);
            assert!(size.blocks > 0);
        }
    }
}
