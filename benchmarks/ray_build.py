"""Build throughput on Ray against the local build: the same corpus, the same (default) model.

The corpus is made up from the chapter's own words with a fixed seed (20 passages a document;
100 documents: the 2,000 passages of benchmarks/add_document.py). The script times a full
build (`build_index(full=True)`: reading, embedding, writing) here, then on Ray: a `local`
instance with one actor of all the cores' threads, with as many one-thread actors as cores,
and a two-node cluster on this machine (`ray.cluster_utils.Cluster`, a core per node, an
actor on each). It prints each build's seconds and passages/s, its ratio to the local build,
and how far its vectors are from the local build's.

    .venv/bin/python benchmarks/ray_build.py                  # needs the cluster extra (ray[data])
    .venv/bin/python benchmarks/ray_build.py --documents 25   # 500 passages, a quarter of the time
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from corpora import SEED, Writer, write_corpus

from qa_service.config import Settings, usable_cores
from qa_service.embedder import load_embedder
from qa_service.index import IndexGeneration, build_index

TARGET = 0.9  # Ray with as many actors as cores, against the local build


def timed_build(settings: Settings, embedder) -> tuple[float, np.ndarray, dict]:
    started = time.perf_counter()
    report = build_index(settings, embedder, full=True, progress=True)
    seconds = time.perf_counter() - started
    generation = IndexGeneration.open(settings.index_dir)
    try:
        return seconds, np.array(generation.vectors), {**generation.manifest.get("build", {}), "passages": report.passages}
    finally:
        generation.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100, help="text files in the corpus (20 passages each)")
    arguments = parser.parse_args()

    cores = usable_cores()
    embedder = load_embedder(Settings())
    with tempfile.TemporaryDirectory(prefix="qa-bench-ray-") as scratch:
        root = Path(scratch)
        base = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
        write_corpus(base.corpus_dir, Writer(SEED), arguments.documents)
        print(f"corpus: {arguments.documents} documents (seed {SEED}); model {embedder.name}; {cores} cores")

        runs = [("local build", base)]
        runs.append(("Ray local, 1 actor x all cores", base.with_changes(ray_address="local", ray_actors=1,
                                                                           ray_actor_cpus=cores)))
        runs.append((f"Ray local, {cores} actors x 1 core", base.with_changes(ray_address="local", ray_actors=cores)))
        results = []
        for name, settings in runs:
            results.append((name, *timed_build(settings, embedder)))
        results.append((f"Ray two-node cluster, {cores} actors", *two_node_build(base, embedder, cores)))

        _, local_seconds, local_vectors, local_record = results[0]
        passages = local_record["passages"]
        print(f"\n{passages} passages; whole builds (read, embed, write), one run each:")
        for name, seconds, vectors, record in results:
            difference = float(np.abs(vectors - local_vectors).max())
            where = f"{record.get('nodes')} nodes, {record.get('actors')} actors" if record.get("engine") == "ray" else "this process"
            print(f"{name:34s} {seconds:7.1f} s  {passages / seconds:5.2f} passages/s  "
                  f"x{local_seconds / seconds:.2f} of local  ({where}; vectors within {difference:.1e})")
        ratio = local_seconds / results[2][1]
        print(f"Ray with {cores} actors / local: {ratio:.2f} ({'meets' if ratio >= TARGET else 'misses'} "
              f"the target of {TARGET})")


def two_node_build(base: Settings, embedder, cores: int) -> tuple[float, np.ndarray, dict]:
    """The build against a cluster of `cores` nodes of one core each, started on this machine."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        for _ in range(cores - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        return timed_build(base.with_changes(ray_address=cluster.address, ray_actors=cores), embedder)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
