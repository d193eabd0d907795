"""An optional sentence reader: a cross-encoder that reads each candidate sentence against the question.

Word overlap and cosines cannot see what gives SQuAD-style close misses away (an antonym, a swapped
role, a changed condition); a cross-encoder reads question and sentence together. It is opt-in
(`QA_READER`, a folder written by `python -m qa.answer.train_reader`): the scorer's `top_n` candidate
sentences are re-scored, the reader's best is quoted first, further quotes follow the usual share rule
on the reader's probabilities, and the answer abstains when the best probability is below the
folder's threshold. Without a reader nothing here runs and torch is never imported.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.config import READER_FILE
from qa.errors import ReaderError

if TYPE_CHECKING:
    from qa.answer.abstain import Decision
    from qa.answer.compose import Ranked

BELOW = -30.0  # logit given to candidates the reader did not read: never quoted
MAX_LENGTH = 128  # word pieces of question + sentence (longer sentences are cut)


@dataclass(frozen=True)
class ReaderInfo:
    """What `qa-reader.json` says: how many candidates to read and the abstention threshold."""

    path: Path
    top_n: int
    threshold: float


def read_info(path: str | Path) -> ReaderInfo:
    """The reader folder's settings; a ReaderError naming the fix when the folder is not one."""
    folder = Path(path).expanduser()
    meta = folder / READER_FILE
    try:
        raw = json.loads(meta.read_text(encoding="utf-8"))
        version, top_n, threshold = raw["version"], int(raw["top_n"]), float(raw["threshold"])
    except FileNotFoundError:
        raise ReaderError(f"no {READER_FILE} in the reader folder {str(folder)!r}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReaderError(f"unreadable {meta}: {exc}") from None
    if version != 1 or top_n < 1 or not 0.0 <= threshold <= 1.01:
        raise ReaderError(
            f"unsupported {meta}: version {version}, top_n {top_n}, threshold {threshold}"
        )
    return ReaderInfo(folder, top_n, threshold)


class Reader:
    """A cross-encoder folder, loaded on first use (torch is imported only then)."""

    def __init__(self, path: str | Path) -> None:
        self.info = read_info(path)
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                try:
                    model = CrossEncoder(
                        str(self.info.path), max_length=MAX_LENGTH, local_files_only=True
                    )
                except (OSError, ValueError) as exc:
                    raise ReaderError(
                        f"cannot load the reader {str(self.info.path)!r}: {exc}"
                    ) from None
                model.eval()
                self._model = model
        return self._model

    def logits(self, question: str, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """The reader's logit for each (question, sentence) pair; sigmoid gives its probability."""
        return pair_logits(self._load(), [(question, t) for t in texts], batch_size)


def pair_logits(model, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
    """Raw scores (logits) of a CrossEncoder for (question, sentence) pairs."""
    import torch

    if not pairs:
        return np.zeros(0)
    model.eval()
    with torch.inference_mode():
        out = model.predict(
            list(pairs),
            batch_size=batch_size,
            activation_fn=torch.nn.Identity(),
            show_progress_bar=False,
        )
    return np.asarray(out, dtype=np.float64).reshape(len(pairs))


def reader_for(path: str) -> Reader:
    """One Reader per folder and process: the model loads once, on the first question (again only
    when the folder's qa-reader.json is rewritten, e.g. by a new training)."""
    try:
        stamp = (Path(path).expanduser() / READER_FILE).stat().st_mtime_ns
    except OSError:
        stamp = 0  # read_info says what is wrong
    return _reader(path, stamp)


@functools.lru_cache(maxsize=4)
def _reader(path: str, stamp: int) -> Reader:
    return Reader(path)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def reread(path: str, query: str, r: Ranked, decision: Decision) -> tuple[Ranked, Decision]:
    """The ranked candidates with the reader's logits for the scorer's top_n (the rest never quoted),
    and the decision to abstain taken on the reader's best probability instead of the model's."""
    reader = reader_for(path)
    top = np.argsort(-r.logits, kind="stable")[: reader.info.top_n]
    logits = np.full(len(r.logits), BELOW)
    logits[top] = reader.logits(query, [r.sentences[i].text for i in top])
    best = float(sigmoid(logits.max()))
    abstain = best < reader.info.threshold
    return replace(r, logits=logits), replace(decision, abstain=abstain, logit=best)
