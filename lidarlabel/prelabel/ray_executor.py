"""Run a per-scene function on a Ray cluster: one Ray task per scene, completions streamed.

``RayExecutor(...).map(fn, items)`` yields ``(item, result)`` or
``(item, exception)`` in completion order, like the local executor. Each task
declares its CPUs (``num_cpus_per_task``); a task whose worker process dies
(OOM kill, node loss, ``os._exit``) is retried up to ``max_retries`` times by
Ray, while an exception raised by ``fn`` (bad input) is not retried and comes
back as the exception itself.

Exactly-once outputs: wrap the per-scene work in :class:`SceneTask`. It
reads the scene through :func:`lidarlabel.io.remote.local_copy`, lets the
work write into a private temporary folder, and publishes the result with one
atomic write (:func:`lidarlabel.io.remote.write_output_atomic`). A retried
attempt first checks whether an earlier attempt of the same run already
published the output and then skips, so each output is written once and no
reader ever sees a partial file.

Detectors are built once per worker process by :func:`cached_detector` (Ray
reuses worker processes across tasks), not once per scene or frame.

``ray`` is an optional extra and is imported only when an executor is made.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lidarlabel.errors import InputError, LidarLabelError
from lidarlabel.io import remote

__all__ = ["RAY_MISSING", "RayExecutor", "SceneTask", "TaskLostError", "cached_detector", "output_name", "per_process"]

RAY_MISSING = "the ray executor needs the optional extra: pip install 'lidarlabel[ray]'"

T = TypeVar("T")
R = TypeVar("R")


class TaskLostError(LidarLabelError):
    """A task whose worker died on every attempt (after ``max_retries`` retries)."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray


_PER_PROCESS: dict[Any, Any] = {}


def per_process(key: Any, build: Callable[[], T]) -> T:
    """The value cached under ``key`` in this process, built by ``build()`` on first use.

    Ray reuses a worker process for many tasks, so a detector (an ONNX session,
    a loaded model) cached here is built once per worker, not once per scene.
    """
    if key not in _PER_PROCESS:
        _PER_PROCESS[key] = build()
    return _PER_PROCESS[key]


def cached_detector(name: str, **options: Any) -> Any:
    """The detector ``name`` built with ``options``, once per process (see :func:`per_process`)."""
    from lidarlabel.prelabel.detector import make_detector

    key = ("detector", name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    return per_process(key, lambda: make_detector(name, **options))


def output_name(scene_url: str, suffix: str = ".json") -> str:
    """Output file name of a scene: its base name with ``.h5`` replaced by ``suffix``."""
    base = os.fspath(scene_url).rstrip("/").rsplit("/", 1)[-1]
    base = base.rsplit(os.sep, 1)[-1]
    return (base[:-3] if base.endswith(".h5") else base) + suffix


@dataclass(frozen=True)
class SceneTask:
    """One scene -> one output, published atomically and at most once per run (picklable).

    ``work(local_scene: Path, local_out: Path) -> result`` reads a local scene
    file and writes its output to ``local_out`` (a private temporary path);
    the task then copies those bytes to ``out_dir/<scene stem><suffix>`` (a
    folder or an object-store prefix) in one atomic write. ``skip_up_to_date``
    skips scenes whose output is newer than the scene (re-runs); whatever it
    says, an output already published since ``run_started`` (an earlier
    attempt of this run whose worker died afterwards) is never written again.
    Returns ``{"scene", "output", "skipped", "result"}``.
    """

    work: Callable[[Path, Path], Any]
    out_dir: str
    suffix: str = ".json"
    skip_up_to_date: bool = True
    run_started: float = field(default_factory=time.time)

    def output_for(self, scene_url: str) -> str:
        """Where the output of ``scene_url`` goes."""
        return remote.join_url(self.out_dir, output_name(scene_url, self.suffix))

    def __call__(self, scene_url: str) -> dict[str, Any]:
        scene_url = os.fspath(scene_url)
        out = self.output_for(scene_url)
        if self._already_published(scene_url, out):
            return {"scene": scene_url, "output": out, "skipped": True, "result": None}
        with remote.local_copy(scene_url) as local, tempfile.TemporaryDirectory(prefix="lidarlabel-task-") as tmp:
            local_out = Path(tmp) / output_name(scene_url, self.suffix)
            result = self.work(local, local_out)
            if not local_out.is_file():
                raise InputError(f"{scene_url}: the per-scene work wrote no output")
            remote.write_output_atomic(out, local_out.read_bytes())
        return {"scene": scene_url, "output": out, "skipped": False, "result": result}

    def _already_published(self, scene_url: str, out: str) -> bool:
        modified = remote.output_modified(out)
        if modified is None:
            return False
        # S3 LastModified is truncated to whole seconds: there compare against the run's start second.
        started = math.floor(self.run_started) if remote.is_remote(out) else self.run_started
        if modified >= started:
            return True
        return self.skip_up_to_date and remote.output_is_up_to_date(scene_url, out)


class RayExecutor:
    """Map a function over items as Ray tasks; yields ``(item, result | exception)`` as they finish.

    ``address=None`` starts a private local Ray instance (``num_cpus`` CPUs,
    default all) and shuts it down on :meth:`close`; ``"auto"`` or
    ``"ray://host:10001"`` joins an existing cluster. If Ray is already
    initialised in this process, that instance is used as it is.
    ``max_in_flight`` bounds the tasks submitted at once (default: 2 per
    cluster CPU), so a 10,000-scene batch does not queue 10,000 tasks up front.
    """

    name = "ray"

    def __init__(
        self,
        num_cpus_per_task: float = 1.0,
        address: str | None = None,
        max_retries: int = 3,
        num_cpus: int | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        if num_cpus_per_task <= 0:
            raise InputError(f"--cpus-per-task: expected a positive number, got {num_cpus_per_task}")
        if max_retries < 0:
            raise InputError(f"max_retries: expected 0 or more, got {max_retries}")
        self._ray = _import_ray()
        self.num_cpus_per_task = float(num_cpus_per_task)
        self.max_retries = int(max_retries)
        self._owns_ray = False
        if not self._ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = num_cpus
            try:
                self._ray.init(address=address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InputError(f"--ray-address {address}: cannot connect to a Ray cluster ({exc})") from None
            self._owns_ray = True
        cluster_cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
        if self.num_cpus_per_task > cluster_cpus:
            raise InputError(
                f"--cpus-per-task: {self.num_cpus_per_task:g} CPUs per task but the cluster has {cluster_cpus:g}"
            )
        self.max_in_flight = max_in_flight or max(2, int(2 * cluster_cpus / self.num_cpus_per_task))
        self.workers = max(1, int(cluster_cpus // self.num_cpus_per_task))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``fn(item)`` for every item; yield each ``(item, result or exception)`` on completion."""
        ray = self._ray
        task = ray.remote(_call).options(
            num_cpus=self.num_cpus_per_task, max_retries=self.max_retries, retry_exceptions=False
        )
        fn_ref = ray.put(fn)
        todo = iter(items)
        pending: dict[Any, T] = {}
        try:
            while True:
                while len(pending) < self.max_in_flight:
                    item = next(todo, _END)
                    if item is _END:
                        break
                    pending[task.remote(fn_ref, item)] = item
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    yield item, self._outcome(ref, item)
        finally:
            for ref in pending:  # interrupted (Ctrl-C, consumer stopped): cancel what is left
                ray.cancel(ref, force=True)

    def _outcome(self, ref: Any, item: Any) -> Any:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            return cause if isinstance(cause, BaseException) else exc
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError) as exc:
            return TaskLostError(
                f"{item}: the worker died on all {self.max_retries + 1} attempts ({type(exc).__name__})"
            )
        except ray.exceptions.TaskCancelledError:
            return TaskLostError(f"{item}: the task was cancelled")

    def close(self) -> None:
        """Shut down the Ray instance if this executor started it."""
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)
