"""Tiny random cross-encoders for offline tests.

``build_tiny_model`` writes a folder that loads, without any download, with
``AutoTokenizer`` + ``AutoModelForSequenceClassification`` and with
``sentence_transformers.CrossEncoder``. Four families are covered, each with a hand-made tokenizer
that follows the family's conventions (special tokens, pair layout, token types):

=============  =================  =================================  ==============
architecture   tokenizer model    pair layout                        token_type_ids
=============  =================  =================================  ==============
bert           WordPiece, uncased ``[CLS] a [SEP] b [SEP]``          yes (0 / 1)
xlm-roberta    Unigram, Metaspace ``<s> a </s></s> b </s>``          no
deberta-v2     Unigram, Metaspace ``[CLS] a [SEP] b [SEP]``          yes (0 / 1)
modernbert     byte-level BPE     ``[CLS] a [SEP] b [SEP]``          no
=============  =================  =================================  ==============

The vocabularies are small (about a thousand entries) but cover ASCII letters, digits,
punctuation, common English words and pieces, and some accented and CJK characters, so mixed,
non-ASCII and empty texts all tokenize; characters outside the vocabulary become the unknown
token (the byte-level BPE has no unknown characters). Weights are random, seeded, and drawn
wider than the transformers default so that scores differ visibly between pairs.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    DebertaV2Config,
    ModernBertConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
)

__all__ = ["ARCHITECTURES", "build_tiny_model"]

ARCHITECTURES = ("bert", "xlm-roberta", "deberta-v2", "modernbert")

HIDDEN_SIZE = 32
INTERMEDIATE_SIZE = 64
NUM_LAYERS = 2
NUM_HEADS = 4
# Wider than the usual 0.02 so that random scores spread well beyond 1e-2 between pairs.
INITIALIZER_RANGE = 0.2
# ModernBERT's sliding-window width (tokens); small so the local layer matters at short lengths.
MODERNBERT_LOCAL_ATTENTION = 16
# Target vocabulary size of the byte-level BPE (256 byte symbols plus merges).
BPE_VOCAB_SIZE = 1000

# Whitespace-separated so the lists stay compact; split once below.
_WORDS_TEXT = """
the of and to in is was for on that with as by at from it an be this are or which his her
their its has have had not but were been they he she we you i me my our your them who what
when where why how all any can will would should could may might must do does did done
one two three four five six seven eight nine ten first second new old big small long short
high low good best better more most less many much some other such only also very just than
then there here about after before over under into out up down off again between through
during without within against among per each both few own same so too now
query queries document documents search searching searched vector vectors database data
rank ranking rerank reranker reranking score scores scoring model models text texts token
tokens cross encoder encoders embedding embeddings result results retrieval index hit hits
collection collections similarity relevant relevance answer answers question questions
people live city country world year years time day days week month number name names word
words language languages english french german spanish chinese music history science
water energy food health school student students work house family life book books paper
price market company business computer software system systems network internet web page
python code file files user users server client request response error errors test tests
berlin paris london tokyo madrid population capital river mountain sea ocean weather sunny
rain cat cats dog dogs animal animals car cars train road is are be being
make made take took give gave find found know knew think thought see saw come came go went
get got use used say said tell told ask asked show showed try tried call called need needed
feel felt become became leave left put mean meant keep kept let begin began seem seemed help
talk turn start run move like believe hold bring write wrote provide sit stand lose pay meet
include continue set learn change lead understand watch follow stop create speak read allow
add spend grow open walk win offer remember love consider appear buy wait serve die send
expect build stay fall cut reach kill remain suggest raise pass sell require report decide
"""

_SUFFIXES_TEXT = """
s es ed ing er ers est ly tion tions ment ments ness able ible al ial ic ical ful less ous ive
ize ise ity ty en an ian ism ist ists ure age ance ence ant ent ary ery ory ship hood dom
a e i o u y th ch sh ph qu re un in de dis pre pro con com ex
"""
_WORDS = _WORDS_TEXT.split()
_SUFFIXES = _SUFFIXES_TEXT.split()

_LETTERS = string.ascii_lowercase + string.ascii_uppercase
_NON_ASCII = "éèêëàâäçîïôöùûüÿñßæøåœíóúáÉÜÑ中文字日本語人大学我你他是的一不了在有한국어€£¥°±§«»“”‘’–—…"


def build_tiny_model(
    architecture: str,
    path: str | Path,
    *,
    seed: int = 0,
    max_position_embeddings: int = 128,
    num_labels: int = 1,
    pooling: str | None = None,
) -> Path:
    """Build a tiny random cross-encoder of ``architecture`` and save it to ``path``.

    ``max_position_embeddings`` is the longest input in tokens: the tokenizer's
    ``model_max_length`` (XLM-RoBERTa's position table gets the usual two extra rows for its
    padding offset). ``pooling`` ("mean" or "cls") is ModernBERT's ``classifier_pooling``;
    it defaults to "mean" like the released ModernBERT / Ettin-based rerankers, whereas the
    ``ModernBertConfig`` class default is "cls". Returns the folder as a ``Path``.
    """
    if architecture not in _BUILDERS:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {ARCHITECTURES}")
    if pooling is not None and architecture != "modernbert":
        raise ValueError("pooling is a ModernBERT option (classifier_pooling)")
    if pooling not in (None, "mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
    if max_position_embeddings < 8:
        raise ValueError("max_position_embeddings must be at least 8")

    tokenizer, config = _BUILDERS[architecture](max_position_embeddings)
    if architecture == "modernbert":
        config.classifier_pooling = pooling or "mean"
    config.num_labels = num_labels
    config.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    config.label2id = {label: i for i, label in config.id2label.items()}
    config.initializer_range = INITIALIZER_RANGE

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.config.architectures = [type(model).__name__]
    model.eval()

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _common_config(tokenizer: PreTrainedTokenizerFast) -> dict[str, object]:
    """Sizes and the padding id, shared by every family."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN_SIZE,
        "num_hidden_layers": NUM_LAYERS,
        "num_attention_heads": NUM_HEADS,
        "intermediate_size": INTERMEDIATE_SIZE,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _wrap(
    backend: Tokenizer, max_length: int, input_names: list[str], **special_tokens: str
) -> PreTrainedTokenizerFast:
    """Wrap a ``tokenizers`` backend as a transformers fast tokenizer."""
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        model_input_names=input_names,
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
        **special_tokens,
    )


def _template(
    cls: str, middle: list[str], sep: str, ids: dict[str, int], *, types: bool
) -> processors.TemplateProcessing:
    """A ``TemplateProcessing`` for ``cls a sep`` and ``cls a *middle b sep``.

    With ``types`` the second text and its closing token get token type 1, else everything is 0.
    """
    second = 1 if types else 0
    return processors.TemplateProcessing(
        single=[f"{cls}:0", "$A:0", f"{sep}:0"],
        pair=[f"{cls}:0", "$A:0", *(f"{token}:0" for token in middle), f"$B:{second}", f"{sep}:{second}"],
        special_tokens=[(token, ids[token]) for token in dict.fromkeys((cls, *middle, sep))],
    )


def _bert(max_length: int) -> tuple[PreTrainedTokenizerFast, PretrainedConfig]:
    """Uncased WordPiece laid out like ``bert-base-uncased`` ([PAD]=0, [UNK]=100, [CLS]=101)."""
    specials = ["[PAD]", *(f"[unused{i}]" for i in range(99)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    singles = [*string.punctuation, *string.digits, *string.ascii_lowercase, *_NON_ASCII]
    pieces = [f"##{piece}" for piece in (*string.ascii_lowercase, *string.digits, *_SUFFIXES)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(specials + singles + _WORDS + pieces))}

    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = _template("[CLS]", ["[SEP]"], "[SEP]", vocab, types=True)
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = _wrap(
        backend,
        max_length,
        ["input_ids", "token_type_ids", "attention_mask"],
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    config = BertConfig(**_common_config(tokenizer), max_position_embeddings=max_length, type_vocab_size=2)
    return tokenizer, config


def _unigram_vocab(leading: list[str], trailing: list[str]) -> list[tuple[str, float]]:
    """A cased SentencePiece-style Unigram vocabulary: ``▁word`` pieces, bare pieces, characters.

    Every non-special piece costs about the same, so the fewest pieces win: whole words first.
    """
    words = [*_WORDS, *(word.capitalize() for word in _WORDS[:120])]
    chars = [*_LETTERS, *string.digits, *string.punctuation, *_NON_ASCII]
    pieces = [
        "▁",
        *(f"▁{word}" for word in words),
        *(f"▁{char}" for char in chars),
        *_SUFFIXES,
        *chars,
    ]
    ordinary = [piece for piece in dict.fromkeys(pieces) if piece not in leading + trailing]
    scored = [(piece, -10.0 + 0.01 * len(piece)) for piece in ordinary]
    return [(token, 0.0) for token in leading] + scored + [(token, 0.0) for token in trailing]


def _metaspace_backend(
    vocab: list[tuple[str, float]], unk: str, normalizer: normalizers.Normalizer
) -> Tokenizer:
    """A Unigram tokenizer with a Metaspace (``▁``) pre-tokenizer, as converted SentencePiece."""
    unk_id = [piece for piece, _ in vocab].index(unk)
    backend = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return backend


def _xlm_roberta(max_length: int) -> tuple[PreTrainedTokenizerFast, PretrainedConfig]:
    """XLM-R layout: <s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask> last; pairs ``<s> a </s></s> b </s>``."""
    vocab = _unigram_vocab(["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    backend = _metaspace_backend(vocab, "<unk>", normalizer)
    backend.post_processor = _template("<s>", ["</s>", "</s>"], "</s>", ids, types=False)
    tokenizer = _wrap(
        backend,
        max_length,
        ["input_ids", "attention_mask"],
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        sep_token="</s>",
        pad_token="<pad>",
        cls_token="<s>",
        mask_token="<mask>",
    )
    # RoBERTa positions start after the padding index, hence pad_token_id + 1 extra rows.
    config = XLMRobertaConfig(
        **_common_config(tokenizer),
        max_position_embeddings=max_length + tokenizer.pad_token_id + 1,
        type_vocab_size=1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer, config


def _deberta_v2(max_length: int) -> tuple[PreTrainedTokenizerFast, PretrainedConfig]:
    """mDeBERTa-v3 layout: [PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3 ... [MASK] last; ``[CLS] a [SEP] b [SEP]``.

    Like the released mdeberta / mxbai rerankers the model has ``type_vocab_size=0`` (token types
    are returned by the tokenizer but ignored) and relative attention without absolute positions.
    """
    vocab = _unigram_vocab(["[PAD]", "[CLS]", "[SEP]", "[UNK]"], ["[MASK]"])
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
            normalizers.NFC(),
            normalizers.Strip(left=False, right=True),
        ]
    )
    backend = _metaspace_backend(vocab, "[UNK]", normalizer)
    backend.post_processor = _template("[CLS]", ["[SEP]"], "[SEP]", ids, types=True)
    tokenizer = _wrap(
        backend,
        max_length,
        ["input_ids", "token_type_ids", "attention_mask"],
        bos_token="[CLS]",
        eos_token="[SEP]",
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    config = DebertaV2Config(
        **_common_config(tokenizer),
        max_position_embeddings=max_length,
        type_vocab_size=0,
        relative_attention=True,
        position_biased_input=False,
        pos_att_type=["p2c", "c2p"],
        position_buckets=32,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
    )
    return tokenizer, config


def _modernbert(max_length: int) -> tuple[PreTrainedTokenizerFast, PretrainedConfig]:
    """ModernBERT layout: byte-level BPE, specials appended after the merges, no token types."""
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    words = [*_WORDS, *(word.capitalize() for word in _WORDS), *_SUFFIXES]
    corpus = [*words, *(f" {word}" for word in words), _NON_ASCII]
    backend.train_from_iterator(corpus, trainer=trainer)
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    backend.add_special_tokens(specials)
    ids = {token: backend.token_to_id(token) for token in specials}
    backend.post_processor = _template("[CLS]", ["[SEP]"], "[SEP]", ids, types=True)
    tokenizer = _wrap(
        backend,
        max_length,
        ["input_ids", "attention_mask"],
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    config = ModernBertConfig(
        **_common_config(tokenizer),
        max_position_embeddings=max_length,
        global_attn_every_n_layers=2,
        local_attention=MODERNBERT_LOCAL_ATTENTION,
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    return tokenizer, config


_BUILDERS: dict[str, Callable[[int], tuple[PreTrainedTokenizerFast, PretrainedConfig]]] = {
    "bert": _bert,
    "xlm-roberta": _xlm_roberta,
    "deberta-v2": _deberta_v2,
    "modernbert": _modernbert,
}


def build_jinabert(
    path: str | Path,
    *,
    layers: int = NUM_LAYERS,
    hidden: int = HIDDEN_SIZE,
    heads: int = NUM_HEADS,
    intermediate: int = INTERMEDIATE_SIZE,
    layout: str = "gated_layers",
    feed_forward_type: str = "geglu",
    pooler: bool = True,
    max_position_embeddings: int = 8192,
    tokenizer: PreTrainedTokenizerFast | None = None,
    seed: int = 0,
) -> Path:
    """Write a random JinaBERT cross-encoder folder as Jina's checkpoints lay it out; returns the folder.

    ``config.json`` has the v1 rerankers' fields (``model_type: "bert"``, ``architectures``,
    ``auto_map`` naming the hub code, ``position_embedding_type: "alibi"``, ...); the weights are
    ``model.safetensors`` under the checkpoint's own names, in the ``gated_layers`` layout of the
    rerankers or the ``up_gated_layer`` one (query/key layer norms) of jina-embeddings-v2-base-code.
    ``tokenizer`` defaults to the hand-made uncased WordPiece (``max_position_embeddings`` tokens).
    """
    from safetensors.torch import save_file

    from ..core.jinabert import ARCHITECTURE, JinaBertForSequenceClassification, JinaLayout

    tokenizer = tokenizer or _bert(max_position_embeddings)[0]
    fields = {
        "_name_or_path": "jinaai/jina-reranker-v1-turbo-en",
        "architectures": [ARCHITECTURE],
        "attention_probs_dropout_prob": 0.0,
        "attn_implementation": "torch",
        "auto_map": {
            "AutoConfig": "jinaai/jina-bert-implementation--configuration_bert.JinaBertConfig",
            "AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel",
            "AutoModelForSequenceClassification": (
                "jinaai/jina-bert-implementation--modeling_bert.JinaBertForSequenceClassification"
            ),
        },
        "classifier_dropout": None,
        "emb_pooler": None,
        "feed_forward_type": feed_forward_type,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden,
        "initializer_range": round(INITIALIZER_RANGE * (HIDDEN_SIZE / hidden) ** 0.5, 4),
        "intermediate_size": intermediate,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": max_position_embeddings,
        "model_type": "bert",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_labels": 1,
        "pad_token_id": tokenizer.pad_token_id,
        "position_embedding_type": "alibi",
        "type_vocab_size": 2,
        "vocab_size": len(tokenizer),
    }
    config = BertConfig(**{k: v for k, v in fields.items() if k not in ("auto_map", "attn_implementation")})
    shape = JinaLayout(feed_forward=layout, qk_norm=layout == "up_gated_layer", pooler=pooler)
    torch.manual_seed(seed)
    model = JinaBertForSequenceClassification(config, shape)
    spread = INITIALIZER_RANGE * (HIDDEN_SIZE / hidden) ** 0.5  # relative to the fan-in, as the others
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                parameter.normal_(1.0, INITIALIZER_RANGE / 2)
            else:
                parameter.normal_(0.0, spread)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {name: tensor.contiguous() for name, tensor in model.state_dict().items()},
        folder / "model.safetensors",
    )
    (folder / "config.json").write_text(json.dumps(fields, indent=2) + "\n")
    tokenizer.save_pretrained(folder)
    return folder
