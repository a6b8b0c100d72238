"""Built-in plugin: the default ``vecrank_rerank``, scoring with the reranker that ``config.model`` names.

A URL names a remote service, a registered name its plugin's factory; any other name (an
alias, a folder, a hub id) is a cross-encoder model.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import CollectionConfig
from ..errors import ConfigError, PluginError, VecrankError
from ..hookspecs import hookimpl
from ..models import is_remote_model
from ..pairs import Pair
from .cross_encoder import CrossEncoderScorer
from .manager import loaded_plugins
from .remote import get_remote_scorer
from .rerankers import Scorer

CROSS_ENCODER_PLUGIN = "vecrank.plugins.cross_encoder"


def get_scorer(config: CollectionConfig) -> Scorer:
    """The scorer for ``config.model``: a URL's service, a registered reranker, else a cross-encoder.

    An ``instruction`` reaches only scorers whose factory says ``takes_instruction``; for any other it
    is a ConfigError.
    """
    if is_remote_model(config.model):
        return get_remote_scorer(config)
    plugins = loaded_plugins()
    with plugins.lock:
        if config not in plugins.scorers:
            entry = plugins.rerankers.get(config.model)
            factory = entry.factory if entry is not None else CrossEncoderScorer
            if config.instruction is not None and not getattr(factory, "takes_instruction", False):
                raise ConfigError(
                    f"reranker {config.model!r} (plugin {entry.plugin!r}) takes no instruction, but "
                    f"instruction={config.instruction!r} is set: remove it"
                )
            plugins.scorers[config] = factory(config)
        return plugins.scorers[config]


def score_pairs(config: CollectionConfig, pairs: Sequence[Pair]) -> Sequence[float]:
    """Scores from the reranker ``config.model`` names; its failure names the plugin that registered it."""
    scorer = get_scorer(config)
    try:
        return scorer.predict(pairs)
    except VecrankError:
        raise
    except Exception as error:
        entry = loaded_plugins().rerankers.get(config.model)
        plugin = entry.plugin if entry is not None else CROSS_ENCODER_PLUGIN
        raise PluginError(
            f"reranker {config.model!r} (plugin {plugin!r}) raised: {type(error).__name__}: {error}",
            plugin=plugin,
        ) from error


@hookimpl(trylast=True)
def vecrank_rerank(collection, pairs, config):
    return score_pairs(config, pairs)
