"""Data loaders: every source becomes chat examples ``{"messages": [...], "source": ...}``.

A source is ``KIND:LOCATION[?key=value&...]`` (or a YAML mapping with the same keys). LOCATION is a local
path ($VARIABLES expanded) or, where noted, a Hugging Face hub ID (read with ``datasets.load_dataset``; a local
directory in hub layout works too). Kinds and their options:

  jsonl       instruction/output, Alpaca (instruction/input/output) or chat-messages records; .jsonl or .json
  aihub       AI Hub healthcare QA folder tree; split=train|valid|all (TL/VL folders)
  pubmedqa    ori_pqal.json (+ test_ground_truth.json beside it) or ChuGyouk/PubMedQA-test-Ko;
              split=train|test|all (train = PMIDs not in the test set), task=label|long|both
  kormedmcqa  CSV tree <subset>/<split>.csv or sean0042/KorMedMCQA; split=train|valid|test, subset=doctor,nurse,...
  medqa       MedQA JSONL (file, options folder or root); split=dev|test, options=4|5
  asan        ChuGyouk/Asan-AMC-Healthinfo (instruction, input, output) or a local JSONL/JSON copy
  corpus      knowledge/corpus: grounded answers with [n] citations and KO<->EN pairs; task=grounded|translate|both
Every kind takes sample=N (a random N), limit=N (the first N), repeat=N, seed=S (for sample and corpus), and
name=... / license=... (how the model card lists the source).

    python -m finetune.data kormedmcqa:/work/shared/data/kormedmcqa?split=train corpus:knowledge/corpus --out x.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune import prompts
from medtriage.paths import REPO_ROOT

Example = dict[str, Any]
CORPUS_DIR = REPO_ROOT / "knowledge" / "corpus"
KORMEDMCQA_SUBSETS = ("doctor", "nurse", "pharm", "dentist")
KORMEDMCQA_HUB = "sean0042/KorMedMCQA"
PUBMEDQA_KO_HUB = "ChuGyouk/PubMedQA-test-Ko"
ASAN_HUB = "ChuGyouk/Asan-AMC-Healthinfo"


class DataFormatError(ValueError):
    """A data file does not have the expected format; the message starts with ``file:line:``."""


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """One data source: a loader kind, where to read it, and loader options."""

    kind: str
    location: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> Source:
        """``KIND:LOCATION?k=v&k=v`` or a mapping ``{kind, location, **options}``; a bare .json(l) path is jsonl."""
        if isinstance(spec, Mapping):
            rest = {k: str(v) if not isinstance(v, list) else ",".join(map(str, v)) for k, v in spec.items()}
            kind, location = rest.pop("kind", "jsonl"), rest.pop("location", "")
            return cls._checked(kind, location, rest)
        text, _, query = spec.partition("?")
        kind, sep, location = text.partition(":")
        if not sep or kind not in LOADERS:
            kind, location = "jsonl", text
        options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        return cls._checked(kind, location, options)

    @classmethod
    def _checked(cls, kind: str, location: str, options: dict[str, str]) -> Source:
        if kind not in LOADERS:
            raise ValueError(f"unknown data source kind '{kind}'; choose one of: {', '.join(LOADERS)}")
        location = os.path.expandvars(location or _DEFAULT_LOCATIONS.get(kind, ""))
        if not location:
            raise ValueError(f"data source '{kind}' needs a location (path or hub ID)")
        if unset := re.findall(r"\$\{?(\w+)", location):
            raise ValueError(f"{location}: environment variable {unset[0]} is not set")
        return cls(kind, location, options)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.kind}:{self.location}" + (f"?{query}" if query else "")

    def opt(self, key: str, default: str) -> str:
        return self.options.get(key, default)


def load_source(source: Source | str | Mapping[str, Any]) -> list[Example]:
    """Chat examples of one source: ``sample=N`` draws a seeded random N, ``limit=N`` keeps the first N,
    ``repeat=N`` repeats them (small hand-written sets)."""
    source = source if isinstance(source, Source) else Source.parse(source)
    examples = LOADERS[source.kind](source)
    sample = int(source.opt("sample", "0"))
    if 0 < sample < len(examples):
        examples = random.Random(f"sample:{source.opt('seed', '0')}").sample(examples, sample)
    limit = int(source.opt("limit", "0"))
    examples = examples[:limit] if limit > 0 else examples
    return examples * int(source.opt("repeat", "1"))


def load_sources(sources: Sequence[Source | str | Mapping[str, Any]]) -> list[Example]:
    """Concatenate several sources in order."""
    return [ex for s in sources for ex in load_source(s)]


# --------------------------------------------------------------------------- file helpers


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, object) of a JSONL file, or of each element of a JSON array file (line of the array)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(data, list):
            raise DataFormatError(f"{path}:1: expected a JSON array of records")
        yield from ((1, obj) for obj in data)
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{path}:{lineno}: invalid JSON ({err.msg})") from None


def _require(record: Any, keys: Sequence[str], where: str) -> None:
    if not isinstance(record, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in keys if k not in record]
    if missing:
        raise DataFormatError(f"{where}: missing field(s) {', '.join(missing)}")


def _hub_rows(location: str, config: str | None, split: str, aliases: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows of a hub dataset (or a local directory in hub layout) via ``datasets.load_dataset``."""
    from datasets import load_dataset

    dataset = load_dataset(location, config) if config else load_dataset(location)
    for name in (split, *aliases):
        if name in dataset:
            return list(dataset[name])
    if len(dataset) == 1:  # single-split sets (e.g. a test-only translation) often name it "train"
        return list(next(iter(dataset.values())))
    raise ValueError(f"{location}: no split '{split}' (has: {', '.join(dataset)})")


def _chat(messages: list[dict[str, str]], source: str) -> Example:
    return {"messages": messages, "source": source}


def _with_answer(prompt: list[dict[str, str]], answer: str, source: str) -> Example:
    return _chat([*prompt, {"role": "assistant", "content": answer.strip()}], source)


# --------------------------------------------------------------------------- instruction / chat JSONL

_ROLES = {"system", "user", "assistant"}


def _record_to_messages(record: Any, where: str) -> list[dict[str, str]]:
    """Chat-messages, Alpaca (instruction/input/output) or instruction/output record -> messages."""
    if isinstance(record, dict) and "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            raise DataFormatError(f"{where}: 'messages' must be a non-empty list")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise DataFormatError(f"{where}: messages[{i}] needs role (system/user/assistant) and string content")
        if messages[-1]["role"] != "assistant":
            raise DataFormatError(f"{where}: the last message must be the assistant's answer")
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    _require(record, ("instruction", "output"), where)
    prompt = str(record["instruction"]).strip()
    if str(record.get("input") or "").strip():
        prompt = f"{prompt}\n\n{str(record['input']).strip()}"
    messages = [{"role": "system", "content": str(record["system"])}] if record.get("system") else []
    return [*messages, {"role": "user", "content": prompt}, {"role": "assistant", "content": str(record["output"])}]


def _load_jsonl(source: Source) -> list[Example]:
    path = Path(source.location)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return [_chat(_record_to_messages(rec, f"{path}:{line}"), path.name) for line, rec in _read_jsonl(path)]


def _load_asan(source: Source) -> list[Example]:
    if Path(source.location).is_file():
        return [{**ex, "source": "asan-amc-healthinfo"} for ex in _load_jsonl(source)]
    rows = _hub_rows(source.location, None, source.opt("split", "train"))
    return [_chat(_record_to_messages(r, f"{source.location}[{i}]"), "asan-amc-healthinfo") for i, r in enumerate(rows)]


# --------------------------------------------------------------------------- AI Hub healthcare QA


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise DataFormatError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None


def _aihub_answer_text(record: Any, path: Path) -> str:
    _require(record, ("answer",), f"{path}:1")
    answer = record["answer"]
    if isinstance(answer, dict):
        parts = [str(answer.get(k) or "").strip() for k in ("intro", "body", "conclusion")]
        text = "\n\n".join(p for p in parts if p)
    else:
        text = str(answer).strip()
    if not text:
        raise DataFormatError(f"{path}:1: empty answer")
    return text


_AIHUB_KIND_DIR = re.compile(r"^(\d+\.\s*)?(질문|답변)$")


def _load_aihub(source: Source) -> list[Example]:
    """Pair HC-Q-*.json with HC-A-*.json of the same folder path below 1.질문/ and 2.답변/
    (split folder / disease category / disease / intention); question i gets answer i mod n."""
    root = Path(source.location)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    wanted = {"train": "TL", "valid": "VL", "all": ""}[source.opt("split", "all")]
    folders: dict[tuple[str, ...], dict[str, list[Path]]] = defaultdict(lambda: {"q": [], "a": []})
    for path in sorted(root.rglob("HC-[QA]-*.json")):
        parts = path.relative_to(root).parts[:-1]
        if wanted and not any(part.startswith(wanted) for part in parts):
            continue
        key = tuple(part for part in parts if not _AIHUB_KIND_DIR.match(part))
        folders[key]["q" if path.name.startswith("HC-Q-") else "a"].append(path)
    examples = []
    for key, files in sorted(folders.items()):
        if not files["a"]:
            continue  # questions without an answer in their folder cannot be paired
        answers = [_aihub_answer_text(_read_json(p), p) for p in files["a"]]
        for i, qpath in enumerate(files["q"]):
            record = _read_json(qpath)
            _require(record, ("question",), f"{qpath}:1")
            examples.append(_with_answer([{"role": "user", "content": str(record["question"]).strip()}],
                                         answers[i % len(answers)], "aihub/" + "/".join(key[-2:])))
    if not examples:
        raise DataFormatError(f"{root}: no HC-Q-*.json / HC-A-*.json pairs found")
    return examples


# --------------------------------------------------------------------------- multiple-choice benchmarks


@dataclass(frozen=True)
class MCQItem:
    """One benchmark question: a prompt, its options (key -> text) and the correct key."""

    benchmark: str
    subset: str
    uid: str
    prompt: tuple[dict[str, str], ...]
    options: dict[str, str]
    answer: str
    lettered: bool = True  # "B. text" answers; PubMedQA answers the bare label

    def continuation(self, key: str) -> str:
        """The assistant reply that picks option ``key`` (what the model is trained on and scored by)."""
        return prompts.mcq_answer(key, self.options[key]) if self.lettered else self.options[key]

    def to_example(self) -> Example:
        return _with_answer(list(self.prompt), self.continuation(self.answer), f"{self.benchmark}/{self.subset}")


def _mcq_item(benchmark: str, subset: str, uid: str, question: str, options: dict[str, str], answer: str,
              language: str) -> MCQItem:
    return MCQItem(benchmark, subset, uid, tuple(prompts.mcq_prompt(question, options, language)), options, answer)


_LETTERS = "ABCDE"


def _kormedmcqa_answer(value: Any, where: str) -> str:
    text = str(value).strip()
    if text in _LETTERS:
        return text
    if text.isdigit() and 1 <= int(text) <= 5:
        return _LETTERS[int(text) - 1]  # the hub stores 1-5
    raise DataFormatError(f"{where}: answer must be a letter A-E or an integer 1-5, got {text!r}")


def _kormedmcqa_row(row: Mapping[str, Any], subset: str, uid: str, where: str) -> MCQItem:
    _require(dict(row), ("question", *_LETTERS[:4], "answer"), where)
    options = {k: str(row[k]).strip() for k in _LETTERS if row.get(k) not in (None, "")}
    answer = _kormedmcqa_answer(row["answer"], where)
    if answer not in options:
        raise DataFormatError(f"{where}: answer {answer} has no option text")
    return _mcq_item("kormedmcqa", subset, uid, str(row["question"]), options, answer, "ko")


def kormedmcqa_items(location: str, split: str = "test", subsets: Sequence[str] = KORMEDMCQA_SUBSETS) -> list[MCQItem]:
    """KorMedMCQA from the CSV tree (<subset>/<split>.csv, answer letter) or the hub (answer 1-5)."""
    aliases = {"valid": ("dev",), "dev": ("valid",)}.get(split, ())
    items = []
    for subset in subsets:
        if subset not in KORMEDMCQA_SUBSETS:
            raise ValueError(f"unknown KorMedMCQA subset '{subset}'; choose from {', '.join(KORMEDMCQA_SUBSETS)}")
        files = [Path(location) / subset / f"{name}.csv" for name in (split, *aliases)]
        csv_file = next((f for f in files if f.is_file()), None)
        if csv_file is not None:
            with csv_file.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                for i, row in enumerate(reader):
                    items.append(_kormedmcqa_row(row, subset, f"{subset}-{split}-{i}", f"{csv_file}:{reader.line_num}"))
        elif Path(location).is_dir() and not (Path(location) / "README.md").is_file():
            raise FileNotFoundError(f"{location}: no {subset}/{split}.csv")
        else:
            rows = _hub_rows(location, subset, split, aliases)
            items += [_kormedmcqa_row(r, subset, f"{subset}-{split}-{i}", f"{location}[{subset}/{split}][{i}]")
                      for i, r in enumerate(rows)]
    return items


def _medqa_file(location: str, split: str, n_options: int) -> Path:
    path = Path(location)
    for candidate in (path, path / f"{split}.jsonl", path / f"{n_options}_options" / f"{split}.jsonl"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{location}: no MedQA {split}.jsonl ({n_options} options)")


def medqa_items(location: str, split: str = "test", n_options: int = 4) -> list[MCQItem]:
    """MedQA (USMLE) JSONL records: question, options {A..}, answer_idx; or the same columns on the hub."""
    subset = f"{n_options}_options"
    if Path(location).exists():
        path = _medqa_file(location, split, n_options)
        records = ((f"{path}:{line}", rec) for line, rec in _read_jsonl(path))
    else:
        records = ((f"{location}[{split}][{i}]", r) for i, r in enumerate(_hub_rows(location, None, split)))
    items = []
    for i, (where, rec) in enumerate(records):
        _require(rec, ("question", "options", "answer_idx"), where)
        options = rec["options"]
        if isinstance(options, list):  # hub exports store [{"key": "A", "value": ...}]
            options = {o["key"]: o["value"] for o in options}
        if not isinstance(options, dict) or rec["answer_idx"] not in options:
            raise DataFormatError(f"{where}: options must map letters to text and contain answer_idx")
        options = {k: str(v).strip() for k, v in sorted(options.items())}
        items.append(_mcq_item("medqa", subset, f"{split}-{i}", str(rec["question"]), options, rec["answer_idx"], "en"))
    return items


def _language(text: str) -> str:
    return "ko" if re.search(r"[\uac00-\ud7a3]", text) else "en"


def pubmedqa_items(location: str, split: str = "test", long_answer: bool = False) -> list[MCQItem]:
    """PubMedQA-L: abstract + question -> yes/no/maybe (``long_answer=True`` -> prompt for the long answer).
    Local ori_pqal.json (split by test_ground_truth.json beside it) or a hub copy such as the Korean test set."""
    items = []
    for pmid, rec, where in _pubmedqa_records(location, split):
        label = str(rec["final_decision"]).strip().lower()
        if label not in prompts.PUBMEDQA_LABELS:
            raise DataFormatError(f"{where}: final_decision must be yes/no/maybe, got {label!r}")
        contexts = rec["CONTEXTS"] if isinstance(rec["CONTEXTS"], list) else [str(rec["CONTEXTS"])]
        language = _language(str(rec["QUESTION"]))
        prompt = prompts.pubmedqa_prompt(str(rec["QUESTION"]), contexts, language, long_answer)
        options = {label: str(rec["LONG_ANSWER"]).strip()} if long_answer else {k: k for k in prompts.PUBMEDQA_LABELS}
        items.append(MCQItem("pubmedqa", "pqa-l" if language == "en" else "pqa-l-ko", pmid, tuple(prompt), options,
                             label, lettered=False))
    return items


def _pubmedqa_records(location: str, split: str) -> list[tuple[str, dict, str]]:
    """(pmid, record, where) of the expert-labelled set."""
    path = Path(location)
    if path.is_dir() and (path / "ori_pqal.json").is_file():
        path = path / "ori_pqal.json"
    if path.is_file():
        data = _read_json(path)
        if not isinstance(data, dict):
            raise DataFormatError(f"{path}:1: expected an object keyed by PMID")
        if split != "all":
            truth = path.with_name("test_ground_truth.json")
            if not truth.is_file():
                raise FileNotFoundError(f"{truth}: needed to split PubMedQA into train/test")
            test_ids = set(_read_json(truth))
            data = {k: v for k, v in data.items() if (k in test_ids) == (split == "test")}
        records = [(pmid, rec, f"{path}:{pmid}") for pmid, rec in data.items()]
    else:
        rows = _hub_rows(location, None, split)
        records = [(str(r.get("pubid", i)), r, f"{location}[{i}]") for i, r in enumerate(rows)]
    for _, rec, where in records:
        _require(rec, ("QUESTION", "CONTEXTS", "final_decision"), where)
    return records


def _load_kormedmcqa(source: Source) -> list[Example]:
    subsets = source.opt("subset", ",".join(KORMEDMCQA_SUBSETS)).split(",")
    return [it.to_example() for it in kormedmcqa_items(source.location, source.opt("split", "train"), subsets)]


def _load_medqa(source: Source) -> list[Example]:
    items = medqa_items(source.location, source.opt("split", "dev"), int(source.opt("options", "4")))
    return [it.to_example() for it in items]


def _load_pubmedqa(source: Source) -> list[Example]:
    task, split = source.opt("task", "both"), source.opt("split", "train")
    if task not in ("label", "long", "both"):
        raise ValueError(f"pubmedqa task must be label, long or both, got '{task}'")
    examples = []
    if task in ("label", "both"):
        examples += [it.to_example() for it in pubmedqa_items(source.location, split)]
    if task in ("long", "both"):
        examples += [it.to_example() for it in pubmedqa_items(source.location, split, long_answer=True)]
    return examples


# --------------------------------------------------------------------------- the project's bilingual corpus

_QUESTIONS = {
    "en": {
        "overview": ("What is {t}?", "Can you explain {t} briefly?"),
        "symptoms": ("What are the symptoms of {t}?", "How can I tell if I have {t}?"),
        "causes": ("What causes {t}?", "Why does {t} happen?"),
        "diagnosis": ("How is {t} diagnosed?", "What tests are done for {t}?"),
        "treatment": ("How is {t} treated?", "What is the treatment for {t}?"),
        "self_care": ("What can I do at home for {t}?", "How can I look after myself with {t}?"),
        "prevention": ("How can I prevent {t}?", "Can {t} be prevented?"),
        "when_to_seek_care": ("When should I see a doctor about {t}?", "When is {t} an emergency?"),
    },
    "ko": {
        "overview": ("{t}{eun} 무엇인가요?", "{t}에 대해 간단히 설명해 주세요."),
        "symptoms": ("{t}의 증상은 무엇인가요?", "{t}인지 어떻게 알 수 있나요?"),
        "causes": ("{t}의 원인은 무엇인가요?", "{t}{eun} 왜 생기나요?"),
        "diagnosis": ("{t}{eun} 어떻게 진단하나요?", "{t}{i} 의심되면 어떤 검사를 하나요?"),
        "treatment": ("{t}{eun} 어떻게 치료하나요?", "{t} 치료 방법을 알려 주세요."),
        "self_care": ("{t}일 때 집에서 할 수 있는 관리는 무엇인가요?", "{t}{i} 있을 때 스스로 어떻게 관리하나요?"),
        "prevention": ("{t}{eul} 예방하려면 어떻게 하나요?", "{t}{eun} 예방할 수 있나요?"),
        "when_to_seek_care": ("{t}일 때 언제 병원에 가야 하나요?", "{t}{i} 응급인 경우는 언제인가요?"),
    },
}


NO_ANSWER_SHARE = 0.12  # questions shown only unrelated passages -> the refusal answer
CROSS_LANGUAGE_SHARE = 0.12  # passages in the other language, answer still in the question's language


@dataclass(frozen=True)
class _Chunk:
    """A retrieval chunk of the corpus as the answerer sees it (``<title> - <heading>: <text>``)."""

    topic_id: str
    language: str
    section: str
    urgency: str
    title: str
    passage: str
    units: tuple[str, ...]
    section_text: str  # the whole section, for translation pairs


def _topic_name(title: str, language: str) -> str:
    """Title without parentheses, lower-cased in English unless it is an acronym ("COVID-19")."""
    name = re.sub(r"\s*\(.*?\)", "", title).strip()
    if language == "en" and len(name) > 1 and name[1].islower():
        name = name[0].lower() + name[1:]
    return name


def _particles(word: str) -> dict[str, str]:
    """Korean particles after ``word``: 은/는, 이/가, 을/를 by its final consonant (batchim)."""
    last = word[-1] if word else ""
    if not "\uac00" <= last <= "\ud7a3":
        return {"eun": "은(는)", "i": "이(가)", "eul": "을(를)"}
    batchim = (ord(last) - 0xAC00) % 28 != 0
    return {"eun": "은" if batchim else "는", "i": "이" if batchim else "가", "eul": "을" if batchim else "를"}


def read_corpus_chunks(root: Path | str = CORPUS_DIR) -> dict[str, dict[str, dict[str, list[_Chunk]]]]:
    """language -> topic -> section -> chunks, cut exactly as the retriever cuts them (knowledge.chunking)."""
    from knowledge.chunking import chunk_document, clean_markdown, split_units
    from knowledge.corpus import CorpusError, corpus_files, load_corpus_file, load_topics

    root = Path(root)
    files = corpus_files(root)
    if not files:
        raise FileNotFoundError(f"{root}: no corpus files under en/ or ko/")
    topics = load_topics(root / "topics.yaml")
    tree: dict[str, dict[str, dict[str, list[_Chunk]]]] = {}
    for path in files:
        try:
            docs = load_corpus_file(path, topics)
        except CorpusError as err:
            raise DataFormatError(str(err)) from None
        for doc in docs:
            chunks = [_Chunk(doc.topic_id, doc.language, doc.section, doc.urgency or "routine", doc.title,
                             c.embed_text, tuple(split_units(c.text)), clean_markdown(doc.text).strip())
                      for c in chunk_document(doc)]
            tree.setdefault(doc.language, {}).setdefault(doc.topic_id, {})[doc.section] = chunks
    return tree


def _cite(units: Sequence[str], n: int) -> str:
    return " ".join(f"{u.rstrip('.')} [{n}]." for u in units)


def _grounded_example(rng: random.Random, corpus: dict, lang: str, topic: str, section: str,
                      passage_lang: str, no_answer: bool) -> Example:
    """Question about topic/section + shuffled chunks (targets, maybe when-to-seek-care, distractors) -> answer."""
    sections = corpus[passage_lang][topic]
    targets = [] if no_answer else sections[section][: rng.choice((1, 2))]
    seek = sections.get("when_to_seek_care", [])[:1]
    level = targets[0].urgency if targets and rng.random() < 0.6 else rng.choice((*prompts.TRIAGE_LEVELS, None))
    add_seek = bool(targets) and section != "when_to_seek_care" and bool(seek) and rng.random() < 0.5
    others = [t for t in corpus[passage_lang] if t != topic]
    distractors = [rng.choice(rng.choice(list(corpus[passage_lang][t].values())))
                   for t in rng.sample(others, min(rng.randint(1, 3), len(others)))]
    if rng.random() < 0.3:  # a neighbouring section of the same topic, as retrieval often returns
        near = [k for k in sections if k not in (section, "when_to_seek_care")]
        distractors += [sections[rng.choice(near)][0]] if near else []
    chosen = targets + (seek if add_seek else []) + distractors
    rng.shuffle(chosen)
    number = {id(c): i for i, c in enumerate(chosen, 1)}
    # The answer text comes from the question's language: the same chunk when languages match, else the
    # parallel section's opening units (the corpus is written section by section in both languages).
    own = corpus[lang][topic]
    if no_answer:
        answer = prompts.NO_ANSWER[lang]
    else:
        parts = []
        if add_seek and level in ("emergency", "urgent"):
            seek_units = own["when_to_seek_care"][0].units
            parts.append(_cite([seek_units[min(0 if level == "emergency" else 1, len(seek_units) - 1)]],
                               number[id(seek[0])]))
        for i, chunk in enumerate(targets):
            units = chunk.units if passage_lang == lang else own[section][min(i, len(own[section]) - 1)].units
            parts.append(_cite(units[: 1 if len(targets) > 1 or len(units[0]) > 200 else 2], number[id(chunk)]))
        answer = " ".join(parts)
    asked = corpus[lang][topic][section][0] if section in corpus[lang][topic] else next(iter(own.values()))[0]
    name = _topic_name(asked.title, lang)
    question = rng.choice(_QUESTIONS[lang][section]).format(t=name, **_particles(name))
    messages = prompts.answerer_messages(question, [c.passage for c in chosen], level, lang)
    return _with_answer(messages, answer, f"corpus/grounded/{lang}")


def corpus_grounded_examples(corpus: dict, seed: int = 0) -> list[Example]:
    """One grounded question per topic, language and section; some answered from passages in the other
    language (answer still in the question's language), some with no relevant passage (the refusal)."""
    examples = []
    for lang, topics in sorted(corpus.items()):
        other = "ko" if lang == "en" else "en"
        for topic, sections in sorted(topics.items()):
            for section in sections:
                if section not in _QUESTIONS[lang]:
                    continue
                rng = random.Random(f"{seed}:{lang}:{topic}:{section}")
                roll = rng.random()
                parallel = section in corpus.get(other, {}).get(topic, {})
                no_answer = roll < NO_ANSWER_SHARE and len(topics) > 1
                cross = NO_ANSWER_SHARE <= roll < NO_ANSWER_SHARE + CROSS_LANGUAGE_SHARE and parallel
                passage_lang = other if cross else lang
                examples.append(_grounded_example(rng, corpus, lang, topic, section, passage_lang, no_answer))
    return examples


def corpus_translation_examples(corpus: dict, max_chars: int = 700) -> list[Example]:
    """KO<->EN pairs of the same topic section (both directions), skipping sections longer than max_chars."""
    examples = []
    for topic, en in sorted(corpus.get("en", {}).items()):
        ko = corpus.get("ko", {}).get(topic, {})
        for section in sorted(en.keys() & ko.keys()):
            pair = {"en": en[section][0].section_text, "ko": ko[section][0].section_text}
            if max(len(t) for t in pair.values()) > max_chars:
                continue
            for src, tgt in (("en", "ko"), ("ko", "en")):
                examples.append(_with_answer(prompts.translation_prompt(pair[src], src, tgt), pair[tgt],
                                             f"corpus/translate/{src}-{tgt}"))
    return examples


def _load_corpus(source: Source) -> list[Example]:
    task, seed = source.opt("task", "both"), int(source.opt("seed", "0"))
    if task not in ("grounded", "translate", "both"):
        raise ValueError(f"corpus task must be grounded, translate or both, got '{task}'")
    corpus = read_corpus_chunks(source.location)
    examples = corpus_grounded_examples(corpus, seed) if task in ("grounded", "both") else []
    if task in ("translate", "both"):
        examples += corpus_translation_examples(corpus)
    return examples


LOADERS = {
    "jsonl": _load_jsonl,
    "aihub": _load_aihub,
    "pubmedqa": _load_pubmedqa,
    "kormedmcqa": _load_kormedmcqa,
    "medqa": _load_medqa,
    "asan": _load_asan,
    "corpus": _load_corpus,
}
_DEFAULT_LOCATIONS = {"asan": ASAN_HUB, "corpus": str(CORPUS_DIR), "kormedmcqa": KORMEDMCQA_HUB}


def write_jsonl(examples: Sequence[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for ex in examples:
            handle.write(json.dumps(ex, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m finetune.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="KIND:LOCATION[?key=value&...] (see above)")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write the chat examples to")
    args = parser.parse_args(argv)
    counts: dict[str, int] = {}
    examples = []
    for spec in args.sources:
        batch = load_source(spec)
        counts[spec] = len(batch)
        examples += batch
    write_jsonl(examples, args.out)
    for spec, n in counts.items():
        print(f"{n:7d}  {spec}")
    print(f"{len(examples):7d}  -> {args.out}")


if __name__ == "__main__":
    main()
