"""Executors run :func:`~lidarlabel.prelabel.batch.prelabel_scene` over many scenes.

An executor takes a list of :class:`SceneTask` and yields one
:class:`~lidarlabel.prelabel.batch.SceneResult` per task as they finish. The
``local`` executor uses a process pool (``workers`` processes; 1 runs in this
process, which keeps per-frame progress). Register another (e.g. Ray) in
:data:`EXECUTORS` with the same interface.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lidarlabel.io.remote import is_remote
from lidarlabel.prelabel.batch import SceneResult, prelabel_scene

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "SceneTask", "make_executor"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SceneTask:
    """One scene to pre-label: where it is, where its document goes, with which detector."""

    scene: str
    out: str
    detector: str = "geometric"
    options: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Runs scene tasks; ``progress(scene, done_frames, total_frames)`` when it can report frames."""

    def run(self, tasks: Sequence[SceneTask], progress: Progress | None = None) -> Iterator[SceneResult]:
        """Yield one result per task, in completion order."""
        ...


def _run_task(task: SceneTask, progress: Callable[[int, int], None] | None = None) -> SceneResult:
    if is_remote(task.scene) or is_remote(task.out):  # s3://... in or out: local copy, atomic upload
        from lidarlabel.prelabel.ray_executor import prelabel_task

        return prelabel_task(task, math.inf, progress)  # math.inf: no retries here, nothing to dedupe
    return prelabel_scene(task.scene, task.out, task.detector, task.options, progress)


class LocalExecutor:
    """A pool of local processes (``workers`` > 1) or this process (``workers`` == 1)."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, tasks: Sequence[SceneTask], progress: Progress | None = None) -> Iterator[SceneResult]:
        """Yield results as scenes finish; Ctrl-C cancels the pending ones."""
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                cb = (lambda d, n, s=t.scene: progress(s, d, n)) if progress else None
                yield _run_task(t, cb)
            return
        pool = cf.ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)))
        try:
            futures = {pool.submit(_run_task, t): t for t in tasks}
            for fut in cf.as_completed(futures):
                t = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # a worker that died (e.g. out of memory)
                    yield SceneResult(t.scene, t.out, ok=False, error=f"{t.scene}: worker failed: {exc!r}")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _local(workers: int = 1, **_: Any) -> Executor:
    return LocalExecutor(workers)


def _ray(workers: int = 1, address: str | None = None, **_: Any) -> Executor:
    from lidarlabel.prelabel.ray_executor import RayExecutor

    # without ray installed, RayExecutor raises InputError naming the extra; --workers sizes a
    # private local Ray instance, a cluster (--ray-address) brings its own CPUs
    return RayExecutor(workers=workers if address is None else None, address=address)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": _local, "ray": _ray}


def make_executor(name: str, workers: int = 1, **options: Any) -> Executor:
    """An executor by name (see :data:`EXECUTORS`)."""
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(sorted(EXECUTORS))}") from None
    return factory(workers=workers, **options)
