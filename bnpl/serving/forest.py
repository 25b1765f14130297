"""The champion's trees, evaluated in NumPy for the few rows of one checkout.

scikit-learn's ``predict_proba`` of the pipeline :func:`bnpl.governance.estimator.fit_pipeline`
builds (``ColumnTransformer`` + ``HistGradientBoostingClassifier``) costs ~30 CPU-ms per call on
this machine (pandas conversion, the encoder, then one OpenMP region per tree) whatever the row
count: most of a request. :class:`CompiledForest` reads the fitted pipeline once (the encoder's
levels, every tree's nodes and category bitsets, the baseline) and scores rows with a few
vectorised steps per tree level, following scikit-learn's own traversal
(``_predictor.pyx``: NaN follows ``missing_go_to_left``; a category goes left when in the
split's bitset, right when a known category, else is treated as missing) and its summation order
(trees added one by one, then the baseline, then the logistic). ``tests/serving/test_forest.py``
asserts equal probabilities to scikit-learn's on rows with NaNs and unseen levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit  # type: ignore[import-untyped]

from bnpl.features.training import Feature


class CompiledForest:
    """A fitted :func:`~bnpl.governance.estimator.fit_pipeline` pipeline, ready to score rows."""

    def __init__(self, pipeline: Any, features: Sequence[Feature]) -> None:
        columns = pipeline.named_steps["columns"]
        classifier = pipeline.named_steps["classifier"]
        encoder = columns.named_transformers_["categories"]
        self._categorical = [f.name for f in features if f.kind == "categorical"]
        self._numeric = [f.name for f in features if f.kind != "categorical"]
        self._column = {n: i for i, n in enumerate(self._categorical + self._numeric)}
        if (
            list(columns.feature_names_in_) != [f.name for f in features]
            or len(classifier._predictors[0]) != 1
        ):
            raise ValueError("not a binary fit_pipeline model over these features")
        self._codes = [
            {str(level): float(code) for code, level in enumerate(levels)}
            for levels in encoder.categories_
        ]
        trees = [iteration[0] for iteration in classifier._predictors]
        offsets = np.cumsum([0] + [len(t.nodes) for t in trees])
        bitset_offsets = np.cumsum([0] + [len(t.raw_left_cat_bitsets) for t in trees])
        nodes = np.concatenate([t.nodes for t in trees])
        tree_of = np.repeat(np.arange(len(trees)), [len(t.nodes) for t in trees])
        self._roots = offsets[:-1].astype(np.intp)
        self._feature = nodes["feature_idx"].astype(np.intp)
        self._threshold = nodes["num_threshold"].astype(np.float64)
        self._missing_left = nodes["missing_go_to_left"].astype(bool)
        self._left = (nodes["left"] + offsets[tree_of]).astype(np.intp)
        self._right = (nodes["right"] + offsets[tree_of]).astype(np.intp)
        self._leaf = nodes["is_leaf"].astype(bool)
        self._value = nodes["value"].astype(np.float64)
        self._categorical_split = nodes["is_categorical"].astype(bool)
        self._bitset = (nodes["bitset_idx"] + bitset_offsets[tree_of]).astype(np.intp)
        raw_left = [t.raw_left_cat_bitsets for t in trees if len(t.raw_left_cat_bitsets)]
        self._raw_left = (
            np.concatenate(raw_left).astype(np.uint32) if raw_left else np.zeros((1, 8), np.uint32)
        )
        known, f_idx_map = classifier._bin_mapper.make_known_categories_bitsets()
        self._known = np.asarray(known, dtype=np.uint32)
        self._f_idx_map = np.asarray(f_idx_map, dtype=np.intp)
        self._depth = int(nodes["depth"].max()) + 1
        self._baseline = float(np.asarray(classifier._baseline_prediction).ravel()[0])

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        """The encoded input (categories as level codes, unseen and missing NaN; numbers as
        float64, missing NaN): what the pipeline's column step makes of the scorer's frame."""
        nan = float("nan")
        out = np.empty((len(rows), len(self._categorical) + len(self._numeric)), np.float64)
        for i, row in enumerate(rows):
            values = [
                nan if (v := row.get(name)) is None else codes.get(str(v), nan)
                for name, codes in zip(self._categorical, self._codes, strict=True)
            ]
            values += [nan if (v := row.get(name)) is None else float(v) for name in self._numeric]
            out[i] = values
        return out

    def probabilities_with_each_missing(self, row: Mapping[str, Any], names: Sequence[str]) -> Any:
        """The probabilities of ``row`` and of one copy of it per name in ``names`` with that
        feature missing (the rows the reasons compare): the encoded row is built once and
        copied, each copy's one column set to NaN, as :meth:`matrix` encodes a missing value."""
        x = np.repeat(self.matrix([row]), len(names) + 1, axis=0)
        x[np.arange(1, len(names) + 1), [self._column[n] for n in names]] = np.nan
        return self.probabilities_of(x)

    def probabilities(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        """The probability of default of each row (float64 array)."""
        return self.probabilities_of(self.matrix(rows))

    def probabilities_of(self, x: Any) -> Any:
        """The probability of default of each row of an encoded input (:meth:`matrix`)."""
        n = x.shape[0]
        node = np.broadcast_to(self._roots, (n, len(self._roots))).copy()
        samples = np.arange(n)[:, None]
        for _ in range(self._depth):
            leaf = self._leaf[node]
            if leaf.all():
                break
            feature = self._feature[node]
            value = x[samples, feature]
            missing = np.isnan(value)
            missing_left = self._missing_left[node]
            left = np.where(missing, missing_left, value <= self._threshold[node])
            categorical = self._categorical_split[node] & ~missing
            if categorical.any():
                code = np.where(categorical, value, 0.0)
                negative = code < 0
                byte = code.astype(np.int64).astype(np.uint8).astype(np.intp)
                word, bit = byte >> 5, (byte & 31).astype(np.uint32)
                # rows at a numeric split look up bitset 0 (their index may be past the end)
                bitset = np.where(categorical, self._bitset[node], 0)
                known_row = np.where(categorical, self._f_idx_map[feature], 0)
                in_left = (self._raw_left[bitset, word] >> bit) & 1
                known = (self._known[known_row, word] >> bit) & 1
                category_left = np.where(
                    negative | ((in_left == 0) & (known == 0)), missing_left, in_left == 1
                )
                left = np.where(categorical, category_left, left)
            step = np.where(left, self._left[node], self._right[node])
            node = np.where(leaf, node, step)
        values = self._value[node]
        raw = np.zeros(n, dtype=np.float64)
        for tree in range(values.shape[1]):
            raw += values[:, tree]
        raw += self._baseline
        return np.asarray(expit(raw), dtype=np.float64)
