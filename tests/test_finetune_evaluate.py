"""finetune.evaluate on a tiny random model and the fixture questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from finetune_tiny import build_tiny_model

from finetune.data import kormedmcqa_items, pubmedqa_items
from finetune.evaluate import comparison_table, extract_answer, macro_f1, main, option_loglik, prompt_ids
from finetune.profiles import resolve_profile

FIX = Path(__file__).parent / "fixtures" / "finetune"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-gemma3")


def test_cached_option_scores_equal_full_sequence_scores(tiny: Path) -> None:
    from finetune.modeling import load_for_inference, load_tokenizer

    profile = resolve_profile(str(tiny))
    tokenizer = load_tokenizer(profile, training=False)
    model = load_for_inference(profile, bf16=False)
    items = kormedmcqa_items(str(FIX / "kormedmcqa"), "test", ["doctor"])[:2] + pubmedqa_items(str(FIX / "pubmedqa"))
    for item in items:
        fast = option_loglik(model, tokenizer, item)
        prompt = prompt_ids(tokenizer, item)
        for key in item.options:
            reply = tokenizer.encode(item.continuation(key), add_special_tokens=False)
            with torch.no_grad():
                logp = model(torch.tensor([prompt + reply])).logits[0].float().log_softmax(-1)
            slow = [float(logp[len(prompt) - 1 + j, t]) for j, t in enumerate(reply)]
            assert fast[key] == pytest.approx(slow, abs=1e-4)


def test_evaluate_cli_writes_json_markdown_and_table(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "kmc.json"
    assert main(["--benchmark", "kormedmcqa", "--data", str(FIX / "kormedmcqa"), "--subset", "doctor", "nurse",
                 "--limit", "2", "--model", str(tiny), "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["summary"]) == {"kormedmcqa/doctor", "kormedmcqa/nurse", "kormedmcqa/all"}
    assert result["summary"]["kormedmcqa/all"]["n"] == 4 and len(result["predictions"]) == 4
    assert set(result["all_scorings"]) == {"option", "option-norm", "letter"}
    assert "| kormedmcqa/doctor | 2 |" in out.with_suffix(".md").read_text()

    gen = tmp_path / "pubmedqa.json"
    assert main(["--benchmark", "pubmedqa", "--data", str(FIX / "pubmedqa"), "--model", str(tiny), "--scoring",
                 "generate", "--max-new-tokens", "4", "--output", str(gen)]) == 0
    records = json.loads(gen.read_text())["predictions"]
    assert len(records) == 2 and all("text" in r for r in records)

    table = tmp_path / "table.md"
    assert main(["--table", str(out), str(gen), "--output", str(table)]) == 0
    text = table.read_text()
    assert "| kormedmcqa/doctor | 2 |" in text and "25.1" in text and "pubmedqa/pqa-l" in text


def test_macro_f1_and_answer_extraction() -> None:
    assert macro_f1(["A", "A", "B", "C"], ["A", "B", "B", None]) == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    item = kormedmcqa_items(str(FIX / "kormedmcqa"), "test", ["doctor"])[0]
    assert extract_answer("정답: B. 미오글로빈", item) == "B"
    assert extract_answer("I think (C) is right", item) == "C"
    assert extract_answer("no idea", item) is None
    label_item = pubmedqa_items(str(FIX / "pubmedqa"))[0]
    assert extract_answer("Maybe, the evidence is weak.", label_item) == "maybe"


def test_comparison_table_merges_a_run_and_compares_on_common_questions() -> None:
    def result(adapter: str, benchmark: str, preds: list[tuple[str, str]]) -> dict:
        predictions = [{"uid": f"q{i}", "subset": "4_options" if benchmark == "medqa" else "pqa-l", "gold": g,
                        "pred": p} for i, (g, p) in enumerate(preds)]
        return {"model": "m", "adapter": adapter, "benchmark": benchmark, "predictions": predictions}

    base = [result("", "medqa", [("A", "A"), ("B", "A"), ("C", "C"), ("D", "A")]),
            result("", "pubmedqa", [("yes", "yes"), ("no", "yes")])]
    tuned = [result("runs/tuned", "medqa", [("A", "A"), ("B", "B")])]  # scored with --limit 2
    lines = comparison_table([*base, *tuned]).splitlines()
    assert lines[0] == "| benchmark | n | m (base) acc / F1 | tuned acc / F1 | gemma-3-1b-it |"
    assert lines[2].startswith("| medqa/4_options | 2 | 50.0 / ") and "| 100.0 / 100.0 |" in lines[2]
    assert lines[3].startswith("| pubmedqa/pqa-l | 2 | 50.0 / ") and lines[3].count("|  |") == 1
