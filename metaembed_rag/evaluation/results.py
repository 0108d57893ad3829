"""The rows of a sweep and what they were measured on: shared by :mod:`.sweep` (which makes them)
and :mod:`.report` (which prints and writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..budget import Budget, BudgetLike
from .metrics import Run

__all__ = ["SweepResult", "SystemResult"]


@dataclass
class SystemResult:
    """One row of the report: a system (at a budget, for MetaEmbed and hybrids) and its numbers."""

    system: str
    budget: Budget | None
    metrics: dict[str, float]
    gflops: float | None = None
    latency_ms: float | None = None
    index_mib: float | None = None
    run: Run = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return self.system if self.budget is None else f"{self.system} {self.budget}"

    def to_dict(self) -> dict[str, Any]:
        budget = None if self.budget is None else {"r_q": self.budget.r_q, "r_c": self.budget.r_c}
        return {
            "system": self.system,
            "budget": budget,
            "metrics": self.metrics,
            "gflops": self.gflops,
            "latency_ms": self.latency_ms,
            "index_mib": self.index_mib,
        }


@dataclass
class SweepResult:
    """All rows of a sweep and what they were measured on (model, dataset, sizes, device, date)."""

    rows: list[SystemResult]
    metadata: dict[str, Any]

    def row(self, system: str, budget: BudgetLike | None = None) -> SystemResult:
        wanted = None if budget is None else Budget.parse(budget)
        for r in self.rows:
            if r.system == system and r.budget == wanted:
                return r
        raise KeyError(f"no row for {system} at {wanted}")
