"""Reads an nrnm-native checkpoint with plain Python (json, struct, zlib):
what a user's tools see. Checks the safetensors layout and the checksum
(README "Checkpoint format") and prints one JSON object:
{"metadata": {...}, "tensors": {name: {"dtype", "shape"}}, "checksum_ok": bool,
 "first_values": {name: [first float32 values]}}

usage: python3 read-checkpoint.py FILE
"""
import json
import struct
import sys
import zlib

SIZES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8 : 8 + n])
body = data[8 + n :]
metadata = header.pop("__metadata__", {})
tensors = {}
crc = 0
for name, info in header.items():  # file order (json keeps it)
    begin, end = info["data_offsets"]
    count = 1
    for d in info["shape"]:
        count *= d
    assert end - begin == count * SIZES[info["dtype"]], name
    crc = zlib.crc32(body[begin:end], crc)
    tensors[name] = info
for key in sorted(metadata):
    if key != "nrnm.checksum":
        crc = zlib.crc32(key.encode() + b"\0" + metadata[key].encode() + b"\0", crc)
for name, info in header.items():
    fields = [name, info["dtype"], ",".join(str(d) for d in info["shape"])]
    crc = zlib.crc32(b"".join(x.encode() + b"\0" for x in fields), crc)
first = {}
for name, info in header.items():
    if info["dtype"] == "F32":
        begin = info["data_offsets"][0]
        k = min(3, (info["data_offsets"][1] - begin) // 4)
        first[name] = list(struct.unpack("<%df" % k, body[begin : begin + 4 * k]))
print(json.dumps({
    "metadata": metadata,
    "tensors": {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in tensors.items()},
    "checksum_ok": metadata.get("nrnm.checksum") == "crc32:%08x" % crc,
    "first_values": first,
}))
