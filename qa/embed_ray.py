"""Embedding on a Ray cluster: the one step of a build that scales past one machine.

The driver (the `qa index build --ray` process) reads and chunks the corpus and writes the index
exactly as a local build does; only the chunks the embedding cache does not hold go to Ray Data.
They travel in the local build's own slices (same chunks, same order, so the same ONNX batches),
and a fixed pool of actors, each holding the model once and running one thread on one CPU, splits
their sentences (pysbd) and embeds them with `qa.embed.embed_chunks`: chunk vectors plus pooled
sentence vectors from the same forward pass. Ray Data gives the rest: streaming with backpressure,
and a killed actor is restarted and its batch retried (its default for actor pools).

Ray is an optional extra (`pip install -e '.[ray]'`): nothing here imports it at module level, and
nothing outside the build's `--ray` path imports this module.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.config import Settings
from qa.corpus import Chunk
from qa.errors import ClusterError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # an unreachable address fails within this, instead of Ray's long retries
DEFAULT_PORT = 6379  # the GCS port of `ray start --head`
CLIENT_PORT = 10001  # Ray Client (ray://)
_FIELDS = [f.name for f in dataclasses.fields(Chunk)]
Report = Callable[[str, int, int], object]
# The last build's figures, without its arrays (read by `qa bench --ray`).
last_run: RayEmbedded | None = None


@dataclass
class RayEmbedded:
    """Vectors of the chunks given, in their order, and how the run went."""

    vectors: np.ndarray  # (n, dim) float32, normalized
    spans: list[list[tuple[int, int]]]  # quotable sentence spans per chunk (offsets in chunk.text)
    pooled: list[np.ndarray]  # (len(spans[i]), dim) float32 per chunk
    workers: int
    seconds: float  # the embedding phase, actors' start and model load included
    first_result_s: float  # until the first slice came back (start-up cost)
    actor_cpu_s: float = 0.0  # CPU seconds the actors spent embedding (model load excluded)


def _probe(address: str) -> None:
    """Fail fast (CONNECT_TIMEOUT_S) when nothing listens at `address`: Ray itself retries for a minute."""
    client = address.startswith("ray://")
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    try:
        target = (
            host or hostport,
            int(port) if port else (CLIENT_PORT if client else DEFAULT_PORT),
        )
    except ValueError:
        raise ClusterError(
            f"bad Ray address {address!r}", "use HOST:PORT, ray://HOST:PORT or auto"
        ) from None
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc})"
        ) from None


def connect(settings: Settings) -> bool:
    """Join or start the cluster `settings.ray_address` names; True when this call started Ray here
    (then the caller shuts it down). A process already connected (`qa bench --ray`) is reused."""
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed", "pip install -e '.[ray]'") from None

    if ray.is_initialized():
        return False
    address = settings.ray_address or "local"
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        ray.init(num_cpus=settings.ray_workers or os.cpu_count() or 1, **quiet)
        return True
    if address != "auto":
        _probe(address)
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot join the Ray cluster at {address} ({str(exc).splitlines()[0]})"
        ) from None
    return True


def cluster_cpus() -> int:
    """CPUs the cluster offers now; ClusterError when it has none (no actor could ever start)."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise ClusterError(
            "the Ray cluster has no CPUs to embed on",
            "add worker nodes with CPUs (`ray start --address=HEAD:6379 --num-cpus=N`, or KubeRay "
            "workerGroupSpecs with minReplicas >= 1)",
        )
    return cpus


class ChunkEmbedder:
    """A Ray Data actor: loads the model once, then embeds whole slices of chunks."""

    def __init__(self, settings: Settings) -> None:
        from qa.embed import Embedder

        # The ONNX export is a derived file of each machine: the worker's own cache folder
        # (QA_CACHE_DIR there, else ~/.cache/qa of its user), not the driver's path.
        settings = dataclasses.replace(settings, cache_dir=Settings.from_env().cache_dir)
        self.embedder = Embedder(settings)
        if self.embedder.backend == "torch":
            import torch

            torch.set_num_threads(max(1, settings.embed_threads))
        self.embedder.encode(["warm up"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from qa.embed import embed_chunks
        from qa.sentences import quotable_spans

        out: dict[str, list] = {"row": [], "vector": [], "spans": [], "pooled": [], "cpu_s": []}
        for part in np.unique(batch["part"]):  # one local-build slice at a time: the same batches
            cpu = time.process_time()
            rows = np.flatnonzero(batch["part"] == part)
            chunks = [Chunk(**{f: _py(batch[f][r]) for f in _FIELDS}) for r in rows]
            spans = [quotable_spans(c) for c in chunks]
            vecs, pooled = embed_chunks(self.embedder, chunks, spans)
            cpu = (time.process_time() - cpu) / len(rows)  # this actor's CPU seconds, per chunk
            for r, v, sp, p in zip(rows, vecs, spans, pooled, strict=True):
                out["row"].append(int(batch["row"][r]))
                out["vector"].append(np.asarray(v, dtype=np.float32).tobytes())
                out["spans"].append(np.asarray(sp, dtype=np.int32).reshape(-1, 2).tobytes())
                out["pooled"].append(np.asarray(p, dtype=np.float32).tobytes())
                out["cpu_s"].append(cpu)
        kinds = {"row": np.int64, "cpu_s": np.float64}
        return {k: np.array(v, dtype=kinds.get(k, object)) for k, v in out.items()}


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def _dataset(chunks: Sequence[Chunk], slice_size: int):
    """One block per slice, so each actor call gets whole slices (never half of one)."""
    import pyarrow as pa
    import ray.data

    blocks = []
    for part, s in enumerate(range(0, len(chunks), slice_size)):
        cols = {f: [getattr(c, f) for c in chunks[s : s + slice_size]] for f in _FIELDS}
        cols["row"] = list(range(s, min(s + slice_size, len(chunks))))
        cols["part"] = [part] * len(cols["row"])
        blocks.append(pa.table(cols))
    return ray.data.from_arrow(blocks)


def embed_on_ray(
    settings: Settings,
    chunks: Sequence[Chunk],
    backend: str,
    dim: int,
    report: Report | None = None,
    slice_size: int = 128,
) -> RayEmbedded:
    """Embed `chunks` (in the local build's order and slices) on the cluster of `settings.ray_address`.

    `backend` is the driver's ("onnx", "onnx-int8" or "torch"): both sides compute the same vectors; `dim` is
    checked against what the actors return.
    """
    report = report or (lambda stage, done, total: None)
    n = len(chunks)
    if n == 0:  # everything came from the cache: no cluster needed
        return RayEmbedded(np.zeros((0, dim), dtype=np.float32), [], [], 0, 0.0, 0.0)
    started = connect(settings)
    import ray
    import ray.data

    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the driver reports its own progress
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        cpus = cluster_cpus()
        workers = max(1, min(settings.ray_workers or cpus, cpus, -(-n // slice_size)))
        actor_settings = settings.with_(embed_backend=backend, embed_threads=1, ray_address=None)
        log.info(
            "embedding %d chunks on Ray: %d workers of 1 CPU (cluster: %d CPUs)", n, workers, cpus
        )
        ds = _dataset(chunks, slice_size).map_batches(
            ChunkEmbedder,
            fn_constructor_kwargs={"settings": actor_settings},
            batch_size=slice_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        return _collect(ds, n, dim, workers, report)
    finally:
        if started:
            ray.shutdown()


def embed_new_on_ray(
    settings: Settings,
    chunks: Sequence[Chunk],
    todo: Sequence[int],
    embedder,
    report: Report | None = None,
    slice_size: int = 128,
) -> dict:
    """`qa.index.embedding.embed_new` on the cluster: {chunk id: (spans, vector, float16 sentence
    vectors)} for the chunks `todo`, embedded in the local build's order and slices (longest first)."""
    from qa.embed import embed_text

    order = sorted(todo, key=lambda i: -len(embed_text(chunks[i])))
    global last_run
    got = embed_on_ray(
        settings, [chunks[i] for i in order], embedder.backend, embedder.dim, report, slice_size
    )
    last_run = dataclasses.replace(got, vectors=got.vectors[:0], spans=[], pooled=[])
    return {
        i: (sp, v, p.astype(np.float16))
        for i, sp, v, p in zip(order, got.spans, got.vectors, got.pooled, strict=True)
    }


def _collect(ds, n: int, dim: int, workers: int, report: Report) -> RayEmbedded:
    """Stream the actors' results back into arrays in the chunks' order, reporting progress."""
    vectors = np.zeros((n, dim), dtype=np.float32)
    spans: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    pooled: list[np.ndarray] = [np.zeros((0, dim), dtype=np.float32)] * n
    seen = np.zeros(n, dtype=bool)
    cpu = 0.0
    t0 = time.perf_counter()
    first = 0.0
    report("embedding", 0, n)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for row, v, sp, p in zip(
            batch["row"], batch["vector"], batch["spans"], batch["pooled"], strict=True
        ):
            vec = np.frombuffer(v, dtype=np.float32)
            if vec.size != dim:
                raise ClusterError(
                    f"a Ray worker returned {vec.size}-dimensional vectors, the index has {dim}",
                    "install the same qa version and model on the workers as on the driver",
                )
            vectors[row] = vec
            spans[row] = [
                (int(a), int(b)) for a, b in np.frombuffer(sp, dtype=np.int32).reshape(-1, 2)
            ]
            pooled[row] = np.frombuffer(p, dtype=np.float32).reshape(-1, dim)
            seen[row] = True
        done = int(seen.sum())  # a retried slice never counts twice
        cpu += float(np.sum(batch["cpu_s"]))
        first = first or time.perf_counter() - t0
        elapsed = time.perf_counter() - t0
        log.info(
            "embedded %d / %d chunks on Ray (%.1f chunks/s)", done, n, done / max(elapsed, 1e-9)
        )
        report("embedding", done, n)
    if not seen.all():  # Ray Data retries failed batches; a lost one must never pass silently
        raise ClusterError(
            f"{int((~seen).sum())} chunks came back from Ray without vectors", "run the build again"
        )
    return RayEmbedded(vectors, spans, pooled, workers, time.perf_counter() - t0, first, cpu)
