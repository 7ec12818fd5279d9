#!/usr/bin/env python3
"""A man page (section 8, roff) from a Hoist command's argument definitions.

Reads `COMMAND --experimental-dump-help` (swift-argument-parser's JSON) on stdin and writes
the page on stdout: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, then one section per
subcommand (recursively), VERSION. Usage: manpage.py VERSION < dump.json > hoist.8
"""
import json
import sys


def esc(text):
    """Roff-safe text: backslashes and leading dots/quotes escaped."""
    text = (text or "").replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in text.split("\n"))


def names(arg):
    out = []
    for n in arg.get("names", []):
        prefix = "--" if n["kind"] == "long" else "-"
        out.append(prefix + n["name"])
    return out


def usage(arg):
    if arg["kind"] == "positional":
        text = "<" + arg.get("valueName", "value") + ">"
    else:
        text = names(arg)[0] if names(arg) else ""
        if arg["kind"] == "option":
            text += " <" + arg.get("valueName", "value") + ">"
    if arg.get("isRepeating"):
        text += " ..."
    return "[" + text + "]" if arg.get("isOptional") else text


def visible(args):
    return [a for a in args or [] if a.get("shouldDisplay", True)
            and not any(n["name"] in ("help", "version", "experimental-dump-help", "generate-completion-script") for n in a.get("names", []))]


def options(args, out):
    for a in visible(args):
        head = ", ".join(names(a)) if a["kind"] != "positional" else "<" + a.get("valueName", "value") + ">"
        if a["kind"] == "option":
            head += " <" + a.get("valueName", "value") + ">"
        out.append(".TP\n.B " + esc(head))
        text = a.get("abstract", "")
        if a.get("defaultValue") not in (None, ""):
            text += " (default: " + str(a["defaultValue"]) + ")"
        if a.get("discussion"):
            text += "\n" + a["discussion"] if isinstance(a["discussion"], str) else ""
        out.append(esc(text))


def command(cmd, path, out, top):
    full = " ".join(path)
    subs = [s for s in cmd.get("subcommands", []) if s.get("shouldDisplay", True) and s["commandName"] != "help"]
    if not top:
        out.append(".SH " + esc(full.upper()))
    out.append(".SS SYNOPSIS" if not top else ".SH SYNOPSIS")
    synopsis = " ".join(usage(a) for a in visible(cmd.get("arguments")))
    out.append(".B " + esc(full) + "\n" + esc(synopsis + (" <subcommand>" if subcommands_exist(subs) else "")))
    if cmd.get("abstract") or cmd.get("discussion"):
        out.append(".SS DESCRIPTION" if not top else ".SH DESCRIPTION")
        out.append(esc(cmd.get("abstract", "")))
        if isinstance(cmd.get("discussion"), str):
            out.append(".PP\n" + esc(cmd["discussion"]))
    if visible(cmd.get("arguments")):
        out.append(".SS OPTIONS" if not top else ".SH OPTIONS")
        options(cmd.get("arguments"), out)
    if subs and top:
        out.append(".SH COMMANDS")
        for s in subs:
            out.append(".TP\n.B " + esc(s["commandName"]) + "\n" + esc(s.get("abstract", "")))
    for s in subs:
        command(s, path + [s["commandName"]], out, False)


def subcommands_exist(subs):
    return bool(subs)


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else ""
    cmd = json.load(sys.stdin)["command"]
    name = cmd["commandName"]
    out = ['.TH "%s" 8 "" "Hoist %s" "Hoist"' % (name.upper(), version), ".SH NAME", esc(name) + " \\- " + esc(cmd.get("abstract", ""))]
    command(cmd, [name], out, True)
    out.append(".SH VERSION\n" + esc(name + " " + version))
    out.append(".SH SEE ALSO\n.BR hoist (8),\n.BR hoistd (8),\n.BR hoist-asic (8),\n.BR ip (8),\n.BR bridge (8)")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
