"""A tiny random Gemma 3 model with a locally trained byte-level BPE tokenizer, for real (fast) training runs."""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
TEXT = [
    "What are the symptoms of asthma? Wheezing, shortness of breath and chest tightness [1].",
    "천식의 증상은 무엇인가요? 쌕쌕거리는 숨소리, 숨참, 가슴 답답함이 대표 증상입니다 [1].",
    "Answer the following medical exam question. A. B. C. D. E. yes no maybe",
    "다음 의학 시험 문제의 정답을 고르세요. 정답 보기의 기호와 내용을 답하세요. 참고 자료 질문 응급도",
    "Passages Question Triage level emergency urgent routine self-care user model system",
]


def build_tiny_model(target: Path, seed: int = 0) -> Path:
    """Write a 2-layer Gemma3ForCausalLM (hidden 64) and its tokenizer to ``target``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, GenerationConfig, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(TEXT * 4, trainers.BpeTrainer(
        vocab_size=600, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>",
                                        bos_token="<bos>", unk_token="<unk>")
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, sliding_window=64,
        layer_types=["sliding_attention", "full_attention"], max_position_embeddings=4096,
        pad_token_id=0, eos_token_id=1, bos_token_id=2)
    model = Gemma3ForCausalLM(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    GenerationConfig(bos_token_id=2, pad_token_id=0, eos_token_id=[1, tokenizer.convert_tokens_to_ids(
        "<end_of_turn>")]).save_pretrained(target)
    return target
