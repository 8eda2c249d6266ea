"""Where the project keeps its caches and data (one root, overridable with MEDTRIAGE_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_home() -> Path:
    """Root for models, the Chroma store, LLM cache and transcripts (default ~/.cache/medtriage)."""
    root = Path(os.environ.get("MEDTRIAGE_HOME", Path.home() / ".cache" / "medtriage")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def data_dir(name: str) -> Path:
    """A named sub-directory of data_home(), created on first use (e.g. "models", "chroma")."""
    path = data_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
