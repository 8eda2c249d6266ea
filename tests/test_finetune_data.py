"""finetune.data and finetune.prompts on small fixtures (tests/fixtures/finetune), malformed files included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from finetune import prompts
from finetune.data import (
    DataFormatError,
    Source,
    kormedmcqa_items,
    load_source,
    main,
    medqa_items,
    pubmedqa_items,
)

FIX = Path(__file__).parent / "fixtures" / "finetune"


def _roles(example: dict) -> list[str]:
    return [m["role"] for m in example["messages"]]


def test_source_parsing_and_options() -> None:
    source = Source.parse("kormedmcqa:/data/kmc?split=train&subset=doctor,nurse")
    assert (source.kind, source.location, source.opt("split", "test")) == ("kormedmcqa", "/data/kmc", "train")
    assert Source.parse("x/y.jsonl").kind == "jsonl"
    assert Source.parse({"kind": "medqa", "location": "/m", "options": 4}).options == {"options": "4"}
    assert Source.parse("asan:").location == "ChuGyouk/Asan-AMC-Healthinfo"
    with pytest.raises(ValueError, match="unknown data source kind"):
        Source.parse({"kind": "nope", "location": "x"})


@pytest.mark.parametrize("name", ["chat.jsonl", "alpaca.json", "instruction.jsonl"])
def test_instruction_alpaca_and_chat_files(name: str) -> None:
    examples = load_source(str(FIX / name))
    assert len(examples) == 2
    for ex in examples:
        assert _roles(ex)[-1] == "assistant" and _roles(ex)[-2] == "user"
    if name == "alpaca.json":  # input is appended to the instruction
        assert "Drink fluids" in examples[0]["messages"][0]["content"]
    if name == "instruction.jsonl":  # optional system field
        assert _roles(examples[1]) == ["system", "user", "assistant"]


@pytest.mark.parametrize(("name", "pattern"), [
    ("broken.jsonl", r"broken\.jsonl:3: invalid JSON"),
    ("no_answer.jsonl", r"no_answer\.jsonl:2: the last message must be the assistant"),
    ("missing_field.jsonl", r"missing_field\.jsonl:1: missing field\(s\) output"),
])
def test_malformed_jsonl_names_file_and_line(name: str, pattern: str) -> None:
    with pytest.raises(DataFormatError, match=pattern):
        load_source(f"jsonl:{FIX / 'malformed' / name}")


def test_kormedmcqa_csv_letters_and_subsets() -> None:
    items = kormedmcqa_items(str(FIX / "kormedmcqa"), "test", ["doctor", "nurse"])
    assert [it.subset for it in items] == ["doctor"] * 3 + ["nurse"] * 2
    assert items[0].answer == "B" and items[0].continuation("B") == "B. 미오글로빈"
    assert "E. ALP" in items[0].prompt[0]["content"]
    examples = load_source(f"kormedmcqa:{FIX / 'kormedmcqa'}?split=train&subset=doctor")
    assert examples[2]["messages"][-1]["content"] == "C. 에피네프린"


def test_kormedmcqa_hub_layout_answers_one_to_five() -> None:
    """The hub code path (datasets.load_dataset with a config), on a local directory in hub layout."""
    items = kormedmcqa_items(str(FIX / "kormedmcqa_hub"), "test", ["doctor"])
    assert [it.answer for it in items] == ["B", "C"]
    assert len(kormedmcqa_items(str(FIX / "kormedmcqa_hub"), "valid", ["doctor"])) == 2  # valid -> hub "dev"


def test_kormedmcqa_bad_answer_names_file_and_line() -> None:
    with pytest.raises(DataFormatError, match=r"malformed/kormedmcqa/doctor/test\.csv:4: answer must be"):
        kormedmcqa_items(str(FIX / "malformed" / "kormedmcqa"), "test", ["doctor"])


def test_medqa_and_pubmedqa() -> None:
    med = medqa_items(str(FIX / "medqa"), "test", 4)
    assert [it.answer for it in med] == ["C", "B", "A"] and med[0].subset == "4_options"
    train = pubmedqa_items(str(FIX / "pubmedqa"), "train")
    test = pubmedqa_items(str(FIX / "pubmedqa"), "test")
    assert {it.uid for it in train} == {"1001", "1003"} and {it.uid for it in test} == {"1002", "1004"}
    assert not test[0].lettered and test[0].continuation("no") == "no"
    both = load_source(f"pubmedqa:{FIX / 'pubmedqa'}?split=train")
    assert len(both) == 4 and both[-1]["messages"][-1]["content"].startswith("Short courses")


def test_pubmedqa_korean_hub_layout() -> None:
    items = pubmedqa_items(str(FIX / "pubmedqa_ko_hub"), "test")
    assert [it.answer for it in items] == ["no", "yes"]
    assert "초록을 읽고" in items[0].prompt[0]["content"]


def test_aihub_pairs_questions_and_answers_by_folder() -> None:
    examples = load_source(f"aihub:{FIX / 'aihub'}")
    assert len(examples) == 3  # the 치료 question has no answer folder and is skipped
    train = load_source(f"aihub:{FIX / 'aihub'}?split=train")
    assert len(train) == 2 and all(ex["source"] == "aihub/감기/증상" for ex in train)
    answer = train[0]["messages"][-1]["content"]
    assert answer.startswith("감기는 바이러스가") and answer.endswith("좋아집니다.")
    with pytest.raises(DataFormatError, match=r"HC-Q-0001\.json:3: invalid JSON"):
        load_source(f"aihub:{FIX / 'malformed' / 'aihub'}")


def test_corpus_grounded_answers_cite_and_stay_in_language() -> None:
    examples = load_source(f"corpus:{FIX / 'corpus'}?task=grounded")
    assert len(examples) == 10  # one per topic, language and section
    for ex in examples:
        system, user, answer = (m["content"] for m in ex["messages"])
        lang = ex["source"].rsplit("/", 1)[-1]
        assert system == prompts.ANSWERER_SYSTEM[lang]
        assert re.search(r"^\[1\] ", user, re.MULTILINE)
        hangul = bool(re.search(r"[가-힣]", answer))
        assert hangul == (lang == "ko")
        if answer != prompts.NO_ANSWER[lang]:
            cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
            shown = {int(n) for n in re.findall(r"^\[(\d+)\] ", user, re.MULTILINE)}
            assert cited and cited <= shown


def test_corpus_translation_pairs_and_bad_heading() -> None:
    pairs = load_source(f"corpus:{FIX / 'corpus'}?task=translate")
    assert len(pairs) == 10 and {ex["source"] for ex in pairs} == {"corpus/translate/en-ko", "corpus/translate/ko-en"}
    with pytest.raises(DataFormatError, match=r"asthma\.md:\d+: error: unknown heading 'Therapy'"):
        load_source(f"corpus:{FIX / 'malformed' / 'corpus'}")


def test_answerer_messages_format() -> None:
    messages = prompts.answerer_messages("가슴이 아파요", ["A - 증상: x", "B - 치료: y"], "emergency", "ko")
    assert [m["role"] for m in messages] == ["system", "user"]
    expected = "참고 자료:\n[1] A - 증상: x\n[2] B - 치료: y\n\n응급도: 응급\n\n질문: 가슴이 아파요"
    assert messages[1]["content"] == expected


def test_cli_writes_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.jsonl"
    main([str(FIX / "chat.jsonl"), f"medqa:{FIX / 'medqa'}?split=test", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and rows[-1]["source"] == "medqa/4_options"
    assert "-> " in capsys.readouterr().out
