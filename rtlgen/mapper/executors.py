"""Where the mapper's evaluations run: a registry of executors.

An executor runs ``fn(context, item)`` for many items. The ``context`` (e.g. the emulator with
its model and images) is shipped to each worker once, at :meth:`Executor.start`, not with every
item. :meth:`Executor.map` yields ``(index, result)`` pairs as they complete, so the caller can
record each result at once (a run killed mid-generation loses at most the unfinished part of
what a worker was handed: ``local`` hands out runs of up to 4 items, see :class:`ProcessExecutor`).

Registry: ``serial`` (in this process), ``local`` (a pool of local processes; the default) and
``dask`` (a Dask distributed cluster at ``scheduler`` address, or a given ``client``).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "EXECUTORS", "make_executor"]

Task = Callable[[Any, Any], Any]


class Executor:
    """Base class: ``start(fn, context)``, then ``map(items)`` any number of times, then ``close()``."""

    def start(self, fn: Task, context: Any) -> None:
        self._fn, self._context = fn, context

    def map(self, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    def map(self, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, self._fn(self._context, item)


_worker_fn: Task | None = None
_worker_context: Any = None


def _init_worker(fn: Task, context: Any) -> None:
    global _worker_fn, _worker_context
    _worker_fn, _worker_context = fn, context


def _run_in_worker(items: list[Any]) -> list[Any]:
    assert _worker_fn is not None
    return [_worker_fn(_worker_context, item) for item in items]


class ProcessExecutor(Executor):
    """Local worker processes (``spawn``: safe beside threads; fn and context must pickle).

    Items go to the workers in contiguous runs of up to ``chunk`` (default: at most 4, fewer
    when there are few items, so that every worker gets at least two runs): a caller that sorts
    its items so neighbours share work (the mapper's prefix reuse, which lives in each worker)
    keeps the neighbours in one worker. A run's results come back when the whole run is done.
    """

    def __init__(self, workers: int | None = None, start_method: str = "spawn", chunk: int | None = None):
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.start_method = start_method
        if chunk is not None and chunk < 1:
            raise ValueError(f"chunk must be >= 1, not {chunk}")
        self.chunk = chunk
        self._pool: cf.ProcessPoolExecutor | None = None

    def start(self, fn: Task, context: Any) -> None:
        super().start(fn, context)
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context(self.start_method),
                                            initializer=_init_worker, initargs=(fn, context))

    def map(self, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        assert self._pool is not None, "start() first"
        items = list(items)
        size = self.chunk or max(1, min(4, len(items) // (2 * self.workers)))
        futures = {self._pool.submit(_run_in_worker, items[lo: lo + size]): lo for lo in range(0, len(items), size)}
        try:
            for fut in cf.as_completed(futures):
                for j, result in enumerate(fut.result()):
                    yield futures[fut] + j, result
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """A Dask distributed cluster: ``scheduler`` address (``tcp://host:8786``) or a ``client``."""

    def __init__(self, scheduler: str | None = None, client: Any = None):
        if (scheduler is None) == (client is None):
            raise ValueError("DaskExecutor needs exactly one of scheduler (an address) or client")
        self.scheduler = scheduler
        self._client = client
        self._own_client = client is None

    def start(self, fn: Task, context: Any) -> None:
        super().start(fn, context)
        from distributed import Client

        if self._client is None:
            self._client = Client(self.scheduler)
        self._context_future = self._client.scatter(context, broadcast=True, hash=False)

    def map(self, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        items = list(items)
        futures = [self._client.submit(self._fn, self._context_future, item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut, result in as_completed(futures, with_results=True):
                yield index[fut.key], result
        finally:
            for fut in futures:
                fut.release()

    def close(self) -> None:
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None if self._own_client else self._client


#: name -> executor class; options are the class's keyword arguments
EXECUTORS: dict[str, type[Executor]] = {
    "serial": SerialExecutor,
    "local": ProcessExecutor,
    "dask": DaskExecutor,
}


def make_executor(name: str, **options: Any) -> Executor:
    try:
        cls = EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}") from None
    return cls(**options)
