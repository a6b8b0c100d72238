"""The tiny random cross-encoders load offline with transformers and sentence-transformers alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from vecrank.testing.tiny_models import ARCHITECTURES, build_tiny_model

MAX_LENGTH = 128
QUERY = "how many people live in Berlin?"
LONG_DOCUMENT = "The river is high and the weather is sunny in Tokyo. " * 40
PAIRS = [
    (QUERY, "Berlin had a population of 3,520,031 in 2019."),
    (QUERY, "Berlin is well known for its museums."),
    ("what is a vector database", "Qdrant stores vectors; Straße, café, niño, 中文, Ω and 😀 too."),
    ("MUSIC history", "the students read books at school"),
    ("query", ""),
    ("", "document"),
    ("Tokyo weather", LONG_DOCUMENT),
]

# (first token, tokens between the two texts, last token, returns token_type_ids)
CONVENTIONS = {
    "bert": ("[CLS]", ["[SEP]"], "[SEP]", True),
    "xlm-roberta": ("<s>", ["</s>", "</s>"], "</s>", False),
    "deberta-v2": ("[CLS]", ["[SEP]"], "[SEP]", True),
    "modernbert": ("[CLS]", ["[SEP]"], "[SEP]", False),
}

parametrize_architectures = pytest.mark.parametrize("architecture", ARCHITECTURES)


def _load(path: Path):
    """The tokenizer and the eval-mode model of a tiny model folder."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    return tokenizer, model


@torch.inference_mode()
def _logits(tokenizer, model, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """One logit per pair, each pair tokenized on its own as a batch of one (as CrossEncoder does)."""
    scores = []
    for query, document in pairs:
        features = tokenizer([query], [document], truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        scores.append(model(**features).logits[0, 0])
    return torch.stack(scores)


@parametrize_architectures
def test_loads_with_auto_classes(tiny_models: dict[str, Path], architecture: str) -> None:
    tokenizer, model = _load(tiny_models[architecture])
    config = model.config

    assert config.architectures == [type(model).__name__]
    assert type(model).__name__.endswith("ForSequenceClassification")
    assert config.num_labels == 1
    assert config.id2label == {0: "LABEL_0"}
    assert config.vocab_size == len(tokenizer)
    assert config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.model_max_length == MAX_LENGTH
    assert next(model.parameters()).dtype == torch.float32
    assert (tiny_models[architecture] / "model.safetensors").is_file()
    if architecture == "xlm-roberta":
        assert config.max_position_embeddings == MAX_LENGTH + config.pad_token_id + 1
    if architecture == "modernbert":
        assert (config.cls_token_id, config.sep_token_id) == (tokenizer.cls_token_id, tokenizer.sep_token_id)
        assert config.classifier_pooling == "mean"
        assert "sliding_attention" in config.layer_types


@parametrize_architectures
def test_cross_encoder_matches_transformers(tiny_models: dict[str, Path], architecture: str) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    path = tiny_models[architecture]
    tokenizer, model = _load(path)

    cross_encoder = sentence_transformers.CrossEncoder(str(path), device="cpu")
    scores = cross_encoder.predict(
        PAIRS, activation_fn=torch.nn.Identity(), batch_size=3, convert_to_tensor=True
    )

    assert cross_encoder.max_seq_length == MAX_LENGTH
    torch.testing.assert_close(scores, _logits(tokenizer, model, PAIRS), rtol=0, atol=1e-5)
    # With a non-empty document the plain single-pair call encodes the same thing.
    with torch.inference_mode():
        query, document = PAIRS[0]
        single = tokenizer(query, document, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        torch.testing.assert_close(scores[0], model(**single).logits[0, 0], rtol=0, atol=1e-5)


@parametrize_architectures
def test_scores_vary_between_pairs(tiny_models: dict[str, Path], architecture: str) -> None:
    tokenizer, model = _load(tiny_models[architecture])

    assert _logits(tokenizer, model, PAIRS).std().item() > 1e-2


@parametrize_architectures
def test_pair_layout_follows_family_convention(tiny_models: dict[str, Path], architecture: str) -> None:
    tokenizer, _ = _load(tiny_models[architecture])
    first, middle, last, with_types = CONVENTIONS[architecture]

    encoding = tokenizer("hello world", "vector search")
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    a, b = tokenizer.tokenize("hello world"), tokenizer.tokenize("vector search")

    assert tokens == [first, *a, *middle, *b, last]
    assert tokenizer.cls_token == first
    assert tokenizer.sep_token == last
    if with_types:
        assert encoding["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    else:
        assert "token_type_ids" not in encoding


@parametrize_architectures
def test_empty_and_long_documents(tiny_models: dict[str, Path], architecture: str) -> None:
    tokenizer, _ = _load(tiny_models[architecture])
    first, middle, last, _ = CONVENTIONS[architecture]
    query = tokenizer.tokenize(QUERY)

    batch = tokenizer([QUERY, QUERY, ""], ["", LONG_DOCUMENT, ""], truncation=True, max_length=MAX_LENGTH)
    empty, long, both_empty = (tokenizer.convert_ids_to_tokens(ids) for ids in batch["input_ids"])

    assert empty == [first, *query, *middle, last]
    assert both_empty == [first, *middle, last]
    assert len(long) == MAX_LENGTH
    assert long[: len(query) + 1 + len(middle)] == [first, *query, *middle]
    assert long[-1] == last


@parametrize_architectures
def test_non_ascii_text_tokenizes(tiny_models: dict[str, Path], architecture: str) -> None:
    tokenizer, _ = _load(tiny_models[architecture])
    text = "Straße café niño 中文 Ω 😀"

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]

    assert ids
    if architecture == "modernbert":  # byte-level: nothing is unknown
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
    else:
        assert tokenizer.unk_token_id in ids
        assert ids.count(tokenizer.unk_token_id) < len(ids)


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = build_tiny_model("modernbert", tmp_path / "a", seed=0)
    again = build_tiny_model("modernbert", tmp_path / "b", seed=0)
    other = build_tiny_model("modernbert", tmp_path / "c", seed=1)

    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (first / name).read_bytes() == (again / name).read_bytes()
    assert (first / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()


def test_options(tmp_path: Path) -> None:
    cls_pooled = build_tiny_model("modernbert", tmp_path / "cls", pooling="cls", max_position_embeddings=32)
    two_labels = build_tiny_model("bert", tmp_path / "two", num_labels=2)

    tokenizer, model = _load(cls_pooled)
    assert model.config.classifier_pooling == "cls"
    assert tokenizer.model_max_length == 32
    tokenizer, model = _load(two_labels)
    with torch.inference_mode():
        assert model(**tokenizer("q", "d", return_tensors="pt")).logits.shape == (1, 2)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_tiny_model("gpt2", tmp_path / "gpt2")
    with pytest.raises(ValueError, match="ModernBERT"):
        build_tiny_model("bert", tmp_path / "bert", pooling="mean")


def test_tiny_bert_fixture(tiny_bert: Path, tiny_models: dict[str, Path]) -> None:
    assert tiny_bert == tiny_models["bert"]
    assert '"model_type": "bert"' in (tiny_bert / "config.json").read_text()
