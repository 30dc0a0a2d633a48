#!/usr/bin/env python3
"""Matches writer records with nftmon.py output.

  latency TIMES MONITOR SET_PREFIX
      For every "<ns> <ip>" in TIMES, the first element of a set whose name
      starts with SET_PREFIX for that ip seen at or after the write.
      Prints: n=<found> missing=<k> median_ms=.. p99_ms=.. min_ms=.. max_ms=..
  burst TIMES MONITOR SET_PREFIX
      Time from the burst's first write to the last of the bad addresses
      (TIMES.bad) appearing. Prints: seen=<k>/<n> seconds=<s|nan>
  count MONITOR SET_PREFIX
      Distinct addresses seen. Prints the number.
"""
import statistics
import sys


def monitor(path, prefix):
    first = {}
    with open(path) as f:
        for row in f:
            if row.startswith("#"):
                continue
            parts = row.split()
            if len(parts) != 3 or not parts[1].startswith(prefix):
                continue
            t, ip = int(parts[0]), parts[2]
            if ip not in first:
                first[ip] = t
    return first


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def cmd_latency(times, mon, prefix):
    seen = monitor(mon, prefix)
    lat = []
    missing = 0
    with open(times) as f:
        for row in f:
            t, ip = row.split()
            s = seen.get(ip)
            if s is None:
                missing += 1
            else:
                lat.append((s - int(t)) / 1e6)
    lat.sort()
    med = statistics.median(lat) if lat else float("nan")
    print(
        f"n={len(lat)} missing={missing} median_ms={med:.3f} p99_ms={pct(lat, 99):.3f} "
        f"min_ms={(lat[0] if lat else float('nan')):.3f} max_ms={(lat[-1] if lat else float('nan')):.3f}"
    )


def cmd_burst(times, mon, prefix):
    seen = monitor(mon, prefix)
    meta = dict(r.split() for r in open(times) if r.strip())
    start = int(meta["start"])
    bad = [r.strip() for r in open(times + ".bad") if r.strip()]
    hits = [seen[ip] for ip in bad if ip in seen]
    secs = (max(hits) - start) / 1e9 if len(hits) == len(bad) and hits else float("nan")
    print(f"seen={len(hits)}/{len(bad)} seconds={secs:.3f}")


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "latency":
        cmd_latency(*a[1:])
    elif len(a) == 4 and a[0] == "burst":
        cmd_burst(*a[1:])
    elif len(a) == 3 and a[0] == "count":
        print(len(monitor(a[1], a[2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
