"""Model serving of the backend: the cached project row, model versions, loading the latest
trained model, predictions and the training data of a control.

:class:`ModelServing` is a base of :class:`aqt_labelstudio.service.Backend`; its methods use the
backend's ``settings``, ``store``, ``api``, ``models``, ``_model_check``, ``_projects`` and
``_asked`` (set in ``Backend.__init__``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import Any

from aqt.errors import AqtError

from aqt_labelstudio.model import (
    ChoicesControl,
    TextModel,
    choices_controls,
    majority_labels,
    task_text,
)

__all__ = ["ModelServing"]

log = logging.getLogger("aqt.backend")


class ModelServing:
    """Predictions and models of :class:`~aqt_labelstudio.service.Backend` (see module docstring)."""

    def project_info(self, project: int | None) -> dict[str, Any]:
        """The stored project row, cached for a second (other workers' changes show up then)."""
        if project is None:
            return {}
        now = time.monotonic()
        hit = self._projects.get(project)
        if hit is None or now - hit[0] > 1.0:
            hit = (now, self.store.project(project) or {})
            self._projects[project] = hit
        return hit[1]

    def forget_project(self, project: int | None) -> None:
        self._projects.pop(project, None)

    def model_version(self, project: int | None) -> str:
        return self.project_info(project).get("model_version") or self.settings.model_version

    def label_config(self, project: int | None, given: str | None) -> str | None:
        return given or self.project_info(project).get("label_config")

    def ensure_project(self, project: int | None) -> None:
        """Learn the project's model_version from Label Studio once, if we never saw it."""
        if project is None or self.api is None:
            return
        if self.project_info(project).get("model_version"):
            return
        now = time.monotonic()
        if now - self._asked.get(project, -3600.0) < 60.0:
            return  # asked recently; the project may simply have no model_version yet
        self._asked[project] = now
        try:
            p = self.api.project(project)
        except (AqtError, OSError, ValueError) as exc:
            log.warning("could not read project %s from Label Studio: %s", project, exc)
            return
        with self.store.write() as tx:
            tx.upsert_project(
                project,
                label_config=p.get("label_config"),
                model_version=p.get("model_version") or None,
                title=p.get("title"),
            )
        self.forget_project(project)

    def model(self, project: int, control: ChoicesControl) -> TextModel:
        key = (project, control.name)
        now = time.monotonic()
        cached = self.models.get(key)
        if cached is None or now - self._model_check.get(key, 0.0) > 1.0:
            self._model_check[key] = now
            row = self.store.query(
                "SELECT revision, path FROM models WHERE project=? AND control=? "
                "ORDER BY revision DESC LIMIT 1",
                (project, control.name),
            )
            if row and (cached is None or cached.revision != row[0][0]):
                try:
                    cached = TextModel.load(row[0][1])
                    cached.revision = row[0][0]
                except (OSError, EOFError, ValueError) as exc:
                    log.warning("model file %s unreadable: %s", row[0][1], exc)
            if cached is None or cached.control != control:
                cached = TextModel(control, (), _empty())
            self.models[key] = cached
        return cached

    def predict(
        self, project: int | None, label_config: str | None, tasks: list[dict]
    ) -> list[dict[str, Any]]:
        config = self.label_config(project, label_config)
        version = self.model_version(project)
        controls = choices_controls(config)
        if not controls:
            return [{"model_version": version, "score": None, "result": []} for _ in tasks]
        control = controls[0]
        model = self.model(project if project is not None else -1, control)
        texts = [task_text(t.get("data") or {}, control.text_key) for t in tasks]
        return model.predictions(texts, version)

    def training_data(self, project: int, control: ChoicesControl) -> tuple[list, list, int]:
        """(texts, labels, label_seq) for one control: gold labels first, else the majority."""

        with self.store.read() as c:
            seq = c.execute("SELECT label_seq FROM projects WHERE project=?", (project,)).fetchone()
            votes: dict[int, list[str]] = defaultdict(list)
            for task, value in c.execute(
                "SELECT task, value FROM effective WHERE project=? AND control=? AND kind='choice'",
                (project, control.name),
            ):
                votes[task].append(json.loads(value))
            gold = {}
            for task, value in c.execute(
                "SELECT a.task, j.value FROM judgements j JOIN annotations a ON "
                "a.annotation=j.annotation WHERE a.project=? AND j.control=? AND "
                "a.ground_truth=1 AND a.cancelled=0 AND j.kind='choice' "
                "ORDER BY a.updated_at",
                (project, control.name),
            ):
                gold[task] = json.loads(value)
            targets = majority_labels(votes, gold)
            data = dict(c.execute("SELECT task, data FROM tasks WHERE project=?", (project,)))
        items = sorted(t for t in targets if t in data)
        texts = [task_text(json.loads(data[t]), control.text_key) for t in items]
        return texts, [targets[t] for t in items], (seq[0] if seq else 0)


def _empty():
    import numpy as np

    return np.zeros(0)
