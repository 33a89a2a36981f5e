#!/usr/bin/env python3
"""Stand-in for the charge controller's cyclic frames in integration tests.

cyclic-sender.py IFACE FILE: every 50 ms, send each frame listed in FILE
(cansend syntax, 29-bit IDs, whitespace separated) on IFACE.  FILE is read
again at every period, so a test changes what is sent by replacing it; a
missing file sends nothing.  The socket is reopened when the interface goes
away and comes back.
"""
import socket, struct, sys, time
ifname, path = sys.argv[1], sys.argv[2]
sock, due = None, time.monotonic()
while True:
    try:
        frames = open(path).read().split()
    except OSError:
        frames = []
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
