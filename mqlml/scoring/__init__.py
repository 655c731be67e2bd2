"""Scoring leads with a bundle: the scorer, the streamed file job, predictors, the Arrow
encoder, explanations and the C kernels."""

from mqlml.scoring._ahead import ahead, cores, thread_count
from mqlml.scoring._cache import CacheError, PrivateCache, cache_home
from mqlml.scoring._encode import ArrowEncoder, Encoded
from mqlml.scoring._explain import (
    PathAttribution,
    display_values,
    feature_contributions,
    format_reasons,
    group_matrix,
)
from mqlml.scoring._file import ScoreSummary, score_file
from mqlml.scoring._kernels import (
    join_reasons,
    leaf_type,
    path_sums,
    reason_slots,
    unpack_leaves,
    xor_hashes,
)
from mqlml.scoring._predict import (
    PARITY_TOLERANCE,
    PREDICTORS,
    CompiledPredictor,
    LightGBMPredictor,
    PredictorError,
    default_cache_dir,
    float_matrix,
    make_predictor,
)
from mqlml.scoring._repeats import RepeatCounter, hash_ids
from mqlml.scoring._scorer import OUTPUT_COLUMNS, Scorer, score_frame, written
from mqlml.scoring._trees import ModelText

__all__ = [
    "OUTPUT_COLUMNS",
    "PARITY_TOLERANCE",
    "PREDICTORS",
    "ArrowEncoder",
    "CacheError",
    "CompiledPredictor",
    "Encoded",
    "LightGBMPredictor",
    "ModelText",
    "PathAttribution",
    "PredictorError",
    "PrivateCache",
    "RepeatCounter",
    "ScoreSummary",
    "Scorer",
    "ahead",
    "cache_home",
    "cores",
    "default_cache_dir",
    "display_values",
    "feature_contributions",
    "float_matrix",
    "format_reasons",
    "group_matrix",
    "hash_ids",
    "join_reasons",
    "leaf_type",
    "make_predictor",
    "path_sums",
    "reason_slots",
    "score_file",
    "score_frame",
    "thread_count",
    "unpack_leaves",
    "written",
    "xor_hashes",
]
