#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a reader of the daemon's MQTT topics received, checked against the
schemas of doc/mqtt.md (the blocks after "<!-- schema: NAME -->").

    mqtt-check.py DOC SUB_LOG PREFIX [--json OUT]

SUB_LOG is `mosquitto_sub -v` output ("topic payload" per line).  Every
message under PREFIX must be one JSON object that its topic's schema
accepts; anything else is an error.  Prints one line per message
("N topic type-or-summary") and a summary; with --json writes the messages,
parsed, to OUT as [[topic_suffix, payload], ...] for the test's own checks.
Exit 1 on any error.  Needs Debian's python3-jsonschema.
"""
import json
import re
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is missing (see scripts/install-deps.sh)")


def schemas(doc):
    text = open(doc, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r"<!-- schema: (\w+) -->\s*```json\n(.*?)\n```", text, re.S):
        schema = json.loads(m.group(2))
        jsonschema.Draft7Validator.check_schema(schema)
        out[m.group(1)] = jsonschema.Draft7Validator(schema)
    for name in ("state", "event", "online"):
        if name not in out:
            sys.exit(f"{doc}: no schema for {name}")
    return out


def main():
    args = sys.argv[1:]
    out_json = None
    if "--json" in args:
        i = args.index("--json")
        out_json = args[i + 1]
        del args[i:i + 2]
    doc, log, prefix = args
    validators = schemas(doc)
    messages, errors = [], []
    for n, line in enumerate(open(log, encoding="utf-8", errors="replace"), 1):
        line = line.rstrip("\n")
        if not line.startswith(prefix + "/"):
            if line.strip():
                errors.append(f"line {n}: not under {prefix}: {line[:120]}")
            continue
        topic, _, payload = line.partition(" ")
        suffix = topic[len(prefix) + 1:]
        if suffix not in validators:
            errors.append(f"line {n}: unexpected topic {topic}")
            continue
        try:
            obj = json.loads(payload)
        except ValueError as e:
            errors.append(f"line {n}: {topic}: not JSON ({e}): {payload[:120]}")
            continue
        problems = sorted(validators[suffix].iter_errors(obj), key=lambda e: list(e.path))
        for p in problems:
            errors.append(f"line {n}: {topic}: {'/'.join(map(str, p.path)) or '(top)'}: {p.message}")
        what = obj.get("type") if suffix == "event" else (
            obj.get("controller", {}).get("state") if suffix == "state" else obj.get("online"))
        print(f"{n:4d} {suffix:6s} {what}")
        messages.append([suffix, obj])
    for e in errors:
        print("ERROR", e)
    print(f"{len(messages)} messages, {len(errors)} errors")
    if out_json:
        json.dump(messages, open(out_json, "w"))
    sys.exit(1 if errors else 0)


main()
