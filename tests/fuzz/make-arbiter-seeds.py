#!/usr/bin/env python3
"""Write the seed inputs of the arbiter fuzz target (tests/fuzz/corpus/arbiter/).

    tests/fuzz/make-arbiter-seeds.py

Each seed is a charger's story in the input layout of fuzz-arbiter
(README.md here): two pistols on one converter taking turns, trips of the
owner, three pistols by priority, dedicated and shared converters side by
side, the claim and idle bounds, a converter that never confirms OFF, stray
output, a reload.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Phases of a session (fuzz-arbiter.c, phase_facts()).
IDLE, HELD, HELD_VEHICLE, NEGOTIATING, CCS_AUTH, NEW_SESSION, INSULATION, CHARGING, \
    WAITING_FOR_CHARGE, PAUSE, ENDING, CLOSING, FINISHED, FAULT, ESTOP, SILENT = range(16)


class Story:
    """A fuzz-arbiter input: configuration, then events."""

    def __init__(self, converter_of, priority=None, policy_priority=False, offer_s=5.0,
                 drain_s=5.0, claim_s=120, idle_s=600):
        n = len(converter_of)
        priority = priority or [0] * n
        flags = (1 if policy_priority else 0)
        if idle_s == 0:
            flags |= 2
        else:
            flags |= (idle_s // 10 - 1) << 2
        self.b = bytearray([n - 1, *converter_of, *priority, flags,
                            int(offer_s * 10) - 1, int(drain_s * 10) - 1, claim_s])
        self.b += (1000).to_bytes(2, "little")     # start at t = 1000 s

    def delay(self, after_ms):
        """The delay byte of an event (10 ms units); longer ones wait first."""
        if after_ms > 2550:
            self.wait(after_ms / 1000)
            return 0
        return after_ms // 10

    def phase(self, pistol, phase, after_ms=0, ignore_hold=False):
        self.b += bytes([2 | (8 if ignore_hold else 0), pistol, self.delay(after_ms), phase])
        return self

    def facts(self, pistol, alive=True, in_session=False, fault=False, estop=False,
              command_off=True, vehicle=False, state=1, after_ms=0):
        bits = (alive << 0) | (in_session << 1) | (fault << 2) | (estop << 3) | \
            (command_off << 4) | (vehicle << 5)
        self.b += bytes([0, pistol, self.delay(after_ms), bits, state])
        return self

    def off(self, converter, after_ms=0):
        self.b += bytes([4, converter, self.delay(after_ms)])
        return self

    def output(self, converter, after_ms=0):
        self.b += bytes([4 | 8, converter, self.delay(after_ms)])
        return self

    def wait(self, seconds):
        ticks = int(seconds * 100)          # 10 ms units: delay * 256 + who
        self.b += bytes([6, ticks % 256, min(ticks // 256, 255)])
        return self

    def reload(self, who, policy_priority=False, offer_s=5.0, drain_s=5.0, claim_s=120,
               idle_s=600, new_map=False):
        flags = (1 if policy_priority else 0) | (2 if idle_s == 0 else (idle_s // 10 - 1) << 2)
        self.b += bytes([7 | (8 if new_map else 0), who, 0, flags, int(offer_s * 10) - 1,
                         int(drain_s * 10) - 1, claim_s])
        return self

    def plug(self, pistol, after_ms=0):
        """A vehicle that starts a session and charges."""
        self.phase(pistol, NEGOTIATING, after_ms)
        self.phase(pistol, NEW_SESSION, 500)
        return self.phase(pistol, CHARGING, 1000)

    def charge(self, pistol, seconds=30):
        for ph in (NEGOTIATING, NEW_SESSION, INSULATION, CHARGING):
            self.phase(pistol, ph, after_ms=500)
        self.wait(seconds)
        for ph in (ENDING, CLOSING, FINISHED):
            self.phase(pistol, ph, after_ms=500)
        return self


def start(story, pistols, converters):
    for p in range(pistols):
        story.phase(p, IDLE)
    for c in range(converters):
        story.off(c, after_ms=100)
    story.wait(5.0 * pistols + 1)
    return story


def seeds():
    s = {}

    st = start(Story([0, 0]), 2, 1)
    st.phase(0, NEGOTIATING).phase(0, NEW_SESSION, 500).phase(0, CHARGING, 2000)
    st.phase(1, HELD_VEHICLE, 5000).wait(60)
    st.phase(0, ENDING).phase(0, CLOSING, 500).phase(0, FINISHED, 2000).off(0, 300)
    st.phase(1, NEGOTIATING, 500).phase(1, NEW_SESSION, 500).phase(1, CHARGING, 1000)
    st.output(0, 100).wait(30).phase(1, FINISHED).off(0, 200).wait(20)
    s["pair-handover"] = st

    for name, trip in (("trip-estop", ESTOP), ("trip-silent", SILENT), ("trip-fault", FAULT)):
        st = start(Story([0, 0]), 2, 1)
        st.plug(0)
        st.phase(1, NEGOTIATING, 1000).phase(0, trip, 2000).off(0, 200)
        st.phase(1, NEW_SESSION, 300).phase(1, CHARGING, 1000).phase(0, IDLE, 3000).wait(10)
        s[name] = st

    st = start(Story([0, 0]), 2, 1)
    st.plug(0).phase(1, NEGOTIATING, 100)
    st.phase(1, ESTOP, 500).phase(1, SILENT, 500).phase(0, CHARGING, 500).wait(5)
    s["non-owner-estop"] = st

    st = start(Story([0, 0, 0], priority=[1, 3, 2], policy_priority=True), 3, 1)
    st.plug(0)
    st.phase(2, HELD_VEHICLE, 1000).phase(1, HELD_VEHICLE, 1000).wait(20)
    st.phase(0, FINISHED).off(0, 100).charge(1, 20).off(0, 100).charge(2, 20).off(0, 100)
    st.wait(30)
    s["priority-three"] = st

    st = start(Story([0, 0, 0], offer_s=2.0), 3, 1)
    st.plug(0).phase(1, HELD).phase(2, HELD)
    st.phase(0, FINISHED, 10000).off(0, 100).wait(2.5).phase(2, NEGOTIATING, 100)
    st.phase(2, NEW_SESSION, 300).wait(10)
    s["offers-first-come"] = st

    st = start(Story([0, 0, 1, 2, 2]), 5, 3)
    st.charge(2, 5).plug(0).phase(3, NEGOTIATING).phase(4, NEGOTIATING, 100)
    st.phase(1, NEGOTIATING, 100).phase(2, ESTOP, 100).phase(3, NEW_SESSION, 100).phase(3, CHARGING, 100)
    st.phase(0, FINISHED, 5000).phase(3, FINISHED).off(0, 100).off(1, 100).off(2, 100).wait(15)
    s["mixed-dedicated"] = st

    st = start(Story([0, 0], claim_s=3), 2, 1)
    st.phase(0, CCS_AUTH).wait(4).off(0, 100).wait(6).phase(1, NEGOTIATING).wait(4)
    s["claim-timeout"] = st

    st = start(Story([0, 0], idle_s=20), 2, 1)
    st.phase(0, NEGOTIATING).phase(0, NEW_SESSION, 500).phase(0, WAITING_FOR_CHARGE, 500)
    st.phase(1, HELD_VEHICLE, 1000).wait(21).phase(0, WAITING_FOR_CHARGE).off(0, 200)
    st.phase(1, NEGOTIATING, 500).phase(0, PAUSE, 500).wait(5)
    s["idle-timeout"] = st

    st = start(Story([0, 0], drain_s=1.0), 2, 1)
    st.plug(0).phase(1, NEGOTIATING, 500)
    st.phase(0, FINISHED, 1000).wait(3).output(0, 100).wait(60).off(0).wait(2)
    s["drain-stuck"] = st

    st = start(Story([0, 0]), 2, 1)
    st.output(0, 100).phase(1, NEGOTIATING, 100).off(0, 100).phase(1, NEW_SESSION, 100)
    st.output(0, 100).wait(2)
    s["stray-output"] = st

    st = start(Story([0, 0, 1]), 3, 2)
    st.phase(0, NEGOTIATING).reload(0b010, policy_priority=True, claim_s=2)
    st.wait(3).reload(0, new_map=True).off(0, 100).wait(12)
    s["reload"] = st

    st = start(Story([0, 0]), 2, 1)
    st.plug(0).phase(1, NEW_SESSION, 500, ignore_hold=True)
    st.phase(0, FINISHED, 1000).off(0, 100).facts(1, in_session=True, command_off=False, state=3)
    st.off(0, 100).phase(1, FINISHED, 1000, ignore_hold=True).off(0, 100).wait(5)
    s["ignores-hold"] = st

    return s


def main():
    path = os.path.join(HERE, "corpus", "arbiter")
    os.makedirs(path, exist_ok=True)
    for name, story in seeds().items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(bytes(story.b))


if __name__ == "__main__":
    main()
