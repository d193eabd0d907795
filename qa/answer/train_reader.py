"""Train the optional sentence reader (a cross-encoder from the bundled MiniLM) on SQuAD 2.0 dev.

    python -m qa.answer.train_reader --corpus BENCH/squad2-dev/corpus --index /tmp/squad-index \\
        --questions BENCH/squad2-dev/questions.jsonl --articles 1-17 --out ~/.cache/qa/reader

Pairs are (question, candidate sentence): the candidates the answer layer already considers (the
retrieved passages' sentences, ranked by the shipped scorer, `qa.answer.train.collect`), label 1 when
the sentence holds a gold answer. Each question gives its best gold sentence and a few negatives: the
scorer's top-ranked wrong sentences (the hard ones) and one more of its top_n; unanswerable questions
give only negatives, so the best probability over the candidates learns answerability. Every fifth
question is held out to set the abstention threshold (`--max-false` of answerable questions below it).

Runs in segments (`--segment` seconds, then exit code 3: run the same command again to continue) so a
long training shares the machine's heavy-job lock; the state (candidates, pairs, checkpoint, scores)
lives in OUT/.work until the end. Seeded and reproducible; everything local (HF_HUB_OFFLINE=1).
`--eval-articles` adds a held-out comparison with the shipped scorer to the metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from qa.answer.reader import sigmoid
from qa.config import READER_FILE

TOP_N = 8  # candidates the reader re-scores (the scorer's best)
HARD = 2  # the scorer's top-ranked wrong sentences per question
MAX_FALSE = 0.07
MORE = 3  # exit code: a segment ended with work left


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ candidates


def _items(engine, gold, top_n: int) -> list[dict]:
    """Per question: the scorer's top_n sentences with labels, the best gold sentence, and the
    shipped abstention model's logit (its two rules counted as in `qa.answer.train.fit`)."""
    from qa.answer.abstain import ABSTAIN_FEATURES, held, off_topic
    from qa.answer.score import Idf, load_weights, score_rows
    from qa.answer.train import abstain_matrix, collect

    models = load_weights()
    samples = collect(engine, gold, engine.settings.k, log=log)
    xa, _ = abstain_matrix(samples, models["abstain_sentence"], Idf.of_index(engine.index))
    ab = models["abstain"]
    cols = [ABSTAIN_FEATURES.index(f) for f in ab.features]
    out = []
    for s, f in zip(samples, xa, strict=True):
        logits = score_rows(s.rows)
        order = np.argsort(-logits, kind="stable")
        top = order[:top_n]
        pos = [int(i) for i in order if s.labels[i]]
        a = 20.0 if off_topic(f) else -20.0 if held(f) else float(ab.logit(f[None, cols])[0])
        out.append(
            {
                "q": s.question,
                "answerable": bool(s.answerable),
                "texts": [s.texts[i] for i in top],
                "labels": [bool(s.labels[i]) for i in top],
                "gold": s.texts[pos[0]] if pos else None,
                "scorer_ok": bool(s.labels[order[0]]),
                "abstain_logit": a,
                "shipped_abstains": bool(a > ab.threshold),
            }
        )
    return out


def candidates(a, work: Path) -> dict:
    """The train / threshold / eval candidates, collected once (cached in the work folder)."""
    path = work / "candidates.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    from qa.chat import Engine
    from qa.config import Settings
    from qa.gold import load_gold, select

    engine = Engine(Settings.from_env(corpus_dir=a.corpus, index_dir=a.index, reader=""))
    gold = load_gold(a.questions)
    chosen = select(gold, articles=a.articles, every=a.every)
    log(f"{len(chosen)} questions (articles {a.articles}, every {a.every})")
    items = _items(engine, chosen, a.top_n)
    out = {
        "train": [x for i, x in enumerate(items) if i % 5 != 4],
        "calib": [x for i, x in enumerate(items) if i % 5 == 4],
        "eval": [],
    }
    if a.eval_articles:
        held_out = select(gold, articles=a.eval_articles, every=a.eval_every)
        log(f"{len(held_out)} held-out questions (articles {a.eval_articles})")
        out["eval"] = _items(engine, held_out, a.top_n)
    path.write_text(json.dumps(out), encoding="utf-8")
    return out


def make_pairs(items: list[dict], seed: int, max_pairs: int | None) -> list[tuple[str, str, float]]:
    """(question, sentence, label) pairs: the gold sentence, HARD top-ranked wrong sentences and
    one more wrong one from the top_n; whole questions, in a seeded order, up to max_pairs."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str, float]] = []
    for k in rng.permutation(len(items)):
        x = items[int(k)]
        wrong = [t for t, lab in zip(x["texts"], x["labels"], strict=True) if not lab]
        neg = wrong[:HARD]
        rest = wrong[HARD:]
        if rest:
            neg.append(rest[int(rng.integers(len(rest)))])
        pairs = [(x["q"], t, 0.0) for t in neg]
        if x["gold"]:
            pairs.append((x["q"], x["gold"], 1.0))
        if max_pairs is not None and len(out) + len(pairs) > max_pairs:
            break
        out.extend(pairs)
    order = rng.permutation(len(out))
    return [out[int(i)] for i in order]


# ------------------------------------------------------------------ training


def _model(path: str, fresh: bool = False):
    """The checkpoint at `path`, or (`fresh`) a new reader on the bi-encoder folder at `path`:
    its transformer, mean pooling as it was trained with (its [CLS] vector, which a sequence
    classification head would read, is much the same for every pair: the first runs stayed at the
    base rate) and a linear head giving the score."""
    from sentence_transformers import CrossEncoder

    if not fresh:
        return CrossEncoder(path, max_length=128, local_files_only=True)
    import torch
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    body = Transformer(path, max_seq_length=128)
    dim = body.get_embedding_dimension()
    head = Dense(dim, 1, activation_function=torch.nn.Identity(), module_output_name="scores")
    return CrossEncoder(modules=[body, Pooling(dim, "mean"), head], max_length=128)


def _optimizer(model, total: int, lr: float, head_lr: float):
    """AdamW with a linear warm-up and decay; the new (random) head learns at `head_lr`."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    head = list(model[-1].parameters())
    ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": body, "lr": lr}, {"params": head, "lr": head_lr}]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, max(1, total // 10), total)
    return opt, sched


def train(a, work: Path, pairs: list, deadline: float) -> bool:
    """Train from the checkpoint until done (True) or the segment's deadline (False, checkpointed)."""
    import torch

    from qa.embed import default_model_path

    ckpt, state_file = work / "ckpt", work / "ckpt" / "state.pt"
    steps_per_epoch = -(-len(pairs) // a.batch)
    total = a.epochs * steps_per_epoch if a.steps is None else a.steps
    torch.manual_seed(a.seed)
    resume = state_file.exists()
    model = _model(str(ckpt) if resume else str(default_model_path()), fresh=not resume)
    opt, sched = _optimizer(model, total, a.lr, a.head_lr)
    step = 0
    if state_file.exists():
        state = torch.load(state_file, weights_only=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        step = state["step"]
    model.train()
    positive = sum(p[2] for p in pairs) or 1.0  # positives weigh as much as negatives in all
    weight = torch.tensor((len(pairs) - positive) / positive)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
    t0, losses = time.time(), []
    while step < total and time.time() < deadline:
        epoch, b = divmod(step, steps_per_epoch)
        order = np.random.default_rng(a.seed + epoch).permutation(len(pairs))
        batch = [pairs[int(i)] for i in order[b * a.batch : (b + 1) * a.batch]]
        features = model.preprocess([(p[0], p[1]) for p in batch])
        out = model(features)["scores"].squeeze(-1)
        loss = loss_fn(out, torch.tensor([p[2] for p in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
        step, losses = step + 1, losses + [loss.item()]
        if step % 20 == 0 or step == total:
            rate = len(losses) * a.batch / (time.time() - t0)
            log(f"step {step}/{total} loss {np.mean(losses[-20:]):.4f} ({rate:.1f} pairs/s)")
    model.save(str(ckpt))
    state = {"opt": opt.state_dict(), "sched": sched.state_dict(), "rng": torch.get_rng_state()}
    torch.save({**state, "step": step}, state_file)
    return step >= total


# ------------------------------------------------------------------ scoring and metrics


def score(work: Path, data: dict, deadline: float) -> bool:
    """Reader logits for the threshold and eval questions' candidates, saved as they come."""
    from qa.answer.reader import pair_logits

    path = work / "scores.json"
    done = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    model = None
    for part in ("calib", "eval"):
        got = done.setdefault(part, [])
        for x in data[part][len(got) :]:
            if time.time() > deadline:
                path.write_text(json.dumps(done), encoding="utf-8")
                return False
            model = model or _model(str(work / "ckpt"))
            got.append(pair_logits(model, [(x["q"], t) for t in x["texts"]]).tolist())
        log(f"scored {len(got)} {part} questions")
    path.write_text(json.dumps(done), encoding="utf-8")
    return True


def threshold_for(items: list[dict], logits: list, max_false: float) -> float:
    """The reader probability below which `max_false` of answerable questions fall."""
    best = np.array(
        [sigmoid(max(lg)) for x, lg in zip(items, logits, strict=True) if x["answerable"]]
    )
    return float(np.quantile(best, max_false)) if best.size else 0.5


def _rate_at(score_ans: np.ndarray, score_un: np.ndarray, max_false: float) -> float:
    """Abstention on unanswerable questions when at most max_false of answerable ones abstain
    (abstain on a high score; the threshold set on these questions themselves, to compare)."""
    if not score_ans.size or not score_un.size:
        return float("nan")
    return float(np.mean(score_un > np.quantile(score_ans, 1 - max_false)))


def metrics(items: list[dict], logits: list, threshold: float) -> dict:
    """Top-1 sentence accuracy and abstention, reader against the shipped scorer, on `items`."""
    ans = [(x, lg) for x, lg in zip(items, logits, strict=True) if x["answerable"]]
    un = [(x, lg) for x, lg in zip(items, logits, strict=True) if not x["answerable"]]
    best = {id(x): float(sigmoid(max(lg))) for x, lg in zip(items, logits, strict=True)}
    ra = np.array([-best[id(x)] for x, _ in ans])
    ru = np.array([-best[id(x)] for x, _ in un])
    sa = np.array([x["abstain_logit"] for x, _ in ans])
    su = np.array([x["abstain_logit"] for x, _ in un])
    out = {
        "questions": len(items),
        "answerable": len(ans),
        "scorer_top1": float(np.mean([x["scorer_ok"] for x, _ in ans])),
        "reader_top1": float(np.mean([x["labels"][int(np.argmax(lg))] for x, lg in ans])),
        "gold_in_top_n": float(np.mean([any(x["labels"]) for x, _ in ans])),
        "shipped_abstention": float(np.mean([x["shipped_abstains"] for x, _ in un])),
        "shipped_false_abstention": float(np.mean([x["shipped_abstains"] for x, _ in ans])),
        "reader_abstention": float(np.mean(-ru < threshold)),
        "reader_false_abstention": float(np.mean(-ra < threshold)),
    }
    for fa in (0.07, 0.10):
        out[f"shipped_abstention_at_{fa:.2f}"] = _rate_at(sa, su, fa)
        out[f"reader_abstention_at_{fa:.2f}"] = _rate_at(ra, ru, fa)
    # no question of a kind: None, not NaN (which is not JSON)
    return {k: _rounded(v) for k, v in out.items()}


def _rounded(v):
    return (round(v, 4) if np.isfinite(v) else None) if isinstance(v, float) else v


def combined(data: dict, scores: dict) -> dict:
    """Abstention of a logistic model over [shipped abstention logit, reader best logit], fitted on
    the threshold questions and measured on the eval questions (thresholds set there, to compare)."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:  # the `eval` extra
        return {}

    def xy(part):
        rows = [
            (x["abstain_logit"], max(lg)) for x, lg in zip(data[part], scores[part], strict=True)
        ]
        return np.array(rows), np.array([not x["answerable"] for x in data[part]])

    (xc, yc), (xe, ye) = xy("calib"), xy("eval")
    if len(set(yc)) < 2 or len(set(ye)) < 2:
        return {}
    lr = LogisticRegression(class_weight="balanced").fit(xc, yc)
    z = lr.decision_function(xe)
    return {
        f"combined_abstention_at_{fa:.2f}": round(_rate_at(z[~ye], z[ye], fa), 4)
        for fa in (0.07, 0.10)
    }


# ------------------------------------------------------------------ the command


def finish(a, work: Path, data: dict, scores: dict, pairs: int, seconds: float) -> dict:
    """Copy the trained model to OUT with its qa-reader.json; the work folder is removed."""
    thr = threshold_for(data["calib"], scores["calib"], a.max_false)
    info = {
        "version": 1,
        "top_n": a.top_n,
        "threshold": round(thr, 6),
        "trained_on": f"SQuAD 2.0 dev articles {a.articles}, every {a.every}: "
        f"{len(data['train'])} questions ({len(data['calib'])} more held out for the threshold)",
        "pairs": pairs,
        "epochs": a.epochs,
        "steps": a.steps,
        "batch": a.batch,
        "seed": a.seed,
        "lr": [a.lr, a.head_lr],
        "train_seconds": round(seconds, 1),
        "metrics": {"threshold_questions": metrics(data["calib"], scores["calib"], thr)},
    }
    if data["eval"]:
        held_out = metrics(data["eval"], scores["eval"], thr)
        held_out.update(combined(data, scores))
        info["metrics"][f"articles {a.eval_articles}"] = held_out
    out = Path(a.out).expanduser()
    for f in (work / "ckpt").iterdir():
        if f.name != "state.pt":
            if f.is_dir():
                shutil.copytree(f, out / f.name, dirs_exist_ok=True)
            else:
                shutil.copy2(f, out / f.name)
    (out / READER_FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    if not a.keep_work:
        shutil.rmtree(work)
    return info


def _args(argv):
    p = argparse.ArgumentParser(
        prog="python -m qa.answer.train_reader", description=__doc__.split("\n")[0]
    )
    for name in ("--corpus", "--index", "--questions", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--articles", default="1-17")
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--eval-articles", default=None, help="held-out articles to compare on")
    p.add_argument("--eval-every", type=int, default=1)
    p.add_argument("--max-pairs", type=int, default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="training steps (default: epochs)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=4e-5)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--top-n", type=int, default=TOP_N)
    p.add_argument("--max-false", type=float, default=MAX_FALSE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--segment", type=float, default=None, help="seconds, then exit 3 to go on")
    p.add_argument("--keep-work", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(a.threads)
    start = time.time()
    deadline = start + (a.segment or float("inf"))
    work = Path(a.out).expanduser() / ".work"
    work.mkdir(parents=True, exist_ok=True)
    data = candidates(a, work)
    pairs = make_pairs(data["train"], a.seed, a.max_pairs)
    clock = work / "seconds.json"
    spent = json.loads(clock.read_text()) if clock.exists() else 0.0
    log(f"{len(pairs)} pairs ({sum(p[2] for p in pairs):.0f} positive), {spent:.0f} s trained")
    t_train = time.time()
    done = train(a, work, pairs, deadline) if not (work / "trained").exists() else True
    if not (work / "trained").exists():
        spent += time.time() - t_train
        clock.write_text(json.dumps(spent))
        if not done:
            return MORE
        (work / "trained").touch()
    if not score(work, data, deadline):
        return MORE
    scores = json.loads((work / "scores.json").read_text(encoding="utf-8"))
    info = finish(a, work, data, scores, len(pairs), spent)
    print(json.dumps(info["metrics"], indent=1))
    log(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
