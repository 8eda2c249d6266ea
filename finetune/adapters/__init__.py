"""Adapters committed with the project (trained by the recipes in finetune/recipes/)."""

from pathlib import Path

ADAPTERS_DIR = Path(__file__).resolve().parent
DEFAULT_ADAPTER = ADAPTERS_DIR / "gemma3-270m-medtriage"


def default_adapter() -> Path | None:
    """The committed default adapter for the embedded gemma3-270m profile, or None if not trained yet."""
    return DEFAULT_ADAPTER if (DEFAULT_ADAPTER / "adapter_config.json").is_file() else None
