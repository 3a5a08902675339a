"""Recognition wiring: the list store, the embedder, list sync commands, and what `info` and
`metrics` say about the lists.

The list store (edge.identity.store) is the gate's own copy of the backend's lists: it is
opened at start, works without a broker, and is changed only by signed `lists.*` commands
(or, on a local store, by the CLI in another process). After each change, and whenever
another process's edit raised the store's version, the pipeline's gallery and subject table
are rebuilt and swapped in between two frames.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edge.commands.handlers import COMMAND_ARGS, CommandRejected, HandlerRegistry
from edge.config import Settings
from edge.core.identity import IdentityParams
from edge.errors import ConfigError, IdentityError
from edge.identity.store import ListStore
from edge.identity.wire import change_from_args
from edge.pipeline.recognition import ListView, Recognition, SubjectInfo

log = logging.getLogger("edge.identity")
LIST_COMMANDS = tuple(name for name in COMMAND_ARGS if name.startswith("lists."))


class ListsUnavailable(ConfigError):
    """The list store cannot be opened (a full or read-only state dir, a damaged file): `run`
    screens temperatures without recognition rather than not at all."""


def identity_params(settings: Settings) -> IdentityParams:
    """The recognition policy; it applies whenever lists are open (`identity.enabled`, or a
    `--lists` directory given to replay / eval)."""
    ident = settings.identity
    return IdentityParams(
        threshold=ident.threshold,
        samples=ident.samples,
        min_quality=ident.min_quality,
        grant_residents_by_face=ident.grant_residents_by_face,
        health_allowed=tuple(ident.health_allowed),
    )


def list_view(store: ListStore, model_id: str) -> ListView:
    """The store's content as the pipeline uses it: one gallery of `model_id` templates."""
    version = store.version
    subjects = {
        s.id: SubjectInfo(s.kind, s.quarantine_until, s.health) for s in store.subjects()
    }
    return ListView(store.gallery(model_id), subjects, version)


class Lists:
    """The gate's list store and the recognition it feeds (pipeline thread only)."""

    def __init__(self, store: ListStore, recognition: Recognition,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self.recognition = recognition
        self._clock_ns = clock_ns
        self.reloads = 0

    def reload(self) -> None:
        view = list_view(self.store, self.recognition.embedder.model_id)
        self.recognition.reload(view)
        self.reloads += 1
        log.info("lists version %d in force: %d subjects, %d templates",
                 view.version, len(view.subjects), view.gallery.size)

    def refresh(self) -> None:
        """Another process (the CLI on a local store) changed the lists: take them up."""
        if self.store.version != self.recognition.lists.version:
            self.reload()

    def apply(self, name: str, args: Mapping[str, Any]) -> None:
        """A verified `lists.*` command: applied atomically, or CommandRejected(reason)."""
        try:
            change = change_from_args(name, args)
        except ValueError as exc:
            raise CommandRejected("bad_args", str(exc)) from None
        result = self.store.apply(change)
        if not result.applied:
            raise CommandRejected(result.reason or "rejected", result.detail)
        self.reload()

    def info(self) -> dict[str, object]:
        """For `info` and `metrics`: list version, counts, age, whether a snapshot is needed."""
        updated_ns = self.store.updated_ns
        age_s = None if not updated_ns else round((self._clock_ns() - updated_ns) / 1e9, 1)
        return {
            "version": self.store.version,
            "origin": self.store.origin,
            "counts": self.store.counts(datetime.now(UTC)),
            "age_s": age_s,
            "snapshot_needed": self.store.snapshot_needed,
            "last_gap": self.store.last_gap,
            "model": self.recognition.embedder.model_id,
        }

    def close(self) -> None:
        self.store.close()


def open_lists(settings: Settings, directory: Path | None = None) -> Lists | None:
    """The list store and the embedder when recognition is on (`identity.enabled`,
    `passes.enabled` or a `--lists` directory); None when it is off. ConfigError when it
    cannot run."""
    where = directory if directory is not None else settings.lists_dir
    wanted = settings.identity.enabled or settings.passes.enabled  # passes need holders' status
    if not wanted and directory is None:
        return None
    if where is None:
        raise ConfigError("identity: recognition needs identity.lists_dir (or state.dir)")
    from edge.vision.embedder import FaceEmbedder, face_quality

    try:
        store = ListStore.open(where)
    except IdentityError as exc:
        raise ListsUnavailable(f"identity.lists_dir: {exc}") from None
    embedder = FaceEmbedder(threads=settings.rgb.threads)
    recognition = Recognition(
        embedder, list_view(store, embedder.model_id), quality=face_quality
    )
    lists = Lists(store, recognition)
    info = lists.info()
    log.info("recognition on: lists %s version %s, %s", where, info["version"], info["counts"])
    return lists


def register_list_handlers(registry: HandlerRegistry, lists: Lists) -> None:
    """`lists.snapshot` / `lists.update` on this gate (their schemas: edge.commands.lists)."""
    for name in LIST_COMMANDS:

        def apply(args: BaseModel, name: str = name) -> None:
            lists.apply(name, args.model_dump(mode="json", exclude_none=False))

        registry.register(name, COMMAND_ARGS[name], apply, settings=False)
