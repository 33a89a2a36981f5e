#!/usr/bin/env python3
"""Stand-in for the charge controller's cyclic frames in integration tests.

cyclic-sender.py IFACE FILE [STALLS]: every 50 ms, send each frame listed
in FILE (cansend syntax, 29-bit IDs, whitespace separated) on IFACE.  FILE is
read again at every period, so a test changes what is sent by replacing it;
a missing file sends nothing.  The socket is reopened when the interface
goes away and comes back.

With STALLS, every time the machine held this sender up for more than
STALL_MS between two rounds of frames (a real controller's heartbeat would
have been late), a line is appended to STALLS: the time (seconds since the
epoch) and what happened.  A test that fails soon after such a stall is
inconclusive rather than failed (see fail() in lib.sh).
"""
import socket, struct, sys, time
STALL_MS = 150      # three periods: the power side's limit is 200 ms (R1)
ifname, path = sys.argv[1], sys.argv[2]
stalls = sys.argv[3] if len(sys.argv) > 3 else None
sock, due, last_round = None, time.monotonic(), None
while True:
    try:
        frames = open(path).read().split()
    except OSError:
        frames = []
    now = time.monotonic()
    if frames and last_round is not None and stalls and (now - last_round) * 1000 > STALL_MS:
        with open(stalls, "a") as f:
            f.write(f"{time.time():.3f} the controller stand-in was held up "
                    f"{(now - last_round) * 1000:.0f} ms\n")
    last_round = now if frames else None
    try:
        if sock is None:
            sock = socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
            sock.bind((ifname,))
        for f in frames:
            can_id, data = f.split("#")
            data = bytes.fromhex(data)
            sock.send(struct.pack("=IB3x8s", int(can_id, 16) | socket.CAN_EFF_FLAG,
                                  len(data), data))
    except OSError:
        if sock is not None:
            sock.close()
        sock = None
    due += 0.05
    time.sleep(max(0.0, due - time.monotonic()))
