"""Storage codecs for page vectors: bf16 (the paper's index dtype, our default), fp16, fp32, int8, 1-bit.

A codec turns a float batch ``[B, R_c, D]`` into the arrays a segment stores, and turns rows read
back from a segment into a tensor that :func:`metaembed_rag.scoring.maxsim` scores.

* ``bf16`` / ``fp16`` / ``fp32`` store the values rounded to that dtype and hand them to the scorer
  as they are: the scorer picks the compute dtype (it never runs fp16 matmuls on CPU).
* ``int8`` is symmetric with one fp32 scale per vector (``scale = max|x| / 127``), dequantised to
  fp32 per chunk. Each coordinate is off by at most ``scale / 2``, so a score moves by at most
  ``sum_i ||q_i||_1 * max_j scale_j / 2`` (the max over ``j`` is 1-Lipschitz in each term).
* ``1bit`` keeps only the sign of each coordinate, packed 8 per byte. A vector ``c`` scores as
  ``sign(c) / sqrt(D)``, a unit vector. This is a coarse first-stage code, not an approximation
  with a bound: for a unit vector ``<c, sign(c)/sqrt(D)> = ||c||_1 / sqrt(D)``, about 0.8 for dense
  vectors, so 1-bit scores are shrunk and noisy and only their ranking is meaningful.
  The ``±1`` values are exact in bf16, so they are decoded to bf16 and the ``1/sqrt(D)`` factor is
  applied to the scores.
"""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import numpy as np
import torch

__all__ = ["CODECS", "DTYPES", "Codec", "canonical_dtype", "get_codec", "stored_to_torch"]

DTYPES = ("bf16", "fp16", "fp32", "int8", "1bit")
_ALIASES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "binary": "1bit",
    "bit": "1bit",
    "1-bit": "1bit",
}


def canonical_dtype(name: str | torch.dtype) -> str:
    """The canonical storage dtype name for ``name`` (``"bf16"``, ``torch.float16``, ``"binary"``...)."""
    if isinstance(name, torch.dtype):
        name = str(name).removeprefix("torch.")
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in DTYPES:
        raise ValueError(f"unknown index dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return key


class Codec:
    """Encodes float vectors for storage and decodes stored rows for scoring."""

    name: ClassVar[str]
    #: Names of the arrays a segment stores; each has the page axis first, then the token axis.
    arrays: ClassVar[tuple[str, ...]] = ("vectors",)

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Stored arrays for a float batch ``[B, R_c, D]``."""
        raise NotImplementedError

    def decode(self, stored: dict[str, np.ndarray], dim: int) -> torch.Tensor:
        """A tensor the scorer accepts, from stored arrays already gathered to ``[n, r, ...]``.
        Scores computed on it must be multiplied by :meth:`score_scale`."""
        raise NotImplementedError

    def score_scale(self, dim: int) -> float:
        return 1.0

    def dequantize(self, stored: dict[str, np.ndarray], dim: int) -> torch.Tensor:
        """The fp32 vectors this code stands for: exactly what a search scores against."""
        return self.decode(stored, dim).float() * self.score_scale(dim)

    def bytes_per_vector(self, dim: int) -> float:
        raise NotImplementedError


class _FloatCodec(Codec):
    torch_dtype: ClassVar[torch.dtype]
    itemsize: ClassVar[int]

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"vectors": x.to(self.torch_dtype).contiguous()}

    def decode(self, stored: dict[str, np.ndarray], dim: int) -> torch.Tensor:
        return stored_to_torch(stored["vectors"])

    def bytes_per_vector(self, dim: int) -> float:
        return dim * self.itemsize


class BF16Codec(_FloatCodec):
    name = "bf16"
    torch_dtype = torch.bfloat16
    itemsize = 2


class FP16Codec(_FloatCodec):
    name = "fp16"
    torch_dtype = torch.float16
    itemsize = 2


class FP32Codec(_FloatCodec):
    name = "fp32"
    torch_dtype = torch.float32
    itemsize = 4


class Int8Codec(Codec):
    name = "int8"
    arrays = ("vectors", "scales")

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = x.float()
        scales = x.abs().amax(dim=-1) / 127.0
        # An all-zero vector keeps scale 0 and codes 0; dividing by 1 there avoids 0/0.
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        codes = torch.round(x / safe.unsqueeze(-1)).clamp_(-127, 127).to(torch.int8)
        return {"vectors": codes.contiguous(), "scales": scales.contiguous()}

    def decode(self, stored: dict[str, np.ndarray], dim: int) -> torch.Tensor:
        codes = stored_to_torch(stored["vectors"]).float()
        scales = stored_to_torch(stored["scales"]).float()
        return codes * scales.unsqueeze(-1)

    def bytes_per_vector(self, dim: int) -> float:
        return dim + 4  # codes plus one fp32 scale


class BitCodec(Codec):
    name = "1bit"

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        bits = (x > 0).numpy().astype(np.uint8)
        return {"vectors": torch.from_numpy(np.packbits(bits, axis=-1, bitorder="little"))}

    def decode(self, stored: dict[str, np.ndarray], dim: int) -> torch.Tensor:
        bits = np.unpackbits(np.asarray(stored["vectors"]), axis=-1, count=dim, bitorder="little")
        signs = torch.from_numpy(bits).to(torch.bfloat16)
        return signs.mul_(2).sub_(1)  # {0, 1} -> {-1, +1}, exact in bf16

    def score_scale(self, dim: int) -> float:
        return 1.0 / math.sqrt(dim)

    def bytes_per_vector(self, dim: int) -> float:
        return math.ceil(dim / 8)


CODECS: dict[str, Codec] = {
    c.name: c for c in (BF16Codec(), FP16Codec(), FP32Codec(), Int8Codec(), BitCodec())
}


def get_codec(name: str | torch.dtype) -> Codec:
    return CODECS[canonical_dtype(name)]


def stored_to_torch(array: np.ndarray) -> torch.Tensor:
    """A torch view (no copy, any strides) of a stored numpy array; bf16 is stored as raw uint16
    (numpy has no bf16). A read-only array (a view of the mapped segment) gives a tensor that
    must not be written to."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        if array.dtype == np.uint16:
            return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(array)
