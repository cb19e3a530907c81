#!/usr/bin/env python3
"""The floor for deploying a lab: the lab file's own namespaces, veths and exec lines, through
the fewest processes iproute2 allows and with no waits. One `ip -batch` makes the namespaces,
one the veths (each end created straight in its namespace: nothing touches the root
namespace), then per node one `ip -batch` with its `ip` lines, one `bridge -batch` with its
`bridge` lines and one shell for its sysctl and iptables lines, nodes side by side.

Usage: bench/floor.py up|down FILE PREFIX    (namespaces are named PREFIX-<node>)
"""
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import yaml


def batch(tool, lines, netns=None):
    """Runs `tool [-n netns] -batch -` on the lines; raises on failure."""
    if not lines:
        return
    args = [tool] + (["-n", netns] if netns else []) + ["-batch", "-"]
    subprocess.run(args, input="\n".join(lines) + "\n", text=True, check=True)


def in_shell(netns, lines):
    """Runs the lines in one shell inside the namespace."""
    if lines:
        subprocess.run(["ip", "netns", "exec", netns, "sh", "-ec", "; ".join(lines)], check=True)


def node_lines(name, node, links):
    """A node's exec lines, split by tool, after the lines a bridge node needs."""
    ip, bridge, shell = [], [], []
    if node.get("kind") == "bridge":
        ip += [f"link add {name} type bridge", f"link set {name} up"]
        ip += [f"link set {port} master {name}" for port in links.get(name, [])]
        ip += [f"link set {port} up" for port in links.get(name, [])]
    for line in node.get("exec", []) or []:
        words = shlex.split(line)
        if words[0] == "ip":
            ip.append(shlex.join(words[1:]))
        elif words[0] == "bridge":
            bridge.append(shlex.join(words[1:]))
        elif words[0] == "sysctl" and words[1] == "-w":
            key, value = words[2].split("=", 1)
            shell.append(f"echo {value} > /proc/sys/{key.replace('.', '/')}")
        else:
            shell.append(line)
    return ip, bridge, shell


def up(topo, prefix):
    nodes = topo["topology"]["nodes"]
    ns = {n: f"{prefix}-{n}" for n in nodes}
    batch("ip", [f"netns add {ns[n]}" for n in nodes])
    veths, ports = [], {}
    for link in topo["topology"].get("links", []):
        (a, ia), (b, ib) = (e.split(":") for e in link["endpoints"])
        veths.append(f"link add {ia} netns {ns[a]} type veth peer name {ib} netns {ns[b]}")
        for node, iface in ((a, ia), (b, ib)):
            ports.setdefault(node, []).append(iface)
    batch("ip", veths)

    def configure(name):
        ip, bridge, shell = node_lines(name, nodes[name], {
            n: p for n, p in ports.items() if nodes[n].get("kind") == "bridge"})
        # sysctls (forwarding) before the ip lines, iptables after them, as the file orders them.
        sysctls = [s for s in shell if s.startswith("echo ")]
        rest = [s for s in shell if not s.startswith("echo ")]
        in_shell(ns[name], sysctls)
        batch("ip", ip, ns[name])
        batch("bridge", bridge, ns[name])
        in_shell(ns[name], rest)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(configure, nodes))


def down(topo, prefix):
    subprocess.run(["ip", "-force", "-batch", "-"], text=True, check=False,
                   input="".join(f"netns del {prefix}-{n}\n" for n in topo["topology"]["nodes"]))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[2]) as f:
        topo = yaml.safe_load(f)
    (up if sys.argv[1] == "up" else down)(topo, sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
