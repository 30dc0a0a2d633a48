#!/usr/bin/python3
"""A "fake SSH agent": an SSH client built on paramiko, as scanners and bots use.

Its banner is paramiko's own (SSH-2.0-paramiko_<version>), which is what
meerkat-sensor reports as ssh.client.software_version and what meerkat-dom's
heuristics ban. It connects, completes the SSH key exchange, tries one
password (which the demo server refuses) and disconnects.

usage: fake_agent.py HOST [--port 22] [--user root] [--timeout 5]

Exit status:
  0  the SSH handshake completed (server banner received, keys exchanged);
     the login itself is expected to fail and does not change the status
  2  usage error
  3  the TCP connection was refused or reset, or the handshake was aborted
  4  timeout: no connection, or the banner/key exchange never completed
     (what happens when a firewall or an IPS drops the flow)
  64 paramiko is not installed
One line on stdout says what happened, with the banners seen.
"""

import argparse
import socket
import sys
import time

try:
    import paramiko
except ImportError:
    print(
        "fake_agent: the Python module 'paramiko' is missing for %s; "
        "install the Debian package python3-paramiko" % sys.executable,
        file=sys.stderr,
    )
    sys.exit(64)

EXIT_OK = 0
EXIT_RESET = 3
EXIT_TIMEOUT = 4


def report(code, text, started):
    elapsed_ms = (time.monotonic() - started) * 1000.0
    print("fake_agent: %s (%.0f ms)" % (text, elapsed_ms), flush=True)
    return code


def run(args):
    started = time.monotonic()
    client_banner = "SSH-2.0-paramiko_%s" % paramiko.__version__
    if args.banner:
        # A disguised agent: paramiko's key exchange behind another banner.
        client_banner = "SSH-2.0-%s" % args.banner
    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except ConnectionRefusedError:
        return report(EXIT_RESET, "connection to %s:%d refused" % (args.host, args.port), started)
    except ConnectionResetError:
        return report(EXIT_RESET, "connection to %s:%d reset" % (args.host, args.port), started)
    except (socket.timeout, TimeoutError):
        return report(EXIT_TIMEOUT, "TCP connect to %s:%d timed out after %.0fs"
                      % (args.host, args.port, args.timeout), started)
    except OSError as err:
        return report(EXIT_RESET, "TCP connect to %s:%d failed: %s" % (args.host, args.port, err), started)

    transport = paramiko.Transport(sock)
    transport.local_version = client_banner
    transport.banner_timeout = args.timeout
    transport.handshake_timeout = args.timeout
    try:
        # start_client() sends our banner, reads the server's and runs the key
        # exchange; it raises SSHException when that does not finish in time.
        transport.start_client(timeout=args.timeout)
        server_banner = transport.remote_version or "none"
        # start_client() returns silently when its timeout expires; only a
        # session id proves that the key exchange really finished.
        if transport.session_id is None:
            transport.close()
            return report(EXIT_TIMEOUT, "SSH key exchange with %s:%d did not complete within %.0fs "
                          "(server banner: %s); sent %s"
                          % (args.host, args.port, args.timeout, server_banner, client_banner), started)
    except (paramiko.SSHException, EOFError, OSError) as err:
        transport.close()
        text = str(err) or err.__class__.__name__
        reset = isinstance(err, (ConnectionResetError, EOFError)) or "reset" in text.lower()
        if reset:
            return report(EXIT_RESET, "SSH handshake with %s:%d aborted (%s); sent %s"
                          % (args.host, args.port, text, client_banner), started)
        return report(EXIT_TIMEOUT, "SSH handshake with %s:%d did not complete (%s); sent %s"
                      % (args.host, args.port, text, client_banner), started)

    auth = "refused"
    try:
        transport.auth_password(args.user, "not-the-password")
        auth = "accepted (unexpected)"
    except paramiko.AuthenticationException:
        auth = "refused"
    except (paramiko.SSHException, EOFError, OSError) as err:
        auth = "aborted: %s" % (str(err) or err.__class__.__name__)
    finally:
        transport.close()
    return report(EXIT_OK, "handshake completed with %s:%d; client %s, server %s; password login %s"
                  % (args.host, args.port, client_banner, server_banner, auth), started)


def main():
    parser = argparse.ArgumentParser(description="paramiko-based fake SSH agent for the Meerkat demo")
    parser.add_argument("host")
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--user", default="root")
    parser.add_argument("--banner", default=None,
                        help="software version to claim instead of paramiko's, "
                             "e.g. OpenSSH_9.2p1 (the HASSH stays paramiko's)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds for connect, banner and key exchange (default 5)")
    args = parser.parse_args()
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
