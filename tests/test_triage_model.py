"""The saved classifier and the public triage() API, through the real embedder and the committed model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from agents.triage import LEVELS, RedFlag, TriageDecision, get_triager, triage
from agents.triage.features import EMBED_DIM, symbolic_names
from agents.triage.model import MODEL_DIR, TriageModel
from agents.triage.train import DEV_MODEL_DIR

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("directory", [MODEL_DIR, DEV_MODEL_DIR])
def test_saved_model_loads_and_is_small(directory) -> None:
    model = TriageModel.load(directory)
    # ordinal model: one row per cut between levels; columns: embedding, symbolic features, topic prior
    assert model.coef.shape == (len(LEVELS) - 1, EMBED_DIM + len(model.symbolic_names) + len(LEVELS))
    assert len(model.topics.ids) == len(model.topics.vectors) >= 50
    assert 0.05 <= model.emergency_threshold <= 0.5
    assert sum(p.stat().st_size for p in directory.iterdir()) < 1_000_000
    assert model.info["cross_validation"]["folds"] == 5


def test_model_names_match_current_rules() -> None:
    model = TriageModel.load(MODEL_DIR)
    missing = set(symbolic_names(get_triager().rules)) - set(model.symbolic_names)
    assert not missing, f"lexicon changed since training; run `python -m agents.triage train`: {sorted(missing)[:5]}"


def test_probabilities_are_a_distribution() -> None:
    model = TriageModel.load(MODEL_DIR)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(3, EMBED_DIM))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    probs = model.probabilities(embeddings, np.zeros((3, len(model.symbolic_names))))
    assert probs.shape == (3, len(LEVELS))
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs >= 0).all()
    prior = model.topics(embeddings)
    assert prior.shape == (3, len(LEVELS)) and np.allclose(prior.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("가슴이 쥐어짜듯 아프고 식은땀이 나요", {"age": 62}, "emergency"),
        ("my face is drooping on one side and my speech is slurred", {}, "emergency"),
        ("runny nose and sneezing for two days, no fever, eating fine", {}, "self_care"),
        ("콧물이랑 재채기가 이틀째 나요. 열은 없고 잘 먹어요.", {}, "self_care"),
    ],
)
def test_triage_levels(text: str, kwargs: dict, expected: str) -> None:
    decision = triage(text, **kwargs)
    assert isinstance(decision, TriageDecision)
    assert decision.level == expected
    assert 0.0 <= decision.confidence <= 1.0
    # the classifier is skipped when a rule forces emergency
    assert set(decision.probabilities) == (
        set() if decision.source == "rule" and expected == "emergency" else set(LEVELS)
    )


@pytest.mark.parametrize(
    "text",
    [
        "45세 남성이 이삿짐을 옮긴 후 발생한 허리 통증을 호소한다. 다리 저림이나 힘 빠짐은 없고, 대소변 장애는 "
        "부인한다. 발열은 없다.",
        "32세 여성이 이틀 전부터 양쪽 관자놀이를 조이는 듯한 두통을 호소한다. 구토나 시력 변화는 동반하지 않으며 "
        "신경학적 이상 소견은 없다.",
        "A 35-year-old man strained his back lifting a sofa. No leg weakness, numbness, bladder or bowel problems, "
        "or fever.",
        "A 40-year-old woman has had a dull band-like headache for two days with work stress. She has no fever, neck "
        "stiffness, vomiting or visual change.",
    ],
)
def test_written_register_self_care_is_not_escalated(text: str) -> None:
    """Medical vocabulary in pertinent negatives must not push a self-care summary to a doctor's level."""
    decision = triage(text)
    assert decision.level == "self_care", decision.probabilities
    assert not decision.red_flags


def test_decision_speaks_the_patients_language() -> None:
    ko = triage("숨이 안 쉬어져요")
    assert ko.language == "ko" and ko.level == "emergency"
    assert "119" in ko.action and any("숨" in f.explanation for f in ko.red_flags)
    en = triage("I can't breathe")
    assert en.language == "en" and "119" in en.action and en.red_flags[0].explanation.isascii()
    other = triage("J'ai une douleur thoracique écrasante et je transpire")
    assert other.language == "fr"
    assert other.action.splitlines()[0].isascii() and any("가" <= c <= "힣" for c in other.action)


def test_to_dict_is_json_ready() -> None:
    decision = triage("I want to kill myself", age=30)
    data = json.loads(json.dumps(decision.to_dict(), ensure_ascii=False))
    assert data["level"] == "emergency"
    assert data["red_flags"][0].keys() == {"id", "level", "explanation"}
    assert isinstance(decision.red_flags[0], RedFlag)
    assert "109" in data["red_flags"][0]["explanation"]


def test_empty_and_very_long_text() -> None:
    assert triage("").level in LEVELS
    long_text = "기침이 조금 나요. " * 2500
    assert len(long_text) > 20_000
    assert triage(long_text).level in LEVELS


def test_concurrent_calls_agree() -> None:
    texts = ["가슴이 쥐어짜듯 아파요", "stye on my eyelid, vision fine", "열이 38.5도예요"] * 4
    expected = [triage(t).level for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda t: triage(t).level, texts)) == expected


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "agents.triage", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


def test_ask_cli_prints_a_decision() -> None:
    proc = _cli("ask", "아랫배가 아프고 피가 조금 나와요", "--pregnant", "--age", "31")
    assert proc.returncode == 0, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["level"] == "emergency" and decision["language"] == "ko"
    assert any(flag["id"].startswith("pregnancy") for flag in decision["red_flags"])


def test_eval_cli_writes_reports(tmp_path: Path) -> None:
    proc = _cli("eval", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    dev = report["dev"]["policy"]
    assert dev["n"] > 100 and set(dev["per_level"]) == set(LEVELS)
    assert {"emergency_recall", "over_triage_rate", "under_triage_rate", "confusion"} <= set(dev)
    assert (tmp_path / "confusion_dev.png").read_bytes()[:4] == b"\x89PNG"
    assert "Dev split" in (tmp_path / "eval.md").read_text(encoding="utf-8")
