#!/usr/bin/env python3
"""Appends Suricata-shaped EVE `ssh` events to a file and records when.

Subcommands (all addresses come from documentation ranges only):

  latency EVE TIMES GAP_MS FIRST_IP COUNT
      COUNT bad-client lines (libssh), one per address starting at FIRST_IP,
      each written with one write() (O_APPEND) and followed by GAP_MS of
      sleep. TIMES gets "<time_ns> <ip>" per line, taken right after the
      write returned (CLOCK_REALTIME, same clock as nftmon.py).
  burst EVE TIMES TOTAL BAD FIRST_BAD_IP FIRST_GOOD_IP
      TOTAL lines as fast as possible (written in 64 KiB chunks of whole
      lines): every one of the BAD addresses twice (once when 2*BAD > TOTAL;
      libssh client), the rest
      from 1,000 good OpenSSH clients, mixed in a fixed pseudo-random order.
      TIMES gets "start <ns>" / "end <ns>" and the bad addresses follow in
      TIMES.bad, one per line.
"""
import datetime
import ipaddress
import os
import random
import sys
import time

BAD = "libssh_0.9.6"
GOOD = "OpenSSH_9.2p1 Debian-2+deb12u3"


def line(ip, software, flow_id):
    addr = ipaddress.ip_address(ip)
    dest = "203.0.113.22" if addr.version == 4 else "2001:db8:113::22"
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    return (
        f'{{"timestamp":"{ts}","flow_id":{flow_id},"in_iface":"nflog:10",'
        f'"event_type":"ssh","src_ip":"{addr}","src_port":{40000 + flow_id % 20000},'
        f'"dest_ip":"{dest}","dest_port":22,"proto":"TCP","pkt_src":"wire/pcap",'
        f'"ssh":{{"client":{{"proto_version":"2.0","software_version":"{software}"}},'
        f'"server":{{"proto_version":"2.0","software_version":"OpenSSH_9.2p1"}}}}}}\n'
    )


def hosts(first, count):
    base = ipaddress.ip_address(first)
    return [str(base + i) for i in range(count)]


def cmd_latency(eve, times, gap_ms, first, count):
    fd = os.open(eve, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    rec = []
    for i, ip in enumerate(hosts(first, int(count))):
        os.write(fd, line(ip, BAD, 1000 + i).encode())
        rec.append(f"{time.time_ns()} {ip}\n")
        time.sleep(float(gap_ms) / 1000.0)
    os.close(fd)
    with open(times, "w") as f:
        f.writelines(rec)


def cmd_burst(eve, times, total, bad, first_bad, first_good):
    total, bad = int(total), int(bad)
    bad_ips = hosts(first_bad, bad)
    good_ips = hosts(first_good, 1000)
    repeats = 2 if 2 * bad <= total else 1
    rows = [(ip, BAD) for ip in bad_ips] * repeats
    rows += [(good_ips[i % len(good_ips)], GOOD) for i in range(max(0, total - len(rows)))]
    random.Random(42).shuffle(rows)
    rows = rows[:total]
    data = "".join(line(ip, sw, 500000 + i) for i, (ip, sw) in enumerate(rows)).encode()
    fd = os.open(eve, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    start = time.time_ns()
    chunk = 65536
    off = 0
    while off < len(data):
        end = data.rfind(b"\n", off, off + chunk) + 1
        if end <= off:
            end = data.find(b"\n", off) + 1
        off += os.write(fd, data[off:end])
    stop = time.time_ns()
    os.close(fd)
    with open(times, "w") as f:
        f.write(f"start {start}\nend {stop}\nlines {len(rows)}\n")
    with open(times + ".bad", "w") as f:
        f.writelines(ip + "\n" for ip in bad_ips)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "latency" and len(args) == 5:
        cmd_latency(*args)
    elif cmd == "burst" and len(args) == 6:
        cmd_burst(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
