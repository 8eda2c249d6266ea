"""The answerer's model client: any OpenAI-compatible server (llama.cpp, vLLM), optionally behind a disk cache.

``ChatCompletionCache`` keys on the messages and create arguments only, so the cache store is namespaced by
the served model and the adapter's fingerprint: a retrained adapter never gets an old model's answers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeVar

import diskcache
import httpx
from autogen_core import CacheStore
from autogen_core.models import ChatCompletionClient, ModelFamily, ModelInfo
from autogen_ext.cache_store.diskcache import DiskCacheStore
from autogen_ext.models.cache import ChatCompletionCache
from autogen_ext.models.openai import OpenAIChatCompletionClient

from agents.transcript import private_dir
from medtriage.paths import data_dir

T = TypeVar("T")

# Small local models: plain chat completion only (no tools, no JSON mode, no images).
MODEL_INFO = ModelInfo(vision=False, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN,
                       structured_output=False)


class NamespacedStore(CacheStore[T]):
    """A cache store whose keys are prefixed with ``namespace``."""

    def __init__(self, store: CacheStore[T], namespace: str) -> None:
        self.store, self.namespace = store, namespace

    def get(self, key: str, default: T | None = None) -> T | None:
        return self.store.get(f"{self.namespace}:{key}", default)

    def set(self, key: str, value: T) -> None:
        self.store.set(f"{self.namespace}:{key}", value)


def open_llm_cache(directory: Path | None = None) -> diskcache.Cache:
    """The persistent LLM cache (default ``data_dir("llm_cache")``, made owner-only: it holds answers)."""
    return diskcache.Cache(str(private_dir(directory or data_dir("llm_cache"))))


def adapter_fingerprint(adapter: Path | None) -> str:
    """Short hash of an adapter's files (names, sizes, modification times); "none" without one."""
    if adapter is None:
        return "none"
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(adapter).rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def make_model_client(base_url: str, model: str, *, timeout: float, api_key: str = "x") -> ChatCompletionClient:
    """An ``OpenAIChatCompletionClient`` for ``base_url``/``model``; no retries, so a down server fails fast."""
    return OpenAIChatCompletionClient(model=model, base_url=base_url, api_key=api_key, model_info=MODEL_INFO,
                                      timeout=timeout, max_retries=0)


def with_cache(client: ChatCompletionClient, cache: diskcache.Cache, namespace: str) -> ChatCompletionClient:
    """``client`` behind ``ChatCompletionCache`` on ``cache`` (keys prefixed with ``namespace``)."""
    store: CacheStore[Any] = DiskCacheStore(cache)
    return ChatCompletionCache(client, NamespacedStore(store, namespace))


def served_models(base_url: str, timeout: float = 3.0, api_key: str = "x") -> list[str]:
    """Model ids the server at ``base_url`` lists under ``/models``; raises httpx errors when it is down."""
    response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout,
                         headers={"Authorization": f"Bearer {api_key}"})
    response.raise_for_status()
    return [m["id"] for m in response.json().get("data", []) if "id" in m]
