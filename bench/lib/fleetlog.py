#!/usr/bin/env python3
"""Times of a meerkat-dom gateway's bans from its own log (bench/fleet.sh).

    fleetlog.py reach LOG T0_NS N KIND    # seconds from T0 until N bans
    fleetlog.py batches LOG T0_NS N       # fleet batches after T0, up to N bans

KIND is "local" (the engine's "ban <ip> ..." lines: this gateway's own
decisions, logged once their netlink batch was acknowledged) or "fleet"
("applied fleet decisions bans=N" lines, one per received batch, logged
after its netlink transaction). Log timestamps are UTC with microseconds
(CLOCK_REALTIME, the clock of T0). Prints "nan" when N is not reached.
"""
import datetime
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\s")
FLEET = re.compile(r"applied fleet decisions bans=(\d+) snapshot=false")
LOCAL = re.compile(r"\bINFO\b.*?: ban \S+ for ")


def rows(path, t0):
    with open(path, errors="replace") as f:
        for line in f:
            line = ANSI.sub("", line)
            m = TS.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1)[:26], "%Y-%m-%dT%H:%M:%S.%f")
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp() - t0
            if t < 0:
                continue
            yield t, line


def main():
    cmd, path, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1e9
    if cmd == "reach":
        want, kind = int(sys.argv[4]), sys.argv[5]
        n = 0
        for t, line in rows(path, t0):
            if kind == "fleet":
                m = FLEET.search(line)
                n += int(m.group(1)) if m else 0
            elif LOCAL.search(line) and "fleet origin=" not in line:
                n += 1
            if n >= want:
                print(f"{t:.3f}")
                return
        print("nan")
    elif cmd == "batches":
        want, out, n = int(sys.argv[4]), [], 0
        for t, line in rows(path, t0):
            m = FLEET.search(line)
            if m and n < want:
                out.append((t, int(m.group(1))))
                n += out[-1][1]
        if not out:
            print("n/a")
            return
        sizes = sorted(n for _, n in out)
        print(f"{len(out)} batches (sizes {sizes[0]}..{sizes[-1]}, median {sizes[len(sizes) // 2]}) "
              f"from +{out[0][0]:.3f} to +{out[-1][0]:.3f} s")


if __name__ == "__main__":
    main()
