"""Run a per-scene function on a Ray cluster: one Ray task per scene, completions streamed.

``RayExecutor(...).map(fn, items)`` yields ``(item, result)`` or
``(item, exception)`` in completion order, like the local executor. Each task
declares its CPUs (``num_cpus_per_task``); a task whose worker process dies
(OOM kill, node loss, ``os._exit``) is retried up to ``max_retries`` times by
Ray, while an exception raised by ``fn`` (bad input) is not retried and comes
back as the exception itself.

Exactly-once outputs: wrap the per-scene work in :class:`SceneJob`. It
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

import functools
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lidarlabel.errors import InputError, LidarLabelError
from lidarlabel.io import remote

__all__ = ["RAY_MISSING", "RayExecutor", "SceneJob", "TaskLostError", "cached_detector", "output_name", "per_process",
           "prelabel_task", "publish_once"]

RAY_MISSING = "the ray executor needs the optional extra: pip install 'lidarlabel[ray]'"

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]


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


def publish_once(
    scene_url: str, out_url: str, work: Callable[[Path, Path], R], run_started: float,
    skip_up_to_date: bool = True,
) -> tuple[bool, R | None]:
    """Run ``work(local_scene, local_out)`` and publish ``local_out`` to ``out_url`` atomically, once.

    Returns ``(skipped, result)``. Skips (``(True, None)``) when ``out_url`` was
    already written since ``run_started`` (POSIX seconds, taken by the driver
    when the run began: an earlier attempt of this task whose worker died after
    publishing) or, with ``skip_up_to_date``, when it is newer than the scene.
    ``local_out`` is a private temporary path; if ``work`` leaves no file
    there (a failure it reports in its result), nothing is published. An
    executor without retries passes ``run_started=math.inf``.
    """
    modified = remote.output_modified(out_url)
    if modified is not None:
        # S3 LastModified is truncated to whole seconds: there compare against the run's start second.
        started = math.floor(run_started) if remote.is_remote(out_url) and math.isfinite(run_started) else run_started
        if modified >= started or (skip_up_to_date and remote.output_is_up_to_date(scene_url, out_url)):
            return True, None
    # cache=False: a batch reads each scene once; a cache would fill worker disks with every scene
    with remote.local_copy(scene_url, cache=False) as local, \
            tempfile.TemporaryDirectory(prefix="lidarlabel-task-") as tmp:
        local_out = Path(tmp) / output_name(out_url, "")
        result = work(local, local_out)
        if local_out.is_file():
            remote.write_output_atomic(out_url, local_out.read_bytes())
    return False, result


@dataclass(frozen=True)
class SceneJob:
    """One scene -> one output in ``out_dir``, published atomically and at most once per run (picklable).

    ``work(local_scene: Path, local_out: Path) -> result`` reads a local scene
    file and writes its output to ``local_out``; the job publishes it as
    ``out_dir/<scene stem><suffix>`` (a folder or an object-store prefix) with
    :func:`publish_once`. Returns ``{"scene", "output", "skipped", "result"}``.
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

        def work(local: Path, local_out: Path) -> Any:
            result = self.work(local, local_out)
            if not local_out.is_file():
                raise InputError(f"{scene_url}: the per-scene work wrote no output")
            return result

        skipped, result = publish_once(scene_url, out, work, self.run_started, self.skip_up_to_date)
        return {"scene": scene_url, "output": out, "skipped": skipped, "result": result}


def _detector_arg(name: str, options: dict[str, Any]) -> Any:
    """A per-worker cached detector where the batch function takes instances, else its name."""
    import inspect

    from lidarlabel.prelabel import batch

    ann = str(inspect.signature(batch.prelabel_document).parameters["detector"].annotation)
    if "Detector" not in ann:
        return name  # this batch version builds the detector itself, once per scene
    det = cached_detector(name, **options.get("detector", {}))
    if isinstance(getattr(det, "timings", None), dict):
        det.timings = dict.fromkeys(det.timings, 0.0)  # per-scene stage timings, not cumulative
    return det


def prelabel_task(task: Any, run_started: float, progress: Callable[[int, int], None] | None = None) -> Any:
    """Pre-label one :class:`lidarlabel.prelabel.executors.SceneTask`; a ``SceneResult``.

    ``task.scene`` and ``task.out`` may be local paths or URLs (any executor
    can call this; it imports no Ray). The document is published with
    :func:`publish_once`, so a retried task never writes twice; messages name
    the URLs, never the worker's local copies. ``progress(done, total)`` per frame.
    """
    from lidarlabel.prelabel import batch

    def work(local: Path, local_out: Path) -> Any:
        det = _detector_arg(task.detector, task.options)
        res = batch.prelabel_scene(local, local_out, det, task.options, progress)
        if res.error:
            res.error = res.error.replace(str(local_out), task.out).replace(str(local), task.scene)
        return res

    try:
        skipped, res = publish_once(task.scene, task.out, work, run_started, skip_up_to_date=False)
    except LidarLabelError as exc:
        return batch.SceneResult(task.scene, task.out, ok=False, error=str(exc))
    if skipped:  # an earlier attempt of this run published it, then its worker died
        return _result_from_published(task)
    res.scene, res.out = task.scene, task.out
    return res


def _result_from_published(task: Any) -> Any:
    from lidarlabel.io.labels import load_document
    from lidarlabel.prelabel import batch

    with remote.local_copy(task.out, cache=False) as local:
        doc = load_document(local)
    frames = doc.frames()
    return batch.SceneResult(task.scene, task.out, ok=True, frames=(max(frames) + 1) if frames else 0,
                             tracks=len(doc.tracks), boxes=doc.num_boxes())


class RayExecutor:
    """Map a function over items as Ray tasks; yields ``(item, result | exception)`` as they finish.

    ``address=None`` starts a private local Ray instance (``num_cpus`` CPUs,
    default all) and shuts it down on :meth:`close`; ``"auto"`` or
    ``"ray://host:10001"`` joins an existing cluster. If Ray is already
    initialised in this process, that instance is used as it is.
    ``max_in_flight`` bounds the tasks submitted at once (default: 2 per task
    slot, re-read every 10 s so an autoscaling cluster still sees demand to
    grow), so a 10,000-scene batch does not queue 10,000 tasks up front.
    ``runtime_env`` is Ray's per-task runtime environment (e.g. ``{"env_vars":
    {...}}`` or ``{"pip": [...]}``); cluster nodes normally carry their own
    storage credentials (instance roles), so none are forwarded implicitly.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        num_cpus_per_task: float = 1.0,
        address: str | None = None,
        max_retries: int = 3,
        num_cpus: int | None = None,
        max_in_flight: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        if num_cpus_per_task <= 0:
            raise InputError(f"num_cpus_per_task: expected a positive number, got {num_cpus_per_task}")
        if max_retries < 0:
            raise InputError(f"max_retries: expected 0 or more, got {max_retries}")
        self._ray = _import_ray()
        self.num_cpus_per_task = float(num_cpus_per_task)
        self.max_retries = int(max_retries)
        self.runtime_env = runtime_env
        self._owns_ray = False
        if not self._ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = num_cpus or workers
            try:
                self._ray.init(address=address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InputError(f"--ray-address {address}: cannot connect to a Ray cluster ({exc})") from None
            self._owns_ray = True
        cluster_cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
        if self.num_cpus_per_task > cluster_cpus:
            raise InputError(
                f"num_cpus_per_task: {self.num_cpus_per_task:g} CPUs per task but the cluster has {cluster_cpus:g}"
            )
        self._fixed_window = max_in_flight
        self.workers = max(1, int(cluster_cpus // self.num_cpus_per_task))
        self.max_in_flight = max_in_flight or 2 * self.workers
        self._window_checked = time.monotonic()

    def _window(self) -> int:
        """Tasks to keep submitted: 2 per task slot, re-read every 10 s (an autoscaling cluster grows)."""
        if self._fixed_window is None and time.monotonic() - self._window_checked > 10.0:
            cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
            self.workers = max(1, int(cpus // self.num_cpus_per_task))
            self.max_in_flight = 2 * self.workers
            self._window_checked = time.monotonic()
        return self.max_in_flight

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | BaseException]]:
        """Run ``fn(item)`` for every item; yield each ``(item, result or exception)`` on completion."""
        ray = self._ray
        opts: dict[str, Any] = {"num_cpus": self.num_cpus_per_task, "max_retries": self.max_retries,
                                "retry_exceptions": False}
        if self.runtime_env:
            opts["runtime_env"] = self.runtime_env
        task = ray.remote(_call).options(**opts)
        fn_ref = ray.put(fn)
        todo = iter(items)
        pending: dict[Any, T] = {}
        try:
            while True:
                while len(pending) < self._window():
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

    def run(self, tasks: Sequence[Any], progress: Progress | None = None) -> Iterator[Any]:
        """The :mod:`lidarlabel.prelabel.executors` interface: one ``SceneResult`` per task, as they finish.

        ``progress(scene, frames, frames)`` is called once per finished scene
        (frame-level progress stays on the worker).
        """
        from lidarlabel.prelabel.batch import SceneResult

        run_started = time.time()
        job = functools.partial(prelabel_task, run_started=run_started)
        for task, res in self.map(job, tasks):
            if isinstance(res, BaseException):
                msg = str(res) if isinstance(res, LidarLabelError) else f"{task.scene}: {type(res).__name__}: {res}"
                res = SceneResult(task.scene, task.out, ok=False, error=msg)
            if progress:
                progress(task.scene, res.frames, res.frames)
            yield res

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
                f"{getattr(item, 'scene', item)}: the worker died on all {self.max_retries + 1} attempts ({type(exc).__name__})"
            )
        except ray.exceptions.TaskCancelledError:
            return TaskLostError(f"{getattr(item, 'scene', item)}: the task was cancelled")

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
