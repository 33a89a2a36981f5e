#!/usr/bin/python3
"""Run a python-can program written for python-can >= 4.2 on Debian 12's
python-can 4.1: adds the `modifier_callback` argument of
BusABC.send_periodic() (called with the message before each send) with a
plain sending thread, then runs the program as __main__.

    python-can-compat.py SCRIPT [ARGS...]
"""
import runpy
import sys
import threading
import time

import can

_original = can.BusABC.send_periodic


class _Task:
    def __init__(self, bus, msg, period, duration, callback):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(bus, msg, period, duration, callback),
                                        daemon=True)
        self._thread.start()

    def _run(self, bus, msg, period, duration, callback):
        due = time.monotonic()
        end = due + duration if duration else None
        while not self._stop.is_set() and (end is None or due < end):
            callback(msg)
            try:
                bus.send(msg)
            except can.CanError:
                pass
            due += period
            self._stop.wait(max(0.0, due - time.monotonic()))

    def stop(self):
        self._stop.set()


def send_periodic(self, msgs, period, duration=None, store_task=True, modifier_callback=None):
    if modifier_callback is None:
        return _original(self, msgs, period, duration, store_task)
    msg = msgs[0] if isinstance(msgs, (list, tuple)) else msgs
    return _Task(self, msg, period, duration, modifier_callback)


can.BusABC.send_periodic = send_periodic
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
