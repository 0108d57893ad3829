"""Test-time retrieval budgets: how many query and candidate vectors a search uses.

MetaEmbed trains nested prefixes of its meta-token vectors (Matryoshka Multi-Vector
Retrieval), so a budget ``(r_q, r_c)`` is applied by slicing the first ``r_q`` query
vectors and the first ``r_c`` candidate vectors. It never needs re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LADDER", "Budget", "BudgetLike", "ladder_for"]


@dataclass(frozen=True, order=True)
class Budget:
    """An immutable ``(r_q, r_c)`` pair: query vectors and candidate vectors used in scoring."""

    r_q: int
    r_c: int

    def __post_init__(self) -> None:
        for name, value in (("r_q", self.r_q), ("r_c", self.r_c)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Budget.{name} must be an int, got {type(value).__name__} ({value!r})")
            if value < 1:
                raise ValueError(f"Budget.{name} must be >= 1, got {value}")

    @classmethod
    def parse(cls, value: BudgetLike) -> Budget:
        """Build a Budget from a Budget, a ``(r_q, r_c)`` pair or a string such as ``"4,8"``."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, str):
            parts = value.replace("(", "").replace(")", "").replace("x", ",").split(",")
            try:
                r_q, r_c = (int(p.strip()) for p in parts)
            except ValueError:
                raise ValueError(
                    f"cannot parse budget {value!r}: write it as 'r_q,r_c', for example '4,8'"
                ) from None
            return cls(r_q, r_c)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(*value)
        raise TypeError(
            f"a budget is a Budget, a (r_q, r_c) pair or a string like '4,8'; got {type(value).__name__}"
        )

    def validate(self, max_r_q: int, max_r_c: int) -> Budget:
        """Return self if it fits a model with ``max_r_q`` query and ``max_r_c`` candidate tokens."""
        if not (1 <= self.r_q <= max_r_q and 1 <= self.r_c <= max_r_c):
            raise ValueError(
                f"budget ({self.r_q}, {self.r_c}) is out of range for this model: "
                f"r_q must be in 1..{max_r_q} and r_c in 1..{max_r_c}"
            )
        return self

    def flops(self, num_candidates: int, dim: int) -> int:
        """Scoring FLOPs for one query against ``num_candidates``: 2·N·r_q·r_c·D."""
        return 2 * num_candidates * self.r_q * self.r_c * dim

    def index_bytes(self, num_candidates: int, dim: int, bytes_per_value: int = 2) -> int:
        """Candidate-vector storage at this budget: N·r_c·D·bytes (bf16 by default)."""
        return num_candidates * self.r_c * dim * bytes_per_value

    def __str__(self) -> str:
        return f"({self.r_q},{self.r_c})"

    def __iter__(self):  # allows ``r_q, r_c = budget``
        return iter((self.r_q, self.r_c))


BudgetLike = Budget | tuple[int, int] | list[int] | str

#: The paper's standard budget ladder, from cheapest to full.
LADDER: tuple[Budget, ...] = (Budget(1, 1), Budget(2, 4), Budget(4, 8), Budget(8, 16), Budget(16, 64))


def ladder_for(max_r_q: int, max_r_c: int) -> tuple[Budget, ...]:
    """The standard ladder restricted to what a model with the given token counts supports."""
    fitting = tuple(b for b in LADDER if b.r_q <= max_r_q and b.r_c <= max_r_c)
    full = Budget(max_r_q, max_r_c)
    return fitting if full in fitting else (*fitting, full)
