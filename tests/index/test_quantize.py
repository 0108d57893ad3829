"""Storage codecs: what each dtype stores and how far its decoded vectors are from the originals."""

from __future__ import annotations

import math

import pytest
import torch

from metaembed_rag.index.quantize import CODECS, DTYPES, canonical_dtype, get_codec

from .helpers import stored_form, unit


def test_float_codecs_round_like_torch() -> None:
    x = unit(4, 6, 32)
    assert torch.equal(stored_form(x, "fp32"), x)
    assert torch.equal(stored_form(x, "bf16"), x.bfloat16().float())
    assert torch.equal(stored_form(x, "fp16"), x.half().float())


def test_int8_is_symmetric_per_vector_within_half_a_step() -> None:
    x = unit(5, 7, 33) * torch.rand(5, 7, 1)  # vectors of different norms
    codes = CODECS["int8"].encode(x)
    assert codes["vectors"].dtype == torch.int8 and codes["scales"].shape == (5, 7)
    scale = x.abs().amax(-1, keepdim=True) / 127
    assert torch.equal(codes["vectors"].abs().amax(-1), torch.full((5, 7), 127, dtype=torch.int8))
    assert torch.allclose(codes["scales"], scale[..., 0])
    assert bool(((stored_form(x, "int8") - x).abs() <= scale / 2 + 1e-7).all())


def test_int8_zero_vector_stays_zero() -> None:
    x = torch.zeros(1, 2, 8)
    x[0, 1, 3] = 0.5
    out = stored_form(x, "int8")
    assert torch.equal(out[0, 0], torch.zeros(8)) and torch.allclose(out, x)


@pytest.mark.parametrize("dim", [8, 13, 64])
def test_one_bit_keeps_signs_as_unit_vectors(dim: int) -> None:
    x = unit(3, 5, dim)
    packed = CODECS["1bit"].encode(x)["vectors"]
    assert packed.dtype == torch.uint8 and packed.shape == (3, 5, math.ceil(dim / 8))
    expected = torch.where(x > 0, 1.0, -1.0) / math.sqrt(dim)
    assert torch.allclose(stored_form(x, "1bit"), expected)
    # What the scorer gets: exact +-1 in bf16, with 1/sqrt(D) applied to the scores.
    decoded = CODECS["1bit"].decode({"vectors": packed.numpy()}, dim)
    assert decoded.dtype == torch.bfloat16 and set(decoded.float().unique().tolist()) <= {-1.0, 1.0}


def test_bytes_per_vector() -> None:
    sizes = {name: CODECS[name].bytes_per_vector(3584) for name in DTYPES}
    assert sizes == {"bf16": 7168, "fp16": 7168, "fp32": 14336, "int8": 3588, "1bit": 448}


def test_dtype_names() -> None:
    assert canonical_dtype("BF16") == "bf16" and canonical_dtype(torch.float32) == "fp32"
    assert get_codec("half").name == "fp16" and get_codec("1-bit").name == "1bit"
    with pytest.raises(ValueError, match="choose one of bf16, fp16, fp32, int8, 1bit"):
        canonical_dtype("fp8")
