"""A model replica that holds one marked request until it is killed: a replica dies mid-request by
construction, not by timing.

The test creates the :class:`HoldGate` actor (:func:`open_gate`), deploys with
``running_ray_server(settings, replica=HoldingReplica)`` and sends a request whose query is
:data:`HOLD_QUERY`. The first replica to receive it takes the gate and never answers; the gate hands
the test that replica's actor handle, and the test kills it. The request, sent again by the ingress,
finds the gate taken and is scored as usual.
"""

from __future__ import annotations

import asyncio

import numpy as np
import ray

from ..server.ray import ModelReplica

HOLD_QUERY = "vecrank test: hold this request until the replica is killed"
GATE_NAME = "vecrank-test-hold-gate"
GATE_NAMESPACE = "vecrank-test"


@ray.remote(num_cpus=0)
class HoldGate:
    """Given to the first replica that asks; tells the test which replica holds the request."""

    def __init__(self) -> None:
        self._holder: ray.actor.ActorHandle | None = None
        self._taken = asyncio.Event()

    async def take(self, replica: ray.actor.ActorHandle) -> bool:
        """True for the first replica that asks (it holds its request), False for every later one."""
        if self._taken.is_set():
            return False
        self._holder = replica
        self._taken.set()
        return True

    async def holder(self) -> ray.actor.ActorHandle:
        """The replica that holds the request, once one does."""
        await self._taken.wait()
        return self._holder


def open_gate() -> ray.actor.ActorHandle:
    """A fresh gate, where :class:`HoldingReplica` finds it."""
    return HoldGate.options(name=GATE_NAME, namespace=GATE_NAMESPACE).remote()


class HoldingReplica(ModelReplica):
    """A model replica that never answers the first :data:`HOLD_QUERY` request it receives."""

    async def score(self, query: str, texts: list[str]) -> tuple[np.ndarray, str]:
        if query == HOLD_QUERY:
            gate = ray.get_actor(GATE_NAME, namespace=GATE_NAMESPACE)
            if await gate.take.remote(ray.get_runtime_context().current_actor):
                await asyncio.Event().wait()  # never set: only the replica's death ends this request
        return await super().score(query, texts)
