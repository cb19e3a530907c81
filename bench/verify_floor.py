#!/usr/bin/env python3
"""The floor for a cold verify of a deployed VXLAN or host-gw lab: the traffic its proof needs,
sent by fping with nothing captured, dissected or judged.

The lab's routers get static entries for their peers, as verify teaches them. Then, phase by
phase in verify's own schedule (each host gets a distinct code of k bits with ⌊k/2⌋ ones;
phase i sends from the hosts whose bit i is set to those whose bit i is clear), the hosts and
pods forget what they learnt, and every sending pod of the phase, all at once, pings its
receivers: once (the first contact, which floods an ARP to every peer VTEP), then 13 times
(steady state). In a flavor whose hosts program their peers' VTEPs statically (flannel's,
Calico's and Cilium's VXLAN) the flush keeps those permanent entries and a first contact
floods nothing, and in host-gw a first contact's one broadcast is the ARP for its next hop: the
same script is then that lab's floor, nearly all of it steady pings. Only the pings are timed:
verify flushes over rtnetlink, this script through a process per namespace, and that cost is
not the kernel's. fping enters each pod's network namespace through nsenter, which sets up no
mounts.

After the steady pings each sending pod gives every receiver the rest of what verify's proof
sends a pair: the full-size probe (fping at the pod's MTU with DF set) and the TCP and UDP probes
(bench/transport_floor.rs, a listener in every pod and a sender per sending pod: a connection
with an 18-byte echo ended by a reset, and one echoed datagram). Without them the floor left out
about a fifth of the kernel's work on verify's traffic, so it was a looser lower bound than it
needs to be; their seconds are printed on their own, and the pings' sum beside them.

It still sends less than verify does (no pairs within a host) and captures nothing; but its
senders are fping and a blocking sender, not ideal ones, so where it beats verify it bounds
verify's overhead, and where verify beats it it bounds nothing. When fping overruns
the backlog queue, its line says how many senders lost probes: the floods it timed were then not
all delivered.

Usage: bench/verify_floor.py FILE    (the lab deployed from FILE by cnilab's netns runtime)
Prints one line: phases, seconds of first contacts, of steady pings, of the full-size, TCP and
UDP probes, the pings' sum and the total. Needs fping and the transport sender, built by
`cargo build --release --example transport_floor` (TRANSPORT_FLOOR names another build).
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

STEADY = 13
# verify's own mark on the router entries it teaches (neigh::TAUGHT_BY_VERIFY): entries left
# by a killed run are then verify's to take out, never taken for the lab's configuration.
TAUGHT = "203"
ARP_RETRIES_S = 4
# verify's listener port (src/verify/listener.rs); nothing of verify runs while the floor does.
PORT = "47277"
HERE = os.path.dirname(os.path.abspath(__file__))
TRANSPORT = os.environ.get("TRANSPORT_FLOOR") or os.path.join(
    HERE, "..", os.environ.get("CARGO_TARGET_DIR", "target"), "release", "examples", "transport_floor")
# fping's options for a first contact: 3 attempts (-r counts retries after the first), as
# verify makes (probe::ATTEMPT_TIMEOUTS).
FIRST_CONTACT = ["-i", "1", "-r", "2", "-t", "300"]
# What fping's -b leaves out of a full-size probe: the IPv4 and ICMP headers.
HEADERS = 28


def run(args, stdin=None, check=True):
    """Runs a command; a failed one stops the floor, which would otherwise time a warm lab."""
    return subprocess.run(args, input=stdin, capture_output=True, text=True, check=check)


def batch(netns, tool, lines, force=False):
    """`tool -batch` in the namespace; with `force`, past failed lines, whose failure is then
    the caller's to check."""
    if lines:
        args = [tool, "-n", netns] + (["-force"] if force else []) + ["-batch", "-"]
        run(args, "\n".join(lines) + "\n", check=not force)


class Lab:
    def __init__(self, path):
        lab = yaml.safe_load(open(path))
        self.name = lab["name"]
        self.nodes = lab["topology"]["nodes"]

    def netns(self, node):
        return f"clab-{self.name}-{node}"

    def enter(self, node):
        """A command prefix that runs in the node's network namespace, with no mounts set up."""
        return ["nsenter", f"--net=/run/netns/{self.netns(node)}"]

    def role(self, role):
        return {n: v["labels"] for n, v in self.nodes.items()
                if (v.get("labels") or {}).get("cnilab.role") == role}


def phases(lab):
    """Per phase, each sending pod's receivers: verify's cold schedule (src/verify/schedule.rs)."""
    pods = {n: (int(l["cnilab.host"]), l["cnilab.pod-ip"]) for n, l in lab.role("pod").items()}
    hosts = sorted({h for h, _ in pods.values()})
    width = next(k for k in range(1, 64) if math.comb(k, k // 2) >= len(hosts))
    codes = (c for c in range(1 << width) if bin(c).count("1") == width // 2)
    code = dict(zip(hosts, codes))
    plan = [{} for _ in range(width)]
    for src, (a, _) in pods.items():
        for (b, ip) in (v for v in pods.values() if v[0] != a):
            bit = code[a] & ~code[b]
            plan[(bit & -bit).bit_length() - 1].setdefault(src, []).append(ip)
    return plan


def wan_of(lab, router, ifname):
    link = json.loads(run(["ip", "-n", lab.netns(router), "-j", "addr", "show", "dev", ifname]).stdout)[0]
    return link["address"], link["addr_info"][0]["local"], ifname


def routers(lab):
    """Each router's WAN leg (the first interface it captures on): MAC, address, name."""
    legs = {r: l["cnilab.capture"].split(",")[0] for r, l in lab.role("router").items()}
    with ThreadPoolExecutor(16) as pool:
        return dict(zip(legs, pool.map(lambda r: wan_of(lab, r, legs[r]), legs)))


def permanent(lab, router, dev):
    """The router's permanent neighbours on `dev`: address -> protocol (None: the lab's own)."""
    out = run(["ip", "-n", lab.netns(router), "-j", "neigh", "show", "dev", dev, "nud", "permanent"])
    return {e["dst"]: e.get("protocol") for e in json.loads(out.stdout or "[]")}


def teach(lab, wans):
    """Static entries for every peer router the lab left to ARP, marked as verify marks them,
    and one frame out so the WAN bridge learns each router's port."""
    def one(router):
        dev = wans[router][2]
        own = {ip for ip, proto in permanent(lab, router, dev).items() if proto != TAUGHT}
        peers = [(mac, ip) for r, (mac, ip, _) in wans.items() if r != router and ip not in own]
        batch(lab.netns(router), "ip", [
            f"neigh replace {ip} lladdr {mac} dev {dev} nud permanent protocol {TAUGHT}"
            for mac, ip in peers])
        if peers:
            run(lab.enter(router) + ["ping", "-c1", "-W1", peers[0][1]], check=False)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, wans))


def untaught(lab, wans):
    def one(router):
        dev = wans[router][2]
        taught = [ip for ip, proto in permanent(lab, router, dev).items() if proto == TAUGHT]
        batch(lab.netns(router), "ip", [f"neigh del {ip} dev {dev}" for ip in taught])
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, wans))


def forget(lab, node):
    """What the node learnt from traffic, as verify forgets it: every neighbour and FDB entry
    that is neither permanent nor static (NUD_PERMANENT, NUD_NOARP)."""
    netns = lab.netns(node)
    run(["ip", "-n", netns, "neigh", "flush", "all"])
    # An entry that ages out between the listing and its delete fails that delete harmlessly,
    # and a late ARP retry from a peer (flushed at the same time) can teach one again: so
    # delete past failures, and again while something learned is left, a few rounds at most.
    for _ in range(3):
        left = learned_fdb(netns)
        if not left:
            return
        batch(netns, "bridge", [fdb_del(e) for e in left], force=True)
        time.sleep(0.1)
    left = learned_fdb(netns)
    if left:
        sys.exit(f"bench/verify_floor.py: {node} still has learned FDB entries: {left[:3]}")


def learned_fdb(netns):
    entries = json.loads(run(["bridge", "-n", netns, "-j", "fdb", "show"]).stdout or "[]")
    return [e for e in entries if e.get("state") not in ("permanent", "static")]


def fdb_del(entry):
    where = [f"dst {entry['dst']}"] if entry.get("dst") else []
    where += [f"vlan {entry['vlan']}"] if entry.get("vlan") else []
    owner = "master" if entry.get("master") else "self"
    return " ".join([f"fdb del {entry['mac']} dev {entry['ifname']}"] + where + [owner])


def ping_all(lab, senders, extra):
    """The senders whose pings fping lost; fping failing otherwise (exit 2 or more: an option
    it lacks, a bad address) stops the floor, which would time pings never sent."""
    def one(item):
        src, ips = item
        out = run(lab.enter(src) + ["fping", "-q"] + extra(src) + ips, check=False)
        if out.returncode > 1:
            raise RuntimeError(f"fping in {src} failed: {out.stderr.strip()[:300]}")
        return out.returncode
    with ThreadPoolExecutor(max(1, len(senders))) as pool:
        return sum(1 for rc in pool.map(one, senders.items()) if rc != 0)


def full_size(lab):
    """fping's options for each pod's full-size probe: an echo at its MTU with DF set, retried
    as a first contact is (verify sends it beside the first contact, with as many attempts)."""
    mtus = {n: int(l.get("cnilab.mtu", "1500")) for n, l in lab.role("pod").items()}
    return lambda src: FIRST_CONTACT + ["-M", "-b", str(mtus[src] - HEADERS)]


def listen_all(lab):
    """A transport listener in every pod, each ready before this returns."""
    listeners = [subprocess.Popen(lab.enter(pod) + [TRANSPORT, "serve", PORT],
                                  stdout=subprocess.PIPE, text=True)
                 for pod in lab.role("pod")]
    for listener in listeners:
        if listener.stdout.readline().strip() != "ready":
            stop(listeners)
            raise RuntimeError("a transport listener did not start")
    return listeners


def stop(listeners):
    for listener in listeners:
        listener.kill()
        listener.wait()


def transport_all(lab, senders):
    """Each sender's TCP and UDP probes to its receivers, each sender starting at a receiver of
    its own so that they do not all queue at one listener; the senders whose probes failed,
    with the first reason."""
    reasons = []

    def one(item):
        n, (src, ips) = item
        turned = ips[n % len(ips):] + ips[:n % len(ips)]
        out = run(lab.enter(src) + [TRANSPORT, "probe", PORT] + turned, check=False)
        failed = out.returncode != 0 or out.stdout.strip() != "0"
        if failed and not reasons:
            reasons.append(f"{src}: {out.stderr.strip().splitlines()[0] if out.stderr.strip() else 'no reason given'}")
        return failed
    with ThreadPoolExecutor(max(1, len(senders))) as pool:
        failed = sum(pool.map(one, enumerate(senders.items())))
    if reasons:
        print(f"bench/verify_floor.py: transport probes failed, first {reasons[0]}", file=sys.stderr)
    return failed


def main(path):
    if not shutil.which("fping"):
        sys.exit("bench/verify_floor.py: needs fping (scripts/install-deps.sh installs it)")
    if not os.access(TRANSPORT, os.X_OK):
        sys.exit(f"bench/verify_floor.py: needs {TRANSPORT} "
                 "(cargo build --release --example transport_floor)")
    lab = Lab(path)
    forgetful = list(lab.role("host")) + list(lab.role("pod"))
    wans = routers(lab)
    teach(lab, wans)
    listeners = []
    first = steady = rest = 0.0
    failed = 0
    try:
        listeners = listen_all(lab)
        plan = phases(lab)
        full_size_of = full_size(lab)
        lossy = 0
        for senders in plan:
            if lossy:
                # An ARP whose reply was lost is asked again, flooded, for up to 3 s
                # (mcast_solicit × retrans_time), and would teach hosts flushed meanwhile.
                time.sleep(ARP_RETRIES_S)
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda n: forget(lab, n), forgetful))
            t0 = time.monotonic()
            lossy = ping_all(lab, senders, lambda _: FIRST_CONTACT)
            t1 = time.monotonic()
            lossy += ping_all(lab, senders, lambda _: ["-i", "0.1", "-p", "1", "-c", str(STEADY)])
            t2 = time.monotonic()
            lossy += ping_all(lab, senders, full_size_of)
            lossy += transport_all(lab, senders)
            t3 = time.monotonic()
            first, steady, rest = first + t1 - t0, steady + t2 - t1, rest + t3 - t2
            failed += lossy
    finally:
        stop(listeners)
        untaught(lab, wans)
    print(f"floor: {len(plan)} phases  first contacts {first:.2f} s  steady {steady:.2f} s  "
          f"full-size, TCP and UDP {rest:.2f} s  pings alone {first + steady:.2f} s  "
          f"total {first + steady + rest:.2f} s  senders with a loss {failed}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        main(sys.argv[1])
    except RuntimeError as e:
        sys.exit(f"bench/verify_floor.py: {e}")
