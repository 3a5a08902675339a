"""edge.app.recognition: list commands applied to the store and swapped into the pipeline,
refusals as cmd_result reasons, local edits picked up, and a store that cannot be opened
leaves `run` screening temperatures without recognition."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.app.live import _open_lists
from edge.app.recognition import Lists, list_view, register_list_handlers
from edge.commands.handlers import CommandRejected, HandlerRegistry
from edge.config import validate
from edge.identity.store import ListStore
from edge.pipeline.recognition import Recognition

MODEL = "fake:1"


class FakeEmbedder:
    model_id = MODEL

    def embed(self, bgr: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.float32]
              ) -> npt.NDArray[np.float32]:
        return np.zeros((landmarks.shape[0], 4), np.float32)


def _template(value: float) -> dict[str, str]:
    data = np.full(4, value, "<f4").tobytes()
    return {"model": MODEL, "data": base64.b64encode(data).decode()}


def _subject(sid: str, value: float, **extra: object) -> dict[str, object]:
    return {"id": sid, "kind": "resident", "templates": [_template(value)], **extra}


def _lists(tmp_path: Path) -> Lists:
    store = ListStore.open(tmp_path / "lists")
    embedder = FakeEmbedder()
    recognition = Recognition(embedder, list_view(store, MODEL),
                              quality=lambda lm, b: np.ones(len(lm), np.float32))
    return Lists(store, recognition)


def test_snapshot_then_update_reach_the_pipeline(tmp_path: Path) -> None:
    lists = _lists(tmp_path)
    registry = HandlerRegistry()
    register_list_handlers(registry, lists)
    assert {"lists.snapshot", "lists.update"} <= registry.names()
    assert not registry["lists.snapshot"].settings  # the store persists it, not commands.json
    registry["lists.snapshot"]({"version": 10, "part": 1, "parts": 1,
                                "subjects": [_subject("ann", 0.1), _subject("bob", 0.9)]})
    view = lists.recognition.lists
    assert view.version == 10 and view.gallery.size == 2 and set(view.subjects) == {"ann", "bob"}
    registry["lists.update"]({"base_version": 10, "version": 11, "remove": ["bob"],
                              "upsert": [_subject("ann", 0.1,
                                                  quarantine_until="2099-01-01T00:00:00Z")]})
    assert lists.recognition.lists.version == 11
    status = lists.recognition.lookup("ann")
    assert status is not None and status.quarantined
    assert lists.recognition.lookup("bob") is None
    info = lists.info()
    assert info["version"] == 11 and info["origin"] == "backend"
    assert info["snapshot_needed"] is False


def test_a_gap_is_refused_with_its_reason_and_changes_nothing(tmp_path: Path) -> None:
    lists = _lists(tmp_path)
    lists.apply("lists.snapshot", {"version": 3, "part": 1, "parts": 1,
                                   "subjects": [_subject("ann", 0.1)]})
    reloads = lists.reloads
    with pytest.raises(CommandRejected) as exc:
        lists.apply("lists.update", {"base_version": 5, "version": 6, "upsert": [],
                                     "remove": ["ann"]})
    assert exc.value.reason == "version_gap"
    assert lists.reloads == reloads and lists.recognition.lists.version == 3
    assert lists.info()["snapshot_needed"] is True
    with pytest.raises(CommandRejected) as stale:
        lists.apply("lists.update", {"base_version": 2, "version": 3, "upsert": [],
                                     "remove": []})
    assert stale.value.reason in ("stale_version", "version_gap")
    with pytest.raises(CommandRejected) as bad:
        lists.apply("lists.update", {"base_version": 3})
    assert bad.value.reason == "bad_args"
    assert set(lists.recognition.lists.subjects) == {"ann"}


def test_a_local_edit_by_another_process_is_taken_up(tmp_path: Path) -> None:
    lists = _lists(tmp_path)
    assert lists.recognition.lists.gallery.size == 0
    with ListStore.open(tmp_path / "lists") as other:  # the CLI, meanwhile
        other.enroll("cem", "resident", np.ones((2, 4), np.float32), MODEL)
    lists.refresh()
    assert lists.recognition.lists.gallery.size == 2
    reloads = lists.reloads
    lists.refresh()  # nothing changed: no rebuild
    assert lists.reloads == reloads


def test_a_store_that_cannot_open_leaves_recognition_off_not_the_gate(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = validate({"identity": {"enabled": True, "lists_dir": str(blocker)}}, "test")
    lists, error = _open_lists(settings)
    assert lists is None
    assert error is not None and "identity.lists_dir" in error and str(blocker) in error
