//! The command line's arguments: clap's types, their help, and the parsers of their values.

use crate::plan::encryption::Encryption;
use crate::plan::{Flavor, Mode, MAX_HOSTS, MAX_PODS_PER_HOST, MIN_HOSTS};
use crate::routing::Routing;
use crate::runtime::RuntimeKind;
use crate::services::{KubeProxy, ServicesSpec, TrafficPolicy};
use crate::underlay::Underlay;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const ABOUT: &str = "Build, deploy and verify the classic Kubernetes cross-node pod networks \
(host-gw, VXLAN, IPIP) as containerlab labs.";

const LONG_ABOUT: &str = "\
cnilab turns the three classic Kubernetes data planes into labs you can read, run and test:

  host-gw  plain routing: each host is the next hop for its pods' subnet (one L2 segment)
  vxlan    flannel style: pod frames in UDP/4789 VXLAN, VNI 1, across a routed underlay
  ipip     calico style: pod packets inside an outer IPv4 header (protocol 4)

A lab is a containerlab topology file. cnilab writes it (gen), brings it up in network
namespaces or through containerlab (deploy), and proves from captured packets that each pod
pair really talks the way the mode says (verify).";

const EXAMPLES: &str = "\
Examples:
  sudo cnilab up --mode vxlan --hosts 3        # gen + deploy + verify, lab stays up
  sudo ip netns exec clab-flannel-vxlan-pod1 ping -c1 172.16.1.2
  sudo cnilab verify --pcap out/               # again, keeping the captures
  sudo cnilab down
  cnilab inspect --all                         # every lab cnilab deployed, wherever its file is

  cnilab gen --mode ipip --hosts 3 -o ipip.yaml   # just the file, for containerlab";

#[derive(Debug, Parser)]
#[command(name = "cnilab", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct LabShape {
    /// The data plane to build.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// How many hosts (2–254).
    #[arg(long, value_name = "N", value_parser = hosts_in_range, allow_negative_numbers = true)]
    pub hosts: usize,
    /// Whose way of building the mode: article (default), flannel, calico or cilium.
    #[arg(long, value_enum, default_value = "article")]
    pub flavor: Flavor,
    /// How many pods each host carries.
    #[arg(long, value_name = "K", default_value = "1", value_parser = pods_in_range, allow_negative_numbers = true)]
    pub pods_per_host: usize,
    /// How the hosts are cabled (host-gw): flat (one switch, the default), routed (a router
    /// per host) or racks:R (R switches of hosts joined by routers). vxlan and ipip keep their
    /// own routed underlay; vxlan --flavor flannel or calico and ipip --flavor calico also take
    /// racks:R.
    #[arg(long, value_name = "UNDERLAY", value_parser = underlay_arg)]
    pub underlay: Option<Underlay>,
    /// Which IP families pods and hosts carry: ipv4 (the default), ipv6 (an IPv6-only lab on
    /// an IPv6 underlay) or dual (both). ipv6 and dual are built for host-gw and vxlan, article
    /// and flannel flavors, on their own underlays, for vxlan with --flavor calico
    /// (vxlan-v6.calico) on its own underlay, for host-gw on routed or racks:R with static
    /// routes or BGP, and for flannel's vxlan on racks:R.
    #[arg(long, value_enum, value_name = "FAMILY", default_value = "ipv4")]
    pub ip_family: crate::family::IpFamily,
    /// How pod routes cross the routers: static (host-gw's own routes, the default) or bgp
    /// (BIRD 2 on every host and router; needs --underlay routed or racks:R and -o FILE).
    #[arg(long, value_name = "ROUTING", default_value = "static")]
    pub routing: Routing,
    #[command(flatten)]
    pub hybrid: HybridArgs,
    /// Encrypt pod traffic between hosts: none (the default), wireguard (--mode host-gw with
    /// the article's own tunnel or --flavor flannel's wireguard backend, flat underlay; --mode
    /// vxlan --flavor calico, felix's wireguard.cali; --mode vxlan --flavor cilium, cilium_wg0)
    /// or ipsec (--mode vxlan --flavor cilium: Cilium's xfrm states and policies, ESP). Each
    /// host's private key or xfrm lines are written beside the topology, in
    /// LAB.cnilab/wireguard/ or LAB.cnilab/ipsec/.
    #[arg(long, value_enum, value_name = "ENCRYPTION", default_value = "none")]
    pub encryption: Encryption,
    /// The lab name (containerlab's `name:`); defaults to the article's name for the mode.
    #[arg(long, value_name = "LAB", value_parser = lab_name, allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Render from this folder's templates instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    #[command(flatten)]
    pub services: ServiceArgs,
}

/// `--services S` and how kube-proxy programs them (see docs/services.md).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ServiceArgs {
    /// Add S Services (ClusterIP, TCP and UDP, a NodePort on every host) and an `outside`
    /// machine on the underlay; kube-proxy's rules go beside the topology.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub services: usize,
    /// Which kube-proxy mode renders the Services' rules.
    #[arg(long, value_enum, default_value = "iptables", requires = "services")]
    pub kube_proxy: KubeProxy,
    /// The Services' externalTrafficPolicy.
    #[arg(long, value_enum, default_value = "cluster", requires = "services")]
    pub external_traffic_policy: TrafficPolicy,
    /// The range ClusterIPs come from (svc1 takes its .11).
    #[arg(
        long,
        value_name = "CIDR",
        default_value = "10.96.0.0/16",
        requires = "services"
    )]
    pub service_cidr: ipnet::Ipv4Net,
    /// The first Service's NodePort (30000–32767); the others follow it.
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 30001,
        requires = "services"
    )]
    pub node_port: u16,
    /// How many pods each Service selects, spread over the hosts.
    #[arg(long, value_name = "E", default_value_t = 2, requires = "services")]
    pub endpoints: usize,
}

impl ServiceArgs {
    pub fn spec(&self) -> ServicesSpec {
        ServicesSpec {
            count: self.services,
            kube_proxy: self.kube_proxy,
            policy: self.external_traffic_policy,
            cidr: self.service_cidr,
            node_port: self.node_port,
            endpoints: self.endpoints,
        }
    }
}

/// The hybrid modes, which pick plain or tunnel per pair of hosts; gen and up share them.
/// They need --mode, which `up -t FILE` does not take.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct HybridArgs {
    /// flannel's DirectRouting (--mode vxlan --flavor flannel --underlay racks:R only): a peer
    /// on the host's own subnet (its rack) is routed plain, via the peer; the rest go in VXLAN.
    #[arg(long, requires = "mode")]
    pub direct_routing: bool,
    /// Calico's CrossSubnet (--flavor calico --underlay racks:R, with --mode vxlan or ipip):
    /// the same plain routes to peers on the host's subnet; the rest go in the mode's tunnel.
    #[arg(long, requires = "mode")]
    pub cross_subnet: bool,
}

/// How the netns runtime runs exec lines.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Kill an exec line that runs longer than SECONDS and fail the deploy (netns runtime).
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub exec_timeout: u64,
    /// Run exec lines as root on the host, not in each node's sandbox (netns runtime). Only for
    /// a topology file you trust: its lines can then change anything on this machine.
    #[arg(long)]
    pub exec_on_host: bool,
}

#[derive(Debug, clap::Args)]
pub struct TopologyArg {
    /// The containerlab topology file.
    #[arg(
        short = 't',
        long = "topo",
        value_name = "FILE",
        default_value = "clab.yaml"
    )]
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a containerlab topology for a mode and a number of hosts.
    #[command(after_help = "\
Examples:
  cnilab gen --mode host-gw --hosts 2              # the article's host-gw lab, in ./clab.yaml
  cnilab gen --mode vxlan --hosts 8 -o vxlan8.yaml
  cnilab gen --mode ipip --hosts 3 -o -            # to standard output
  cnilab gen --mode vxlan --flavor flannel --hosts 4   # what flannel's vxlan backend programs
  cnilab gen --mode ipip --flavor calico --hosts 3 --pods-per-host 3
  cnilab gen --mode host-gw --underlay routed --hosts 2   # the article's failure: a router between the hosts
  cnilab gen --mode host-gw --underlay racks:2 --hosts 4  # two L2 racks of two hosts, joined by routers
  cnilab gen --mode host-gw --underlay routed --routing bgp --hosts 4 -o bgp.yaml  # BIRD 2 carries the pod routes
  cnilab gen --mode vxlan --flavor flannel --direct-routing --underlay racks:2 --hosts 4  # plain within a rack, VXLAN across
  cnilab gen --mode vxlan --flavor calico --cross-subnet --underlay racks:2 --hosts 4     # Calico's VXLAN CrossSubnet
  cnilab gen --mode ipip --flavor calico --cross-subnet --underlay racks:2 --hosts 4      # Calico's IPIP CrossSubnet

The file describes itself through cnilab.* node labels, which `cnilab verify` reads back.
An existing file is only replaced if cnilab wrote it, unless --force is given. Never replaced,
even with --force: anything but a regular file (a device, a fifo, a symlink), and the file of a
lab that is up.")]
    Gen {
        #[command(flatten)]
        shape: LabShape,
        /// Where to write the topology; `-` for standard output.
        #[arg(short, long, value_name = "PATH", default_value = "clab.yaml")]
        output: PathBuf,
        /// Overwrite PATH even if cnilab did not write it.
        #[arg(long)]
        force: bool,
    },
    /// Bring a lab up.
    #[command(after_help = "\
Examples:
  sudo cnilab deploy                               # the lab in ./clab.yaml, in network namespaces
  sudo cnilab deploy -t vxlan8.yaml
  sudo cnilab deploy -t ipip.yaml --runtime containerlab
  sudo cnilab deploy -t vxlan254.yaml --raise-neigh-limits

A lab that is already up, half made or left by something else is refused, with the command
that fixes it. A deploy and a destroy of one lab never run at once: the second waits for the
first and says so. A deploy records its PID, so `cnilab inspect` tells a deploy still running
from one that was killed; `cnilab destroy` removes what a killed one left.

The netns runtime makes one network namespace per node, named as containerlab names its
containers (clab-<lab>-<node>), so `ip netns exec clab-<lab>-pod1 ...` works on both runtimes.
It runs each exec line without a shell, like containerlab, but a failing line fails the deploy
and everything made so far is removed again.

Exec lines run contained, as in a container: the host's files read-only, private /tmp and /run,
a PID namespace per node, and only the network capabilities. A line that runs longer than
--exec-timeout is killed and fails the deploy.

Examples:
  cnilab deploy -t clab.yaml
  cnilab deploy -t slow.yaml --exec-timeout 300   # lines that legitimately take minutes
  cnilab deploy -t mine.yaml --exec-on-host       # a file you trust, lines run on the host")]
    Deploy {
        #[command(flatten)]
        topo: TopologyArg,
        /// Which runtime brings the lab up.
        #[arg(long, value_enum, default_value = "netns")]
        runtime: RuntimeKind,
        /// Run every exec line as its own process, as containerlab does (benchmark baseline).
        #[arg(long, hide = true)]
        exec_per_line: bool,
        /// Raise the kernel's neighbour-table cap (net.ipv4.neigh.default.gc_thresh2/3, and
        /// net.ipv6's for a lab with IPv6) if the lab needs more; the old values come back when
        /// the last lab is destroyed.
        #[arg(long)]
        raise_neigh_limits: bool,
        #[command(flatten)]
        exec: ExecArgs,
    },
    /// Tear a lab down; safe to run twice.
    #[command(
        visible_alias = "down",
        after_help = "\
Examples:
  sudo cnilab down                                 # the lab in ./clab.yaml
  sudo cnilab destroy -t vxlan8.yaml
  sudo cnilab destroy --name flannel-vxlan         # by name, even if its file is gone
  sudo cnilab destroy --all                        # every lab cnilab deployed

A deploy of the lab in progress is waited for. A verify, trace or bench running on the lab is
stopped first: it exits 2 with \"the lab was destroyed while verifying\" (tracing, benching).
After a deploy that was killed half-way, destroy removes every namespace and process of the lab.

`cnilab inspect --all` lists the labs cnilab deployed."
    )]
    Destroy {
        #[command(flatten)]
        topo: TopologyArg,
        /// Destroy the lab cnilab recorded under this name, without its file.
        #[arg(long, value_name = "LAB", value_parser = lab_name, conflicts_with = "file")]
        name: Option<String>,
        /// Destroy every lab cnilab recorded.
        #[arg(long, conflicts_with_all = ["file", "name"])]
        all: bool,
        /// Force a runtime; by default the one that deployed the lab.
        #[arg(long, value_enum, conflicts_with_all = ["name", "all"])]
        runtime: Option<RuntimeKind>,
    },
    /// List a lab's nodes, their roles, addresses and state; or every lab with --all.
    #[command(after_help = "\
Examples:
  cnilab inspect                                   # the lab in ./clab.yaml
  cnilab inspect -t vxlan8.yaml --json
  cnilab inspect --all                             # every lab cnilab deployed, from any folder")]
    Inspect {
        #[command(flatten)]
        topo: TopologyArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List every lab cnilab recorded: name, runtime, nodes, state and file.
        #[arg(long, conflicts_with = "file")]
        all: bool,
    },
    /// Ping every pod from every other pod and prove the packets on the wire look as the mode says.
    #[command(after_help = "\
By default verify starts cold: it flushes what the lab's nodes learnt from traffic
(dynamic neighbours, learned FDB entries, bridge MACs; never permanent entries) and
probes in phases in which no host both sends and receives, so each direction is
proven on its own configuration.

Examples:
  sudo cnilab verify                               # the lab in ./clab.yaml
  sudo cnilab verify -t vxlan8.yaml --json         # for CI
  sudo cnilab verify --failed-only                 # only what failed
  sudo cnilab verify --warm                        # quick pass over a warm lab
  sudo cnilab verify --max-loss 10                 # allow 1 lost steady-state ping in 13
  sudo cnilab verify --pcap out/                   # one pcap per capture point, and out/lab.pcapng
  sudo cnilab verify --proto icmp,tcp              # no UDP probes (default: icmp,tcp,udp)
  sudo cnilab verify --html report.html --junit junit.xml   # a page to look at, JUnit for CI
  sudo cnilab verify --no-wait                     # exit 2 if another run holds the lab

One verify, trace or bench runs on a lab at a time: a second one waits for the first and says
so once (\"waiting for verify (pid N) on lab LAB\"), or with --no-wait exits 2 at once, naming
it. A destroy of the lab ends verify within seconds, with exit 2 and \"the lab was destroyed
while verifying\".

Exit codes: 0 every pair passed, 1 some pair failed, 2 usage or environment error
(for example a lab that is not deployed, destroyed during the run, or busy with --no-wait).")]
    Verify {
        #[command(flatten)]
        topo: TopologyArg,
        #[command(flatten)]
        verify: VerifyArgs,
    },
    /// Generate (or take -t FILE), deploy and verify in one go; the lab stays up.
    #[command(after_help = "\
Examples:
  sudo cnilab up --mode vxlan --hosts 3            # writes ./clab.yaml, deploys, verifies
  sudo cnilab up --mode ipip --hosts 3 -o ipip.yaml --templates mine/
  sudo cnilab up --mode vxlan --flavor flannel --direct-routing --underlay racks:2 --hosts 4
  sudo cnilab up --mode ipip --flavor calico --cross-subnet --underlay racks:2 --hosts 4 -o xs.yaml
  sudo cnilab up -t vxlan8.yaml                    # an existing file

The lab stays up: `sudo cnilab down` removes it.")]
    Up(UpArgs),
    /// Write a copy of a lab file without cnilab labels (the article's, or one built by hand)
    /// with the labels cnilab infers from its links and exec lines.
    #[command(after_help = "\
Examples:
  cnilab label -t vxlan.clab.yaml -o vxlan.labelled.yaml   # then read it, fix what is wrong
  cnilab label -t host-gw.clab.yaml                        # to standard output

Every line of the file is kept; each node gains a `labels:` block (cnilab.role, cnilab.mode,
addresses, the tunnel). verify infers the same plan without it; with it, verify reads the
labels, so a plan cnilab got wrong can be put right. Refused (exit 2) when the file carries
cnilab labels already, or when its plan cannot be inferred: the message names the node.")]
    Label {
        #[command(flatten)]
        topo: TopologyArg,
        /// Where to write the labelled copy; `-` for standard output.
        #[arg(short, long, value_name = "PATH", default_value = "-")]
        output: PathBuf,
        /// Overwrite PATH if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Write the built-in templates into a folder, to edit and use with --templates.
    #[command(after_help = "\
Examples:
  cnilab templates --export mine/                  # then edit mine/vxlan.yaml.j2
  cnilab gen --mode vxlan --hosts 3 --templates mine/")]
    Templates {
        /// The folder to write them into; made if missing.
        #[arg(long, value_name = "DIR")]
        export: PathBuf,
        /// Overwrite template files already in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Draw the lab from its topology file: hosts with their pods, routers, links, tunnels.
    #[command(after_help = "\
Examples:
  cnilab graph -t clab.yaml -o lab.svg             # SVG, drawn by cnilab itself
  cnilab graph --format mermaid                    # paste into GitHub markdown
  cnilab graph --format dot | dot -Tpng > lab.png  # Graphviz, if you have it

Only the file is read (its links and cnilab.* labels); the lab need not be deployed.")]
    Graph {
        #[command(flatten)]
        topo: TopologyArg,
        /// What to draw in.
        #[arg(long, value_enum, default_value = "svg")]
        format: crate::graph::Format,
        /// Where to write the drawing; `-` for standard output.
        #[arg(short, long, value_name = "PATH", default_value = "-")]
        output: PathBuf,
    },
    /// Follow one probe from pod to pod through every interface of the lab, with the rule that moved it.
    #[command(after_help = "\
Examples:
  sudo cnilab trace pod1 pod2                      # the walk, hop by hop
  sudo cnilab trace --cold pod1 172.16.1.2         # flush ARP/FDB first: the walk shows ARP
  sudo cnilab trace pod1 pod2 --pcap out/          # also the frames, as out/trace.pcapng
  sudo cnilab trace pod1 pod2 --format mermaid     # the walk as a sequence diagram
  sudo cnilab trace pod1 pod2 --family ipv6        # dual-stack lab: an ICMPv6 echo, NDP, ip -6 route
  sudo cnilab trace pod1 fd00:172:16:1::2          # the same: TO's IPv6 address picks IPv6

FROM and TO are pod names or pod addresses. In a dual-stack lab the walk is IPv4 unless
--family ipv6 or a pod's IPv6 address asks for IPv6; a lab without IPv6 (not made with
`gen --ip-family dual` or `ipv6`) refuses an IPv6 walk with exit 2. Every frame carries the
kernel's capture time; the walk is in that order. Like verify, trace waits for a verify, trace
or bench running on the lab (--no-wait: exit 2 at once, naming it), and ends with exit 2 if the
lab is destroyed under it. Exit codes: 0 the reply came back, 1 the walk stopped (trace says
where, and what that node lacked), 2 usage or environment error.")]
    Trace {
        #[command(flatten)]
        topo: TopologyArg,
        /// The pod that sends the probe (name or address).
        from: String,
        /// The pod it is sent to (name or address).
        to: String,
        /// The family to walk in a dual-stack lab. Default: the family of FROM's or TO's
        /// address where one is given as an address, else ipv4 (ipv6 in an ipv6-only lab).
        #[arg(long, value_enum, value_name = "FAMILY")]
        family: Option<crate::family::Family>,
        /// First flush the neighbour and FDB entries every node learned, so the walk shows ARP.
        #[arg(long)]
        cold: bool,
        /// Print the walk as JSON.
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Write the captured frames into DIR (one pcapng, one interface per capture point).
        #[arg(long, value_name = "DIR")]
        pcap: Option<PathBuf>,
        /// How to print the walk.
        #[arg(long, value_enum, default_value = "text")]
        format: crate::trace::Format,
        #[command(flatten)]
        converge: ConvergeArg,
        /// If another verify, trace or bench is running on the lab, exit 2 at once, naming
        /// it, instead of waiting for it to finish.
        #[arg(long)]
        no_wait: bool,
    },
    /// Measure what each data plane costs: throughput, latency, CPU and bytes on the wire.
    #[command(after_help = BENCH_HELP)]
    Bench(BenchArgs),
    /// Print shell completions.
    #[command(after_help = "\
Examples:
  cnilab completions bash > /etc/bash_completion.d/cnilab
  cnilab completions zsh > ~/.zfunc/_cnilab")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn hosts_in_range(text: &str) -> Result<usize, String> {
    let range = format!("a whole number from {MIN_HOSTS} to {MAX_HOSTS}");
    match text.parse::<usize>() {
        Ok(n) if (MIN_HOSTS..=MAX_HOSTS).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range: expected {range}")),
        Err(_) => Err(format!("expected {range}")),
    }
}

fn underlay_arg(text: &str) -> Result<Underlay, String> {
    text.parse()
        .map_err(|e: crate::underlay::UnderlayError| e.to_string())
}

fn pods_in_range(text: &str) -> Result<usize, String> {
    let range = format!("a whole number from 1 to {MAX_PODS_PER_HOST}");
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_PODS_PER_HOST).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is out of range: expected {range}")),
        Err(_) => Err(format!("expected {range}")),
    }
}

fn lab_name(text: &str) -> Result<String, String> {
    if crate::topology::valid_name(text) {
        Ok(text.to_string())
    } else {
        Err("use up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit".into())
    }
}

const BENCH_HELP: &str = "\
For each mode and flavor, bench deploys a lab of 2 hosts with 2 pods each on the netns runtime, measures
it and destroys it again (on Ctrl-C too). It measures three paths in every lab: host to host on
the underlay (the baseline every ratio is taken against), pod to pod on one host (no underlay),
and pod to pod across hosts through the mode's data plane. Each figure is the median of --repeat runs:
TCP throughput with 1 and --streams streams and CPU seconds per gigabit (iperf3, sender plus
receiver process), ICMP and TCP request/response round trips, and from a short capture the
bytes each packet carries for the overlay, the MSS, and wire bytes per payload byte.

These are kernel-path figures on veths, not NIC figures. Needs root, iperf3 and ethtool.
With --flavors each mode is also built the way flannel, Calico or Cilium build it, a lab of
its own each. Without --modes, each flavor runs in every mode that has it; with --modes, every
mode named must have every flavor named (`cnilab gen --help` lists them), or bench stops (exit 2).

Examples:
  sudo cnilab bench --modes host-gw,vxlan                  # 5 s per figure, median of 3
  sudo cnilab bench --duration 2 --repeat 5 --plot bench.svg
  sudo cnilab bench --modes vxlan --offload off --json     # checksum/segmentation offload off
  sudo cnilab bench --modes vxlan --flavors article,flannel,calico,cilium
  sudo cnilab bench --flavors article,flannel,calico      # each in every mode that has it
  sudo cnilab bench --modes host-gw,vxlan --ip-family dual # every path in IPv4 and IPv6
  sudo cnilab bench --modes vxlan --ip-family ipv6         # VXLAN over IPv6: 70 B a packet
  sudo cnilab bench -t clab.yaml                           # a lab you deployed; left up

With -t, bench waits for a verify, trace or bench running on the lab (--no-wait: exit 2 at
once). A destroy of a lab being measured ends the bench within seconds, with exit 2.

Exit codes: 0 measured, 1 a measurement failed, 2 usage or environment (e.g. no iperf3),
130 interrupted (labs destroyed).";

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub converge: ConvergeArg,
    /// The data planes to compare, comma-separated [default: host-gw,vxlan,ipip, or those
    /// that have the --flavors named] (ipip needs a kernel with IPIP).
    #[arg(
        long,
        visible_alias = "mode",
        value_enum,
        value_delimiter = ',',
        conflicts_with = "file"
    )]
    pub modes: Vec<Mode>,
    /// Whose way of building each mode, comma-separated [default: article]; each a lab of its own.
    #[arg(
        long,
        visible_alias = "flavor",
        value_enum,
        value_delimiter = ',',
        conflicts_with = "file"
    )]
    pub flavors: Vec<Flavor>,
    /// wireguard or ipsec: bench each lab twice, in the clear and with its pod traffic sealed
    /// between hosts (as `gen --encryption` builds it: WireGuard, or Cilium's ESP for
    /// `--modes vxlan --flavors cilium`), and report what the sealing costs: throughput, round
    /// trips, CPU per gigabit and bytes per packet.
    #[arg(
        long,
        value_enum,
        value_name = "ENCRYPTION",
        default_value = "none",
        conflicts_with = "file"
    )]
    pub encryption: Encryption,
    /// dual: each lab carries IPv4 and IPv6 (as `gen --ip-family dual` builds it), and every
    /// path is measured in both families; ipv6: in IPv6 alone, over an IPv6-only underlay.
    #[arg(
        long,
        value_enum,
        value_name = "FAMILY",
        default_value = "ipv4",
        conflicts_with = "file"
    )]
    pub ip_family: crate::family::IpFamily,
    /// Bench the lab in this file, already deployed, instead of deploying one per mode.
    #[arg(short = 't', long = "topo", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Seconds per throughput run (and the budget of each request/response run).
    #[arg(long, value_name = "S", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub duration: u32,
    /// Runs per figure; the report gives their median and spread.
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Parallel streams for the multi-stream throughput figure.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=64))]
    pub streams: u32,
    /// `off` turns checksum and segmentation offload off on every lab interface first.
    #[arg(long, value_enum, default_value = "on")]
    pub offload: OffloadArg,
    /// Labs are named PREFIX-MODE, PREFIX-MODE-FLAVOR for flavors but the article, and
    /// -wireguard after that for a sealed lab.
    #[arg(long, value_name = "PREFIX", default_value = "cnilab-bench", value_parser = lab_name)]
    pub name: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also draw a grouped bar chart; SVG or PNG by the extension.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// With -t FILE: if another verify, trace or bench is running on the lab, exit 2 at once,
    /// naming it, instead of waiting for it to finish.
    #[arg(long, requires = "file")]
    pub no_wait: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OffloadArg {
    /// Leave offloads as the kernel sets them on veths.
    On,
    /// Turn checksum and segmentation offload off.
    Off,
}

/// How long a command that probes waits for a BGP lab's routing.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ConvergeArg {
    /// With --routing bgp: how long to wait for every BGP session and pod route before
    /// probing; past it, the command names what is missing and exits 1. A BIRD that is not
    /// running is named at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub converge_timeout: u64,
}

impl ConvergeArg {
    pub fn timeout(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.converge_timeout)
    }
}

/// What `verify` and `up` take to probe a lab and show the report.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Print the verify report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub converge: ConvergeArg,
    /// Write one pcap file per capture point into DIR, and DIR/lab.pcapng with every point as
    /// an interface `node:interface`, frames in time order, probe frames commented.
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// Skip the cold start: probe every pair at once on what the lab has learnt. Faster, but a
    /// fault that reverse or third-party traffic heals can pass; the report says so.
    #[arg(long)]
    pub warm: bool,
    /// Print only the pairs and findings that failed, and the summary.
    #[arg(long)]
    pub failed_only: bool,
    /// The share of a pair's 13 steady-state pings, in percent, it may lose and still pass.
    /// By default any loss after the first contact fails the pair ("lost K of M").
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0, value_parser = percent)]
    pub max_loss: f64,
    /// Which pod pairs to probe: every ordered pair, or one per ordered host pair (plus one
    /// same-host pair per host with several pods); the summary says which was done.
    #[arg(long, value_enum, default_value = "all")]
    pub pairs: crate::verify::PairChoice,
    /// The probes each pair gets, comma-separated. ICMP (the first contact, the full-size
    /// probe and the steady-state pings) is always sent; TCP connects to and UDP sends a
    /// datagram to a listener verify runs on port 47277 in the destination pod, so a network
    /// that forwards ICMP and rejects TCP fails. E.g. `--proto icmp` for pings only.
    #[arg(
        long,
        value_name = "PROTOS",
        value_delimiter = ',',
        default_value = "icmp,tcp,udp",
        value_parser = proto_list
    )]
    pub proto: Vec<ProbeProto>,
    /// Each capture point's ring, in KiB (default: 128, or 256 with --pcap). A smaller ring
    /// holds less memory on a large lab; frames it cannot hold are counted as capture drops
    /// and never blamed on the lab, so a tiny ring also shows how verify reports them.
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u32).range(4..=65536))]
    pub capture_ring_kib: Option<u32>,
    /// Fail on warnings too: what the lab does other than its plan (a summary route in place
    /// of a pod route, say) or works by luck (forwarding a host inherited, a pod MTU above its
    /// tunnel's), where every probe still had the right shape on the wire.
    #[arg(long)]
    pub strict: bool,
    /// Also write the report as one self-contained HTML page to FILE (no external scripts,
    /// fonts or styles; it opens from disk): the summary, findings and notes, the pair matrix
    /// (senders as rows, receivers as columns, each cell coloured by verdict; hover or click
    /// one for its wire, RTT, loss, reasons and the pcap files to open) and the lab's graph
    /// with the failing pairs marked. FILE is replaced.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the verdicts as JUnit XML to FILE, for CI test views (GitHub, GitLab,
    /// Jenkins): one test suite per address family (ipv4), one test case per pair named
    /// `FROM -> TO` whose failure carries every reason, expected failures as skipped, and the
    /// lab, mode, flavor and host count as properties. FILE is replaced.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// If another verify, trace or bench is running on the lab, exit 2 at once, naming it,
    /// instead of waiting for it to finish.
    #[arg(long)]
    pub no_wait: bool,
}

/// A probe protocol `--proto` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeProto {
    Icmp,
    Tcp,
    Udp,
}

fn proto_list(text: &str) -> Result<ProbeProto, String> {
    use clap::ValueEnum;
    ProbeProto::from_str(text, true)
        .map_err(|_| format!("`{text}` is not a probe protocol: use icmp, tcp or udp"))
}

fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}

/// What `up` takes: a lab to generate (as gen), or -t FILE, then how to deploy and verify it.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The data plane to build (with --hosts), unless -t names an existing file.
    #[arg(long, value_enum, requires = "hosts", conflicts_with = "file")]
    pub mode: Option<Mode>,
    /// How many hosts, each with one pod (2–254).
    #[arg(
        long,
        value_name = "N",
        value_parser = hosts_in_range,
        allow_negative_numbers = true,
        requires = "mode"
    )]
    pub hosts: Option<usize>,
    /// Whose way of building the mode: article (default), flannel, calico or cilium.
    #[arg(long, value_enum, requires = "mode")]
    pub flavor: Option<Flavor>,
    /// How many pods each host carries (default 1).
    #[arg(long, value_name = "K", value_parser = pods_in_range, allow_negative_numbers = true, requires = "mode")]
    pub pods_per_host: Option<usize>,
    /// How the hosts are cabled: flat (default), routed or racks:R for host-gw; racks:R also
    /// for vxlan --flavor flannel or calico and ipip --flavor calico (see `gen --help`).
    #[arg(long, value_name = "UNDERLAY", value_parser = underlay_arg, requires = "mode")]
    pub underlay: Option<Underlay>,
    /// How pod routes cross the routers: static (default) or bgp (BIRD 2).
    #[arg(long, value_name = "ROUTING", requires = "mode")]
    pub routing: Option<Routing>,
    #[command(flatten)]
    pub hybrid: HybridArgs,
    /// Encrypt pod traffic between hosts: none (default) or wireguard (see `gen --help`).
    #[arg(long, value_enum, value_name = "ENCRYPTION", requires = "mode")]
    pub encryption: Option<Encryption>,
    /// The lab name; defaults to the article's name for the mode.
    #[arg(long, value_name = "LAB", value_parser = lab_name, allow_hyphen_values = true, requires = "mode")]
    pub name: Option<String>,
    /// Render from this folder's templates instead of the built-in ones.
    #[arg(long, value_name = "DIR", requires = "mode")]
    pub templates: Option<PathBuf>,
    #[command(flatten)]
    pub services: ServiceArgs,
    /// Deploy this existing topology file instead of generating one.
    #[arg(short = 't', long = "topo", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Where the generated topology is written.
    #[arg(
        short,
        long,
        value_name = "PATH",
        default_value = "clab.yaml",
        conflicts_with = "file"
    )]
    pub output: PathBuf,
    /// Overwrite PATH even if cnilab did not write it.
    #[arg(long, conflicts_with = "file")]
    pub force: bool,
    /// Which runtime brings the lab up.
    #[arg(long, value_enum, default_value = "netns")]
    pub runtime: RuntimeKind,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub verify: VerifyArgs,
}
