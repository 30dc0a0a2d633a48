#!/usr/bin/env python3
"""Concatenates classic pcap files with Ethernet link type into one pcap.

    mkmix.py OUT IN...   (an IN that is a directory is searched for *.pcap)

Files in another link type, pcapng files and unreadable files are left out
(counted on stderr). Timestamps are shifted so that each file starts one
second after the previous one ended: time only moves forward, as in a
capture, and flows of different files do not share a time window. Prints
"files packets" of the result on stdout.
"""

import os
import struct
import sys

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144


def pcap_files(args):
    for a in args:
        if os.path.isdir(a):
            for root, _, names in sorted(os.walk(a)):
                for n in sorted(names):
                    if n.endswith(".pcap"):
                        yield os.path.join(root, n)
        else:
            yield a


def records(path):
    """(ts_usec_total, caplen, origlen, data) of an Ethernet pcap, or None."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return None
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            end = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            end = ">"
        else:
            return None
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        (network,) = struct.unpack(end + "I", head[20:24])
        if network & 0xFFFF != LINKTYPE_ETHERNET:
            return None
        out = []
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            sec, frac, incl, orig = struct.unpack(end + "IIII", rh)
            if incl > SNAPLEN:
                break
            data = f.read(incl)
            if len(data) < incl:
                break
            usec = frac // 1000 if nano else frac
            out.append((sec * 1_000_000 + usec, incl, orig, data))
        return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    files = skipped = packets = 0
    clock = 1_600_000_000 * 1_000_000
    with open(sys.argv[1], "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        for path in pcap_files(sys.argv[2:]):
            try:
                recs = records(path)
            except OSError:
                recs = None
            if not recs:
                skipped += 1
                continue
            first = recs[0][0]
            last = clock
            for ts, incl, orig, data in recs:
                t = clock + max(0, ts - first)
                last = max(last, t)
                out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, incl, orig))
                out.write(data)
            clock = last + 1_000_000
            files += 1
            packets += len(recs)
    print(f"mkmix: {files} files, {packets} packets; {skipped} left out (not Ethernet pcap)", file=sys.stderr)
    print(files, packets)


if __name__ == "__main__":
    main()
