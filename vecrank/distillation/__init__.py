"""``vecrank distill``: teach a small fast reranker to rank like a big one, on the user's own data."""

from .run import REPORT_NAME, distill

__all__ = ["REPORT_NAME", "distill"]
