"""Per-collection config: defaults, overrides, sources, and errors that name the collection and key."""

from __future__ import annotations

import pytest

from vecrank import ConfigError, load_config
from vecrank.config import CollectionConfig
from vecrank.config_loading import ENV_VAR

TOML = """
[defaults]
model = "ettin-32m"
normalize = "sigmoid"

[collections.docs]
model = "ettin-150m"
candidates = 50
text_field = "body"

[collections.faq]
enabled = false
"""


def test_collection_overrides_apply_over_defaults(tmp_path):
    path = tmp_path / "vecrank.toml"
    path.write_text(TOML)
    config = load_config(path)
    docs = config.for_collection("docs")
    assert (docs.model, docs.candidates, docs.text_field, docs.normalize) == (
        "ettin-150m",
        50,
        "body",
        "sigmoid",
    )
    assert config.for_collection("faq").enabled is False
    other = config.for_collection("unlisted")
    assert (other.model, other.normalize, other.text_field) == ("ettin-32m", "sigmoid", "text")


def test_env_variable_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "from-env.toml"
    path.write_text(TOML)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load_config().for_collection("docs").model == "ettin-150m"
    monkeypatch.delenv(ENV_VAR)
    assert load_config().for_collection("docs").model == CollectionConfig().model


def test_candidate_count_covers_offset_plus_limit():
    assert CollectionConfig().candidate_count(10) == 40
    assert CollectionConfig(candidates=5).candidate_count(12) == 12
    assert CollectionConfig(candidates=500, max_candidates=100).candidate_count(10) == 100
    assert CollectionConfig(max_candidates=8).candidate_count(20) == 20


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"collections": {"docs": {"candidate": 5}}}, "collection 'docs': unknown key 'candidate'"),
        ({"collections": {"docs": {"normalize": "softmax"}}}, "collection 'docs': key 'normalize'"),
        ({"collections": {"docs": {"candidates": 0}}}, "collection 'docs': key 'candidates'"),
        ({"collections": {"docs": {"on_error": "ignore"}}}, "key 'on_error'"),
        ({"defaults": {"modle": "x"}}, "[defaults]: unknown key 'modle'"),
        ({"default": {}}, "unknown top-level key 'default'"),
        ({"defaults": {"fusion_weight": 2}}, "key 'defaults.fusion_weight'"),
        ({"capture": {"enabled": True}}, "key 'capture': `enabled = true` needs `path`, the JSONL file"),
        ({"capture": {"path": "t.jsonl", "sample_rate": 1.5}}, "key 'capture.sample_rate': Input should be"),
        ({"capture": {"path": "t.jsonl", "max_bytes": 10}}, "key 'capture.max_bytes'"),
        ({"capture": {"path": "t.jsonl", "keep_text": True}}, "key 'capture.keep_text': Extra inputs"),
        ({"collections": {"docs": {"capture": "maybe"}}}, "collection 'docs': key 'capture'"),
    ],
)
def test_bad_config_names_collection_and_key(data, message):
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    assert message in str(caught.value)


def test_capture_is_off_unless_a_path_and_enabled_are_given(tmp_path):
    assert load_config({}).capture.enabled is False
    config = load_config(
        {"capture": {"enabled": True, "path": str(tmp_path / "t.jsonl"), "keep_texts": True}}
    )
    assert (config.capture.path, config.capture.sample_rate, config.capture.backups) == (
        tmp_path / "t.jsonl",
        1.0,
        3,
    )
    assert config.for_collection("docs").capture is True


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[defaults\nmodel = 1")
    with pytest.raises(ConfigError, match="broken.toml.*not valid TOML"):
        load_config(broken)


def test_strict_collections_reject_unknown_names():
    config = load_config({"strict_collections": True, "collections": {"docs": {}}})
    assert config.for_collection("docs").model == CollectionConfig().model
    with pytest.raises(ConfigError, match="collection 'other' is not configured \\(configured: docs\\)"):
        config.for_collection("other")


def test_a_model_typo_is_a_config_error_with_close_names():
    with pytest.raises(
        ConfigError, match=r"\[defaults\]: key 'model': unknown model 'ettin-17'.*'ettin-17m'"
    ):
        load_config({"defaults": {"model": "ettin-17"}})
    with pytest.raises(ConfigError, match=r"collection 'docs': key 'model'.*did you mean 'minilm-bi'"):
        load_config({"collections": {"docs": {"model": "minilm-by"}}})


def test_every_kind_of_model_name_is_accepted(tmp_path):
    names = [
        "ettin-150m",
        "minilm-bi",
        str(tmp_path),
        "org/name",
        "http://127.0.0.1:8080",
        "https://x.example",
    ]
    config = load_config({"collections": {f"c{i}": {"model": name} for i, name in enumerate(names)}})
    assert [config.for_collection(f"c{i}").model for i in range(len(names))] == names


def test_wrap_checks_the_model_names():
    from qdrant_client import QdrantClient

    import vecrank

    client = QdrantClient(":memory:")
    with pytest.raises(ConfigError, match="did you mean 'ettin-17m'"):
        vecrank.wrap(client, {"defaults": {"model": "ettin-17"}})
    with pytest.raises(ConfigError, match="did you mean 'ettin-17m'"):
        vecrank.wrap(client, vecrank.VecrankConfig(defaults=CollectionConfig(model="ettin-17")))
