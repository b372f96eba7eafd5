"""Checks an exported ONNX file with onnx.checker (full_check: shape
inference too) and runs it with onnxruntime (CPU). Reads JSON from stdin:
{"model": path, "inputs": [{"shape": [...], "data": base64 float32
little-endian, "lengths": [...] (optional)}]}; prints JSON: {"opset": N,
"ir_version": N, "onnx": version, "onnxruntime": version, "outputs":
[{"shape": [...], "data": base64 float32}]}, one per input."""
import base64
import json
import sys

import numpy as np
import onnx
import onnxruntime

request = json.load(sys.stdin)
model = onnx.load(request["model"])
onnx.checker.check_model(model, full_check=True)
session = onnxruntime.InferenceSession(request["model"], providers=["CPUExecutionProvider"])
outputs = []
for item in request["inputs"]:
    feeds = {"x": np.frombuffer(base64.b64decode(item["data"]), dtype="<f4").reshape(item["shape"])}
    if "lengths" in item:
        feeds["lengths"] = np.asarray(item["lengths"], dtype=np.int64)
    (y,) = session.run(["logits"], feeds)
    outputs.append({"shape": list(y.shape), "data": base64.b64encode(np.ascontiguousarray(y, dtype="<f4").tobytes()).decode()})
json.dump(
    {
        "opset": model.opset_import[0].version,
        "ir_version": model.ir_version,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "outputs": outputs,
    },
    sys.stdout,
)
