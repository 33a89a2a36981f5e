#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The configuration manual page against the shipped configuration file.

    check_doc_config.py MANPAGE CONF

The shipped file lists every key with its default (the daemon validates it
in the integration suite, so every key in it is a real one).  Checks, per
section:
  - every section of the file has a section in the manual page and back;
  - every key of the file is documented in its section of the page, and
    every key the page documents is in the file;
  - where both give a default (a commented "#key = value" line, and
    "default VALUE" in the key's parenthesis on the page), they agree.
[pistol NAME], [converter NAME] and [modbus-line NAME] are sections of
their own.  [insulation_monitor] takes the keys of [modbus]: its example keys must be
documented under [modbus].  Prints every disagreement; exit 1 if any.
"""
import re
import shlex
import sys

man_path, conf_path = sys.argv[1:3]


def conf_keys(path):
    """{section: {key: default or None}}; None for a set (uncommented) key,
    whose value is an example, not a default."""
    sections, cur = {}, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = re.fullmatch(r"#?\[([a-z_0-9]+(?:-[a-z]+)?(?: NAME)?)\]", line)
        if m:
            cur = sections.setdefault(m.group(1), {})
            continue
        m = re.fullmatch(r"(#?)([a-z_0-9]+) = ?(.*)", line)
        if m and cur is not None:
            cur[m.group(2)] = m.group(3).strip() if m.group(1) else None
    return sections


def roff_text(line):
    """The text of one roff line: font macros' arguments joined as the
    formatter joins them, escapes reduced to plain characters (special
    characters such as \\(*W to one placeholder)."""
    line = re.sub(r"\\\(..", "~", line)
    line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace("\\e", "\\")
    if line.startswith("."):
        macro, _, rest = line.partition(" ")
        if macro not in (".B", ".BR", ".RB", ".I", ".IR", ".RI", ".BI", ".IB"):
            return ""
        line = (" " if macro in (".B", ".I") else "").join(shlex.split(rest, posix=True))
    return line


def man_keys(path):
    """{section: {key: default or None}} from the .TP entries under each
    .SH [section]: the keys named before each parenthesis, the default
    read from "default VALUE" inside it."""
    sections, cur, tag = {}, None, False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = re.fullmatch(r"\.SH \[([a-z_0-9]+(?:-[a-z]+)?(?: NAME)?)\]", line)
        if m:
            cur = sections.setdefault(m.group(1), {})
            continue
        if line.startswith(".SH"):
            cur = None
            continue
        if line == ".TP":
            tag = True
            continue
        if not tag or cur is None:
            continue
        tag = False
        text = roff_text(line)
        pos = 0
        for m in re.finditer(r"\(([^()]*)\)", text):
            names = [n.strip() for n in text[pos:m.start()].split(",") if n.strip()]
            d = re.search(r"default ([^,\s)]+)", m.group(1))
            for n in names:
                if not re.fullmatch(r"[a-z_0-9]+", n):
                    raise SystemExit(f"{path}: cannot read key name {n!r} in: {text}")
                cur[n] = d.group(1) if d else None
            pos = m.end()
    return sections


def same(a, b):
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


conf = conf_keys(conf_path)
man = man_keys(man_path)
errors = []
for sec in sorted(set(conf) | set(man)):
    if sec not in man:
        errors.append(f"[{sec}]: in {conf_path}, no section in {man_path}")
        continue
    if sec not in conf:
        errors.append(f"[{sec}]: in {man_path}, not in {conf_path}")
        continue
    documented = man["modbus"] if sec == "insulation_monitor" else man[sec]
    for key, default in conf[sec].items():
        if key not in documented:
            errors.append(f"[{sec}] {key}: in {conf_path}, not documented in {man_path}")
        elif sec != "insulation_monitor" and default and documented[key] and not same(default, documented[key]):
            errors.append(f"[{sec}] {key}: default {default} in {conf_path}, {documented[key]} in {man_path}")
    if sec != "insulation_monitor":
        for key in man[sec]:
            if key not in conf[sec]:
                errors.append(f"[{sec}] {key}: documented in {man_path}, not in {conf_path}")

for e in errors:
    print(e)
n = sum(len(v) for v in conf.values())
print(f"{len(conf)} sections, {n} keys checked, {len(errors)} disagreements")
sys.exit(1 if errors else 0)
