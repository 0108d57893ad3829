"""Structured synthetic MetaEmbed-like page vectors for bench_index.py, so recall is not trivial.

Random unit vectors make two-stage recall meaningless: every page is equally far from a query, and
no cheap budget predicts the full one. Trained MetaEmbed vectors are not available here (the
bundled MiniLM has untrained meta tokens), and encoding 100k real pages is out of reach on this
CPU, so pages are drawn from a small generative model with the structure that matters:

* pages belong to topics (``pages_per_topic`` pages each); a page's centre is a noisy copy of
  its topic vector, so pages of one topic are near each other;
* candidate vector ``j`` of a page is a noisy copy of the page centre, with noise growing with
  ``j``: the first vectors summarise the page (what Matryoshka training asks of them), later
  ones carry detail;
* a query for page ``p`` is a set of noisy copies of randomly chosen candidate vectors of ``p``.

The exact ``(16, 64)`` top-10 of a query is then its page and near pages of its topic, and a
cheap budget ranks them high but not perfectly. Every draw is seeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["TopicModel", "queries_for"]


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


@dataclass(frozen=True)
class TopicModel:
    """The generator's settings (noise levels are norms relative to unit vectors)."""

    dim: int
    num_candidate_tokens: int = 64
    pages_per_topic: int = 100
    page_noise: float = 0.8  # page centre = topic + this much noise
    first_vector_noise: float = 0.4  # candidate vector 0 = page centre + this much noise...
    last_vector_noise: float = 2.0  # ...rising linearly to this for the last vector
    query_noise: float = 0.8  # query vector = a candidate vector of its page + this much noise
    seed: int = 0

    def topics(self, num_pages: int) -> torch.Tensor:
        n = max(1, -(-num_pages // self.pages_per_topic))
        return _unit(torch.randn(n, self.dim, generator=torch.Generator().manual_seed(self.seed)))

    def pages(self, num_pages: int, batch: int = 4096) -> Iterator[torch.Tensor]:
        """fp32 unit vectors ``[b, R_c, D]`` for pages ``0..num_pages``, in batches of ``batch``."""
        topics = self.topics(num_pages)
        r_c = self.num_candidate_tokens
        steps = torch.linspace(self.first_vector_noise, self.last_vector_noise, r_c).view(1, r_c, 1)
        for start in range(0, num_pages, batch):
            n = min(batch, num_pages - start)
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + start + 1)
            topic = torch.arange(start, start + n) * 7919 % len(topics)  # topics interleaved on disk
            centre = _unit(topics[topic] + self.page_noise * _unit(torch.randn(n, self.dim, generator=gen)))
            noise = _unit(torch.randn(n, r_c, self.dim, generator=gen))
            yield _unit(noise.mul_(steps).add_(centre.unsqueeze(1)))


def queries_for(
    pages: torch.Tensor, model: TopicModel, num_query_tokens: int = 16, seed: int = 1
) -> torch.Tensor:
    """Queries ``[P, R_q, D]`` for the target ``pages [P, R_c, D]``: each query vector is a noisy
    copy of a randomly chosen candidate vector of its page."""
    gen = torch.Generator().manual_seed(seed)
    num, r_c, dim = pages.shape
    picks = torch.randint(0, r_c, (num, num_query_tokens), generator=gen)
    chosen = pages.float().gather(1, picks.unsqueeze(-1).expand(-1, -1, dim))
    return _unit(chosen + model.query_noise * _unit(torch.randn(num, num_query_tokens, dim, generator=gen)))
