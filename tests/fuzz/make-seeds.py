#!/usr/bin/env python3
"""Write the generated seed inputs of the fuzz targets (tests/fuzz/corpus/).

    tests/fuzz/make-seeds.py SECCSIM

SECCSIM is the built `seccsim` (its `encode` command turns message names and
physical values into frames, so the seeds follow the database).  Writes
corpus/codec/ (one frame of every message of both databases, for pistol 1
and 31; the v3.6 ones named v3-MESSAGE-pPISTOL) and
corpus/session/ (whole CCS and CHAdeMO sessions, an emergency stop, a
controller falling silent) in the input layouts described in README.md.
"""
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SECCSIM = sys.argv[1]

# Index of a message in the session target's list of controller messages.
OUT = {"Advantics_Controller_Status": 0, "New_Charge_Session": 1, "Insulation_Test": 2,
       "Precharge": 3, "Charge_Status_Change": 4, "Charging_Loop": 5,
       "Emergency_Stop": 6, "Charge_Session_Finished": 7}
STATE = {"Initialising": 0, "Waiting_For_PEV": 1, "Negotiating_Connection": 2,
         "Connected_With_Full_Info": 3, "Insulation_Test": 4, "Precharge": 5,
         "Waiting_For_Charge": 6, "Charging": 7, "Ending_Charge": 8,
         "Welding_Detection": 9, "Closing_Communication": 10,
         "CCS_Authorisation_Process": 11}


def encode(message, *signals, pistol=1, version=2):
    out = subprocess.run([SECCSIM, "encode", "--interface-version", str(version), "--pistol", str(pistol),
                          message, *signals], check=True, capture_output=True, text=True).stdout.strip()
    ident, data = out.split("#")
    return int(ident, 16), bytes.fromhex(data)


def write(directory, name, blob):
    path = os.path.join(HERE, "corpus", directory)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(blob)


def codec_seeds():
    for version, prefix in ((2, ""), (3, "v3-")):
        listing = subprocess.run([SECCSIM, "encode", "--interface-version", str(version), "--list"],
                                 check=True, capture_output=True, text=True).stdout.splitlines()
        messages = [line.split()[0] for line in listing[1:] if line[:1].isalpha() and " 0x" in line]
        for pistol in (1, 31):
            for m in messages:
                ident, data = encode(m, pistol=pistol, version=version)
                blob = bytes([pistol]) + struct.pack("<I", ident | 0x80000000) + bytes([len(data)]) + data
                write("codec", f"{prefix}{m}-p{pistol}", blob)


# The same for interface version 3 (out_types_v3 of fuzz-session.c).
OUT_V3 = {"Advantics_Controller_Status": 0, "New_Charge_Session": 1, "DC_Power_Control": 2,
          "OCPP_Control": 3, "Charge_Status_Change": 4, "Emergency_Stop": 6,
          "Charge_Session_Finished": 7, "EV_Information_Battery": 8, "EV_Information_Voltages": 9,
          "EV_Information_Charge_Limits": 10, "EV_Information_Discharge_Limits": 11,
          "EV_Information_Energy": 12}


class Session:
    """Builds a session target input: configuration, then events."""

    def __init__(self, version=2, contactors=True, bidirectional=False, policy=0):
        # flags 0x10: no current ramp field; pistol 1; 1000 V, 200 A,
        # 100 kW (10000 x 10 W), precharge and insulation caps 2 A.
        # Version 3: flag 0x80 and its byte (bit 0: no output contactors).
        self.version = version
        flags = 0x10 | (0x80 if version == 3 else 0)
        self.b = bytearray([flags, 0]) + struct.pack("<HHH", 10000, 2000, 10000) + bytes([19, 19])
        if version == 3:
            # bit 1: bidirectional, then 100 A and 30 kW (3000 x 10 W) of
            # discharge; bits 2-3: range policy (0 ocpp, 1 operator, 2 max).
            self.b += bytes([(0 if contactors else 1) | (2 if bidirectional else 0) | policy << 2])
            if bidirectional:
                self.b += struct.pack("<HH", 1000, 3000)

    def heartbeat(self, state, count=1):
        for _ in range(count):
            self.b += bytes([0x0E, STATE[state]])

    def frame(self, message, *signals, dt_ms=10):
        _, data = encode(message, *signals, version=self.version)
        index = (OUT_V3 if self.version == 3 else OUT)[message]
        self.b += bytes([0x00, dt_ms, index]) + data.ljust(8, b"\0")

    def power(self, function, *signals):
        """v3: a DC_Power_Control."""
        self.frame("DC_Power_Control", f"Power_Function={function}", *signals)

    def measure(self, volts, amps, ok=True, link=True):
        self.b += bytes([(0x07 if ok else 0x07 | 0x40) | (0 if link else 0x10)]) + struct.pack(
            "<HhhhH", int(volts * 10), int(amps * 10), 30, 25, 0xFFFF)

    def hold(self, held):
        """The pistol arbiter's hold (operator action 4, bit 7; bit 6: held)."""
        self.b += bytes([0x0C, 0xC4 if held else 0x84])

    def wait_ms(self, ms):
        self.b += bytes([0x09]) + struct.pack("<H", ms * 10)


def ccs(s, estop_in=None, silent_in=None, held_in=None):
    s.heartbeat("Initialising", 2)
    s.heartbeat("Waiting_For_PEV", 3)
    s.heartbeat("Negotiating_Connection", 2)
    s.heartbeat("CCS_Authorisation_Process", 2)
    s.heartbeat("Connected_With_Full_Info")
    s.frame("New_Charge_Session", "Communication_Protocol=2", "Plug_and_pins=0",
            "EV_Maximum_Voltage=500", "EV_Maximum_Current=200", "State_of_Charge=40")
    s.heartbeat("Connected_With_Full_Info", 3)
    s.measure(0, 0)
    for _ in range(5):
        s.heartbeat("Insulation_Test")
        s.frame("Insulation_Test", "Test_Voltage=500")
        s.measure(500, 0)
    s.heartbeat("Insulation_Test")
    s.frame("Insulation_Test", "Test_Voltage=0")
    for _ in range(4):
        s.heartbeat("Precharge")
        s.frame("Precharge", "Target_Voltage=400", "Maximum_Current=2")
        s.measure(400, 1.5)
    s.frame("Precharge", "Target_Voltage=400", "Maximum_Current=0")
    s.heartbeat("Waiting_For_Charge", 2)
    s.frame("Charge_Status_Change", "Vehicle_Ready_for_Charging=1")
    for i in range(12):
        s.heartbeat("Charging")
        s.frame("Charging_Loop", "Target_Voltage=450", f"Target_Current={20 * i}", "State_of_Charge=50")
        s.measure(430, 20 * i)
        if estop_in == i:
            s.frame("Emergency_Stop", "Origin=1")
            s.heartbeat("Charging", 3)
            return
        if held_in == i:
            # Another pistol takes the converter: its link blips and it
            # trips while this session is held, then comes back.
            s.hold(True)
            s.heartbeat("Charging")
            s.measure(0, 0, link=False)
            s.heartbeat("Charging")
            s.measure(0, 0, ok=False)
            s.frame("Charging_Loop", "Target_Voltage=450", "Target_Current=100", "State_of_Charge=50")
            s.measure(0, 0)
            s.heartbeat("Charging", 2)
            s.hold(False)
        if silent_in == i:
            s.wait_ms(1000)
            s.heartbeat("Charging", 2)
            s.frame("Charging_Loop", "Target_Voltage=450", "Target_Current=100", "State_of_Charge=50")
            return
    s.heartbeat("Ending_Charge", 2)
    s.frame("Charging_Loop", "Target_Voltage=450", "Target_Current=0", "State_of_Charge=80")
    s.heartbeat("Welding_Detection", 3)
    s.heartbeat("Closing_Communication", 2)
    s.frame("Charge_Session_Finished", "State=0")
    s.heartbeat("Waiting_For_PEV", 3)


def v3_session(s, chademo=False, estop_in=None, range_mode=False, until_charging=False):
    s.heartbeat("Initialising", 2)
    s.heartbeat("Waiting_For_PEV", 3)
    s.heartbeat("Negotiating_Connection", 2)
    s.heartbeat("Connected_With_Full_Info")
    s.frame("New_Charge_Session", "Communication_Protocol=" + ("4" if chademo else "2"),
            "Plug_and_pins=" + ("2" if chademo else "0"))
    s.frame("EV_Information_Voltages", "EV_Minimum_Voltage=250", "EV_Maximum_Voltage=500",
            "EV_Present_Voltage=390")
    s.frame("EV_Information_Battery", "Battery_Capacity=60", "Present_State_of_Charge=40")
    s.frame("EV_Information_Charge_Limits", "EV_Maximum_Charge_Current=200", "EV_Maximum_Charge_Power=100")
    s.heartbeat("Connected_With_Full_Info", 3)
    s.measure(0, 0)
    s.power("Standby", "Output_Contactors=Close")
    for _ in range(5):
        s.heartbeat("Insulation_Test")
        s.power("Insulation_Test", "Target_Voltage=500", "Output_Contactors=Close")
        s.measure(500, 0)
    s.heartbeat("Insulation_Test")
    s.power("Standby", "Output_Contactors=Close", "Lower_Output_Voltage=Lowering")
    s.measure(10, 0)
    if not chademo:
        for _ in range(4):
            s.heartbeat("Precharge")
            s.power("Precharge", "Target_Voltage=400", "Current_Range_Max=2", "Setpoints_Mode=Range_Mode",
                    "Output_Contactors=Close")
            s.measure(400, 1.5)
        s.power("Standby", "Output_Contactors=Close")
    s.heartbeat("Waiting_For_Charge", 2)
    s.frame("Charge_Status_Change", "Vehicle_Ready_for_Charging=1")
    s.power("Standby", "Output_Contactors=Close")
    if until_charging:
        return
    for i in range(12):
        s.heartbeat("Charging")
        if range_mode:
            s.power("Power_Transfer", "Target_Voltage=450", f"Current_Range_Max={20 * i}",
                    "Current_Range_Min=-50", "Setpoints_Mode=Range_Mode", "Output_Contactors=Close")
            if i == 6:
                s.frame("OCPP_Control", "Dynamic_Target_Current=35")
        else:
            s.power("Power_Transfer", "Target_Voltage=450", f"Current_Range_Max={20 * i}",
                    f"Current_Range_Min={20 * i}", "Output_Contactors=Close")
        s.measure(430, 20 * i)
        if estop_in == i:
            s.frame("Emergency_Stop", "Origin=1")
            s.heartbeat("Charging", 3)
            return
    s.heartbeat("Ending_Charge")
    s.frame("Charge_Status_Change", "Vehicle_Ready_for_Charging=0")
    s.power("Standby", "Output_Contactors=Close")
    s.measure(430, 0.5)
    s.power("Standby")
    s.power("Standby", "Lower_Output_Voltage=Lowering")
    s.heartbeat("Welding_Detection", 3)
    s.heartbeat("Closing_Communication", 2)
    s.power("Standby", "Lower_Output_Voltage=Lowering")
    s.frame("Charge_Session_Finished", "State=0")
    s.heartbeat("Waiting_For_PEV", 3)


def v3_v2g(s, range_mode=False, estop_discharging=False, silent_discharging=False):
    """B1..B6: charge, discharge, charge again, the converter following
    (through 0 A each time); optionally an emergency stop or silence while
    discharging."""
    v3_session(s, until_charging=True)

    def transfer(amps, lo=-80, hi=150):
        if range_mode:
            s.power("Power_Transfer", "Target_Voltage=420", f"Current_Range_Max={hi}", f"Current_Range_Min={lo}",
                    "Setpoints_Mode=Range_Mode", "Output_Contactors=Close")
            s.frame("OCPP_Control", f"Dynamic_Target_Current={amps}")
        else:
            s.power("Power_Transfer", "Target_Voltage=420", f"Current_Range_Max={amps}",
                    f"Current_Range_Min={amps}", "Output_Contactors=Close")

    for n, amps in enumerate((60, 60, -40, -40, -40, 0, 50, 50)):
        s.heartbeat("Charging")
        transfer(amps)
        s.heartbeat("Charging")
        s.measure(400, 0)
        s.heartbeat("Charging")
        transfer(amps)
        s.measure(400 + amps / 10, amps)
        if n == 3 and estop_discharging:
            s.frame("Emergency_Stop", "Origin=3")
            s.heartbeat("Charging", 3)
            return
        if n == 3 and silent_discharging:
            s.wait_ms(1000)
            s.heartbeat("Charging", 2)
            transfer(-40)
            return
    s.heartbeat("Ending_Charge")
    s.frame("Charge_Status_Change", "Vehicle_Ready_for_Charging=0")
    s.power("Standby", "Output_Contactors=Close")
    s.measure(400, 0)
    s.power("Standby", "Lower_Output_Voltage=Lowering")
    s.heartbeat("Closing_Communication", 2)
    s.frame("Charge_Session_Finished", "State=0")
    s.heartbeat("Waiting_For_PEV", 3)


def session_seeds():
    s = Session()
    ccs(s)
    write("session", "ccs-full", bytes(s.b))
    s = Session()
    ccs(s, estop_in=5)
    write("session", "ccs-estop", bytes(s.b))
    s = Session()
    ccs(s, silent_in=6)
    write("session", "ccs-silence", bytes(s.b))
    s = Session()
    ccs(s)
    ccs(s)
    write("session", "ccs-twice", bytes(s.b))
    s = Session()
    ccs(s, held_in=4)
    write("session", "ccs-held-mid-charge", bytes(s.b))
    s = Session()
    s.hold(True)
    ccs(s, held_in=2)
    write("session", "ccs-opened-while-held", bytes(s.b))
    s = Session(version=3)
    v3_session(s)
    write("session", "v3-ccs-full", bytes(s.b))
    s = Session(version=3, contactors=False)
    v3_session(s, chademo=True)
    write("session", "v3-chademo-no-contactors", bytes(s.b))
    s = Session(version=3)
    v3_session(s, range_mode=True)
    write("session", "v3-ccs-range-ocpp", bytes(s.b))
    s = Session(version=3)
    v3_session(s, estop_in=5)
    write("session", "v3-ccs-estop", bytes(s.b))
    s = Session(version=3, bidirectional=True)
    v3_v2g(s)
    write("session", "v3-v2g-target", bytes(s.b))
    s = Session(version=3, bidirectional=True)
    v3_v2g(s, range_mode=True)
    write("session", "v3-v2g-range-ocpp", bytes(s.b))
    s = Session(version=3, bidirectional=True, policy=1)
    v3_v2g(s, range_mode=True)
    write("session", "v3-v2g-range-operator", bytes(s.b))
    s = Session(version=3, bidirectional=True)
    v3_v2g(s, estop_discharging=True)
    write("session", "v3-v2g-estop-discharging", bytes(s.b))
    s = Session(version=3, bidirectional=True)
    v3_v2g(s, range_mode=True, silent_discharging=True)
    write("session", "v3-v2g-silence-discharging", bytes(s.b))
    s = Session(version=3, bidirectional=True, policy=2)
    v3_v2g(s, range_mode=True)
    write("session", "v3-v2g-range-max", bytes(s.b))
    s = Session(version=3)
    v3_v2g(s)
    write("session", "v3-charge-only-refuses-discharge", bytes(s.b))


codec_seeds()
session_seeds()
