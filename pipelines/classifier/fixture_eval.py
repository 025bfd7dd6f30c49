#!/usr/bin/env python3
"""How the classifier and the rules combine, per label, on the project's own fixture
conversations (tests/fixtures/conversations): the evidence behind pipelines/classifier.toml.

    cargo build
    /tmp/clf/venv/bin/python fixture_eval.py --bin target/debug/dealerscope --work /tmp/clf/work

(--work: the directory train.py wrote encoder.onnx and tokenizer.json to.) Runs the rules alone
(`analyze --no-classifier --json`) on every fixture, scores each customer-side turn with the
committed heads as the classifier stage does (with split_sentences, each sentence of a turn of
several instead of the turn, highest score per label; with context_last_sentence, the turn before
by its last sentence), then prints per language and label:
  - added right/wrong: labels the classifier would add beyond the rules at the language's
    min_threshold;
  - veto right/wrong: rule detections it scores below the language's drop_rules_below on every
    turn they cite, for every label (whether or not the language's veto list has it)
    (right = the gold has the label, so a veto would lose it).
Counted at conversation level against each fixture's gold, as shared/tools/score.py counts.
Nothing under shared/ is read.
"""

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import train  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "conversations"
CATS = ("preferences", "objections", "intents")
PREFIX = {"preferences": "pref.", "objections": "obj.", "intents": "intent."}
TERMINATORS = set("。！？；!?;")


def split_sentences(text):
    """As src/classify/stage.rs: cut after 。！？；!?; (a run of them ends one sentence) and after
    a full stop followed by whitespace."""
    out, start = [], 0
    for at, c in enumerate(text):
        nxt = text[at + 1] if at + 1 < len(text) else None
        if (c in TERMINATORS and nxt not in TERMINATORS) or (c == "." and nxt is not None and nxt.isspace()):
            out.append(text[start:at + 1].strip())
            start = at + 1
    out.append(text[start:].strip())
    return [s for s in out if s]


def rules_only(binary, path):
    p = subprocess.run([binary, "analyze", str(path), "--json", "--no-classifier"],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "debug" / "dealerscope"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/clf/work"))
    a = ap.parse_args()
    settings = tomllib.loads((ROOT / "pipelines" / "classifier.toml").read_text())["classifier"]
    heads_dir = ROOT / "models" / "classifier"
    trained = tomllib.loads((heads_dir / "thresholds.toml").read_text())["thresholds"]
    trained.update(settings.get("thresholds", {}))
    signals, roles = train.taxonomy()
    labels = signals + roles  # the heads' output order
    valued = {"pref.model", "pref.color", "obj.competitor", "obj.feature", "obj.approval"}
    floors = {lang: settings.get("min_threshold_by_language", {}).get(lang, settings.get("min_threshold", 0.0))
              for lang in ("en", "zh")}
    drops = {lang: settings.get("drop_rules_below_by_language", {}).get(lang, settings.get("drop_rules_below", 0.0))
             for lang in ("en", "zh")}
    split = settings.get("split_sentences", False)
    last_context = settings.get("context_last_sentence", False)

    import onnxruntime as ort

    enc = train.Encoder(a.work / "encoder.onnx", a.work / "tokenizer.json")
    heads = ort.InferenceSession(str(heads_dir / "heads.onnx"), providers=["CPUExecutionProvider"])
    added = {lang: Counter() for lang in ("en", "zh")}
    vetoed = {lang: Counter() for lang in ("en", "zh")}
    for lang in ("en", "zh"):
        floor, drop = floors[lang], drops[lang]
        for gold_path in sorted((FIXTURES / lang).glob("*.json")):
            gold = json.loads(gold_path.read_text())
            out = rules_only(a.bin, gold_path.with_suffix(".txt"))
            segs = out["segments"]
            turns = [i for i, s in enumerate(segs) if s["speaker"] != "salesperson"]
            if not turns:
                continue
            rows, owner = [], []
            for n, i in enumerate(turns):
                prev = segs[i - 1] if i else None
                context = prev["text"] if prev else ""
                if last_context:
                    context = (split_sentences(context) or [""])[-1]
                row = {"text": segs[i]["text"], "context": context,
                       "context_speaker": prev["speaker"] if prev else ""}
                parts = split_sentences(row["text"]) if split else []
                pieces = [dict(row, text=p) for p in parts] if len(parts) > 1 else [row]
                rows += pieces
                owner += [n] * len(pieces)
            texts = list(dict.fromkeys(train.clean(t) for r in rows for t in (r["text"], r["context"]) if train.clean(t)))
            cache = dict(zip(texts, enc.embed(texts)))
            u, c, k = train.features(rows, cache)
            sig, _ = heads.run(None, {"utterance": u, "context": c, "context_is_salesperson": k})
            score = np.zeros((len(turns), len(labels)), np.float32)
            for r, n in enumerate(owner):
                score[n] = np.maximum(score[n], sig[r])
            turn_of = {segs[i]["id"]: n for n, i in enumerate(turns)}
            for cat in CATS:
                want = set(gold.get(cat, []))
                if cat == "objections" and gold.get("competitors"):
                    want.add("obj.competitor")
                found = {d["id"]: d["evidence"] for d in out.get(cat) or []}
                for j, label in enumerate(labels):
                    if not label.startswith(PREFIX[cat]):
                        continue
                    verdict = "right" if label in want else "wrong"
                    if label in found and label not in ("pref.model", "pref.color"):  # scored as entities
                        cited = [turn_of[e] for e in found[label] if e in turn_of]
                        if cited and max(score[n, j] for n in cited) < drop:
                            vetoed[lang][(label, verdict)] += 1
                    elif label not in found and label not in valued and score[:, j].max() >= max(trained.get(label, 0.5), floor):
                        added[lang][(label, verdict)] += 1
    for lang in ("en", "zh"):
        print(f"## {lang}: min_threshold {floors[lang]}, drop_rules_below {drops[lang]}, split_sentences {split}")
        print(f"{'label':30s} added right/wrong   veto right/wrong")
        for label in labels:
            ar, aw = added[lang][(label, "right")], added[lang][(label, "wrong")]
            vr, vw = vetoed[lang][(label, "right")], vetoed[lang][(label, "wrong")]
            if ar + aw + vr + vw:
                print(f"{label:30s} {ar:5d} {aw:5d}          {vr:5d} {vw:5d}")
        tot = lambda c, v: sum(n for (_, w), n in c.items() if w == v)
        print(f"{'total':30s} {tot(added[lang], 'right'):5d} {tot(added[lang], 'wrong'):5d}"
              f"          {tot(vetoed[lang], 'right'):5d} {tot(vetoed[lang], 'wrong'):5d}\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
