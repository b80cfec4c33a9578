#!/usr/bin/python3
"""The include rules of docs/ARCHITECTURE.md, checked on the tree.

The rules are read from the table under "## Layers" in docs/ARCHITECTURE.md (a row per
folder of src/ and the layers it may include), so the page and the check cannot drift apart.
In src/, a quoted include names its folder ("reduce/sink.h") and that folder must be the
file's own or one its row allows; "strata.h" is the public header, open to all. tools/ and
python/ see the public header and their own headers only. A folder of src/ without a row
fails too: a new layer is written down before it lands.

    check_layers.py ROOT           check the tree at ROOT
    check_layers.py --self-test    check that a deliberate violation is caught
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_rules(root):
    text = open(os.path.join(root, "docs", "ARCHITECTURE.md"), encoding="utf-8").read()
    section = text.split("\n## Layers", 1)
    if len(section) < 2:
        raise SystemExit("docs/ARCHITECTURE.md: no '## Layers' section")
    rules = {}
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`src/(\w+)/`", cells[0]) if len(cells) >= 3 else None
        if m:
            rules[m.group(1)] = set(re.findall(r"`(\w+)`", cells[1]))
    if not rules:
        raise SystemExit("docs/ARCHITECTURE.md: the '## Layers' table has no rows")
    return rules


def sources(folder):
    for name in sorted(os.listdir(folder)):
        if name.endswith((".c", ".h")):
            yield os.path.join(folder, name)


def check(root):
    rules = read_rules(root)
    errors = []
    src = os.path.join(root, "src")
    for layer in sorted(os.listdir(src)):
        folder = os.path.join(src, layer)
        if not os.path.isdir(folder):
            continue
        if layer not in rules:
            errors.append(f"src/{layer}/: a folder with no row in the Layers table")
            continue
        allowed = rules[layer] | {layer}
        for path in sources(folder):
            for name in INCLUDE.findall(open(path, encoding="utf-8").read()):
                rel = os.path.relpath(path, root)
                if name == "strata.h":
                    continue
                dep = name.split("/", 1)[0] if "/" in name else None
                if dep is None:
                    errors.append(f'{rel}: #include "{name}" does not name its layer')
                elif dep not in rules:
                    errors.append(f'{rel}: #include "{name}": no layer {dep}')
                elif dep not in allowed:
                    errors.append(f'{rel}: #include "{name}": {layer} may not include {dep} '
                                  f"(it may include: {', '.join(sorted(rules[layer])) or 'nothing'})")
    for top in ("tools", "python"):
        folder = os.path.join(root, top)
        if not os.path.isdir(folder):
            continue
        for path in sources(folder):
            for name in INCLUDE.findall(open(path, encoding="utf-8").read()):
                own = "/" not in name and os.path.exists(os.path.join(folder, name))
                if name != "strata.h" and not own:
                    errors.append(f'{os.path.relpath(path, root)}: #include "{name}": '
                                  f"{top}/ sees the public header only")
    return errors


def self_test():
    """A tiny tree with one allowed and one forbidden include: the check must name the latter."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "docs"))
        for layer in ("common", "exec", "source"):
            os.makedirs(os.path.join(root, "src", layer))
        with open(os.path.join(root, "docs", "ARCHITECTURE.md"), "w") as f:
            f.write("# x\n\n## Layers\n\n| folder | may include | owns |\n| --- | --- | --- |\n"
                    "| `src/common/` | nothing | - |\n| `src/exec/` | `common` | - |\n"
                    "| `src/source/` | `common` | - |\n\n## Next\n")
        with open(os.path.join(root, "src", "common", "common.h"), "w") as f:
            f.write('#include "strata.h"\n')
        with open(os.path.join(root, "src", "exec", "plan.c"), "w") as f:
            f.write('#include "common/common.h"\n#include "source/source.h"\n')
        errors = check(root)
        if len(errors) != 1 or "exec may not include source" not in errors[0]:
            raise SystemExit(f"self-test: the deliberate violation was not reported: {errors}")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        print("layers self-test: the deliberate violation is reported")
        return 0
    errors = check(argv[1] if len(argv) > 1 else ".")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
