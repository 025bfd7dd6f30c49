#!/usr/bin/env python3
"""Decision roles on the classifier's held-out split, rules alone vs rules + classifier: the
evidence behind `min_role_threshold(_by_language)` in pipelines/classifier.toml.

    cargo build --release
    python3 role_heldout_eval.py --bin target/release/dealerscope

Every test-split utterance labelled with a role, and 100 other customer or companion
utterances per language (fixed sample), become two-turn transcripts (the salesperson's context,
then the utterance; a companion's utterance follows a customer's greeting). Each is analysed with
and without `--no-classifier`; role ids are counted per utterance against its labels. Standard
library only; nothing under shared/ is read.
"""

import argparse
import concurrent.futures as cf
import json
import random
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEAKERS = {"en": ("Salesperson", "Customer", "Wife", "Hi, welcome in.", "Hi."),
            "zh": ("销售", "客户", "妻子", "您好，欢迎光临。", "你好。")}


def transcript(row):
    sales, customer, companion, greeting, hello = SPEAKERS[row["lang"]]
    lines = [] if row["speaker"] == "customer" else [f"{customer}: {hello}"]
    lines.append(f"{sales}: {row['context'] or greeting}")
    lines.append(f"{customer if row['speaker'] == 'customer' else companion}: {row['text']}")
    return "\n".join(lines) + "\n"


def roles(binary, path, *extra):
    out = subprocess.run([binary, "analyze", str(path), "--json", *extra],
                         capture_output=True, text=True, check=True).stdout
    return {r["id"] for r in json.loads(out)["roles"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    rows = [json.loads(l) for l in (HERE / "corpus" / "test.jsonl").open()]
    has_role = lambda r: any(l.startswith("role.") for l in r["labels"])
    rng = random.Random(7)
    picked = [r for r in rows if has_role(r)]
    for lang in ("en", "zh"):
        others = [r for r in rows if r["lang"] == lang and r["speaker"] != "salesperson" and not has_role(r)]
        picked += rng.sample(others, 100)
    with tempfile.TemporaryDirectory() as tmp:
        def run(row):
            path = Path(tmp) / f"{row['id']}.txt"
            path.write_text(transcript(row))
            return row, roles(a.bin, path), roles(a.bin, path, "--no-classifier")
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            results = list(ex.map(run, picked))
    for lang in ("en", "zh"):
        for k, name in ((1, "rules + classifier"), (2, "rules alone")):
            tp = fp = fn = 0
            for res in results:
                row = res[0]
                if row["lang"] != lang:
                    continue
                gold = {l for l in row["labels"] if l.startswith("role.")}
                tp += len(res[k] & gold); fp += len(res[k] - gold); fn += len(gold - res[k])
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            print(f"{lang} {name:20s} P {p:.3f} R {r:.3f} F1 {f:.3f}  (right {tp}, wrong {fp}, missed {fn})")


if __name__ == "__main__":
    main()
