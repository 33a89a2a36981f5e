#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Cross-check `seccsim encode` and `seccsim decode` against a KCD: v2.7 (the
default interface version) or v3.6 (`--interface-version 3`).

The database is parsed here on its own (xml.etree, no code shared with the
C table), frames are packed and unpacked with this script's own Intel bit
arithmetic, and the seccsim binary is run in both directions for every
signal of every message: range edges, zero, negative values of signed
signals, offset temperatures, every label, several pistols, out-of-range
values (exit 2), random frames with Reserved bits set, short, foreign and
unknown frames, and the decode -> encode round trip.

Usage: check_codec_kcd.py SECCSIM KCD [VERSION]
VERSION is the interface version of the KCD: 2 (v2.7, the default, checked
with seccsim's default database) or 3 (v3.6, checked with
`--interface-version 3`; the frames of v2.7 are unknown to it).
Exit 0 on success, 1 on a mismatch, 77 (skip) when the KCD is absent.
"""

import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

NS = "{http://kayak.2codeornot2code.org/1.0}"
PISTOLS = (1, 7, 31)


class Signal:
    def __init__(self, el):
        self.name = el.get("name")
        self.start = int(el.get("offset"))
        self.length = int(el.get("length"))
        if el.get("endianess", "little") != "little":
            raise SystemExit(f"{self.name}: big endian signal, not expected in this interface")
        value = el.find(NS + "Value")
        attrs = value.attrib if value is not None else {}
        self.signed = attrs.get("type", "unsigned") == "signed"
        self.slope = Decimal(attrs.get("slope", "1"))
        self.intercept = Decimal(attrs.get("intercept", "0"))
        self.unit = attrs.get("unit", "")
        self.kcd_min = Decimal(attrs["min"]) if "min" in attrs else None
        self.kcd_max = Decimal(attrs["max"]) if "max" in attrs else None
        self.labels = {}
        labelset = el.find(NS + "LabelSet")
        if labelset is not None:
            for label in labelset.findall(NS + "Label"):
                self.labels[int(label.get("value"))] = label.get("name")
        self.reserved = self.name == "Reserved"
        # Printed resolution: as many decimals as the slope and intercept have.
        self.decimals = max(0, -self.slope.as_tuple().exponent,
                            -self.intercept.as_tuple().exponent)

    @property
    def raw_min(self):
        return -(1 << (self.length - 1)) if self.signed else 0

    @property
    def raw_max(self):
        return (1 << (self.length - 1)) - 1 if self.signed else (1 << self.length) - 1

    def phys(self, raw):
        return raw * self.slope + self.intercept

    def phys_text(self, raw):
        q = Decimal(1).scaleb(-self.decimals)
        return str(self.phys(raw).quantize(q))

    def allowed(self, raw):
        """Raw value encodable and, on the wire, inside the KCD min/max."""
        if not self.raw_min <= raw <= self.raw_max:
            return False
        p = self.phys(raw)
        if self.kcd_min is not None and p < self.kcd_min:
            return False
        if self.kcd_max is not None and p > self.kcd_max:
            return False
        return True

    def value_text(self, raw):
        """How decode prints a raw value."""
        return self.labels.get(raw, None) or self.phys_text(raw)


class Message:
    def __init__(self, el):
        self.name = el.get("name")
        self.base_id = int(el.get("id"), 16)
        self.dlc = int(el.get("length"))
        if el.get("format") != "extended":
            raise SystemExit(f"{self.name}: not an extended frame")
        self.signals = [Signal(s) for s in el.findall(NS + "Signal")]

    def frame_id(self, pistol):
        return self.base_id | (pistol << 24)


def load_kcd(path):
    root = ET.parse(path).getroot()
    messages = []
    for bus in root.findall(NS + "Bus"):
        messages += [Message(m) for m in bus.findall(NS + "Message")]
    return messages


# ---- bit packing, written from the KCD conventions (Intel, LSB = offset) ----

def pack(msg, raws, base=0):
    """raws: {signal name: raw}; base: integer with bits already set."""
    data = base
    for sig in msg.signals:
        if sig.name not in raws:
            continue
        mask = (1 << sig.length) - 1
        data &= ~(mask << sig.start)
        data |= (raws[sig.name] & mask) << sig.start
    return data.to_bytes(8, "little")[: msg.dlc]


def unpack(msg, data):
    value = int.from_bytes(bytes(data) + bytes(8 - len(data)), "little")
    raws = {}
    for sig in msg.signals:
        raw = (value >> sig.start) & ((1 << sig.length) - 1)
        if sig.signed and raw >> (sig.length - 1):
            raw -= 1 << sig.length
        raws[sig.name] = raw
    return raws


def frame_text(frame_id, data, extended=True):
    return (f"{frame_id:08X}" if extended else f"{frame_id:03X}") + "#" + bytes(data).hex().upper()


def decode_line(msg, pistol, data):
    raws = unpack(msg, data)
    fields = [f"{s.name}={s.value_text(raws[s.name])}" for s in msg.signals if not s.reserved]
    return " ".join([msg.name, f"pistol={pistol}"] + fields)


# ---- running seccsim ----

# Per interface version: the message count of its database, the option that
# selects it, and identifiers that are not in it (the other version's and
# near misses).
VERSIONS = {
    "2": (19, [], (0x68008, 0x60015, 0x6B000, 0x63000, 0x123456)),
    "3": (23, ["--interface-version", "3"], (0x68009, 0x60010, 0x68005, 0x6B006, 0x63003, 0x6B301, 0x123456)),
}


class Checker:
    def __init__(self, seccsim, options):
        self.seccsim = seccsim
        self.options = options
        self.failures = 0
        self.checks = 0

    def fail(self, text):
        self.failures += 1
        if self.failures <= 50:
            print("FAIL: " + text)

    def run(self, args, stdin=None):
        p = subprocess.run([self.seccsim] + args, input=stdin, capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def expect_encode(self, args, expected):
        self.checks += 1
        rc, out, err = self.run(["encode"] + self.options + args)
        if rc != 0 or out != expected + "\n":
            self.fail(f"encode {' '.join(args)}: got rc={rc} {out.strip()!r} {err.strip()!r}, "
                      f"want {expected!r}")

    def expect_encode_error(self, args, must_name):
        self.checks += 1
        rc, out, err = self.run(["encode"] + self.options + args)
        lines = err.strip().splitlines()
        if rc != 2 or out != "" or len(lines) != 1 or \
                any(word not in lines[0] for word in must_name):
            self.fail(f"encode {' '.join(args)}: want exit 2 and one stderr line naming "
                      f"{must_name}, got rc={rc} out={out!r} err={err!r}")

    def expect_decode(self, args, lines_in, lines_want):
        rc, out, err = self.run(["decode"] + self.options + args,
                                stdin="".join(l + "\n" for l in lines_in))
        got = out.splitlines()
        if rc != 0:
            self.fail(f"decode {' '.join(args)}: exit {rc}, stderr {err!r}")
        if len(got) != len(lines_want):
            self.fail(f"decode {' '.join(args)}: {len(got)} lines for {len(lines_want)} frames")
        for frame, g, w in zip(lines_in, got, lines_want):
            self.checks += 1
            if g != w:
                self.fail(f"decode {frame}:\n   got  {g}\n   want {w}")


def signal_values(sig):
    """Raw values worth checking for one signal: edges, zero, one, middle,
    negatives, KCD limits, labels."""
    raws = {sig.raw_min, sig.raw_max, 0, 1, sig.raw_max // 2, sig.raw_max // 3}
    if sig.signed:
        raws |= {-1, sig.raw_min + 1, -(sig.raw_max // 3)}
    for limit in (sig.kcd_min, sig.kcd_max):
        if limit is not None:
            raws.add(int((limit - sig.intercept) / sig.slope))
    if sig.intercept:
        raws.add(int(-sig.intercept / sig.slope))         # physical 0
    raws |= set(sig.labels)
    return sorted(r for r in raws if sig.raw_min <= r <= sig.raw_max)


def out_of_range_texts(sig):
    """Physical values just outside the allowed range."""
    step = sig.slope
    lo = sig.phys(sig.raw_min)
    hi = sig.phys(sig.raw_max)
    if sig.kcd_min is not None and sig.kcd_min > lo:
        lo = sig.kcd_min
    if sig.kcd_max is not None and sig.kcd_max < hi:
        hi = sig.kcd_max
    q = Decimal(1).scaleb(-sig.decimals)
    return [str((lo - step).quantize(q)), str((hi + step).quantize(q))]


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] not in VERSIONS):
        print(__doc__)
        return 2
    seccsim, kcd = sys.argv[1], Path(sys.argv[2])
    version = sys.argv[3] if len(sys.argv) == 4 else "2"
    count, options, unknown_ids = VERSIONS[version]
    if not kcd.is_file():
        print(f"{kcd.name} not found: skipped (the database is not part of this checkout)")
        return 77

    messages = load_kcd(kcd)
    if len(messages) != count:
        print(f"expected the {count} messages of interface version {version}, found {len(messages)}")
        return 1
    rng = random.Random(2718)
    c = Checker(seccsim, options)
    decode_in, decode_want = [], []

    for msg in messages:
        live = [s for s in msg.signals if not s.reserved]
        for i, sig in enumerate(live):
            pistol = PISTOLS[i % len(PISTOLS)]
            for raw in signal_values(sig):
                data = pack(msg, {sig.name: raw})
                frame = frame_text(msg.frame_id(pistol), data)
                texts = [sig.phys_text(raw)]
                if raw in sig.labels:
                    texts.append(sig.labels[raw])
                if sig.allowed(raw):
                    for text in texts:
                        c.expect_encode(["--pistol", str(pistol), msg.name,
                                         f"{sig.name}={text}"], frame)
                else:
                    c.expect_encode_error(["--pistol", str(pistol), msg.name,
                                           f"{sig.name}={texts[0]}"], [msg.name, sig.name])
                decode_in.append(frame)
                decode_want.append(decode_line(msg, pistol, data))
            for text in out_of_range_texts(sig):
                c.expect_encode_error([msg.name, f"{sig.name}={text}"],
                                      [msg.name, sig.name, "allowed"])

        # Reserved fields cannot be set; undeclared ones are not signals at all.
        for sig in msg.signals:
            if sig.reserved:
                c.expect_encode_error([msg.name, "Reserved=0"], [msg.name, "Reserved"])

        # No signal named: everything raw 0 (temperatures read -40).
        c.expect_encode([msg.name], frame_text(msg.frame_id(1), bytes(msg.dlc)))

        # Every signal at once, random allowed values.
        for _ in range(6):
            pistol = rng.choice(PISTOLS)
            raws, args = {}, []
            for sig in live:
                choices = [r for r in signal_values(sig) if sig.allowed(r)]
                raw = rng.choice(choices + [rng.randint(sig.raw_min, sig.raw_max)])
                if not sig.allowed(raw):
                    raw = choices[0]
                raws[sig.name] = raw
                args.append(f"{sig.name}={sig.value_text(raw)}")
            rng.shuffle(args)
            c.expect_encode(["--pistol", str(pistol), msg.name] + args,
                            frame_text(msg.frame_id(pistol), pack(msg, raws)))

        # Random frames, Reserved and undeclared bits included: decode ignores
        # them, and feeding the decoded line back to encode gives the frame
        # with those bits cleared (within the KCD ranges).
        for _ in range(12):
            pistol = rng.randint(1, 31)
            data = bytes(rng.randrange(256) for _ in range(msg.dlc))
            line = decode_line(msg, pistol, data)
            decode_in.append(frame_text(msg.frame_id(pistol), data))
            decode_want.append(line)
            raws = unpack(msg, data)
            if all(s.allowed(raws[s.name]) for s in live):
                c.expect_encode(line.split(),
                                frame_text(msg.frame_id(pistol),
                                           pack(msg, {s.name: raws[s.name] for s in live})))

        # Longer than the DLC: accepted, extra bytes ignored.  Shorter: malformed.
        data = bytes(rng.randrange(256) for _ in range(8))
        decode_in.append(frame_text(msg.frame_id(2), data))
        decode_want.append(decode_line(msg, 2, data[: msg.dlc]))
        short = data[: msg.dlc - 1]
        decode_in.append(frame_text(msg.frame_id(2), short))
        decode_want.append(f"malformed {msg.name} " + frame_text(msg.frame_id(2), short))

    # Identifiers that are not in the database, and standard frames.
    known = {m.base_id for m in messages}
    for base in unknown_ids:
        assert base not in known
        f = frame_text(base | (1 << 24), b"\x01\x02")
        decode_in.append(f)
        decode_want.append("unknown " + f)
    for sid in (0x010, 0x7FF):
        f = frame_text(sid, b"\x07", extended=False)
        decode_in.append(f)
        decode_want.append("unknown " + f)

    # candump -L form and lines that are no frame at all.
    msg = messages[0]
    data = bytes(range(1, msg.dlc + 1))
    decode_in.append(f"(1700000000.123456) vcan0 {frame_text(msg.frame_id(4), data)}")
    decode_want.append(decode_line(msg, 4, data))
    for junk in ("hello", "01068009", "01068009#0", "1068009#07", "01068009#R",
                 "01068009##107", "3FFFFFFF#00", "01068009#000102030405060708"):
        decode_in.append(junk)
        decode_want.append("invalid " + junk)

    c.expect_decode([], decode_in, decode_want)

    # --pistol: other pistols are foreign, frames of this one decode.
    filt_in, filt_want = [], []
    for msg in messages:
        data = bytes(rng.randrange(256) for _ in range(msg.dlc))
        for pistol in (3, 5):
            f = frame_text(msg.frame_id(pistol), data)
            filt_in.append(f)
            filt_want.append(decode_line(msg, 3, data) if pistol == 3 else "foreign " + f)
    c.expect_decode(["--pistol", "3"], filt_in, filt_want)

    print(f"{c.checks} checks against {kcd.name}, {c.failures} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
