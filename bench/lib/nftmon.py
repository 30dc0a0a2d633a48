#!/usr/bin/env python3
"""Kernel-side witness for nftables set elements.

Listens on the NFNLGRP_NFTABLES netlink multicast group of the current
network namespace (run it with `ip netns exec NS`) and prints one line per
new set element, timestamped when the notification was received:

    <time_ns> <set-name> <address>

time_ns is CLOCK_REALTIME (time.time_ns()), the same clock the event writer
uses, so "element seen - line written" is a latency measured from the
kernel's side. Interval end markers are skipped. Lines are flushed after
every received datagram. On SIGTERM/SIGINT it prints a summary line
"# done msgs=N elems=N enobufs=N" and exits.
"""
import ipaddress
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
SO_RCVBUFFORCE = 33
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWSETELEM = 12
NLA_TYPE_MASK = 0x3FFF
# nf_tables attribute numbers (uapi/linux/netfilter/nf_tables.h)
NFTA_SET_ELEM_LIST_SET = 2
NFTA_SET_ELEM_LIST_ELEMENTS = 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY = 1
NFTA_SET_ELEM_FLAGS = 3
NFTA_DATA_VALUE = 1
NFT_SET_ELEM_INTERVAL_END = 1

stop = False


def on_signal(_sig, _frm):
    global stop
    stop = True


def attrs(buf):
    """Yields (type, payload) for every netlink attribute in buf."""
    off = 0
    while off + 4 <= len(buf):
        alen, atype = struct.unpack_from("=HH", buf, off)
        if alen < 4 or off + alen > len(buf):
            return
        yield atype & NLA_TYPE_MASK, buf[off + 4:off + alen]
        off += (alen + 3) & ~3


def elements(payload):
    """Returns (set_name, [address, ...]) of one NEWSETELEM message body."""
    set_name = "?"
    out = []
    for atype, val in attrs(payload[4:]):  # skip struct nfgenmsg
        if atype == NFTA_SET_ELEM_LIST_SET:
            set_name = val.rstrip(b"\0").decode("ascii", "replace")
        elif atype == NFTA_SET_ELEM_LIST_ELEMENTS:
            for ltype, elem in attrs(val):
                if ltype != NFTA_LIST_ELEM:
                    continue
                key = None
                flags = 0
                for etype, ev in attrs(elem):
                    if etype == NFTA_SET_ELEM_KEY:
                        for dtype, dv in attrs(ev):
                            if dtype == NFTA_DATA_VALUE:
                                key = dv
                    elif etype == NFTA_SET_ELEM_FLAGS and len(ev) >= 4:
                        flags = struct.unpack_from(">I", ev)[0]
                if key is None or flags & NFT_SET_ELEM_INTERVAL_END:
                    continue
                if len(key) == 4 or len(key) == 16:
                    out.append(str(ipaddress.ip_address(bytes(key))))
    return set_name, out


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError as e:
        print(f"# warning: SO_RCVBUFFORCE failed: {e}", file=sys.stderr)
    sock.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
    sock.settimeout(0.2)
    out = sys.stdout
    print("# ready", flush=True)
    nmsgs = nelems = enobufs = 0
    buf = bytearray(1 << 20)
    while not stop:
        try:
            n = sock.recv_into(buf)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        except OSError as e:
            if e.errno == 105:  # ENOBUFS: the kernel dropped notifications
                enobufs += 1
                print(f"# ENOBUFS at {time.time_ns()}", flush=True)
                continue
            raise
        t = time.time_ns()
        data = memoryview(buf)[:n]
        off = 0
        lines = []
        while off + 16 <= n:
            mlen, mtype = struct.unpack_from("=IH", data, off)
            if mlen < 16 or off + mlen > n:
                break
            if mtype >> 8 == NFNL_SUBSYS_NFTABLES and mtype & 0xFF == NFT_MSG_NEWSETELEM:
                nmsgs += 1
                set_name, ips = elements(bytes(data[off + 16:off + mlen]))
                for ip in ips:
                    lines.append(f"{t} {set_name} {ip}\n")
            off += (mlen + 3) & ~3
        if lines:
            nelems += len(lines)
            out.write("".join(lines))
            out.flush()
    print(f"# done msgs={nmsgs} elems={nelems} enobufs={enobufs}", flush=True)


if __name__ == "__main__":
    main()
