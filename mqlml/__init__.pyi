"""Type information for the public API of mqlml (``__init__.py`` loads each name on first
use; tests/test_public_api.py checks that both list the same names from the same places)."""

# ruff: noqa: I001

from mqlml.errors import MqlmlError as MqlmlError
from mqlml.errors import ConfigError as ConfigError
from mqlml.errors import DataError as DataError
from mqlml.errors import MissingColumnError as MissingColumnError
from mqlml.errors import InsufficientDataError as InsufficientDataError
from mqlml.errors import UnreachableTargetError as UnreachableTargetError
from mqlml.errors import MqlLineError as MqlLineError
from mqlml.errors import BundleError as BundleError
from mqlml.errors import RuleError as RuleError
from mqlml.config import ProjectConfig as ProjectConfig
from mqlml.config import load_config as load_config
from mqlml.leads import LeadSchema as LeadSchema
from mqlml.io import read_table as read_table
from mqlml.leads import read_leads as read_leads
from mqlml.io import iter_batches as iter_batches
from mqlml.io import LeadFile as LeadFile
from mqlml.io import binary_label as binary_label
from mqlml.leads import make_leads as make_leads
from mqlml.leads import write_sample as write_sample
from mqlml.leads import example_file as example_file
from mqlml.leads import check_leads as check_leads
from mqlml.leads import CheckReport as CheckReport
from mqlml.model import LeadScorer as LeadScorer
from mqlml.model import choose_threshold as choose_threshold
from mqlml.model import ThresholdResult as ThresholdResult
from mqlml.metrics import evaluate as evaluate
from mqlml.rules import PointsBaseline as PointsBaseline
from mqlml.rules import load_rules as load_rules
from mqlml.leads import engagement_features as engagement_features
from mqlml.model import train as train
from mqlml.model import TrainResult as TrainResult
from mqlml.model import holdout as holdout
from mqlml.model import Bundle as Bundle
from mqlml.model import load_bundle as load_bundle
from mqlml.scoring import score_frame as score_frame
from mqlml.scoring import score_file as score_file
from mqlml.scoring import Scorer as Scorer
from mqlml.model import account_scores as account_scores
from mqlml.model import SegmentLines as SegmentLines
from mqlml.report import compare as compare
from mqlml.report import build_report as build_report
from mqlml.rules import scorecard as scorecard
from mqlml.rules import Scorecard as Scorecard
from mqlml.monitoring import monitor as monitor
from mqlml.monitoring import recalibrate as recalibrate
from mqlml.integrations import log_training as log_training
from mqlml.integrations import promote as promote
from mqlml.integrations import resolve_model as resolve_model
from mqlml.monitoring import compare_champion as compare_champion
from mqlml.monitoring import ChampionComparison as ChampionComparison
from mqlml._demo import demo as demo

__version__: str
__all__: list[str]
