#!/usr/bin/python3
# t/layering_test.py -- the include half of the layering rule (../shared/DESIGN.md section 2,
# STYLE.md section 1): a module includes only its own headers and the public headers
# (include/ringcached/<module>/) of the modules below it; a module's private headers (src/<m>/)
# are its own; and the libraries some modules must not see are included only where allowed.
# The link half is the unit tests: each links only the libraries its module may use.
#
# Reads every .h and .cc under src/ and include/ringcached/; prints each violation with its file
# and line, and fails if there is any. No build needed.
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Which other modules a module may include (besides itself), as in STYLE.md's table.
MAY_USE = {
    "base": set(),
    "proto": {"base"},
    "store": {"base"},
    "net": {"base"},
    "engine": {"base", "proto", "store"},
    "origin": {"base", "net"},
    "cluster": {"base", "proto", "net", "store", "engine"},
    "client": {"base", "proto", "net", "cluster"},
    "server": {"base", "proto", "store", "net", "engine", "cluster", "origin"},
}

# Headers only some files may include: (include prefix, modules allowed, file name pattern).
RESTRICTED = [
    ("zookeeper/", {"cluster", "client"}, re.compile(r"^zk_")),
    ("libpq-fe.h", {"origin"}, re.compile(r"^pg_")),
    ("event2/", {"net", "cluster", "origin", "server", "client"}, re.compile(r"")),
    ("liburing", {"net"}, re.compile(r"")),
]

# cluster/ may use the store only through its public interface (STYLE.md).
ONLY_THESE = {("cluster", "store"): {"ringcached/store/store.h"}}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def module_of(path):
    """(module, is_public_header) of a file under src/<m>/ or include/ringcached/<m>/."""
    rel = os.path.relpath(path, TOP).split(os.sep)
    if rel[0] == "src":
        return rel[1], False
    return rel[2], True


def check_file(path, errors):
    module, _ = module_of(path)
    base = os.path.basename(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, target = m.groups()
            where = f"{os.path.relpath(path, TOP)}:{number}"
            if kind == "<":
                for prefix, modules, name in RESTRICTED:
                    if target.startswith(prefix) and (module not in modules or
                                                      not name.search(base)):
                        errors.append(f"{where}: {module}/ may not include <{target}> here")
                continue
            parts = target.split("/")
            public = parts[0] == "ringcached"
            other = parts[1] if public else parts[0]
            if other not in MAY_USE:
                continue  # e.g. "fakes/..." in tests; not a module
            if other == module:
                continue
            if not public:
                errors.append(f'{where}: "{target}" is private to {other}/ '
                              f"(include ringcached/{other}/... instead)")
            elif other not in MAY_USE[module]:
                errors.append(f'{where}: {module}/ may not include "{target}" '
                              f"({other}/ is not below it)")
            elif (module, other) in ONLY_THESE and target not in ONLY_THESE[(module, other)]:
                errors.append(f'{where}: {module}/ may use {other}/ only through '
                              f"{', '.join(sorted(ONLY_THESE[(module, other)]))}")


def main():
    files = []
    for root in (os.path.join(TOP, "src"), os.path.join(TOP, "include", "ringcached")):
        for dirpath, _dirs, names in os.walk(root):
            files += [os.path.join(dirpath, n) for n in names if n.endswith((".h", ".cc"))]
    modules = {module_of(p)[0] for p in files}
    unknown = modules - set(MAY_USE)
    errors = [f"module {m}/ is not in this script's table" for m in sorted(unknown)]
    for path in sorted(files):
        check_file(path, errors)
    for e in errors:
        print(e)
    print(f"# include layering: {len(files)} files, {len(errors)} violation(s)")
    print(f"{1 if not errors else 0} passed, {1 if errors else 0} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
