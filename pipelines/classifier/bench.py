#!/usr/bin/env python3
"""Python onnxruntime on the same model and inputs as `examples/classifier_bench.rs`:
tokenizer + encoder + heads, one intra-op thread, batch 1 and 32.

    target/clf/bin/python pipelines/classifier/bench.py [N] [--models DIR]
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.log_severity_level = 3
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=512)
    ap.add_argument("--models", default=os.environ.get("DEALERSCOPE_MODELS", str(ROOT / "target/test-models")))
    a = ap.parse_args()
    texts = [json.loads(l)["text"] for l in (HERE / "corpus/test.jsonl").open(encoding="utf-8")][: a.n]
    enc = session(Path(a.models) / "classifier/use-m-v3-encoder.onnx")
    heads = session(ROOT / "models/classifier/heads.onnx")
    tok = Tokenizer.from_file(str(ROOT / "models/classifier/tokenizer.json"))
    names = [i.name for i in enc.get_inputs()]

    def score(chunk):
        ids, splits = [], [0]
        for t in chunk:
            ids.extend(tok.encode(" ".join(t.split())).ids)
            splits.append(len(ids))
        u = enc.run(None, {names[0]: np.array(ids, np.int32), names[1]: np.array(splits, np.int64)})[0]
        z = np.zeros_like(u)
        return heads.run(None, {"utterance": u, "context": z,
                                "context_is_salesperson": np.zeros((len(chunk), 1), np.float32)})

    for batch in (1, 32):
        score(texts[:batch])
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            score(texts[i:i + batch])
        s = time.perf_counter() - started
        print(f"python batch {batch:>2}: {len(texts) / s:>7.1f} utterances/s ({len(texts)} in {s:.2f} s)")


if __name__ == "__main__":
    main()
