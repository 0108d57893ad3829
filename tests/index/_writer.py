"""A writer process for the crash and concurrency tests: ``python _writer.py MODE INDEX [ARGS]``.

Modes:
  loop BATCH        add batches of BATCH pages forever, printing the batch number after each commit
  crash POINT       add one batch and SIGKILL itself at POINT: "segment" (file renamed, not yet
                    registered) or "transaction" (inside the SQLite transaction, before COMMIT);
                    or, for POINT "compact", compact and SIGKILL itself inside that transaction
  create POINT      create the index and SIGKILL itself at POINT: "schema" (inside the manifest's
                    first transaction), "subdirs" (temporary manifest whole, not yet renamed) or
                    "rename" (just after the manifest is renamed into place)
  create-many N     create indexes INDEX/0 .. INDEX/N-1 one after another
  pause SIGNAL_DIR  add one batch, stop inside the transaction (touch SIGNAL_DIR/in_txn) until
                    SIGNAL_DIR/go exists, then commit
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import torch

from metaembed_rag.index import PageIndex, creating, storage
from metaembed_rag.index.manifest import Manifest


def batch(ix: PageIndex, n: int, tag: str) -> tuple[torch.Tensor, list[dict]]:
    vecs = torch.nn.functional.normalize(torch.randn(n, ix.num_candidate_tokens, ix.dim), dim=-1)
    return vecs, [{"page_id": f"{tag}-{j}", "doc_id": tag} for j in range(n)]


def die_after(fn):
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return out

    return wrapper


def create(path: str, point: str) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import fingerprint

    if point == "schema":
        Manifest.set_meta = die_after(Manifest.set_meta)
    elif point == "subdirs":
        creating.fsync_dir = die_after(creating.fsync_dir)
    elif point == "rename":
        creating.os.rename = die_after(os.rename)
    elif point.startswith("many:"):
        for i in range(int(point[5:])):
            PageIndex.create(Path(path) / str(i), fingerprint=fingerprint()).close()
        return
    PageIndex.create(path, fingerprint=fingerprint())
    raise AssertionError("should have been killed")


def main(mode: str, path: str, arg: str) -> None:
    if mode == "create":
        return create(path, arg)
    if mode == "create-many":
        return create(path, f"many:{arg}")
    ix = PageIndex.open(path)
    if mode == "loop":
        for i in range(10**9):
            ix.add(*batch(ix, int(arg), f"{os.getpid()}-b{i}"))
            print(i, flush=True)
    elif mode == "crash" and arg == "compact":
        Manifest.drop_segments = die_after(Manifest.drop_segments)
        ix.compact()
        raise AssertionError("should have been killed")
    elif mode == "crash":
        if arg == "segment":
            storage.write_segment = die_after(storage.write_segment)
        else:
            Manifest.put_pages = die_after(Manifest.put_pages)
        ix.add(*batch(ix, 4, "crash"))
        raise AssertionError("should have been killed")
    elif mode == "pause":
        signals = Path(arg)
        real = Manifest.put_pages

        def pausing(self, rows):
            real(self, rows)
            (signals / "in_txn").touch()
            while not (signals / "go").exists():
                time.sleep(0.01)

        Manifest.put_pages = pausing
        ix.add(*batch(ix, 4, "paused"))
        print("committed", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
