#!/usr/bin/env python3
"""Writes a file's bytes as a C++ array: embed_file.py IN OUT.cpp SYMBOL.

Defines `extern const unsigned char SYMBOL[]` and `extern const unsigned SYMBOL_size`.
"""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write(f"// Generated from {src.rsplit('/', 1)[-1]} by web/tools/embed_file.py; do not edit.\n")
    f.write(f"extern const unsigned char {name}[];\nextern const unsigned {name}_size;\n")
    f.write(f"alignas(4) const unsigned char {name}[] = {{\n")
    for i in range(0, len(data), 24):
        f.write(",".join(str(b) for b in data[i:i + 24]) + ",\n")
    f.write(f"}};\nconst unsigned {name}_size = {len(data)};\n")
