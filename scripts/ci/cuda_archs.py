#!/usr/bin/env python3
"""Lists the GPU code embedded in an ELF file (a .node, .so, executable or
object), like `cuobjdump --list-elf --list-ptx`, and checks it against the
architectures a build must carry.

    cuda_archs.py FILE                       # prints e.g. "elf sm_75", "ptx sm_75"
    cuda_archs.py FILE --require elf:75,elf:80,elf:86,elf:90,elf:100,elf:120,ptx:75

Uses cuobjdump when there is one (CUDA toolkits that ship it); otherwise it
reads the .nv_fatbin section itself (pip-installed and minimal toolkits have
no cuobjdump). Exits 1 when a required entry is missing, 2 when the file has
no GPU code at all.
"""
import os
import re
import shutil
import struct
import subprocess
import sys

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "elf"}


def elf_section(data, name):
    """The bytes of the named section of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)

    names = header(shstrndx)
    strtab = data[names[4]:names[4] + names[5]]
    for i in range(shnum):
        h = header(i)
        end = strtab.index(b"\0", h[0])
        if strtab[h[0]:end].decode() == name:
            return data[h[4]:h[4] + h[5]]
    return b""


def fatbin_entries(section):
    """(kind, sm) of every entry of every fatbin in a .nv_fatbin section."""
    entries = []
    at = 0
    while at + 16 <= len(section):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", section, at)
        if magic != FATBIN_MAGIC:
            at += 8  # fatbins are 8-byte aligned; skip padding
            continue
        entry = at + header_size
        end = entry + fat_size
        while entry + 40 <= end:
            kind, _, entry_header, size = struct.unpack_from("<HHIQ", section, entry)
            arch, = struct.unpack_from("<I", section, entry + 28)
            if kind in KINDS:
                entries.append((KINDS[kind], arch))
            if entry_header == 0:
                break
            entry += entry_header + size
        at = end
    return entries


def with_cuobjdump(path):
    tool = shutil.which("cuobjdump")
    if not tool:
        for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
            if root and os.path.exists(os.path.join(root, "bin", "cuobjdump")):
                tool = os.path.join(root, "bin", "cuobjdump")
                break
    if not tool:
        return None
    out = subprocess.run([tool, "--list-elf", "--list-ptx", path], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        m = re.search(r"(ELF|PTX) file\s+\d+:.*\.sm_(\d+)", line)
        if m:
            found.append((m.group(1).lower(), int(m.group(2))))
    return found


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    path = argv[0]
    required = []
    if "--require" in argv:
        spec = argv[argv.index("--require") + 1]
        required = [(k, int(a)) for k, a in (item.split(":") for item in spec.split(","))]
    entries = with_cuobjdump(path)
    how = "cuobjdump"
    if entries is None:
        with open(path, "rb") as f:
            entries = fatbin_entries(elf_section(f.read(), ".nv_fatbin"))
        how = ".nv_fatbin"
    unique = sorted(set(entries))
    for kind, arch in unique:
        print(f"{kind} sm_{arch}")
    if not unique:
        print(f"cuda-archs: {path} holds no GPU code (read with {how})")
        return 2
    missing = [f"{k} sm_{a}" for k, a in required if (k, a) not in unique]
    if missing:
        print(f"cuda-archs: {path} lacks {', '.join(missing)} (read with {how})")
        return 1
    if required:
        print(f"cuda-archs: {path} has {', '.join(f'{k} sm_{a}' for k, a in required)} (read with {how})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
