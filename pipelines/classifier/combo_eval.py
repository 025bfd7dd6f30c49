#!/usr/bin/env python3
"""Rules alone vs rules + classifier, per language, on the project's own fixture conversations
and on the classifier's held-out corpus splits: the evidence for the combination settings in
pipelines/classifier.toml (floors, veto lists, drop thresholds).

    cargo build --release
    /tmp/clf/venv/bin/python combo_eval.py --bin target/release/dealerscope --work /tmp/clf/work [--sweep]

The rules' output is computed once per input (`analyze --no-classifier --json`, cached under
--work/rules-cache) and the committed heads score the customer-side turns as the Rust stage does
(split_sentences, context_last_sentence, max_salesperson). The combination is then simulated in
Python, so many settings can be compared without rerunning the binary:
  - adds: a label the rules did not find, not valued, scoring >= max(its threshold, the floor);
  - vetoes: a rule detection of a veto label scoring below the drop threshold on every scored
    turn it cites is dropped.
Counted as shared/tools/score.py counts preferences, objections and intents (pref.model and
pref.color are entities there and left out; obj.competitor counts when the gold names a
competitor). A held-out corpus item (a test-split utterance with its context; a fixed share of
--heldout per mille, chosen by content, since every item costs a process start) is scored as a two-turn
conversation. With --sweep, prints for each label and language what a veto at several
drop thresholds would change (right = the gold had the label, so the veto loses it).
Nothing under shared/ is read.
"""

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import train  # noqa: E402
from fixture_eval import split_sentences  # noqa: E402
from role_heldout_eval import transcript  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "conversations"
# Conversations written by people who never saw the rules or the corpus (tests/fixtures/heldout).
HELDOUT = ROOT / "tests" / "fixtures" / "heldout"
CATS = ("preferences", "objections", "intents")
PREFIX = {"preferences": "pref.", "objections": "obj.", "intents": "intent."}
ENTITY = {"pref.model", "pref.color"}
LANGS = ("en", "zh")
BATCH = 8


def category(label):
    for cat, p in PREFIX.items():
        if label.startswith(p):
            return cat
    return None


# The rules' output depends on the pipeline and lexicon files (not on the classifier's settings):
# a cached answer is reused while they are unchanged. Clear --work/rules-cache after a rebuild that
# changes the rules' code.
RULES_DIGEST = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted((ROOT / "pipelines").glob("*.toml")) + sorted((ROOT / "pipelines").glob("lexicon/*.toml"))
    if p.name != "classifier.toml")).digest()


def rules_output(binary, path, cache_dir):
    text = Path(path).read_bytes()
    key = hashlib.sha256(text + b"\0" + RULES_DIGEST).hexdigest()[:24]
    c = cache_dir / f"{key}.json"
    if c.exists():
        return json.loads(c.read_text())
    p = subprocess.run([binary, "analyze", str(path), "--json", "--no-classifier"], capture_output=True,
                       text=True, check=True, cwd=ROOT)
    c.write_text(p.stdout)
    return json.loads(p.stdout)


def load_cases(binary, work, jobs, share):
    """[(lang, source, gold label set per category, rules output)] for fixtures and held-out items."""
    cache_dir = work / "rules-cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    items_dir = work / "heldout-items"
    items_dir.mkdir(parents=True, exist_ok=True)
    jobs_in = []
    for lang in LANGS:
        for source, folder in (("fixtures", FIXTURES), ("conversations", HELDOUT)):
            for gold_path in sorted((folder / lang).glob("*.json")):
                gold = json.loads(gold_path.read_text())
                want = {cat: set(gold.get(cat, [])) - ENTITY for cat in CATS}
                if gold.get("competitors"):
                    want["objections"].add("obj.competitor")
                jobs_in.append((lang, source, want, gold_path.with_suffix(".txt")))
    held = []
    for split in ("test",):
        rows = [json.loads(line) for line in (HERE / "corpus" / f"{split}.jsonl").open(encoding="utf-8")]
        # A fixed share by content, so the sample stays the same when seeds are added.
        pick = lambda r: int(hashlib.md5(f"{r['template']}|{r['context']}|{r['text']}".encode()).hexdigest(), 16) % 1000 < share
        held += [r for r in rows if r["speaker"] != "salesperson" and pick(r)]
    # Items are analysed BATCH to a transcript (a process start per item is too slow on a busy
    # machine), then every detection is given to the items whose turns it cites.
    batches = []
    for lang in LANGS:
        mine = [r for r in held if r["lang"] == lang]
        for b in range(0, len(mine), BATCH):
            chunk = mine[b:b + BATCH]
            path = items_dir / f"{chunk[0]['id']}-{len(chunk)}.txt"
            t = "".join(transcript(r) for r in chunk)
            if not path.exists() or path.read_text() != t:
                path.write_text(t)
            batches.append(chunk)
            jobs_in.append((lang, "batch", chunk, path))
    with cf.ThreadPoolExecutor(jobs) as ex:
        outs = list(ex.map(lambda j: rules_output(binary, j[3], cache_dir), jobs_in))
    cases = []
    for (lang, src, want, _), out in zip(jobs_in, outs):
        if src != "batch":
            cases.append((lang, src, want, out))
            continue
        segs = out["segments"]
        at = 0
        for row in want:
            n = transcript(row).count("\n")
            mine = segs[at:at + n]
            at += n
            ids = {x["id"] for x in mine}
            part = {"segments": mine}
            for cat in CATS:
                part[cat] = [dict(d, evidence=[e for e in d.get("evidence") or [] if e in ids])
                             for d in out.get(cat) or [] if ids & set(d.get("evidence") or [])]
            gold = {cat: {l for l in row["labels"] if category(l) == cat} - ENTITY for cat in CATS}
            cases.append((lang, "test", gold, part))
        assert at == len(segs), (at, len(segs))
    return cases


def score_cases(cases, work, settings, heads_dir=ROOT / "models" / "classifier"):
    """Per case: (customer-side segment ids, per-turn score matrix, salesperson prob per turn)."""
    import onnxruntime as ort

    enc = train.Encoder(work / "encoder.onnx", work / "tokenizer.json")
    heads = ort.InferenceSession(str(Path(heads_dir) / "heads.onnx"), providers=["CPUExecutionProvider"])
    emb_file = work / "combo-embeddings.npz"
    cache = {}
    if emb_file.exists():
        z = np.load(emb_file, allow_pickle=True)
        cache = dict(zip(z["t"].tolist(), z["e"]))
    split = settings.get("split_sentences", False)
    last = settings.get("context_last_sentence", False)
    prepared = []
    need = set()
    for lang, src, want, out in cases:
        segs = out["segments"]
        turns = [i for i, s in enumerate(segs) if s["speaker"] != "salesperson"]
        rows, owner = [], []
        for n, i in enumerate(turns):
            prev = segs[i - 1] if i else None
            context = prev["text"] if prev else ""
            if last:
                context = (split_sentences(context) or [""])[-1]
            row = {"text": segs[i]["text"], "context": context, "context_speaker": prev["speaker"] if prev else ""}
            parts = split_sentences(row["text"]) if split else []
            pieces = [dict(row, text=p) for p in parts] if len(parts) > 1 else [row]
            rows += pieces
            owner += [n] * len(pieces)
        prepared.append((turns, rows, owner))
        need |= {train.clean(t) for r in rows for t in (r["text"], r["context"]) if train.clean(t)}
    missing = sorted(need - set(cache))
    if missing:
        print(f"embedding {len(missing)} texts", file=sys.stderr, flush=True)
        cache.update(zip(missing, enc.embed(missing)))
        t = sorted(cache)
        np.savez(emb_file, t=np.array(t, dtype=object), e=np.stack([cache[x] for x in t]))
    result = []
    for (lang, src, want, out), (turns, rows, owner) in zip(cases, prepared):
        segs = out["segments"]
        if not rows:
            result.append(({}, None, None))
            continue
        u, c, k = train.features(rows, cache)
        sig, sales = heads.run(None, {"utterance": u, "context": c, "context_is_salesperson": k})
        score = np.zeros((len(turns), sig.shape[1]), np.float32)
        sp = np.zeros(len(turns), np.float32)
        cnt = np.zeros(len(turns), np.float32)
        for r, n in enumerate(owner):
            score[n] = np.maximum(score[n], sig[r])
            sp[n] += sales[r, 0]
            cnt[n] += 1
        result.append(({segs[i]["id"]: n for n, i in enumerate(turns)}, score, sp / np.maximum(cnt, 1)))
    return result


def simulate(cases, scored, labels, thresholds, cfg, sources, lang):
    """Counts [tp, pred, gold] per category for the cases of one language and source set."""
    col = {l: j for j, l in enumerate(labels)}
    counts = {cat: [0, 0, 0] for cat in CATS}
    floor = cfg["floor"]
    veto = cfg["veto"]  # label -> drop below
    valued = cfg["valued"]
    for (lg, src, want, out), (turn_of, score, sales) in zip(cases, scored):
        if lg != lang or src not in sources:
            continue
        for cat in CATS:
            found = {}
            for d in out.get(cat) or []:
                found.setdefault(d["id"], []).extend(d.get("evidence") or [])
            pred = set()
            for label, ev in found.items():
                if label in ENTITY:
                    continue
                if label in veto and score is not None and label in col:
                    cited = [turn_of[e] for e in ev if e in turn_of]
                    if cited and max(score[n, col[label]] for n in cited) < veto[label]:
                        continue
                pred.add(label)
            if score is not None and (floor < 1.0 or cfg.get("label_floors")):
                ok = sales < cfg["max_salesperson"]
                for label in labels:
                    if category(label) != cat or label in ENTITY or label in valued or label in found:
                        continue
                    t = max(thresholds.get(label, 0.5), cfg.get("label_floors", {}).get(label, floor))
                    if t < 1.0 and (score[ok, col[label]] >= t).any():
                        pred.add(label)
            g = want[cat]
            counts[cat][0] += len(pred & g)
            counts[cat][1] += len(pred)
            counts[cat][2] += len(g)
    return counts


def f1(tp, npred, ngold):
    return 2 * tp / (npred + ngold) if npred + ngold else 0.0


def macro(counts):
    return float(np.mean([f1(*counts[c]) for c in CATS]))


def config_from_settings(settings, lang, valued):
    floor = settings.get("min_threshold_by_language", {}).get(lang, settings.get("min_threshold", 0.0))
    drop = settings.get("drop_rules_below_by_language", {}).get(lang, settings.get("drop_rules_below", 0.0))
    veto_list = settings.get("veto_by_language", {}).get(lang, settings.get("veto", []))
    return {"floor": floor, "label_floors": settings.get("min_threshold_by_label", {}).get(lang, {}),
            "veto": {l: drop for l in veto_list} if drop > 0 else {},
            "valued": valued, "max_salesperson": settings.get("max_salesperson", 1.0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "dealerscope"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/clf/work"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--adds", action="store_true", help="per label: what adding it at several floors would bring")
    # Running the rules costs a process start per item: a fixed sample of the test split.
    ap.add_argument("--heldout", type=int, default=350, help="per mille of the test split's items")
    a = ap.parse_args()
    os.environ.setdefault("DEALERSCOPE_MODELS", "/work/main/target/test-models")
    settings = tomllib.loads((ROOT / "pipelines" / "classifier.toml").read_text())["classifier"]
    thresholds = tomllib.loads((ROOT / "models" / "classifier" / "thresholds.toml").read_text())["thresholds"]
    thresholds.update(settings.get("thresholds", {}))
    valued = set(tomllib.loads((ROOT / "pipelines" / "taxonomy.toml").read_text())["taxonomy"]["valued"])
    signals, roles = train.taxonomy()
    labels = signals + roles
    cases = load_cases(a.bin, a.work, a.jobs, a.heldout)
    scored = score_cases(cases, a.work, settings)
    rules_cfg = {"floor": 1.0, "veto": {}, "valued": valued, "max_salesperson": 1.0}
    for lang in LANGS:
        cfg = config_from_settings(settings, lang, valued)
        for name, sources in (("fixtures", {"fixtures"}), ("held-out conversations", {"conversations"}),
                              ("test", {"test"})):
            r = simulate(cases, scored, labels, thresholds, rules_cfg, sources, lang)
            c = simulate(cases, scored, labels, thresholds, cfg, sources, lang)
            per = " ".join(f"{cat[:4]} {f1(*r[cat]):.3f}->{f1(*c[cat]):.3f}" for cat in CATS)
            print(f"{lang} {name:22s} rules {macro(r):.3f}  classifier {macro(c):.3f}   {per}")
    if a.sweep:
        grid = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
        col = {l: j for j, l in enumerate(labels)}
        for lang in LANGS:
            print(f"\n## {lang}: rule detections a veto would drop, right/wrong, per drop threshold {grid}")
            print(f"{'label':28s} " + " ".join(f"{'fix':>4s}{'':1s}{'held':>5s}" for _ in grid))
            for label in signals:
                if label in ENTITY:
                    continue
                cells, any_ = [], False
                for t in grid:
                    cnt = {"fixtures": [0, 0], "held": [0, 0]}
                    for (lg, src, want, out), (turn_of, score, _) in zip(cases, scored):
                        if lg != lang or score is None:
                            continue
                        cat = category(label)
                        ev = [e for d in out.get(cat) or [] if d["id"] == label for e in d.get("evidence") or []]
                        cited = [turn_of[e] for e in ev if e in turn_of]
                        if cited and max(score[n, col[label]] for n in cited) < t:
                            k = "fixtures" if src == "fixtures" else "held"
                            cnt[k][0 if label in want[cat] else 1] += 1
                    any_ |= any(sum(v) for v in cnt.values())
                    cells.append(f"{cnt['fixtures'][0]}/{cnt['fixtures'][1]:<2d} {cnt['held'][0]:>2d}/{cnt['held'][1]:<3d}")
                if any_:
                    print(f"{label:28s} " + " ".join(cells))

    if a.adds:
        add_sweep(cases, scored, labels, thresholds, settings, valued)


def add_sweep(cases, scored, labels, thresholds, settings, valued):
    """Per label and language, the labels the classifier would add beyond the rules (right/wrong)
    at several floors, per source: the evidence for per-label floors."""
    grid = (0.7, 0.8, 0.85, 0.9, 0.95)
    col = {l: j for j, l in enumerate(labels)}
    sources = ("fixtures", "conversations", "test")
    for lang in LANGS:
        print(f"\n## {lang}: labels the classifier would add, right/wrong (fixtures conversations test), per floor {grid}")
        for label in labels:
            cat = category(label)
            if cat is None or label in ENTITY or label in valued:
                continue
            cells, any_ = [], False
            for floor in grid:
                cnt = {k: [0, 0] for k in sources}
                t = max(thresholds.get(label, 0.5), floor)
                for (lg, src, want, out), (turn_of, score, sales) in zip(cases, scored):
                    if lg != lang or score is None:
                        continue
                    if any(d["id"] == label for d in out.get(cat) or []):
                        continue
                    ok = sales < settings.get("max_salesperson", 1.0)
                    if (score[ok, col[label]] >= t).any():
                        cnt[src][0 if label in want[cat] else 1] += 1
                any_ |= any(sum(v) for v in cnt.values())
                cells.append(" ".join(f"{cnt[k][0]}/{cnt[k][1]}" for k in sources))
            if any_:
                print(f"{label:28s} " + " | ".join(f"{c:14s}" for c in cells))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
