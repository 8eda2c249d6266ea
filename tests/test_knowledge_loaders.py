"""Each user-file loader on small fixtures, including malformed files."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from knowledge_fixtures import BAD, FILES

from knowledge.loaders import LoadError, SkipFile, expand_paths, load_file

AIHUB = FILES / "aihub" / "02.라벨링데이터" / "TL"


def test_markdown_without_front_matter_maps_known_headings() -> None:
    loaded = load_file(FILES / "notes.md")
    sections = [(d.section, d.line) for d in loaded.documents]
    assert sections == [("other", 3), ("symptoms", 5), ("other", 8)]
    preamble, symptoms, tips = loaded.documents
    assert symptoms.title == "Gout notes" and symptoms.language == "en" and symptoms.topic_id == "notes"
    assert tips.text.startswith("Diet tips:\n")  # an unknown heading stays in the text, as its own unit
    assert symptoms.source == "notes.md:5" and symptoms.ref == "notes.md:5"


def test_markdown_front_matter_sets_topic_language_and_urgency() -> None:
    docs = load_file(FILES / "notes_ko.md").documents
    assert {(d.topic_id, d.title, d.language, d.urgency) for d in docs} == {
        ("gout-notes", "통풍 메모", "ko", "routine")}
    assert [d.section for d in docs] == ["symptoms", "treatment"]


def test_plain_text_is_one_document() -> None:
    (doc,) = load_file(FILES / "plain.txt").documents
    assert doc.title == "plain" and doc.language == "en" and "Shin splints" in doc.text and doc.format == "text"


def test_jsonl_rows_keep_good_rows_and_report_bad_ones_with_lines() -> None:
    loaded = load_file(FILES / "qa.jsonl")
    assert [d.line for d in loaded.documents] == [1, 2, 5]
    assert loaded.documents[0].title == "What helps a tension headache?"
    assert loaded.documents[0].topic_id == "qa:1" and loaded.documents[0].source == "qa.jsonl:1"
    errors = {e.line: e.reason for e in loaded.row_errors}
    assert set(errors) == {3, 4}
    assert "invalid JSON" in errors[3] and "must both be non-empty" in errors[4]


def test_asan_rows_with_input_and_csv_rows() -> None:
    shingles, osteoporosis = load_file(FILES / "asan.json").documents
    assert shingles.language == "ko" and "띠 모양" in shingles.text
    assert osteoporosis.title == "골다공증은 어떻게 예방하나요? 폐경 후 여성입니다."
    (stye,) = load_file(FILES / "qa.csv").documents
    assert stye.title == "What is a stye?" and stye.line == 2


def test_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "healthinfo.parquet"
    rows = {"instruction": ["빈혈이란?"], "input": [""], "output": ["적혈구나 헤모글로빈이 부족한 상태입니다."]}
    pq.write_table(pa.table(rows), path)
    (doc,) = load_file(path).documents
    assert doc.language == "ko" and doc.source == "healthinfo.parquet:1"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(LoadError, match="unreadable Parquet"):
        load_file(broken)


def test_pubmedqa_contexts_and_long_answer() -> None:
    docs = load_file(FILES / "pubmedqa.json").documents
    assert [d.ref for d in docs] == ["pubmed:12345678/background", "pubmed:12345678/methods",
                                     "pubmed:12345678/conclusion"]
    assert {d.topic_id for d in docs} == {"pubmed:12345678"} and docs[0].title.startswith("Does regular aspirin")


def test_aihub_answer_file_and_question_file() -> None:
    answer = next((AIHUB / "2.답변").rglob("HC-A-*.json"))
    (doc,) = load_file(answer).documents
    assert (doc.title, doc.section, doc.topic_id, doc.language) == ("위염", "treatment", "aihub:gastritis", "ko")
    assert doc.text.startswith("위염은") and doc.text.endswith("병원을 찾으세요.") and doc.category == "소화기내과"
    question = next((AIHUB / "1.질문").rglob("HC-Q-*.json"))
    with pytest.raises(SkipFile, match="question file"):
        load_file(question)


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("broken.json", 2, "invalid JSON"),
    ("latin1.md", 1, "not UTF-8"),
    ("notes.xyz", 1, "unknown extension '.xyz'"),
    ("empty.txt", 1, "empty file"),
    ("layout.json", 1, "unknown row layout"),
    ("bad_front_matter.md", 2, "not valid YAML"),
])
def test_malformed_files_raise_with_file_line_and_reason(name: str, line: int, reason: str) -> None:
    with pytest.raises(LoadError) as info:
        load_file(BAD / name)
    assert info.value.file.endswith(name) and info.value.line == line and reason in info.value.reason


def test_folders_expand_to_sorted_files_without_hidden_ones(tmp_path: Path) -> None:
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.md").write_text("x")
    (tmp_path / "b.md").write_text("b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    assert [(p.relative_to(tmp_path).as_posix(), named) for p, named in expand_paths([tmp_path])] == [
        ("b.md", False), ("sub/a.txt", False)]
    assert list(expand_paths([tmp_path / "b.md"])) == [(tmp_path / "b.md", True)]
