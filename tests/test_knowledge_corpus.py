"""Bundled-corpus format: the validator on the fixture corpus, broken copies of it, and the real corpus."""

from pathlib import Path

import pytest
from knowledge_fixtures import CORPUS, copy_corpus

from knowledge.corpus import CorpusError, check_corpus, load_corpus_file, load_topics, read_corpus_file
from knowledge.ingest import main as ingest_main


def _messages(problems: list) -> str:
    return "\n".join(str(p) for p in problems)


def test_fixture_corpus_is_valid_and_parses_into_sections() -> None:
    assert [p for p in check_corpus(corpus_dir=CORPUS) if p.level == "error"] == []
    docs = load_corpus_file(CORPUS / "ko" / "heart-attack.md", load_topics(CORPUS / "topics.yaml"))
    assert [d.section for d in docs] == ["overview", "symptoms", "when_to_seek_care"]
    first = docs[1]
    assert (first.topic_id, first.language, first.urgency, first.source) == ("heart-attack", "ko", "emergency",
                                                                             "authored")
    assert first.ref == "heart-attack/ko/symptoms" and first.line == 12 and "식은땀" in first.text


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("urgency: emergency\n", ""), "front matter misses urgency"),
    (lambda t: t.replace("## Symptoms", "## Signs"), "unknown heading 'Signs'"),
    (lambda t: t.replace("## Symptoms", "## 증상"), "unknown heading '증상' for en"),
    (lambda t: t.replace("## When to seek care", "## Symptoms"), "repeats (first at line"),
    (lambda t: t.replace("language: en", "language: ko"), "language 'ko' but the file is in en/"),
    (lambda t: t.replace("source: authored", "source: web"), "source must be 'authored'"),
    (lambda t: t.replace("urgency: emergency", "urgency: routine"), "differs from topics.yaml"),
    (lambda t: t.replace("---\ntopic_id", "topic_id", 1), "no YAML front matter"),
    (lambda t: t.replace("title: Heart", "title: [Heart"), "not valid YAML"),
    (lambda t: t.replace("Pain spreading", "통증이 왼쪽 팔, 턱, 목, 등으로 뻗치고 식은땀이 나며 숨이 찹니다. Pain"),
     "Korean text"),
])
def test_validator_reports_each_format_error_with_file_and_line(tmp_path: Path, edit, expected: str) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    path = corpus / "en" / "heart-attack.md"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    problems = [p for p in check_corpus([path], corpus_dir=corpus) if p.level == "error"]
    assert expected in _messages(problems)
    assert all(p.file.endswith("en/heart-attack.md") and p.line >= 1 for p in problems)
    with pytest.raises(CorpusError):
        load_corpus_file(path, load_topics(corpus / "topics.yaml"))


def test_missing_language_unknown_topic_and_empty_section(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "ko" / "sunburn.md").unlink()
    stray = corpus / "en" / "gout.md"
    stray.write_text((corpus / "en" / "sunburn.md").read_text().replace("sunburn", "gout"), encoding="utf-8")
    cold = corpus / "en" / "common-cold.md"
    cold.write_text(cold.read_text().replace("Rest, drink fluids and use saline nose spray. Paracetamol can ease "
                                             "aches.", ""), encoding="utf-8")
    report = _messages(check_corpus(corpus_dir=corpus))
    assert "topic 'sunburn' has no ko file" in report
    assert "topic 'gout' is not in topics.yaml" in report
    assert "section 'Self-care' is empty" in report
    assert "missing sections" in _messages(read_corpus_file(corpus / "en" / "sunburn.md",
                                                            load_topics(corpus / "topics.yaml"))[1])


def test_check_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    good, bad = corpus / "en" / "sunburn.md", corpus / "en" / "heart-attack.md"
    bad.write_text(bad.read_text().replace("## Overview", "## Intro"), encoding="utf-8")
    assert ingest_main(["--check", str(good)]) == 0
    assert ingest_main(["--check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "heart-attack.md:" in out and "unknown heading 'Intro'" in out and "1 errors" in out


def test_the_bundled_corpus_is_valid() -> None:
    """The real corpus the app ships: every registry topic in both languages, no format errors."""
    errors = [p for p in check_corpus() if p.level == "error"]
    assert errors == [], _messages(errors[:20])
