#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A Modbus converter for the tests: the register map of
conf/profiles/generic.conf, served over TCP or RTU (a serial device such as
one end of a socat pty pair), with a simple converter behind it and a
control port to inject faults.

pymodbus does the protocol (framing, request decoding, the register
store); this script owns the transport so that it can drop, delay or
refuse answers and stop and restart at will.

With --bidirectional it is the map of conf/profiles/generic-bidirectional.conf
too: a sink current setpoint (holding 2, 0.1 A) and sink ratings (input 103,
104), and a current out of the battery (negative present current) while the
source setpoint is 0 and the sink one is not.

With --second-unit N a second converter, a state of its own, answers at unit
N on the same line (several converters on one RS-485 line; given again, a
third...); "unit N" chooses which one get, set, fault and insulation act on
(the first one until then), and "silent N 1" keeps unit N from answering at
all.  With --baud B an RTU answer leaves only when a line at B baud (8N1, 10
bits a character, 3.5 characters of silence before each frame) would have
carried the request and the answer.

Usage:
  converter_server.py --tcp PORT | --rtu DEVICE   [--unit N] [--second-unit N]... [--monitor-unit N]
                                                  [--bidirectional] [--baud B]
PORT 0 picks a free port.  When ready it prints one line:
  READY tcp=PORT control=PORT
and then answers line commands on the control port (loopback):
  get AREA ADDR [N]           -> ok V...        (AREA: coil discrete input holding)
  set AREA ADDR V...          -> ok
  fault BITS                  -> ok             (fault word, 0 clears)
  insulation KOHM             -> ok             (the converter's own reading)
  monitor KOHM                -> ok             (the insulation monitor's reading)
  monitor-error 0|1           -> ok             (the monitor's device error)
  unit N                      -> ok             (get/set/fault/insulation act on unit N)
  silent N 0|1                -> ok             (unit N answers nothing / again)
  stop | start                -> ok             (TCP: close/reopen; RTU: silent/answer)
  drop N [FC]                 -> ok             (executed, answer lost; -1 = all, 0 = off)
  delay MS N [FC]             -> ok             (executed, answer MS late)
  exception CODE N [FC]       -> ok             (not executed, exception CODE)
  log                         -> ok N ENTRY;ENTRY...  ENTRY = t_us,fc,addr,count,v/v/..,action
  clearlog                    -> ok
  conns                       -> ok N           (TCP connections accepted)
  now                         -> ok T_US        (CLOCK_MONOTONIC, microseconds)
  quit                        -> ok
"""

import argparse
import logging
import os
import selectors
import socket
import struct
import sys
import termios
import time

try:
    from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext
    from pymodbus.factory import ServerDecoder
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    from pymodbus.framer.socket_framer import ModbusSocketFramer
except ImportError as exc:  # the test runner turns this into a skip
    print(f"SKIP pymodbus: {exc}", flush=True)
    sys.exit(77)

AREAS = {"coil": "c", "discrete": "d", "input": "i", "holding": "h"}
FC_AREA = {1: "c", 2: "d", 3: "h", 4: "i", 5: "c", 6: "h", 15: "c", 16: "h"}


def now_us():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Converter:
    """Registers of generic.conf and what the converter does with them."""

    RATED_V = 5000  # 0.1 V
    RATED_I = 1000  # 0.1 A
    RATED_P = 3000  # 10 W

    def __init__(self, bidirectional=False):
        self.bidirectional = bidirectional
        self.store = ModbusSlaveContext(
            co=ModbusSequentialDataBlock(0, [0] * 200),
            di=ModbusSequentialDataBlock(0, [0] * 200),
            hr=ModbusSequentialDataBlock(0, [0] * 1100),
            ir=ModbusSequentialDataBlock(0, [0] * 200),
            zero_mode=True)
        self.store.setValues(4, 100, [self.RATED_V, self.RATED_I, self.RATED_P])
        if bidirectional:
            # sinks as much as it sources
            self.store.setValues(4, 103, [self.RATED_I, self.RATED_P])
        self.fault = 0
        self.insulation = 1000.0
        self.voltage = 0.0  # 0.1 V
        self.last = time.monotonic()
        self.tick()

    def get(self, area, addr, n=1):
        return self.store.store[area].getValues(addr, n)

    def set(self, area, addr, values):
        self.store.store[area].setValues(addr, values)

    def tick(self):
        t = time.monotonic()
        dt = t - self.last
        self.last = t
        enabled = self.get("c", 0)[0] == 1
        remote = self.get("h", 10)[0] == 1
        running = enabled and remote and self.fault == 0
        vset, iset = self.get("h", 0, 2)
        step = 50000 * dt  # 5000 V/s in 0.1 V
        target = vset if running else 0
        if self.voltage < target:
            self.voltage = min(target, self.voltage + step)
        else:
            self.voltage = max(target, self.voltage - step)
        current = iset if running else 0
        if self.bidirectional and running and iset == 0:
            # sinking: out of the battery, a negative 16-bit value
            current = -self.get("h", 2)[0] & 0xFFFF
        status = (0x01 if remote and self.fault == 0 else 0) | (0x02 if running else 0) \
            | (0x04 if running else 0) | (0x10 if remote else 0)
        ins = struct.unpack(">HH", struct.pack(">f", self.insulation))
        self.set("i", 0, [int(self.voltage), current, 350, 250, status, self.fault, ins[0], ins[1]])


class Monitor:
    """An insulation monitor at another unit id: holding 1000..1003 as the
    isoCHA profile reads them (float ohms, alarm/valid byte)."""

    def __init__(self):
        self.store = ModbusSlaveContext(
            co=ModbusSequentialDataBlock(0, [0] * 10),
            di=ModbusSequentialDataBlock(0, [0] * 10),
            hr=ModbusSequentialDataBlock(0, [0] * 3100),
            ir=ModbusSequentialDataBlock(0, [0] * 10),
            zero_mode=True)
        self.kohm = 2000.0
        self.error = False
        self.tick()

    def tick(self):
        hi, lo = struct.unpack(">HH", struct.pack(">f", self.kohm * 1000.0))
        alarm = 0x0200 if self.error else 0x0000
        self.store.store["h"].setValues(1000, [hi, lo, alarm | 0x0002, 71])


class Server:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.conv = Converter(args.bidirectional)
        # the converters by unit id; self.conv is the one control commands act on
        self.convs = {args.unit: self.conv}
        for unit in args.second_unit:
            self.convs[unit] = Converter(args.bidirectional)
        self.silent = set()
        self.mon = Monitor() if args.monitor_unit else None
        self.decoder = ServerDecoder()
        self.log = []
        self.stopped = False
        self.conns = 0
        self.drop = [0, None]
        self.delay = [0, 0, None]
        self.exc = [0, 0, None]
        self.pending = []  # (due, sock_or_fd, bytes)
        self.listener = None
        self.port = args.tcp
        self.serial = None
        self.clients = {}
        self.control_clients = {}
        ctl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ctl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ctl.bind(("127.0.0.1", 0))
        ctl.listen(4)
        ctl.setblocking(False)
        self.sel.register(ctl, selectors.EVENT_READ, ("ctl-accept", None))
        self.ctl_port = ctl.getsockname()[1]
        if args.rtu:
            self.open_serial()
        else:
            self.open_listener()

    # ---- transport --------------------------------------------------------

    def open_listener(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(4)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self.listener = s
        self.sel.register(s, selectors.EVENT_READ, ("accept", None))

    def close_tcp(self):
        if self.listener:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        for s in list(self.clients):
            self.sel.unregister(s)
            s.close()
        self.clients.clear()
        self.pending = [p for p in self.pending if not isinstance(p[1], socket.socket)]

    def open_serial(self):
        fd = os.open(self.args.rtu, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        attrs = termios.tcgetattr(fd)
        attrs[0] = 0
        attrs[1] = 0
        attrs[3] = 0
        attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self.serial = fd
        self.serial_framer = ModbusRtuFramer(self.decoder)
        self.sel.register(fd, selectors.EVENT_READ, ("serial", None))

    def units(self):
        units = [u for u in self.convs if u not in self.silent]
        if self.mon:
            units.append(self.args.monitor_unit)
        return units

    def feed(self, framer, data, dest):
        if self.stopped:
            framer.resetFrame()
            return
        try:
            framer.processIncomingPacket(data, lambda req: self.execute(req, framer, dest), self.units(),
                                         single=False)
        except Exception as exc:  # a garbled frame: start over
            print(f"server: frame error {exc}", file=sys.stderr, flush=True)
            framer.resetFrame()

    @staticmethod
    def matches(fc_filter, fc):
        return fc_filter is None or fc_filter == fc

    def execute(self, req, framer, dest):
        fc = req.function_code
        addr = getattr(req, "address", 0)
        values = getattr(req, "values", None)
        if values is None:
            value = getattr(req, "value", None)
            values = [] if value is None else [value]
        values = [int(bool(v)) if isinstance(v, bool) else int(v) for v in values]
        count = getattr(req, "count", len(values) or 1)
        conv = self.convs.get(req.unit_id)
        store = conv.store if conv else self.mon.store
        action = "ok"
        if conv:
            conv.tick()  # a read sees the converter as it is now
        if self.exc[1] and self.matches(self.exc[2], fc):
            self.exc[1] -= 1 if self.exc[1] > 0 else 0
            resp = req.doException(self.exc[0])
            action = f"exception{self.exc[0]}"
        else:
            resp = req.execute(store)
            if conv:
                conv.tick()
        self.log.append((now_us(), fc, addr, count, values, action, req.unit_id))
        resp.transaction_id = req.transaction_id
        resp.unit_id = req.unit_id
        if self.drop[0] and self.matches(self.drop[1], fc):
            self.drop[0] -= 1 if self.drop[0] > 0 else 0
            self.log[-1] = self.log[-1][:5] + ("dropped", req.unit_id)
            return
        packet = framer.buildPacket(resp)
        due = 0
        if self.args.baud and self.args.rtu:
            # request: unit, function, its data, CRC; each frame after 3.5 characters of silence
            chars = len(req.encode()) + 4 + len(packet) + 7
            due = time.monotonic() + chars * 10.0 / self.args.baud
        if self.delay[1] and self.matches(self.delay[2], fc):
            self.delay[1] -= 1 if self.delay[1] > 0 else 0
            due = time.monotonic() + self.delay[0] / 1000.0
            self.log[-1] = self.log[-1][:5] + (f"delayed{self.delay[0]}", req.unit_id)
        self.pending.append((due, dest, packet))

    def send_due(self):
        t = time.monotonic()
        keep = []
        for due, dest, data in self.pending:
            if due > t:
                keep.append((due, dest, data))
                continue
            try:
                if isinstance(dest, socket.socket):
                    dest.sendall(data)
                else:
                    os.write(dest, data)
            except OSError:
                pass
        self.pending = keep

    # ---- control ----------------------------------------------------------

    def control(self, line):
        w = line.split()
        if not w:
            return "err empty"
        cmd = w[0]
        try:
            if cmd == "get":
                self.conv.tick()
                n = int(w[3]) if len(w) > 3 else 1
                return "ok " + " ".join(str(int(v)) for v in self.conv.get(AREAS[w[1]], int(w[2], 0), n))
            if cmd == "set":
                self.conv.set(AREAS[w[1]], int(w[2], 0), [int(v, 0) for v in w[3:]])
                return "ok"
            if cmd == "fault":
                self.conv.fault = int(w[1], 0)
                self.conv.tick()
                return "ok"
            if cmd == "insulation":
                self.conv.insulation = float(w[1])
                return "ok"
            if cmd == "monitor" and self.mon:
                self.mon.kohm = float(w[1])
                self.mon.tick()
                return "ok"
            if cmd == "monitor-error" and self.mon:
                self.mon.error = w[1] == "1"
                self.mon.tick()
                return "ok"
            if cmd == "unit":
                self.conv = self.convs[int(w[1])]
                return "ok"
            if cmd == "silent":
                if w[2] == "1":
                    self.silent.add(int(w[1]))
                else:
                    self.silent.discard(int(w[1]))
                return "ok"
            if cmd == "stop":
                self.stopped = True
                if not self.args.rtu:
                    self.close_tcp()
                self.pending = []
                return "ok"
            if cmd == "start":
                self.stopped = False
                if not self.args.rtu and not self.listener:
                    self.open_listener()
                return "ok"
            if cmd == "drop":
                self.drop = [int(w[1]), int(w[2]) if len(w) > 2 else None]
                return "ok"
            if cmd == "delay":
                self.delay = [int(w[1]), int(w[2]), int(w[3]) if len(w) > 3 else None]
                return "ok"
            if cmd == "exception":
                self.exc = [int(w[1]), int(w[2]), int(w[3]) if len(w) > 3 else None]
                return "ok"
            if cmd == "log":
                entries = [f"{t},{fc},{a},{n},{'/'.join(str(v) for v in vals)},{act},{u}"
                           for t, fc, a, n, vals, act, u in self.log]
                return f"ok {len(entries)} " + ";".join(entries)
            if cmd == "clearlog":
                self.log = []
                return "ok"
            if cmd == "conns":
                return f"ok {self.conns}"
            if cmd == "now":
                return f"ok {now_us()}"
            if cmd == "quit":
                raise SystemExit(0)
        except (IndexError, KeyError, ValueError) as exc:
            return f"err {exc}"
        return "err unknown command"

    # ---- main loop --------------------------------------------------------

    def run(self):
        print(f"READY tcp={self.port or 0} control={self.ctl_port}", flush=True)
        deadline = time.monotonic() + self.args.lifetime
        while time.monotonic() < deadline:
            # Requests and control commands bring the converter up to date
            # themselves: wake up for a late reply that falls due, else
            # seldom (an emulated machine has little CPU to spare).
            wait = 0.05
            if self.pending:
                wait = min(wait, max(0.0, min(p[0] for p in self.pending) - time.monotonic()))
            for key, _ in self.sel.select(timeout=wait):
                kind, extra = key.data
                if kind == "accept":
                    s, _ = key.fileobj.accept()
                    s.setblocking(False)
                    self.conns += 1
                    self.clients[s] = ModbusSocketFramer(self.decoder)
                    self.sel.register(s, selectors.EVENT_READ, ("client", None))
                elif kind == "client":
                    s = key.fileobj
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self.sel.unregister(s)
                        s.close()
                        self.clients.pop(s, None)
                        continue
                    self.feed(self.clients[s], data, s)
                elif kind == "serial":
                    try:
                        data = os.read(self.serial, 4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        self.feed(self.serial_framer, data, self.serial)
                elif kind == "ctl-accept":
                    c, _ = key.fileobj.accept()
                    self.control_clients[c] = b""
                    self.sel.register(c, selectors.EVENT_READ, ("ctl", None))
                elif kind == "ctl":
                    c = key.fileobj
                    data = c.recv(4096)
                    if not data:
                        self.sel.unregister(c)
                        c.close()
                        continue
                    buf = self.control_clients[c] + data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        c.sendall((self.control(line.decode()) + "\n").encode())
                    self.control_clients[c] = buf
            for conv in self.convs.values():
                conv.tick()
            self.send_due()


def main():
    # Exceptions are answers this server gives on purpose, not errors.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=int, default=None)
    ap.add_argument("--rtu", default=None)
    ap.add_argument("--unit", type=int, default=1)
    ap.add_argument("--second-unit", type=int, action="append", default=[])
    ap.add_argument("--baud", type=int, default=0, help="RTU: answer as late as a line at this rate would")
    ap.add_argument("--monitor-unit", type=int, default=0)
    ap.add_argument("--bidirectional", action="store_true")
    ap.add_argument("--lifetime", type=float, default=120.0, help="exit after this many seconds")
    args = ap.parse_args()
    if (args.tcp is None) == (args.rtu is None):
        ap.error("give --tcp PORT or --rtu DEVICE")
    Server(args).run()


if __name__ == "__main__":
    main()
