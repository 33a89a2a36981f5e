#!/usr/bin/env python3
"""Write the seed inputs of the Modbus device fuzz target (tests/fuzz/corpus/modbus-device/).

    tests/fuzz/make-modbus-device-seeds.py

Each seed is a converter's day in the input layout of fuzz-modbus-device
(README.md here): a charge and its OFF with every shipped converter profile
over TCP, the same over RTU, with the insulation monitor on the bus, answers
that time out, come garbled, are exceptions or fail the port, a converter
that refuses connections, an OFF right after the enable, an emergency stop
in the middle of the writes, new timing, and the stop in each of these.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILES = os.path.join(HERE, "..", "..", "conf", "profiles")

# Power modes (include/seccbridge/power.h).
OFF, STANDBY, INSULATION_TEST, PRECHARGE, CHARGE = range(5)
# Outcomes of a request (fuzz-modbus-device.c, execute()).
OK, OK_WORDS, TIMEOUT, GARBLED, EXCEPTION, IO_ERROR = 0, 2, 4, 5, 6, 7


def converters():
    """The converter profiles in the target's order (C locale, by file name)."""
    names = sorted(n for n in os.listdir(PROFILES) if n.endswith(".conf"))
    return [n[:-5] for n in names
            if "[set_voltage]" in open(os.path.join(PROFILES, n), encoding="utf-8").read()]


class Day:
    """A fuzz-modbus-device input: bus settings, then events."""

    def __init__(self, profile, rtu=False, monitor=False, poll_ms=100, refresh_ms=1000, link_ms=1000,
                 gap_ms=5, response_ms=500, reconnect_ms=5000, shutdown_ms=2000):
        index = converters().index(profile)
        sel = index | (0x40 if monitor else 0) | (0x80 if rtu else 0)
        self.b = bytearray([sel, (poll_ms - 10) // 8, 0 if not refresh_ms else (refresh_ms - 100) // 40,
                            (link_ms - max(poll_ms, 50)) // 20, gap_ms, (response_ms - 10) // 4,
                            (reconnect_ms - 100) // 100, shutdown_ms // 20])

    def run(self, ops, outcome=OK, duration_ms=1):
        """ops requests (or idle waits) answered as outcome, each taking duration_ms."""
        self.b += bytes([outcome | ((duration_ms - 1) // 4) << 3]) * ops
        return self

    def once(self, outcome):
        return self.run(1, outcome)

    def idle_cut(self, fraction_64ths):
        self.b.append(0x40 | fraction_64ths)
        return self

    def command(self, mode, volts=0.0, amps=0.0, discharge=False):
        self.b.append(0x80 | mode | (8 if discharge else 0))
        if mode in (INSULATION_TEST, PRECHARGE, CHARGE):
            self.b += int(round(volts * 10)).to_bytes(2, "little")
            self.b += int(round(amps * 10)).to_bytes(2, "little", signed=True)
        return self

    def timing(self, poll_ms=100, refresh_ms=1000, link_ms=1000, gap_ms=5):
        self.b += bytes([0x85, (poll_ms - 10) // 8, 0 if not refresh_ms else (refresh_ms - 100) // 40,
                         (link_ms - max(poll_ms, 50)) // 20, gap_ms])
        return self

    def stop(self):
        self.b.append(0x86)
        return self

    def charge(self, volts=400.0, amps=50.0):
        """Up, a charge, its OFF."""
        self.run(40)
        self.command(PRECHARGE, volts, 2.0).run(20)
        self.command(CHARGE, volts, amps).run(60)
        return self.command(OFF, discharge=True).run(30)


def seeds():
    out = {}
    for p in converters():
        out[f"charge-tcp-{p}"] = Day(p).charge().stop().run(20)
        out[f"charge-rtu-{p}"] = Day(p, rtu=True, gap_ms=10, poll_ms=200).charge().stop().run(20)
    base = "generic"
    out["monitor-same-bus"] = Day(base, monitor=True).charge().stop().run(30)
    out["monitor-rtu-timeouts"] = Day(base, rtu=True, monitor=True).run(40).once(TIMEOUT).run(10) \
        .command(CHARGE, 400, 50).run(10).once(TIMEOUT).run(20).command(OFF, discharge=True).run(20).stop()
    out["tcp-timeout-reconnect"] = Day(base).run(40).command(CHARGE, 400, 50).run(5).once(TIMEOUT) \
        .run(30).command(OFF, discharge=True).run(20).stop()
    out["rtu-late-reply-flush"] = Day(base, rtu=True).run(40).command(CHARGE, 400, 50).run(3) \
        .once(GARBLED).run(10).once(TIMEOUT).run(20).command(OFF, discharge=True).run(20).stop()
    out["rtu-silence-restart"] = Day(base, rtu=True, link_ms=300).run(40).command(CHARGE, 400, 50).run(10) \
        .run(12, TIMEOUT).run(40).command(OFF, discharge=True).run(20).stop()
    out["exceptions"] = Day(base).run(3).run(4, EXCEPTION).run(30).command(CHARGE, 400, 50).once(EXCEPTION) \
        .run(20).command(OFF, discharge=True).once(EXCEPTION).run(20).stop().once(EXCEPTION).run(10)
    out["port-fails"] = Day(base, rtu=True).run(40).command(CHARGE, 400, 50).run(4).once(IO_ERROR) \
        .run(30).command(STANDBY).run(20).stop()
    out["refused-then-up"] = Day(base, reconnect_ms=800).run(6, IO_ERROR).run(40).charge().stop()
    out["stop-while-down"] = Day(base, shutdown_ms=600).run(40).command(CHARGE, 400, 50).run(10) \
        .run(3, IO_ERROR).stop().run(30, IO_ERROR)
    out["stop-never-confirmed"] = Day(base, shutdown_ms=400).run(40).command(CHARGE, 400, 50).run(20) \
        .stop().run(40, OK_WORDS)
    out["off-right-after-enable"] = Day("ea-ps-psi").run(40).command(CHARGE, 400, 50).run(3) \
        .command(STANDBY).run(10).idle_cut(10).stop()
    out["estop-mid-writes"] = Day(base).run(40).command(CHARGE, 400, 50).run(1).command(OFF, discharge=True) \
        .command(CHARGE, 300, 20).run(2).command(OFF, discharge=True).run(20).stop()
    out["new-timing"] = Day(base).run(40).timing(poll_ms=50, refresh_ms=0, link_ms=200, gap_ms=0) \
        .command(CHARGE, 400, 50).run(30).timing(poll_ms=500, refresh_ms=200, link_ms=2000, gap_ms=20) \
        .run(20).command(OFF, discharge=True).run(20).stop()
    out["discharge-sink"] = Day("generic-bidirectional").run(40).command(CHARGE, 400, 50).run(20) \
        .command(CHARGE, 400, 0).run(10).command(CHARGE, 400, -40).run(20).command(OFF, discharge=True) \
        .run(20).stop()
    out["words-from-the-input"] = Day(base).run(10).run(4, OK_WORDS).b
    out["words-from-the-input"] += bytes(range(1, 64)) * 4
    return out


def main():
    d = os.path.join(HERE, "corpus", "modbus-device")
    os.makedirs(d, exist_ok=True)
    for name, day in seeds().items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(day if isinstance(day, (bytes, bytearray)) else day.b)


if __name__ == "__main__":
    main()
