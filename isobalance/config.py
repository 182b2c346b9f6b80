"""One default configuration that drives the config file, the CLI flags and the dashboard.

``Config()`` holds the defaults; ``isobalance config`` prints them as TOML; a TOML file (``--config`` or
``$ISOBALANCE_CONFIG``) overrides them; CLI flags override the file. Every reader goes through
``load_config`` so the three can never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.errors import IsobalanceError
from vision.pipeline import PipelineSettings
from vision.smoothing import OneEuroParams


class ConfigError(IsobalanceError):
    pass


@dataclass(frozen=True)
class VisionConfig:
    model: str = "full"                    # lite | full | heavy, or a path to a .task bundle
    num_poses: int = 1                     # 1 = MediaPipe's tracker + a search for others (vision.search); 2+ = the person detector on every frame
    search_every: int = 10                 # num_poses = 1: look for everybody every N frames (0 = never)
    search_still_ms: float = 2000.0        # ... skipped while the view away from the subject stays still, at most this long (0 = never skipped)
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smoothing: str = "one_euro"            # one_euro | none
    min_cutoff: float = OneEuroParams.min_cutoff   # One-Euro parameters (vision.smoothing.OneEuroParams)
    beta: float = OneEuroParams.beta
    d_cutoff: float = OneEuroParams.d_cutoff

    def __post_init__(self) -> None:
        """Reject values MediaPipe would choke on deep inside (num_poses = -3 dumped its internals)."""
        if isinstance(self.num_poses, bool) or not isinstance(self.num_poses, int) or not 1 <= self.num_poses <= 20:
            raise ConfigError(f"vision.num_poses must be a whole number from 1 to 20, not {self.num_poses!r}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"vision.{name} must be a number from 0 to 1, not {value!r}")
        if not _is_number(self.search_still_ms) or not 0 <= self.search_still_ms < math.inf:
            raise ConfigError(f"vision.search_still_ms must be a number of ms >= 0, not {self.search_still_ms!r}")
        for name in ("min_cutoff", "beta", "d_cutoff"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"vision.{name} must be a finite number >= 0, not {value!r}")

    def pipeline_settings(self) -> PipelineSettings:
        params = ({"min_cutoff": self.min_cutoff, "beta": self.beta, "d_cutoff": self.d_cutoff}
                  if self.smoothing == "one_euro" else {})
        return PipelineSettings(num_poses=self.num_poses, search_every=self.search_every,
                                search_still_ms=self.search_still_ms,
                                min_detection_confidence=self.min_detection_confidence,
                                min_presence_confidence=self.min_presence_confidence,
                                min_tracking_confidence=self.min_tracking_confidence,
                                smoothing=self.smoothing, smoothing_params=params)


@dataclass(frozen=True)
class DashboardConfig:
    host: str = "127.0.0.1"                # localhost only: video never leaves the machine
    port: int = 8501
    max_upload_mb: int = 500
    data_dir: str = ""                     # empty = the user data folder (~/.local/share/isobalance)
    upload_retention_hours: float = 24.0   # an upload no saved session refers to is removed after this
    uploads_max_total_mb: int = 5000       # all kept uploads together; a new upload beyond it is refused

    def __post_init__(self) -> None:
        """The uploads' lifetime settings must be usable (store/uploads.py); data_dir is used as a path."""
        if not _is_number(self.upload_retention_hours) or not 0 <= self.upload_retention_hours < math.inf:
            raise ConfigError(f"dashboard.upload_retention_hours must be a number of hours >= 0, "
                              f"not {self.upload_retention_hours!r}")
        if isinstance(self.uploads_max_total_mb, bool) or not isinstance(self.uploads_max_total_mb, int) \
                or self.uploads_max_total_mb < 1:
            raise ConfigError(f"dashboard.uploads_max_total_mb must be a whole number >= 1, "
                              f"not {self.uploads_max_total_mb!r}")
        if not isinstance(self.data_dir, str) or "\0" in self.data_dir:
            raise ConfigError("dashboard.data_dir must be a folder path")


@dataclass(frozen=True)
class StoreConfig:
    """The patient store (store/). Which database, first that is set: the CLI's ``--db``, this
    ``database_url``, ``$ISOBALANCE_DATABASE_URL``, else SQLite ``isobalance.db`` in the data folder
    (``store.store.resolve_url`` applies this order for the CLI and the dashboard alike)."""

    database_url: str = ""                 # e.g. postgresql://user@host/dbname; empty = see above


@dataclass(frozen=True)
class Config:
    vision: VisionConfig = field(default_factory=VisionConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    store: StoreConfig = field(default_factory=StoreConfig)

    def to_toml(self) -> str:
        lines: list[str] = []
        for section in dataclasses.fields(self):
            lines.append(f"[{section.name}]")
            for f in dataclasses.fields(getattr(self, section.name)):
                value = getattr(getattr(self, section.name), f.name)
                lines.append(f"{f.name} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)

    def override(self, section: str, **values: Any) -> "Config":
        """Return a copy with non-None ``values`` set in ``section`` (how CLI flags apply)."""
        current = getattr(self, section)
        changes = {k: v for k, v in values.items() if v is not None}
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES = {"str": (str,), "int": (int,), "float": (int, float)}   # annotations are strings (PEP 563)
_KINDS = {"str": "text", "int": "an integer", "float": "a number"}


def _check_type(section: str, key: str, annotation: str, value: Any) -> None:
    """A value from a TOML file has the field's type (a bool is not a number; an int is a float)."""
    want = _TYPES.get(annotation)
    if want is None:
        return
    if isinstance(value, bool) or not isinstance(value, want):
        raise ConfigError(f"[{section}] {key} must be {_KINDS[annotation]}, not {type(value).__name__} {value!r}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # a TOML basic string: JSON's escapes are TOML's, plus DEL, which TOML also wants escaped
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Defaults, then the TOML file at ``path`` or ``$ISOBALANCE_CONFIG`` if given."""
    path = path or os.environ.get("ISOBALANCE_CONFIG")
    config = Config()
    if not path:
        return config
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    for section, values in data.items():
        if section not in {f.name for f in dataclasses.fields(Config)} or not isinstance(values, dict):
            raise ConfigError(f"config file {p}: unknown section [{section}]")
        known = {f.name: f.type for f in dataclasses.fields(getattr(config, section))}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"config file {p}: unknown keys in [{section}]: {', '.join(unknown)}")
        try:
            for key, value in values.items():
                _check_type(section, key, known[key], value)
            config = config.override(section, **values)
        except (TypeError, ConfigError) as exc:
            raise ConfigError(f"config file {p}: {exc}") from None
    return config
