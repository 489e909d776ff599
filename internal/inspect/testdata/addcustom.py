"""Inserts custom sections into a module: right after the header (--first),
before a named custom section (--before name), or at the end:
python3 addcustom.py in.wasm out.wasm [--first | --before name] NAME=HEXBYTES...
wat2wasm cannot write custom sections, so build.sh uses this for the few
test modules that need them."""
import sys


def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_uleb(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return n, i


def custom(name, payload):
    body = uleb(len(name)) + name.encode() + payload
    return b"\x00" + uleb(len(body)) + body


args = sys.argv[1:]
src, dst = args[0], args[1]
before = None
first = False
rest = args[2:]
if rest and rest[0] == "--before":
    before, rest = rest[1], rest[2:]
elif rest and rest[0] == "--first":
    first, rest = True, rest[1:]
new = b"".join(custom(n, bytes.fromhex(h)) for n, h in (a.split("=", 1) for a in rest))
data = open(src, "rb").read()
pos = 8 if first else len(data)
if before:
    i = 8
    while i < len(data):
        sid = data[i]
        size, j = read_uleb(data, i + 1)
        if sid == 0:
            nlen, k = read_uleb(data, j)
            if data[k:k + nlen].decode() == before:
                pos = i
                break
        i = j + size
open(dst, "wb").write(data[:pos] + new + data[pos:])
