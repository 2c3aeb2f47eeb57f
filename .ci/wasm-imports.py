#!/usr/bin/env python3
"""List a WebAssembly module's imports; fail if any comes from "env".

Usage: wasm-imports.py [--require-export NAME]... FILE.wasm

A module built for wasm32-unknown-unknown gets an import from the "env"
module when Rust code calls a symbol nothing defines: a C function or a
native-only API that crept into the core. Such a module does not load in a
Cloudflare Worker (or a browser) without a shim, so CI fails on it.

Prints every import as `module.name` with its kind, the exports, and the
file size. Exits 1 when an import comes from "env" or a required export is
missing, 2 when the file is not a WebAssembly binary module. Depends only
on the Python 3 standard library.
"""

import argparse
import sys

KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table",
    5: "memory", 6: "global", 7: "export", 8: "start", 9: "element",
    10: "code", 11: "data", 12: "datacount", 13: "tag",
}


class Malformed(Exception):
    """The bytes are not a well-formed module."""


class Reader:
    """A cursor over bytes with the binary format's primitive readers."""

    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise Malformed(f"unexpected end at offset {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self, bits=32):
        """An unsigned LEB128 integer of at most `bits` bits."""
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift >= bits + 7:
                raise Malformed(f"LEB128 too long at offset {self.pos}")
        if result >> bits:
            raise Malformed(f"LEB128 out of range at offset {self.pos}")
        return result

    def bytes(self, n):
        if self.pos + n > self.end:
            raise Malformed(f"unexpected end at offset {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def name(self):
        raw = self.bytes(self.uleb())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed(f"name is not UTF-8 at offset {self.pos}") from e

    def limits(self):
        flags = self.byte()
        bits = 64 if flags & 0x04 else 32
        self.uleb(bits)  # minimum
        if flags & 0x01:
            self.uleb(bits)  # maximum
        if flags & 0x08:
            self.uleb()  # custom page size (log2)

    def valtype(self):
        t = self.byte()
        # Typed references: (ref null? ht) with a heap type (s33 LEB).
        if t in (0x63, 0x64):
            self.sleb33()
        return t

    def sleb33(self):
        while self.byte() & 0x80:
            pass


def sections(data):
    """Yields (id, Reader over the section's contents)."""
    if len(data) < 8 or data[:4] != b"\0asm":
        raise Malformed("no \\0asm magic: not a WebAssembly binary module")
    version = int.from_bytes(data[4:8], "little")
    if version != 1:
        raise Malformed(f"unsupported binary version {version}")
    r = Reader(data, 8)
    while r.pos < r.end:
        sid = r.byte()
        size = r.uleb()
        start = r.pos
        if start + size > r.end:
            raise Malformed(f"section {sid} runs past the end of the file")
        yield sid, Reader(data, start, start + size)
        r.pos = start + size


def read_imports(r):
    out = []
    for _ in range(r.uleb()):
        module = r.name()
        field = r.name()
        kind = r.byte()
        if kind == 0x00:
            r.uleb()  # type index
        elif kind == 0x01:
            r.valtype()  # reference type
            r.limits()
        elif kind == 0x02:
            r.limits()
        elif kind == 0x03:
            r.valtype()
            r.byte()  # mutability
        elif kind == 0x04:
            r.byte()  # attribute
            r.uleb()  # type index
        else:
            raise Malformed(f"unknown import kind {kind:#x} for {module}.{field}")
        out.append((module, field, KINDS.get(kind, hex(kind))))
    return out


def read_exports(r):
    out = []
    for _ in range(r.uleb()):
        name = r.name()
        kind = r.byte()
        r.uleb()  # index
        out.append((name, KINDS.get(kind, hex(kind))))
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wasm", help="the .wasm file")
    ap.add_argument("--require-export", action="append", default=[],
                    metavar="NAME", help="fail unless the module exports NAME")
    args = ap.parse_args(argv)

    try:
        with open(args.wasm, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"error: cannot read {args.wasm}: {e}", file=sys.stderr)
        return 2

    imports, exports, sizes = [], [], {}
    try:
        for sid, r in sections(data):
            label = SECTION_NAMES.get(sid, f"id {sid}")
            if sid == 0:
                label = "custom " + r.name()
            sizes[label] = sizes.get(label, 0) + (r.end - r.pos)
            if sid == 2:
                imports = read_imports(r)
            elif sid == 7:
                exports = read_exports(r)
    except Malformed as e:
        print(f"error: {args.wasm}: {e}", file=sys.stderr)
        return 2

    size = len(data)
    print(f"{args.wasm}: {size} bytes ({size / 1024:.1f} KiB)")
    print("sections: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    print(f"imports ({len(imports)}):")
    for module, field, kind in imports:
        print(f"  {module}.{field} ({kind})")
    print(f"exports ({len(exports)}):")
    for name, kind in exports:
        print(f"  {name} ({kind})")

    failed = False
    env = [(m, f, k) for m, f, k in imports if m == "env"]
    if env:
        failed = True
        print(f"error: {len(env)} import(s) from \"env\": native-only code "
              "was linked into the module:", file=sys.stderr)
        for module, field, kind in env:
            print(f"  {module}.{field} ({kind})", file=sys.stderr)
    exported = {name for name, _ in exports}
    for name in args.require_export:
        if name not in exported:
            failed = True
            print(f"error: the module does not export `{name}`", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
