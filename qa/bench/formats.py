"""Build throughput by file format: the same articles as .txt, .html and .pdf, built by `build_index`.

    HF_HUB_OFFLINE=1 .venv/bin/python -m qa.bench.formats --articles 40 --rounds 3

The articles are the seed texts (tests/fixtures/seed) in shuffled paragraph orders. Each round builds
each format into a fresh folder (nothing reused from a cache), in rotating order; prints per format
the median build time (wall and CPU: the CPU time of all the build's threads is steadier on a
shared machine), the extraction time alone (`load_corpus`) and chunks per second.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (the seed texts are test fixtures)
SEED = ROOT / "tests" / "fixtures" / "seed"

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title} | Bench Times</title>
<meta property="og:site_name" content="Bench Times"><meta property="article:published_time" content="2025-01-{day:02d}">
</head><body><div class="cookie-banner">We use cookies. <button>Accept</button></div>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1>{paragraphs}</article>
<aside class="related"><h2>Related</h2><ul><li><a href="/a">Other story</a></li></ul></aside>
<footer>All rights reserved.</footer></body></html>"""


def articles(n: int) -> list[tuple[str, list[str]]]:
    rng = random.Random(7)
    seeds = []
    for p in sorted(SEED.glob("*.txt")):
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8").split("\n") if ln.strip()]
        seeds.append((lines[0], lines[1:]))
    out = []
    for i in range(n):
        title, body = seeds[i % len(seeds)]
        body = body[:]
        rng.shuffle(body)
        out.append((f"{title} ({i})", body))
    return out


def write(corpus: Path, kind: str, arts: list[tuple[str, list[str]]]) -> None:
    corpus.mkdir(parents=True)
    for i, (title, body) in enumerate(arts):
        if kind == "txt":
            (corpus / f"a{i:03d}.txt").write_text(
                title + "\n" + "\n".join(body) + "\n", encoding="utf-8"
            )
        elif kind == "html":
            paras = "".join(f"<p>{html.escape(p)}</p>" for p in body)
            page = PAGE.format(title=html.escape(title), day=i % 28 + 1, paragraphs=paras)
            (corpus / f"a{i:03d}.html").write_text(page, encoding="utf-8")
        else:
            from fpdf import FPDF

            pdf = FPDF()
            pdf.set_title(title)
            pdf.add_font("dejavu", fname=_font())
            pdf.set_font("dejavu", size=11)
            pdf.add_page()
            pdf.multi_cell(0, 6, title + "\n" + "\n".join(body))
            pdf.output(str(corpus / f"a{i:03d}.pdf"))


def _font() -> str:
    for p in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(p).exists():
            return p
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from qa.config import Settings
    from qa.corpus import load, load_corpus
    from qa.embed import shared_embedder
    from qa.index import build_index

    arts = articles(args.articles)
    embedder = shared_embedder(Settings())
    embedder.encode(["warm up"])
    kinds = ["txt", "html", "pdf"]
    res: dict[str, dict[str, list[float]]] = {
        k: {"build": [], "cpu": [], "extract": [], "chunks": []} for k in kinds
    }
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind in kinds[r % 3 :] + kinds[: r % 3]:
                home = Path(tmp) / f"{kind}{r}"
                write(home / "corpus", kind, arts)
                load.clear_cache()  # extraction is measured, not remembered from the last round
                t = time.perf_counter()
                load_corpus(home / "corpus")
                res[kind]["extract"].append(time.perf_counter() - t)
                load.clear_cache()
                s = Settings(  # a fresh extraction cache too: every round extracts
                    corpus_dir=home / "corpus", index_dir=home / "index", cache_dir=home / "cache"
                )
                t, c = time.perf_counter(), time.process_time()
                rep = build_index(s, embedder)
                res[kind]["build"].append(time.perf_counter() - t)
                res[kind]["cpu"].append(
                    time.process_time() - c
                )  # all threads; steadier on a busy machine
                res[kind]["chunks"].append(rep.chunks)
    out = {}
    base = statistics.median(res["txt"]["build"])
    base_cpu = statistics.median(res["txt"]["cpu"])
    for kind in kinds:
        b = statistics.median(res[kind]["build"])
        chunks = res[kind]["chunks"][0]
        out[kind] = {"build_s": round(b, 2), "extract_s": round(statistics.median(res[kind]["extract"]), 3),
                     "chunks": chunks, "chunks_per_s": round(chunks / b, 1), "vs_txt": round(b / base, 3),
                     "cpu_s": round(statistics.median(res[kind]["cpu"]), 2),
                     "cpu_vs_txt": round(statistics.median(res[kind]["cpu"]) / base_cpu, 3),
                     "all_builds_s": [round(x, 2) for x in res[kind]["build"]]}  # fmt: skip
    print(json.dumps({"articles": args.articles, "rounds": args.rounds, "results": out}, indent=2))


if __name__ == "__main__":
    main()
