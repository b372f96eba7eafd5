"""Reads a TensorBoard log folder with TensorBoard's own EventAccumulator and
prints, as JSON, every scalar (tag -> [[step, value]]) and every text
summary (tag -> [[step, text]]). Usage: read-tensorboard.py DIR"""
import json
import math
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# size_guidance 0: keep every event (the default samples 10,000 scalars, 10 tensors per tag).
ea = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "tensors": 0})
ea.Reload()
tags = ea.Tags()
num = lambda v: None if math.isnan(v) else v
out = {
    "scalars": {t: [[e.step, num(e.value)] for e in ea.Scalars(t)] for t in tags["scalars"]},
    "texts": {t: [[e.step, e.tensor_proto.string_val[0].decode("utf8")] for e in ea.Tensors(t)] for t in tags["tensors"]},
}
json.dump(out, sys.stdout)
