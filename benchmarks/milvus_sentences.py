"""Where the Milvus backend keeps sentence vectors: a field of the passage, or a second collection.

A question reads the sentence vectors of the best 20 passages (sentence rescoring), then of
the passages it returns (highlighting): only ever by passage, never searched by similarity.

  field        the passage row holds its sentences' int8 vectors, base64, in an ARRAY of VARCHAR;
               read with the passage by primary key (what milvus.py does)
  collection   a second collection, a row per sentence: its passage (INVERTED index) and its vector
               as FLOAT_VECTOR (Milvus Lite has no int8 vectors), read by `passage in [...]`

For each: the time to read the sentences of 20 passages (median of 50 draws), the time to write
them, and the size on disk, in Milvus Lite with random vectors of 6 sentences a passage.

    .venv/bin/python benchmarks/milvus_sentences.py --passages 2000 20000
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient

DIMENSION, SENTENCES, BATCH = 384, 6, 500


def field_layout(client: MilvusClient, passages: int, rng) -> None:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIMENSION)
    schema.add_field("sentences", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4096, max_length=512)
    indexes = MilvusClient.prepare_index_params()
    indexes.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
    client.create_collection("passages", schema=schema, index_params=indexes)
    for first in range(0, passages, BATCH):
        rows = range(first, min(first + BATCH, passages))
        client.insert("passages", [{
            "row": row, "dense": rng.standard_normal(DIMENSION).astype(np.float32).tolist(),
            "sentences": [base64.b64encode(rng.integers(-127, 128, DIMENSION, dtype=np.int8).tobytes()).decode()
                          for _ in range(SENTENCES)]} for row in rows])
    client.flush("passages")
    client.load_collection("passages")


def collection_layout(client: MilvusClient, passages: int, rng) -> None:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("sentence", DataType.INT64, is_primary=True)
    schema.add_field("passage", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIMENSION)
    indexes = MilvusClient.prepare_index_params()
    indexes.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    indexes.add_index(field_name="passage", index_type="INVERTED")
    client.create_collection("sentences", schema=schema, index_params=indexes)
    for first in range(0, passages, BATCH):
        rows = range(first, min(first + BATCH, passages))
        client.insert("sentences", [{
            "sentence": row * SENTENCES + i, "passage": row,
            "vector": (rng.integers(-127, 128, DIMENSION) / 127).astype(np.float32).tolist()}
            for row in rows for i in range(SENTENCES)])
    client.flush("sentences")
    client.load_collection("sentences")


def read_field(client, rows) -> None:
    for record in client.query("passages", ids=rows, output_fields=["sentences"]):
        np.frombuffer(b"".join(base64.b64decode(s) for s in record["sentences"]), np.int8)


def read_collection(client, rows) -> None:
    np.asarray([r["vector"] for r in client.query("sentences", filter=f"passage in {rows}",
                                                   output_fields=["passage", "vector"])], np.float32)


def measure(passages: int) -> None:
    rng = np.random.default_rng(7)
    for name, write, read in (("field", field_layout, read_field), ("collection", collection_layout, read_collection)):
        folder = Path(tempfile.mkdtemp(prefix="qa-sentences-"))
        try:
            client = MilvusClient(str(folder / "lite.db"))
            started = time.perf_counter()
            write(client, passages, rng)
            written = time.perf_counter() - started
            draws = [sorted(rng.choice(passages, 20, replace=False).tolist()) for _ in range(50)]
            read(client, draws[0])
            times = []
            for rows in draws:
                started = time.perf_counter()
                read(client, rows)
                times.append((time.perf_counter() - started) * 1000)
            size = subprocess.run(["du", "-sm", str(folder)], capture_output=True, text=True).stdout.split()[0]
            print(f"{passages:>8,} passages, {name:<10}: read 20 passages' sentences {statistics.median(times):6.1f} ms "
                  f"({min(times):.1f}–{max(times):.1f}), write {written:6.1f} s, {size} MB on disk", flush=True)
            client.close()
        finally:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(folder / "lite.db"))
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, nargs="+", default=[2_000, 20_000])
    for passages in parser.parse_args().passages:
        measure(passages)


if __name__ == "__main__":
    main()
