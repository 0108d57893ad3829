"""The fuzz harness's inputs: a seeded folder of broken, hostile and good documents.

Each entry is an :class:`Input` naming the file (as bytes: some names are not UTF-8) and what must
happen to it in one ``index_folder`` run:

* ``"good"``: indexed, every page;
* ``"bad"``: reported failed exactly once, with a cause;
* ``"either"``: a mutant that may still open (a flipped byte in a font is harmless): indexed whole,
  or reported failed once; never missing, never half indexed without a report;
* ``"ignored"``: not a document at all (a folder named ``x.pdf``): neither indexed nor reported.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pypdfium2 as pdfium
from fpdf import FPDF

__all__ = ["Input", "make_corpus", "raw_pdf"]

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pdfs"


@dataclass(frozen=True)
class Input:
    name: bytes  # path relative to the corpus root, as the file system spells it
    kind: str  # what it is: "truncated", "flipped", "fifo", ...
    expect: str  # "good", "bad", "either" or "ignored"

    @property
    def path_str(self) -> str:
        return os.fsdecode(self.name)


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF with these objects (numbered from 1) and a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _text_pdf(text: str, pages: int = 1, size: tuple[float, float] | None = None) -> bytes:
    pdf = FPDF(unit="pt", format=size or "A4")
    pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=timezone.utc))  # same bytes every run
    pdf.set_font("helvetica", size=14)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 18, f"{text} (page {number})")
    return bytes(pdf.output())


def zero_page_pdf() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def many_pages_pdf(count: int) -> bytes:
    """``count`` blank Letter pages, made by PDFium in well under a second for 10,000."""
    doc = pdfium.PdfDocument.new()
    try:
        for _ in range(count):
            doc.new_page(612, 792).close()
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fuzz-many-{os.getpid()}.pdf"
        doc.save(str(path))
    finally:
        doc.close()
    data = path.read_bytes()
    path.unlink()
    return data


def slow_page_pdf(curves: int = 20_000) -> bytes:
    """A 2 kB PDF whose one page strokes ``curves`` page-sized Bezier curves 20 pt wide: about 25 s
    of PDFium time at 144 dpi on one core (a tiling pattern with a tiny cell does not work: PDFium
    caps it). Stands in for any file that makes the renderer hang."""
    ops = b"20 w " + b"0 0 m 600 790 0 790 600 0 c S\n" * curves
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        _stream(b"/Filter /FlateDecode", zlib.compress(ops, 9)),
    ])


def pdf_image_bomb() -> bytes:
    """A page drawing one image XObject that declares 60000 x 60000 RGB pixels (10.8 GB decoded)
    from a 10 MB-decompressing 10 kB Flate stream."""
    data = zlib.compress(b"\0" * 10_000_000, 9)
    image = _stream(b"/Type /XObject /Subtype /Image /Width 60000 /Height 60000 /ColorSpace /DeviceRGB "
                    b"/BitsPerComponent 8 /Filter /FlateDecode", data)
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
        _stream(b"", b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
        image,
    ])


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, with a tiny IDAT."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) \
        + chunk(b"IEND", b"")


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A real 16 x 16 JPEG whose frame header (SOF0) is patched to declare ``width`` x ``height``."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("L", (16, 16), 128).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def good_png() -> bytes:
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 200), "white")
    ImageDraw.Draw(image).text((10, 80), "a good chart image", fill="black")
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------- mutations
def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, len(data))]


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def corrupt_xref(rng: random.Random, data: bytes) -> bytes:
    """Scramble the xref table or the startxref offset (PDFium then rebuilds or gives up)."""
    out = bytearray(data)
    at = data.rfind(b"xref")
    if rng.random() < 0.5 and at >= 0:
        for i in range(at, min(len(out), at + rng.randint(8, 200))):
            out[i] = rng.choice(b"0123456789 nf\n")
        return bytes(out)
    tail = data.rfind(b"startxref")
    if tail < 0:
        return truncate(rng, data)
    return bytes(out[: tail + 10]) + str(rng.randrange(10**9)).encode() + b"\n%%EOF\n"


def corrupt_stream(rng: random.Random, data: bytes) -> bytes:
    """Overwrite bytes inside one stream (a content stream, a font, an image) with noise."""
    starts = [i for i in range(len(data)) if data.startswith(b"stream", i) and data[i - 3 : i] != b"end"]
    if not starts:
        return flip_bytes(rng, data)
    begin = rng.choice(starts) + 7
    end = data.find(b"endstream", begin)
    end = end if end > begin else len(data)
    out = bytearray(data)
    for _ in range(rng.randint(1, max(1, (end - begin) // 4))):
        out[rng.randrange(begin, end)] = rng.randrange(256)
    return bytes(out)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "truncated": truncate,
    "flipped": flip_bytes,
    "xref": corrupt_xref,
    "stream": corrupt_stream,
}


def _bases() -> list[bytes]:
    """Small documents to mutate: two one-page PDFs made here and the shortest sample PDF."""
    made = [_text_pdf("Quarterly freight volumes by port and month"),
            _text_pdf("Soil moisture sensor calibration")]
    samples = sorted(SAMPLES.glob("*.pdf"), key=lambda p: len(pdfium.PdfDocument(str(p))))
    return [*made, samples[0].read_bytes()] if samples else made


def make_corpus(root: Path, *, seed: int, mutants: int, big_pages: int = 10_000) -> list[Input]:
    """Write the corpus under ``root`` (created) and return what each input must become."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    inputs: list[Input] = []

    def put(name: str | bytes, data: bytes, kind: str, expect: str) -> None:
        raw = name if isinstance(name, bytes) else name.encode()
        path = os.path.join(os.fsencode(root), raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        inputs.append(Input(raw, kind, expect))

    bases = _bases()
    for i, base in enumerate(bases):
        put(f"good/base-{i}.pdf", base, "original", "good")
    put("good/chart.png", good_png(), "image", "good")
    put("good/poster-200in.pdf", _text_pdf("A 200 x 200 inch poster", size=(14400, 14400)), "200in", "good")
    put(b"good/caf\xe9-latin1-name.pdf", bases[0], "non-utf8-name", "good")
    put("x.pdf/inside.pdf", bases[1], "inside-folder-named-pdf", "good")
    inputs.append(Input(b"x.pdf", "folder-named-pdf", "ignored"))

    put("bad/empty.pdf", b"", "empty", "bad")
    put("bad/empty.png", b"", "empty", "bad")
    put("bad/zero-pages.pdf", zero_page_pdf(), "zero-pages", "bad")
    put("bad/ten-thousand-pages.pdf", many_pages_pdf(big_pages), "many-pages", "bad")
    put("bad/slow-page.pdf", slow_page_pdf(), "slow-render", "bad")
    put("bad/image-bomb.pdf", pdf_image_bomb(), "pdf-image-bomb", "either")
    put("bad/bomb.png", png_bomb(), "png-bomb", "bad")
    put("bad/bomb.jpg", jpeg_bomb(), "jpeg-bomb", "bad")
    put("bad/html-saved-as.pdf", b"<!DOCTYPE html><html><body>Sign in</body></html>", "not-pdf", "bad")
    put(b"bad/\xff\xfe-not-utf8-empty.pdf", b"", "non-utf8-name", "bad")

    special = os.fsencode(root / "bad")
    os.symlink("self-loop.pdf", os.path.join(special, b"self-loop.pdf"))
    inputs.append(Input(b"bad/self-loop.pdf", "symlink-loop", "bad"))
    os.symlink("loop-b.pdf", os.path.join(special, b"loop-a.pdf"))
    os.symlink("loop-a.pdf", os.path.join(special, b"loop-b.pdf"))
    inputs += [Input(b"bad/loop-a.pdf", "symlink-loop", "bad"),
               Input(b"bad/loop-b.pdf", "symlink-loop", "bad")]
    os.symlink("missing.pdf", os.path.join(special, b"dangling.pdf"))
    inputs.append(Input(b"bad/dangling.pdf", "dangling-symlink", "bad"))
    os.symlink("..", os.path.join(special, b"up"))  # a folder loop: must not be followed
    # Unreadable: root reads through chmod 000, so use files whose open() fails or would block.
    os.mkfifo(os.path.join(special, b"pipe.pdf"))
    inputs.append(Input(b"bad/pipe.pdf", "fifo", "bad"))

    for i in range(mutants):
        kind = rng.choice(sorted(MUTATIONS))
        base = rng.randrange(len(bases))
        put(f"mutants/{i:04d}-{kind}-b{base}.pdf", MUTATIONS[kind](rng, bases[base]), kind, "either")
    return inputs
