"""Rendering speed and memory: pypdfium2 against poppler on a real PDF, measured in the same run.

    cd /tmp && apt-get download gnuplot-doc && dpkg -x gnuplot-doc_*.deb gp
    python benchmarks/bench_render.py --pdf /tmp/gp/usr/share/doc/gnuplot/gnuplot.pdf --dpi 144

Three tables:

1. raster only: the backends' own calls (PDFium ``page.render`` + PIL conversion; pdf2image's
   ``convert_from_path`` over 16-page ranges, its fastest use), no text layer;
2. full ``Page`` records through :func:`load_files` (image + text layer + hashes), 1 and N workers;
3. peak memory while streaming a ``--big-pages`` document (the input PDF repeated), per renderer.

Every figure comes from a fresh child process, so the peak RSS (``ru_maxrss``) is that run's own.
The "child" column is the largest render worker (spawned early, while the parent was small); it is
left out for poppler, whose pdftoppm processes are forked from a large parent and inherit its peak.
Timings include process start-up for the pool but not Python start-up. Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PDF = "/tmp/gp/usr/share/doc/gnuplot/gnuplot.pdf"

# Each child prints one JSON line: pages, seconds, peak RSS of itself and of its own children (MiB).
_RASTER_CHILD = """
import json, resource, sys, time
path, renderer, dpi, limit = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
import pypdfium2 as pdfium
count = min(limit, len(pdfium.PdfDocument(path))) if limit > 0 else len(pdfium.PdfDocument(path))
start = time.perf_counter()
if renderer == "pdfium":
    doc = pdfium.PdfDocument(path)
    for i in range(count):
        page = doc[i]
        page.render(scale=dpi / 72, rev_byteorder=True).to_pil()
        page.close()
else:
    from pdf2image import convert_from_path
    for first in range(1, count + 1, 16):
        convert_from_path(path, dpi=dpi, first_page=first, last_page=min(first + 15, count))
seconds = time.perf_counter() - start
usage = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(json.dumps({"pages": count, "seconds": seconds, "rss": usage(resource.RUSAGE_SELF),
                  "children_rss": usage(resource.RUSAGE_CHILDREN)}))
"""

_PAGES_CHILD = """
import json, resource, sys, time
from metaembed_rag.documents import load_files
path, renderer = sys.argv[1], sys.argv[2]
dpi, workers, limit = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
count = pixels = 0
for page in load_files([path], renderer=renderer, dpi=dpi, workers=workers):
    count += 1
    pixels += page.width * page.height
    if count == limit:
        break
seconds = time.perf_counter() - start
usage = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(json.dumps({"pages": count, "seconds": seconds, "rss": usage(resource.RUSAGE_SELF),
                  "children_rss": usage(resource.RUSAGE_CHILDREN), "pixel_mib": pixels * 3 / 2**20}))
"""


def _child(code: str, *args: object) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _repeat(source: Path, target: Path, count: int) -> Path:
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(source))
    out = pdfium.PdfDocument.new()
    out.import_pages(src, [i % len(src) for i in range(count)])
    out.save(str(target))
    return target


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rendering speed and memory, pypdfium2 vs poppler")
    parser.add_argument("--pdf", type=Path, default=Path(DEFAULT_PDF))
    parser.add_argument("--dpi", type=float, default=144)
    parser.add_argument("--pages", type=int, default=0, help="limit the speed runs to N pages (0: all)")
    parser.add_argument("--workers", type=int, default=2, help="the parallel run's worker count")
    parser.add_argument("--big-pages", type=int, default=1000, help="pages in the memory run (0: skip)")
    args = parser.parse_args(argv)
    if not args.pdf.exists():
        sys.exit(f"{args.pdf} not found: see this script's docstring for how to fetch gnuplot-doc")
    renderers = ["pdfium", "poppler"]
    print(f"input: {args.pdf} at {args.dpi:g} dpi; {os.cpu_count()} CPUs visible")

    raster = {r: _child(_RASTER_CHILD, args.pdf, r, args.dpi, args.pages) for r in renderers}
    rows = [
        [r, str(int(m["pages"])), f"{m['seconds']:.1f}", f"{m['pages'] / m['seconds']:.1f}"]
        for r, m in raster.items()
    ]
    speed = {r: m["pages"] / m["seconds"] for r, m in raster.items()}
    rows.append(["ratio pdfium/poppler", "", "", f"{speed['pdfium'] / speed['poppler']:.2f}x"])
    _table("1. raster only (backend calls, no text)", ["renderer", "pages", "s", "pages/s"], rows)

    rows, full = [], {}
    for workers in (1, args.workers):
        for renderer in renderers:
            m = _child(_PAGES_CHILD, args.pdf, renderer, args.dpi, workers, args.pages)
            full[renderer, workers] = m["pages"] / m["seconds"]
            rows.append(
                [
                    renderer,
                    str(workers),
                    str(int(m["pages"])),
                    f"{m['seconds']:.1f}",
                    f"{full[renderer, workers]:.1f}",
                ]
            )
        ratio = full["pdfium", workers] / full["poppler", workers]
        rows.append([f"ratio pdfium/poppler ({workers} worker(s))", "", "", "", f"{ratio:.2f}x"])
    _table(
        "2. Page records via load_files (image + text layer)",
        ["renderer", "workers", "pages", "s", "pages/s"],
        rows,
    )

    if args.big_pages:
        with tempfile.TemporaryDirectory() as tmp:
            big = _repeat(args.pdf, Path(tmp) / "big.pdf", args.big_pages)
            rows = []
            for renderer, workers in [("pdfium", 1), ("pdfium", args.workers), ("poppler", 1)]:
                m = _child(_PAGES_CHILD, big, renderer, args.dpi, workers, 0)
                rows.append(
                    [
                        renderer,
                        str(workers),
                        str(int(m["pages"])),
                        f"{m['pixel_mib']:.0f}",
                        f"{m['rss']:.0f}",
                        # Linux charges a forked child with its parent's pages up to exec, so
                        # pdftoppm, forked from a large parent, would report the parent's peak.
                        f"{m['children_rss']:.0f}" if renderer == "pdfium" else "n/a",
                        f"{m['pages'] / m['seconds']:.1f}",
                    ]
                )
            _table(
                f"3. peak memory streaming {args.big_pages} pages (MiB; child = the largest worker process)",
                [
                    "renderer",
                    "workers",
                    "pages",
                    "pixels held if listed",
                    "peak RSS main",
                    "peak RSS child",
                    "pages/s",
                ],
                rows,
            )


if __name__ == "__main__":
    main()
