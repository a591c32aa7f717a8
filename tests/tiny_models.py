"""Tiny, randomly initialised models built on the spot, for code paths whose real
weights cannot be downloaded here (MarianMT, a causal LM). Their output is
nonsense; the tests check the plumbing (loading, batching, codes, protection)."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "red summer dress", "blue denim jeans", "wireless earbuds with case", "rotes Kleid",
    "blaue Jeans", "kabellose Ohrhörer", "running shoes for women", "Laufschuhe für Damen",
    "phone case", "Handyhülle", "washing machine", "Waschmaschine", "the ⟦0⟧ and ⟦1⟧ stay",
] * 20


def _train_spm(tmp: Path, name: str, vocab_size: int = 60) -> Path:
    import sentencepiece as spm

    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    prefix = tmp / name
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=1.0, minloglevel=2,
                                   user_defined_symbols=["⟦0⟧", "⟦1⟧", "⟦2⟧"])
    return prefix.with_suffix(".model")


def build_tiny_marian(folder: Path) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    model_file = _train_spm(folder, "spm")
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(model_file.read_bytes())
    tok = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=2,
                          eos_token_id=0, decoder_start_token_id=2, forced_eos_token_id=0)
    MarianMTModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_tiny_causal_lm(folder: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder.mkdir(parents=True, exist_ok=True)
    tk = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.train_from_iterator(CORPUS + ["Translate product search text from to English German :"],
                           trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token="[EOS]", pad_token="[EOS]")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=fast.vocab_size, n_positions=256, n_embd=32, n_layer=1, n_head=2,
                        eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder
