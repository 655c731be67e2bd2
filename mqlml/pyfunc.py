"""The MLflow pyfunc model of a bundle, checked on load as ``mqlml score models:/`` checks it.

A model logged by :func:`mqlml.integrations.log_training` holds the bundle (artifact
``bundle``), a copy of mqlml's sources (``code/mqlml``, which MLflow puts on ``sys.path``)
and ``trust.json`` (artifact ``trust``, see :func:`mqlml.trust.trust_document`): the
bundle's digest, the sha256 of every file of the code copy and, when logged with
``MQLML_SIGNING_KEY`` set, an HMAC of both.

:meth:`BundleModel.load_context` checks, before it imports anything else of mqlml: every
file of the code copy against ``trust.json`` (a changed, added or missing file is
refused, and compiled caches are dropped so Python compiles the checked sources), the
signature when ``MQLML_SIGNING_KEY`` is set, then loads the bundle (its digest, signature
and every file's sha256, mqlml.model.load_bundle) and requires its digest to be the one
``trust.json`` names. Only this module, :mod:`mqlml.trust` and the package's
``__init__`` run before the check: they are the part of a code copy that cannot vouch for
itself, so with no signing key a writer of the artifact store can change them, and the
registry's digest tag that ``mqlml score models:/`` compares lives outside that store.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from mqlml.trust import TrustError, check_model, code_folder_of

__all__ = ["BundleModel"]


# Importing MLflow warns about its own type hints, and MLflow inspects predict's when the
# class is made (it cannot validate ``params``' values, Any; mqlml checks the input).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*Any type hint is inferred", category=UserWarning)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
    import mlflow.pyfunc

    class BundleModel(mlflow.pyfunc.PythonModel):
        """An mqlml bundle as an MLflow pyfunc: ``predict`` returns the scoring frame.

        Parameters
        ----------
        reasons : {"top", "all", "none"}, default="top"
            Default reason codes; ``predict(..., params={"reasons": "all"})`` overrides.
        """

        def __init__(self, reasons: str = "top") -> None:
            self.reasons = reasons
            self.bundle = None

        def load_context(self, context: Any) -> None:
            """Check the code copy, the signature and the bundle, then load the bundle.

            Raises
            ------
            mqlml.trust.TrustError
                When the code copy or the signature does not check out.
            mqlml.errors.BundleError
                When the bundle does not, or its digest is not the one trust.json names.
            """
            artifacts = context.artifacts
            if "trust" not in artifacts:
                raise TrustError(
                    "logged model must carry trust.json (models logged by mqlml before it was "
                    "added carry none); log the model again with this mqlml version."
                )
            # Nothing more of the code copy is imported until it checks out.
            digest = check_model(artifacts["trust"], code_folder_of(artifacts["bundle"]))
            from mqlml.errors import BundleError
            from mqlml.model._bundle import load_bundle

            bundle = load_bundle(artifacts["bundle"])
            if bundle.digest != digest:
                raise BundleError(
                    f"logged model's bundle must have the digest its trust.json names "
                    f"({digest[:12]}...); got {str(bundle.digest)[:12]}... The bundle was "
                    "changed after logging: do not use it; log it again from a trusted run."
                )
            self.bundle = bundle

        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> pd.DataFrame:
            """Score ``model_input`` (a DataFrame of leads) like mqlml.scoring.score_frame."""
            from mqlml.scoring._scorer import score_frame

            reasons = (params or {}).get("reasons") or self.reasons
            return score_frame(self.bundle, model_input, reasons=reasons)
