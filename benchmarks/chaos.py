"""Crash harness: kill index writers with SIGKILL at random moments and check what survives.

    OMP_NUM_THREADS=1 python benchmarks/chaos.py --trials 200 --seed 0

Each trial runs a seeded plan of index operations (create, add, upsert, delete by ids, document
or filter, a two-commit "sync", compact) in a forked child, and kills it either after a random
delay (some within the first milliseconds, while the index is being created) or from inside the
code at a random hook: a segment renamed but not registered, inside a commit's transaction, inside
compaction's, just after a commit before its clean-up, while creating the manifest. Each step is
one commit and the child acknowledges it after it returns, so after a kill the index must hold
exactly the state after the last acknowledged step or the one after it. Then:

- the index opens (read-only and read-write) and ``verify()`` passes; a killed creation shows as
  no index, never a broken one;
- every visible page is whole: its vectors, metadata and image are those of one version of it;
- nothing acknowledged is missing, no page id appears twice, no orphan file survives a reopen;
- a rerun of the whole plan (resuming: unchanged pages are skipped) ends at the exact final state.

Pages are tiny fake vectors whose content is a function of ``(page_id, version)``, so every check
is exact. Prints ``K/N trials consistent`` with the seed, and the failures.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from metaembed_rag.index import PageIndex, creating, storage
from metaembed_rag.index.manifest import Manifest

R_Q, R_C, DIM = 4, 8, 8
FINGERPRINT = {"name": "chaos", "family": "text", "num_query_tokens": R_Q, "num_candidate_tokens": R_C,
               "dim": DIM, "checksum": "c0ffee"}  # fmt: skip
KINDS = ("index", "upsert", "delete", "sync", "compact")
#: Where a child may kill itself: (object, attribute) patched to SIGKILL on its n-th call.
HOOKS: dict[str, tuple[Any, str]] = {
    "segment-written": (storage, "write_segment"),  # renamed into place, not yet registered
    "in-commit": (Manifest, "put_pages"),  # inside the commit's transaction
    "in-delete": (Manifest, "delete_where"),
    "in-compaction": (Manifest, "move"),
    "compaction-drop": (Manifest, "drop_segments"),
    "image-written": (storage, "store_image"),
    "after-commit": (storage.Storage, "drop_unused_images"),  # committed, old files not yet unlinked
    "creating-schema": (Manifest, "set_meta"),
    "creating-fsync": (creating, "fsync_dir"),  # before and after the manifest's rename
}
#: The hooks a kind's plan reaches (a kill elsewhere would never fire).
KIND_HOOKS = {
    "index": ("creating-schema", "creating-fsync", "segment-written", "in-commit", "image-written",
              "after-commit"),
    "upsert": ("segment-written", "in-commit", "image-written", "after-commit"),
    "delete": ("in-delete", "in-commit", "segment-written", "after-commit"),
    "sync": ("in-delete", "in-commit", "segment-written", "image-written", "after-commit"),
    "compact": ("in-compaction", "compaction-drop", "in-delete", "segment-written", "in-commit"),
}
State = dict[str, int]  # page_id -> version; None stands for "no index yet"


@dataclass(frozen=True)
class Step:
    op: str  # create | add | upsert | delete_ids | delete_doc | delete_filter | compact
    pages: tuple[tuple[str, int], ...] = ()
    target: tuple[str, ...] = ()  # page ids or doc ids to delete


@dataclass
class Trial:
    number: int
    kind: str
    kill: str
    errors: list[str] = field(default_factory=list)
    killed: bool = False


# -- page content: a pure function of (page_id, version) -----------------------------------------
def doc_of(page_id: str) -> str:
    return page_id.split(":")[0]


def page_vectors(page_id: str, version: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(zlib.crc32(f"{page_id}@{version}".encode()))
    return torch.nn.functional.normalize(torch.randn(R_C, DIM, generator=g), dim=-1)


def page_meta(page_id: str, version: int) -> dict[str, Any]:
    return {"page_id": page_id, "doc_id": doc_of(page_id), "v": version, "tag": f"{page_id}@{version}"}


def page_image(page_id: str, version: int) -> bytes | None:
    # The store checks only the magic number; a page in four has no image.
    key = f"{page_id}@{version}"
    return None if zlib.crc32(key.encode()) % 4 == 0 else b"\x89PNG\r\n\x1a\n" + key.encode()


# -- plans and their expected states -------------------------------------------------------------
def apply(state: State | None, step: Step) -> State | None:
    if step.op == "create":
        return dict(state or {})
    assert state is not None
    new = dict(state)
    if step.op in ("add", "upsert"):
        new.update(step.pages)
    elif step.op == "delete_ids":
        for pid in step.target:
            new.pop(pid, None)
    elif step.op in ("delete_doc", "delete_filter"):
        new = {pid: v for pid, v in new.items() if doc_of(pid) not in step.target}
    return new


def make_plan(rng: random.Random, kind: str) -> tuple[list[Step], list[Step]]:
    """``(setup, plan)``: the setup runs unkilled; the plan is what the child runs and is killed in."""
    docs = [f"d{i}" for i in range(8)]
    sizes = {d: rng.randint(1, 5) for d in docs}

    def pages_of(ds: list[str], version: int) -> tuple[tuple[str, int], ...]:
        return tuple((f"{d}:{i}", version) for d in ds for i in range(sizes[d]))

    setup = [Step("create"), Step("add", pages_of(docs[:3], 1)), Step("add", pages_of(docs[3:5], 1))]
    plan: list[Step] = [Step("create")]
    if kind == "index":
        setup = []
        plan += [Step("add", pages_of(docs[i : i + 2], 1)) for i in range(0, 8, 2)]
    elif kind == "upsert":
        plan += [Step("upsert", pages_of(rng.sample(docs, 2), v)) for v in range(2, 6)]
    elif kind == "delete":
        plan += [
            Step("delete_ids", tuple(f"d0:{i}" for i in range(sizes["d0"]) if i % 2 == 0)),
            Step("delete_doc", ("d1",)), Step("add", pages_of(["d5", "d6"], 1)),
            Step("delete_filter", ("d3", "d6")), Step("add", pages_of(["d1"], 2)),
        ]  # fmt: skip
    elif kind == "sync":  # a folder that changes: its removed documents go, new ones come
        changes = [(["d0"], ["d5"]), (["d2", "d5"], ["d6", "d7"]), (["d1"], ["d0"])]
        for v, (gone, new) in enumerate(changes, 2):
            plan += [Step("delete_filter", tuple(gone)), Step("add", pages_of(new, v))]
    else:  # compact, with tombstones to drop and writes around it
        plan += [
            Step("delete_doc", ("d1",)), Step("upsert", pages_of(["d0"], 2)), Step("compact"),
            Step("add", pages_of(["d6"], 1)), Step("delete_ids", (f"d6:{sizes['d6'] - 1}",)), Step("compact"),
        ]  # fmt: skip
    return setup, plan


def states_of(setup: list[Step], plan: list[Step]) -> list[State | None]:
    """``states[i]``: the expected state after ``i`` plan steps (``states[0]``: after the setup)."""
    state: State | None = None
    for step in setup:
        state = apply(state, step)
    states = [state]
    for step in plan:
        states.append(apply(states[-1], step))
    return states


# -- running a plan ------------------------------------------------------------------------------
def run_steps(path: Path, steps: list[Step], acknowledge: Callable[[int], None] = lambda i: None) -> None:
    ix: PageIndex | None = None
    try:
        for i, step in enumerate(steps):
            if step.op == "create":
                if ix is None:
                    ix = (PageIndex.open(path, FINGERPRINT) if PageIndex.exists(path)
                          else PageIndex.create(path, fingerprint=FINGERPRINT, dtype="fp32"))  # fmt: skip
            elif ix is None:
                raise RuntimeError("plan writes before it creates the index")
            elif step.op in ("add", "upsert"):
                vectors = torch.stack([page_vectors(p, v) for p, v in step.pages])
                metas = [page_meta(p, v) for p, v in step.pages]
                images = [page_image(p, v) for p, v in step.pages]
                getattr(ix, step.op)(vectors, metas, images)
            elif step.op == "delete_ids":
                ix.delete(page_ids=list(step.target))
            elif step.op == "delete_doc":
                for doc in step.target:  # one commit per document: a step is one commit
                    assert len(step.target) == 1
                    ix.delete(doc_id=doc)
            elif step.op == "delete_filter":
                ix.delete(filter={"doc_id": {"in": list(step.target)}})
            else:
                ix.compact()
            acknowledge(i)
    finally:
        if ix is not None:
            ix.close()


def install_hook(name: str, n: int) -> None:
    owner, attr = HOOKS[name]
    real = getattr(owner, attr)
    calls = [0]

    def killing(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    setattr(owner, attr, killing)


def fork_plan(path: Path, steps: list[Step], hook: tuple[str, int] | None) -> tuple[int, int]:
    """Run ``steps`` in a forked child that writes each acknowledged step number to a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no return from here
        os.close(read_fd)
        code = 0
        try:
            if hook:
                install_hook(*hook)
            run_steps(path, steps, lambda i: os.write(write_fd, f"{i}\n".encode()) and None)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def wait_child(
    pid: int, read_fd: int, kill_after: float | None, timeout: float = 60.0
) -> tuple[int, list[int]]:
    """``(wait status, acknowledged steps)``; SIGKILL the child after ``kill_after`` seconds."""
    start = time.monotonic()
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(pid, signal.SIGKILL)  # an exited child is a zombie until waited for: harmless
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"the child hung for {timeout:.0f} s")
        time.sleep(0.002)
    with os.fdopen(read_fd, "rb") as f:
        acks = [int(line) for line in f.read().split()]
    return status, acks


# -- checks --------------------------------------------------------------------------------------
def check_index(path: Path, allowed: list[State | None]) -> list[str]:
    """Errors found in the index at ``path``, whose page state must be one of ``allowed``."""
    if not PageIndex.exists(path):
        return [] if None in allowed else [f"no index, but one of {len(allowed)} committed states expected"]
    errors: list[str] = []
    with PageIndex.open(path, FINGERPRINT, verify=True, read_only=True) as ix:  # as a reader finds it
        visible_ro = {p.page_id: p.fields["v"] for p in ix.pages()}
    with PageIndex.open(path, FINGERPRINT, verify=True) as ix:  # as the next writer finds it
        pages = ix.pages()
        visible = {p.page_id: p.fields["v"] for p in pages}
        if visible != visible_ro:
            errors.append("read-only and read-write opens see different pages")
        if len(visible) != len(pages) or len(ix) != len(pages):
            errors.append(f"duplicate page ids: {len(pages)} rows, {len(visible)} ids, len {len(ix)}")
        if visible not in allowed:
            errors.append(f"pages {sorted(visible.items())} match no committed state")
        for p in pages:
            pid, v = p.page_id, p.fields["v"]
            got = ix.get(pid, with_vectors=True)
            if got is None or got.vectors is None or not torch.equal(got.vectors, page_vectors(pid, v)):
                errors.append(f"{pid}: vectors are not those of version {v}")
            want = page_meta(pid, v)
            fields = {k: x for k, x in want.items() if k not in ("page_id", "doc_id")}
            if (p.doc_id, p.fields) != (want["doc_id"], fields):
                errors.append(f"{pid}: metadata {p.doc_id} {p.fields} is not version {v}'s")
            image = page_image(pid, v)
            if (p.image_path is None) != (image is None) or (
                image is not None and (not p.image_path.is_file() or p.image_path.read_bytes() != image)
            ):
                errors.append(f"{pid}: image is not version {v}'s")
        if pages:
            hits = ix.search(torch.randn(R_Q, DIM), k=len(pages))
            if sorted(h.page_id for h in hits) != sorted(visible):
                errors.append("a full search does not return every page once")
        errors += orphans(ix)
    return errors


def orphans(ix: PageIndex) -> list[str]:
    with ix._store.lock, ix._manifest.read():
        registered = {s.name for s in ix._manifest.segments().values()}
        images = ix._manifest.images_in_use()
    on_disk = {f.name for f in (ix.path / "segments").iterdir()}
    images_on_disk = {f.name for f in (ix.path / "images").iterdir()}
    out = []
    if on_disk != registered:
        out.append(f"segment files {sorted(on_disk ^ registered)} survive a reopen or are missing")
    if images_on_disk != images:
        out.append(f"image files {sorted(images_on_disk ^ images)} survive a reopen or are missing")
    return out


# -- trials --------------------------------------------------------------------------------------
def run_trial(number: int, rng: random.Random, workdir: Path, durations: dict[str, float]) -> Trial:
    kind = KINDS[number % len(KINDS)]
    setup, plan = make_plan(rng, kind)
    states = states_of(setup, plan)
    path = workdir / f"trial-{number}"
    run_steps(path, setup)
    if rng.random() < 0.5:
        hook = (rng.choice(KIND_HOOKS[kind]), rng.randint(1, 3))
        delay, label = None, f"hook {hook[0]} #{hook[1]}"
    else:
        hook = None
        delay = rng.uniform(0, 0.005) if rng.random() < 0.2 else rng.uniform(0, durations[kind])
        label = f"timer {delay * 1e3:.1f} ms"
    trial = Trial(number, kind, label)
    try:
        status, acks = wait_child(*fork_plan(path, plan, hook), kill_after=delay)
        trial.killed = os.WIFSIGNALED(status)
        if not trial.killed and os.WEXITSTATUS(status) != 0:
            trial.errors.append(f"the child failed (exit {os.WEXITSTATUS(status)}) without being killed")
        last = acks[-1] + 1 if acks else 0  # plan steps whose effect must be visible
        if acks != list(range(last)):
            trial.errors.append(f"acknowledgements out of order: {acks}")
        trial.errors += check_index(path, states[last : last + 2])
        status, acks = wait_child(*fork_plan(path, plan, None), kill_after=None)
        if status != 0:
            trial.errors.append(f"the rerun failed (status {status})")
        trial.errors += check_index(path, [states[-1]])
    except Exception as exc:  # a harness or index exception is a failed trial, not a crash
        trial.errors.append(f"{type(exc).__name__}: {exc}")
    return trial


def calibrate(workdir: Path) -> dict[str, float]:
    """Seconds each kind's plan takes unkilled, so timer kills spread over the whole run."""
    out = {}
    for kind in KINDS:
        setup, plan = make_plan(random.Random(0), kind)
        path = workdir / f"calibrate-{kind}"
        run_steps(path, setup)
        start = time.perf_counter()
        status, _ = wait_child(*fork_plan(path, plan, None), kill_after=None)
        if status != 0:
            raise RuntimeError(f"the {kind} plan fails without any kill")
        out[kind] = time.perf_counter() - start
    return out


def run(trials: int, seed: int, workdir: Path | None = None, verbose: bool = False) -> list[Trial]:
    with tempfile.TemporaryDirectory(prefix="chaos-", dir=workdir) as tmp:
        durations = calibrate(Path(tmp))
        rng = random.Random(seed)
        results = []
        for number in range(trials):
            trial = run_trial(number, rng, Path(tmp), durations)
            results.append(trial)
            if verbose or trial.errors:
                state = "ok" if not trial.errors else "FAILED: " + "; ".join(trial.errors[:3])
                print(f"trial {number:3d} {trial.kind:8s} {trial.kill:28s} "
                      f"{'killed' if trial.killed else 'ran out'}  {state}", flush=True)  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where trial indexes go (a temp dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per trial")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = run(args.trials, args.seed, args.workdir, args.verbose)
    ok = sum(not t.errors for t in results)
    killed = sum(t.killed for t in results)
    hooks = sum(t.kill.startswith("hook") and t.killed for t in results)
    print(f"{ok}/{len(results)} trials consistent (seed {args.seed}; {killed} killed, {hooks} of them "
          f"from inside the code; {time.perf_counter() - start:.0f} s)")  # fmt: skip
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
