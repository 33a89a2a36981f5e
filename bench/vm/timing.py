#!/usr/bin/python3
"""Timing measurements of the daemon on a real vcan (run inside the VM by
bench/timing.sh): plays a minimal charge controller itself, so that every
frame's send time is known, and stamps every line the daemon logs (-v) as it
arrives.

    timing.py BUILD_DIR OUT.json sim|modbus SETPOINTS TRIALS

- setpoint latency: SETPOINTS Charging_Loop frames, one every 100 ms, each
  with another target current; per frame, the time from its send to the
  daemon's converter command with that current ("converter: charge ..."
  debug line, sim) or to the Modbus write of that current reaching the test
  converter (its request log, modbus);
- reaction: TRIALS sessions ended by controller silence and TRIALS by an
  Emergency_Stop; the time from the last heartbeat (or the first
  Emergency_Stop frame) to the daemon's "converter: off" line (sim) or to
  the output-disable write reaching the converter (modbus).

Clocks: send times and log stamps are CLOCK_REALTIME of this machine; the
test converter's request log is CLOCK_MONOTONIC, converted with an offset
measured over its control port (best of 20 round trips).
"""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

BUILD, OUT, BACKEND = sys.argv[1], sys.argv[2], sys.argv[3]
N_SETPOINTS, N_TRIALS = int(sys.argv[4]), int(sys.argv[5])
IFACE = os.environ.get("SECCBRIDGE_VCAN_IF", "vcan0")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECCSIM = os.path.join(BUILD, "src/seccsim/seccsim")
DAEMON = os.path.join(BUILD, "src/seccbridge")
TMP = os.environ.get("TMPDIR", "/tmp")

_enc = {}


def frame(message, *signals):
    key = (message,) + signals
    if key not in _enc:
        out = subprocess.run([SECCSIM, "encode", message, *signals], check=True,
                             capture_output=True, text=True).stdout.strip()
        ident, data = out.split("#")
        data = bytes.fromhex(data)
        _enc[key] = struct.pack("=IB3x8s", int(ident, 16) | socket.CAN_EFF_FLAG, len(data), data)
    return _enc[key]


sock = socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
sock.bind((IFACE,))


def send(f):
    t = time.time()
    sock.send(f)
    return t


class Heartbeat(threading.Thread):
    """Advantics_Controller_Status every 100 ms while running."""

    def __init__(self):
        super().__init__(daemon=True)
        self.state = "Initialising"
        self.on = True
        self.last = 0.0
        self.lock = threading.Lock()

    def run(self):
        due = time.monotonic()
        while True:
            with self.lock:
                if self.on:
                    self.last = send(frame("Advantics_Controller_Status", f"State={self.state}"))
            due += 0.1
            time.sleep(max(0.0, due - time.monotonic()))

    def set(self, state):
        with self.lock:
            self.state = state

    def silence(self):
        with self.lock:
            self.on = False
            return self.last

    def resume(self, state):
        with self.lock:
            self.state = state
            self.on = True


# ---- the converter side ---------------------------------------------------

server = None
ctl_port = None


def ctl(cmd):
    with socket.create_connection(("127.0.0.1", ctl_port)) as c:
        c.sendall((cmd + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    reply = buf.decode().strip()
    if not reply.startswith("ok"):
        raise RuntimeError(f"converter control {cmd!r}: {reply!r}")
    return reply[2:].strip()


def mono_offset():
    """Server CLOCK_MONOTONIC minus this CLOCK_REALTIME, in seconds."""
    best = None
    for _ in range(20):
        a = time.time()
        mono = int(ctl("now")) / 1e6
        b = time.time()
        if best is None or b - a < best[0]:
            best = (b - a, mono - (a + b) / 2)
    return best[1], best[0] / 2


conf = os.path.join(TMP, f"bench-timing-{os.getpid()}.conf")
with open(conf, "w") as f:
    f.write(f"[can]\ninterface = {IFACE}\npistol_index = 1\n")
    if BACKEND == "sim":
        f.write("[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n")
        f.write("[converter]\nbackend = sim\n[sim]\nmax_current_a = 250\nmax_power_kw = 150\n")
    else:
        server = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests/modbus/converter_server.py"),
                                   "--tcp", "0", "--lifetime", "3600"], stdout=subprocess.PIPE, text=True)
        ready = server.stdout.readline()
        m = re.match(r"READY tcp=(\d+) control=(\d+)", ready)
        port, ctl_port = int(m.group(1)), int(m.group(2))
        f.write("[limits]\nmax_voltage = 500\nmax_current = 80\nmax_power = 30000\n")
        f.write(f"[converter]\nbackend = modbus-tcp\n[modbus]\nhost = 127.0.0.1\nport = {port}\n")
        f.write(f"profile = {os.path.join(ROOT, 'conf/profiles/generic.conf')}\n")
        f.write("poll_interval_ms = 100\nresponse_timeout_ms = 500\nlink_timeout_ms = 1000\n")
        f.write("setpoint_refresh_ms = 1000\nreconnect_max_ms = 500\n")
    # Steps, not a ramp: every new setpoint goes to the converter at once.
    f.write("[safety]\ncurrent_ramp = 100000\n[dbus]\nenable = false\n")

log = []          # (realtime, line)
daemon = subprocess.Popen([DAEMON, "-v", "-c", conf], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          text=True, bufsize=1)


def reader():
    for line in daemon.stderr:
        log.append((time.time(), line.rstrip("\n")))


threading.Thread(target=reader, daemon=True).start()
deadline = time.time() + 30
while not any("ready: pistol" in l for _, l in log):
    if time.time() > deadline:
        sys.exit("the daemon did not start:\n" + "\n".join(l for _, l in log))
    time.sleep(0.05)
if BACKEND == "modbus":
    while not any("rated " in l for _, l in log):
        if time.time() > deadline:
            sys.exit("the daemon never reached the converter")
        time.sleep(0.05)

# Encode every frame before the controller starts: seccsim runs are slow
# enough on an emulated machine to miss a heartbeat.
for state in ("Initialising", "Waiting_For_PEV", "Connected_With_Full_Info", "Insulation_Test",
              "Precharge", "Waiting_For_Charge", "Charging", "Closing_Communication"):
    frame("Advantics_Controller_Status", f"State={state}")
for amps in range(20, 152):
    frame("Charging_Loop", "Target_Voltage=450", f"Target_Current={amps}", "State_of_Charge=50")

hb = Heartbeat()
hb.start()
time.sleep(0.5)
MAX_A = 150 if BACKEND == "sim" else 75


def start_charging():
    """A minimal CCS session up to Charging."""
    hb.set("Waiting_For_PEV")
    time.sleep(0.3)
    hb.set("Connected_With_Full_Info")
    time.sleep(0.2)
    send(frame("New_Charge_Session", "Communication_Protocol=2", "EV_Maximum_Voltage=500",
               "EV_Maximum_Current=200", "State_of_Charge=40"))
    time.sleep(0.3)
    hb.set("Insulation_Test")
    for _ in range(8):
        send(frame("Insulation_Test", "Test_Voltage=450"))
        time.sleep(0.1)
    send(frame("Insulation_Test", "Test_Voltage=0"))
    hb.set("Precharge")
    for _ in range(8):
        send(frame("Precharge", "Target_Voltage=400", "Maximum_Current=2"))
        time.sleep(0.1)
    send(frame("Precharge", "Target_Voltage=400", "Maximum_Current=0"))
    hb.set("Waiting_For_Charge")
    time.sleep(0.2)
    send(frame("Charge_Status_Change", "Vehicle_Ready_for_Charging=1"))
    hb.set("Charging")
    for _ in range(3):
        send(frame("Charging_Loop", "Target_Voltage=450", "Target_Current=20", "State_of_Charge=50"))
        time.sleep(0.1)


def end_session(state="Waiting_For_PEV"):
    hb.resume("Closing_Communication")
    time.sleep(0.2)
    send(frame("Charge_Session_Finished", "State=1"))
    hb.set(state)
    time.sleep(1.5)


def log_after(t0, pattern, timeout=3.0):
    rx = re.compile(pattern)
    end = time.time() + timeout
    while time.time() < end:
        for t, line in list(log):
            if t >= t0 and rx.search(line):
                return t
        time.sleep(0.02)
    return None


def server_writes(fc_addr):
    """Server request log entries: (realtime, values) of writes to holding ADDR."""
    entries = ctl("log").split(" ", 1)
    out = []
    if len(entries) < 2 or not entries[1]:
        return out
    for e in entries[1].split(";"):
        t_us, fc, addr, n, vals, action, *_ = e.split(",")
        fc, addr, n = int(fc), int(addr), int(n)
        if fc in (6, 16) and addr <= fc_addr < addr + n:
            v = [int(x) for x in vals.split("/") if x != ""]
            out.append((int(t_us) / 1e6 - OFFSET, v[fc_addr - addr] if len(v) > fc_addr - addr else None))
        elif fc in (5, 15) and addr == 0 and fc_addr == -1:
            v = [int(x) for x in vals.split("/") if x != ""]
            out.append((int(t_us) / 1e6 - OFFSET, v[0] if v else None))
    return out


OFFSET, OFFSET_ERR = (mono_offset() if BACKEND == "modbus" else (0.0, 0.0))
result = {"backend": BACKEND, "clock_offset_error_ms": OFFSET_ERR * 1000}

# ---- setpoint latency ----------------------------------------------------
start_charging()
if BACKEND == "modbus":
    ctl("clearlog")
sent = []
due = time.monotonic()
for k in range(N_SETPOINTS):
    amps = 20 + (k * 7) % (MAX_A - 20)
    if sent and amps == sent[-1][1]:
        amps += 1
    sent.append((send(frame("Charging_Loop", "Target_Voltage=450", f"Target_Current={amps}",
                            "State_of_Charge=50")), amps))
    due += 0.1
    time.sleep(max(0.0, due - time.monotonic()))
time.sleep(0.5)
lat = []
if BACKEND == "sim":
    cmds = [(t, float(m.group(1))) for t, l in log
            if (m := re.search(r"converter: charge [0-9.]+ V / ([0-9.]+) A", l))]
    j = 0
    for t, amps in sent:
        while j < len(cmds) and cmds[j][0] < t:
            j += 1
        k = j
        while k < len(cmds) and abs(cmds[k][1] - amps) > 0.05:
            k += 1
        if k < len(cmds) and cmds[k][0] - t < 1.0:
            lat.append((cmds[k][0] - t) * 1000)
else:
    writes = server_writes(1)      # holding 1: set current, 0.1 A
    j = 0
    for t, amps in sent:
        while j < len(writes) and writes[j][0] < t:
            j += 1
        k = j
        while k < len(writes) and writes[k][1] != amps * 10:
            k += 1
        if k < len(writes) and writes[k][0] - t < 1.0:
            lat.append((writes[k][0] - t) * 1000)
result["setpoints_sent"] = len(sent)
result["setpoint_latency_ms"] = lat
end_session()

# ---- reaction to silence and to Emergency_Stop -----------------------------
for kind in ("silence", "estop"):
    times = []
    for trial in range(N_TRIALS):
        start_charging()
        if BACKEND == "modbus":
            ctl("clearlog")
        time.sleep(0.3)
        if kind == "silence":
            t0 = hb.silence()
        else:
            t0 = send(frame("Emergency_Stop", "Origin=1"))
            for _ in range(12):
                time.sleep(0.1)
                send(frame("Emergency_Stop", "Origin=1"))
        if BACKEND == "sim":
            t1 = log_after(t0, r"converter: off ")
        else:
            time.sleep(1.5)
            offs = [t for t, v in server_writes(-1) if v == 0 and t >= t0]
            t1 = offs[0] if offs else None
        if t1 is not None:
            times.append((t1 - t0) * 1000)
        time.sleep(1.2)      # the E-stop's release time (R46) and more
        end_session("Waiting_For_PEV")
    result[f"reaction_{kind}_ms"] = times

daemon.terminate()
daemon.wait(timeout=20)
if server:
    server.terminate()
with open(OUT, "w") as f:
    json.dump(result, f)
with open(OUT + ".daemon.log", "w") as f:
    f.writelines(f"{t:.6f} {line}\n" for t, line in log)
print(f"{BACKEND}: {len(lat)} of {len(sent)} setpoints matched; reactions "
      f"{len(result['reaction_silence_ms'])} silence, {len(result['reaction_estop_ms'])} estop")
