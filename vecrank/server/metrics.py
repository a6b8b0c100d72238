"""Counters and histograms rendered in the Prometheus text format, with no extra dependency."""

from __future__ import annotations

from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, value in labels)
    return "{" + ",".join(f'{key}="{value}"' for (key, _), value in zip(labels, escaped)) + "}"


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help: str) -> None:
        self.name, self.help = name, help
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels(key)} {value:g}" for key, value in sorted(self._values.items())]
        return lines


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count, per label set."""

    def __init__(self, name: str, help: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help, buckets
        self._values: dict[Labels, list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        slots = self._values.setdefault(key, [0.0] * (len(self.buckets) + 2))
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                slots[index] += 1
        slots[-2] += 1
        slots[-1] += value

    def count(self, **labels: str) -> int:
        slots = self._values.get(tuple(sorted(labels.items())))
        return int(slots[-2]) if slots else 0

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, slots in sorted(self._values.items()):
            for bound, count in zip(self.buckets, slots):
                lines.append(f"{self.name}_bucket{_labels(key + (('le', f'{bound:g}'),))} {count:g}")
            lines.append(f"{self.name}_bucket{_labels(key + (('le', '+Inf'),))} {slots[-2]:g}")
            lines.append(f"{self.name}_sum{_labels(key)} {slots[-1]:g}")
            lines.append(f"{self.name}_count{_labels(key)} {slots[-2]:g}")
        return lines


class Metrics:
    """The server's metrics, updated on the event loop; ``queue_depth`` gives the pairs waiting per model."""

    def __init__(self, queue_depth: Callable[[], dict[str, int]] = dict) -> None:
        self.queue_depth = queue_depth
        self.requests = Counter("vecrank_requests_total", "HTTP requests by protocol and status code.")
        self.latency = Histogram(
            "vecrank_request_duration_seconds", "Time to answer a request, by protocol.", LATENCY_BUCKETS
        )
        self.pairs = Counter("vecrank_pairs_total", "Query-document pairs scored, by model.")
        self.batches = Histogram("vecrank_batch_pairs", "Pairs in one engine call, by model.", BATCH_BUCKETS)
        self.dropped = Counter(
            "vecrank_dropped_pairs_total", "Queued pairs dropped because their client went away, by model."
        )

    def record_request(self, protocol: str, status: int, seconds: float) -> None:
        self.requests.inc(protocol=protocol, code=str(status))
        self.latency.observe(seconds, protocol=protocol)

    def record_batch(self, model: str, pairs: int) -> None:
        self.pairs.inc(pairs, model=model)
        self.batches.observe(pairs, model=model)

    def record_dropped(self, model: str, pairs: int) -> None:
        self.dropped.inc(pairs, model=model)

    def render(self) -> str:
        """All metrics in the Prometheus text exposition format."""
        lines: list[str] = []
        for metric in (self.requests, self.latency, self.pairs, self.batches, self.dropped):
            lines += metric.render()
        lines += [
            "# HELP vecrank_queue_pairs Pairs waiting for the engine, by model.",
            "# TYPE vecrank_queue_pairs gauge",
        ]
        depths = self.queue_depth().items()
        lines += [f"vecrank_queue_pairs{_labels((('model', model),))} {depth}" for model, depth in depths]
        return "\n".join(lines) + "\n"
