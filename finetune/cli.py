"""Dataclass configs as command lines: every field becomes a documented flag, ``--config FILE.yaml`` sets
defaults, and flags given on the command line override the file."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, hint: Any) -> None:
    help_text = field.metadata.get("help", "")
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # X | None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    kwargs: dict[str, Any] = {"help": f"{help_text} (default: {default})", "default": argparse.SUPPRESS}
    if hint is bool:
        parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, **kwargs)
        return
    if origin is list:
        kwargs.update(nargs="+", type=str)
    elif origin is typing.Literal:
        kwargs.update(choices=args, type=type(args[0]))
    else:
        kwargs.update(type=hint)
    parser.add_argument(_flag(field.name), **kwargs)


def build_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """Parser with ``--config`` and one flag per dataclass field (help from ``field(metadata={"help": ...})``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML file with any of the options below (flags override it)")
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        _add_field(parser, field, hints[field.name])
    return parser


def load_config(cls: type[T], argv: Sequence[str] | None, prog: str, description: str) -> T:
    """Defaults < YAML file (``--config``) < command-line flags; unknown YAML keys are an error."""
    parser = build_parser(cls, prog, description)
    args = vars(parser.parse_args(argv))
    values: dict[str, Any] = {}
    config_file = args.pop("config", None)
    if config_file is not None:
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in (key.replace("-", "_") for key in loaded) if k not in names)
        if unknown:
            parser.error(f"{config_file}: unknown option(s) {', '.join(unknown)}")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    values.update(args)
    return cls(**values)


def dump_config(config: Any, path: Path) -> None:
    """Write a dataclass config as YAML (what ``--config`` reads back)."""
    data = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(config).items()}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
