#!/usr/bin/env python3
"""Generate seed corpora for the fuzz targets from data beside the repository.

usage: gen_seeds.py SHARED_DIR CORPUS_DIR

SHARED_DIR is ../shared (suricata-verify pcaps, ET Open rules). Seeds are
written to CORPUS_DIR/<target>/ (never committed): small pcap/pcapng files,
the IP packets inside them (decode), the same packets wrapped in NFQUEUE and
NFLOG netlink messages, and ET Open rule lines. Deterministic: the same
input data always gives the same seeds. Missing data gives fewer seeds,
never an error.
"""

import glob
import hashlib
import os
import struct
import sys

MAX_PCAPS = 150  # small captures only (<= 8 KiB each)
MAX_PACKETS = 400
RULES_EVERY = 60  # one ET Open rule line in this many


def put(corpus, target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ip_offset(linktype, frame):
    """Offset of the IP header in a frame, or None."""
    if linktype in (101, 12, 14, 228, 229):
        return 0
    if linktype == 1:  # Ethernet, VLAN tags
        off = 12
        while len(frame) >= off + 2:
            et = struct.unpack(">H", frame[off:off + 2])[0]
            if et in (0x8100, 0x88A8):
                off += 4
                continue
            return off + 2 if et in (0x0800, 0x86DD) else None
        return None
    if linktype == 113:
        return 16
    if linktype == 276:
        return 20
    if linktype in (0, 108):
        return 4
    return None


def classic_packets(data):
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        at = ip_offset(linktype, frame)
        if at is not None and len(frame) > at:
            out.append(frame[at:])
    return out


def nlattr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)


def nlmsg(ty, body, seq=1):
    return struct.pack("=IHHII", 16 + len(body), ty, 0, seq, 0) + body


def nfq_msg(ip, pid):
    hdr = struct.pack(">IHB", pid, 0x0800 if ip[:1] and ip[0] >> 4 == 4 else 0x86DD, 1)
    body = struct.pack(">BBH", 2, 0, 0)  # nfgenmsg: AF_INET, v0, queue 0
    body += nlattr(1, hdr)  # NFQA_PACKET_HDR
    body += nlattr(5, struct.pack(">I", 2))  # NFQA_IFINDEX_INDEV
    body += nlattr(4, struct.pack(">QQ", 1741944410, 583211))  # NFQA_TIMESTAMP
    body += nlattr(13, struct.pack(">I", len(ip)))  # NFQA_CAP_LEN
    body += nlattr(14, struct.pack(">I", 0))  # NFQA_SKB_INFO
    # NFQA_PAYLOAD last and unpadded, as the kernel sends it.
    body += struct.pack("=HH", 4 + len(ip), 10) + ip
    return nlmsg((3 << 8) | 0, body, pid)


def nflog_msg(ip, seq, group=10):
    body = struct.pack(">BBH", 2, 0, group)
    body += nlattr(1, struct.pack(">HBB", 0x0800, 1, 0))  # NFULA_PACKET_HDR
    body += nlattr(3, struct.pack(">QQ", 1741944410, 583211))  # NFULA_TIMESTAMP
    body += nlattr(10, b"meerkat\0")  # NFULA_PREFIX
    body += nlattr(9, ip)  # NFULA_PAYLOAD
    body += nlattr(12, struct.pack(">I", seq))  # NFULA_SEQ
    return nlmsg((4 << 8) | 0, body, seq)


def main():
    shared, corpus = sys.argv[1], sys.argv[2]
    pcaps = sorted(
        p for p in glob.glob(os.path.join(shared, "reference/suricata-verify/tests/*/*.pcap*"))
        if os.path.getsize(p) <= 8192
    )[:MAX_PCAPS]
    packets = []
    for p in pcaps:
        with open(p, "rb") as f:
            data = f.read()
        put(corpus, "pcap", data)
        for ip in classic_packets(data):
            if len(packets) < MAX_PACKETS:
                packets.append(ip)
    for i, ip in enumerate(packets):
        put(corpus, "decode", ip)
        if i % 4 == 0:
            put(corpus, "nfqueue", nfq_msg(ip, i + 1) + nfq_msg(ip[:40], i + 2))
            put(corpus, "nflog", struct.pack(">HI", 10, i) + nflog_msg(ip, i) + nflog_msg(ip, i + 2))
        if ip[:1] and ip[0] >> 4 in (4, 6):
            payload = ip[40:] if ip[0] >> 4 == 6 else ip[(ip[0] & 15) * 4:]
            if payload[20:24] == b"SSH-":
                put(corpus, "ssh", b"\x00" + payload[20:])
    n = 0
    for rf in sorted(glob.glob(os.path.join(shared, "reference/etopen/*.rules"))):
        with open(rf, "rb") as f:
            for line in f:
                if line.startswith((b"alert", b"drop", b"pass", b"reject", b"#alert")):
                    n += 1
                    if n % RULES_EVERY == 0:
                        put(corpus, "rules", line)
    ssh_rules = os.path.join(shared, "reference/etopen-ssh.rules")
    if os.path.exists(ssh_rules):
        with open(ssh_rules, "rb") as f:
            put(corpus, "rules", f.read())
    print("gen_seeds: %d pcaps, %d packets, %d rule lines" % (len(pcaps), len(packets), n // RULES_EVERY))


if __name__ == "__main__":
    main()
