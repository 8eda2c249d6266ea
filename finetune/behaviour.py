"""Check what the answerer relies on: chat form, a clean stop, the user's language, [n] citations.

Held-out, patient-style questions (not the training templates) are put in the answerer format with passages
cut from the corpus exactly as the retriever cuts them; one question per language has only unrelated passages
and one Korean question gets English passages. The model answers greedily through transformers or through
llama.cpp (``finetune.server``, the adapter converted to GGUF), and every answer is checked.

    python -m finetune.behaviour --adapter finetune/adapters/gemma3-270m-medtriage --output runs/behaviour.md
    python -m finetune.behaviour --adapter finetune/adapters/gemma3-270m-medtriage --engine llamacpp
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from finetune import prompts
from finetune.cli import load_config


@dataclass(frozen=True)
class Case:
    """A question about ``topic`` answered from its ``sections`` (or from unrelated topics if ``sections`` is empty)."""

    language: str
    question: str
    topic: str
    sections: tuple[str, ...]
    level: str
    passage_language: str = ""

    @property
    def kind(self) -> str:
        if not self.sections:
            return "no-answer"
        return "cross-language" if self.passage_language not in ("", self.language) else "grounded"


CASES = (
    Case("en", "I've had a tight chest and wheezing at night for a week. What could help?", "asthma",
         ("symptoms", "treatment"), "routine"),
    Case("en", "My father suddenly can't lift his right arm and his speech is slurred.", "stroke",
         ("symptoms", "when_to_seek_care"), "emergency"),
    Case("en", "How long does a cold usually last, and what can I do at home?", "common-cold",
         ("overview", "self_care"), "self_care"),
    Case("en", "I burned my hand on a hot pan. How should I look after it?", "minor-burns",
         ("self_care", "when_to_seek_care"), "self_care"),
    Case("en", "What are the warning signs of a kidney stone?", "kidney-stones", ("symptoms", "when_to_seek_care"),
         "urgent"),
    Case("en", "Which vaccines do I need before travelling to Peru?", "sunburn", (), "routine"),
    Case("ko", "일주일째 밤마다 가슴이 답답하고 쌕쌕거려요. 어떻게 하면 좋을까요?", "asthma", ("symptoms", "treatment"),
         "routine"),
    Case("ko", "아버지가 갑자기 오른팔을 못 들고 말이 어눌해졌어요.", "stroke", ("symptoms", "when_to_seek_care"),
         "emergency"),
    Case("ko", "감기는 보통 얼마나 가고, 집에서 무엇을 하면 되나요?", "common-cold", ("overview", "self_care"),
         "self_care"),
    Case("ko", "뜨거운 프라이팬에 손을 데었어요. 어떻게 관리하나요?", "minor-burns", ("self_care", "when_to_seek_care"),
         "self_care"),
    Case("ko", "편두통이 있을 때 집에서 할 수 있는 방법이 있나요?", "migraine", ("self_care", "treatment"),
         "routine"),
    Case("ko", "페루 여행 전에 맞아야 하는 예방접종이 뭔가요?", "sunburn", (), "routine"),
    Case("ko", "통풍 발작이 오면 어떻게 해야 하나요?", "gout", ("treatment", "self_care"), "routine",
         passage_language="en"),
)
DISTRACTORS = ("heartburn-gerd", "insomnia", "acne", "vertigo")
CHECKS = ("stopped", "same_language", "citations")


def case_messages(case: Case, corpus: dict) -> tuple[list[dict[str, str]], int]:
    """Answerer messages for a case and the number of passages shown."""
    lang = case.passage_language or case.language
    chunks = [corpus[lang][case.topic][s][0] for s in case.sections]
    rng = random.Random(case.question)
    chunks += [corpus[lang][t][rng.choice(sorted(corpus[lang][t]))][0] for t in rng.sample(DISTRACTORS, 2)]
    rng.shuffle(chunks)
    passages = [c.passage for c in chunks]
    return prompts.answerer_messages(case.question, passages, case.level, case.language), len(passages)


def check(answer: str, stopped: bool, case: Case, n_passages: int) -> dict[str, bool]:
    """stopped: ended its turn; same_language: the user's; citations: [n], all within 1..n_passages
    (for a no-answer case: no citation at all)."""
    from agents.language import detect_language

    cited = [int(n) for n in re.findall(r"\[(\d+)\]", answer)]
    citations_ok = not cited if case.kind == "no-answer" else bool(cited) and all(1 <= n <= n_passages for n in cited)
    return {"stopped": stopped, "same_language": detect_language(answer) == case.language, "citations": citations_ok}


@dataclass
class BehaviourConfig:
    """Options of ``python -m finetune.behaviour``."""

    model: str = field(default="gemma3-270m", metadata={"help": "model profile, hub ID or local model directory"})
    adapter: str = field(default="", metadata={"help": "peft adapter directory (empty: the base model)"})
    engine: Literal["transformers", "llamacpp"] = field(default="transformers", metadata={
        "help": "transformers generate, or llama.cpp through finetune.server (GGUF base + GGUF LoRA)"})
    max_new_tokens: int = field(default=160, metadata={"help": "answer length limit (tokens)"})
    output: str = field(default="", metadata={"help": "write a Markdown report here (and .json beside it)"})


def _transformers_answers(config: BehaviourConfig, conversations: Sequence[list[dict[str, str]]],
                          ) -> list[tuple[str, bool]]:
    import torch

    from finetune.modeling import load_for_inference, load_tokenizer
    from finetune.profiles import resolve_profile

    profile = resolve_profile(config.model)
    tokenizer = load_tokenizer(profile, training=False)
    model = load_for_inference(profile, config.adapter or None, merge=True)
    stops = [tokenizer.eos_token_id, *tokenizer.convert_tokens_to_ids(list(profile.stop))]
    answers = []
    for messages in conversations:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                            return_tensors="pt")["input_ids"].to(model.device)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, max_new_tokens=config.max_new_tokens, do_sample=False,
                                 eos_token_id=stops)[0, ids.shape[1]:]
        answers.append((tokenizer.decode(out, skip_special_tokens=True).strip(), int(out[-1]) in stops))
    return answers


def _llamacpp_answers(config: BehaviourConfig, conversations: Sequence[list[dict[str, str]]],
                      ) -> list[tuple[str, bool]]:
    import httpx

    from finetune.server import ModelServer

    answers = []
    with ModelServer("llamacpp", model=config.model, adapter=config.adapter or None) as server:
        for messages in conversations:
            reply = httpx.post(f"{server.base_url}/chat/completions", timeout=300, json={
                "model": server.model_id, "messages": messages, "temperature": 0,
                "max_tokens": config.max_new_tokens}).json()["choices"][0]
            answers.append((reply["message"]["content"].strip(), reply["finish_reason"] == "stop"))
    return answers


def run(config: BehaviourConfig, cases: Sequence[Case] = CASES) -> dict[str, Any]:
    """Answer every case and check the answers; rates are the share of answers passing each check."""
    from finetune.data import read_corpus_chunks

    corpus = read_corpus_chunks()
    built = [case_messages(case, corpus) for case in cases]
    generate = _llamacpp_answers if config.engine == "llamacpp" else _transformers_answers
    answers = generate(config, [messages for messages, _ in built])
    rows = []
    for case, (_, n), (answer, stopped) in zip(cases, built, answers, strict=True):
        rows.append({"language": case.language, "kind": case.kind, "question": case.question, "answer": answer,
                     **check(answer, stopped, case, n)})
    rates = {key: sum(r[key] for r in rows) / len(rows) for key in CHECKS}
    return {"model": config.model, "adapter": config.adapter, "engine": config.engine, "rates": rates, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    rates = ", ".join(f"{k} {v:.0%}" for k, v in result["rates"].items())
    name = Path(result["adapter"]).name if result["adapter"] else f"{result['model']} (base)"
    lines = [f"**{name}** via {result['engine']}: {rates} of {len(result['rows'])} answers", "",
             "| lang | case | question | answer | stop | lang | cite |", "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        answer = r["answer"].replace("\n", " ").replace("|", "\\|")
        marks = ["yes" if r[k] else "**no**" for k in CHECKS]
        lines.append(f"| {r['language']} | {r['kind']} | {r['question']} | {answer} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(BehaviourConfig, argv, "python -m finetune.behaviour", __doc__ or "")
    result = run(config)
    text = markdown(result)
    if config.output:
        path = Path(config.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        path.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
