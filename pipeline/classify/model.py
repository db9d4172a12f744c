"""The learned classifier: character n-grams, trained on items a person confirmed.

Unsegmented Chinese needs no tokeniser here: the features are the character 1-, 2- and
3-grams of the normalised text (TF-IDF, sublinear tf, L2-normalised) and the model is a
multinomial logistic regression (scikit-learn). Only the numbers are stored, as JSON
(vocabulary, classes) plus a NumPy ``.npz`` loaded with ``allow_pickle=False``, so a
file in the writable data directory can never execute code; on top of that the catalog
keeps the file's SHA-256 and :meth:`LearnedModel.load` refuses a file that differs.
Inference is plain NumPy: the worker does not import scikit-learn.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.fileio import atomic_write_bytes
from pipeline.text import normalize

FORMAT = "dangan-classifier-1"
NGRAMS = (1, 2, 3)
MAX_FEATURES = 60_000
MIN_SAMPLES = 10  # fewer confirmed items than this: rules alone decide


class ModelIntegrityError(RuntimeError):
    """The stored model file is not the one the catalog recorded."""


def ngrams(text: str) -> Counter:
    s = "".join(normalize(text).split())
    counts: Counter = Counter()
    for n in NGRAMS:
        counts.update(s[i:i + n] for i in range(len(s) - n + 1))
    return counts


@dataclass
class LearnedModel:
    classes: list[str]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (classes, features); one row for a two-class model as scikit-learn gives
    intercept: np.ndarray
    samples: int

    @classmethod
    def train(cls, samples: list[tuple[str, str]]) -> LearnedModel:
        """Fit on (text, class code) pairs; needs two classes at least."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = sorted({label for _, label in samples})
        if len(labels) < 2:
            raise ValueError("a classifier needs confirmed items of at least two classes")
        vectorizer = TfidfVectorizer(analyzer=lambda t: list(ngrams(t).elements()), sublinear_tf=True,
                                     max_features=MAX_FEATURES)
        x = vectorizer.fit_transform([text for text, _ in samples])
        model = LogisticRegression(C=20.0, max_iter=2000)
        model.fit(x, [label for _, label in samples])
        return cls(
            classes=[str(c) for c in model.classes_],
            vocabulary={k: int(v) for k, v in vectorizer.vocabulary_.items()},
            idf=vectorizer.idf_.astype(np.float32),
            coef=model.coef_.astype(np.float32),
            intercept=model.intercept_.astype(np.float32),
            samples=len(samples),
        )

    def _features(self, text: str) -> np.ndarray:
        v = np.zeros(len(self.idf), dtype=np.float32)
        for gram, count in ngrams(text).items():
            j = self.vocabulary.get(gram)
            if j is not None:
                v[j] = (1.0 + math.log(count)) * self.idf[j]
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def probabilities(self, text: str) -> dict[str, float]:
        z = self.coef @ self._features(text) + self.intercept
        if len(self.classes) == 2:  # binary logistic regression: one row, P(classes[1])
            p1 = 1.0 / (1.0 + math.exp(-float(z[0])))
            return {self.classes[0]: 1.0 - p1, self.classes[1]: p1}
        e = np.exp(z - z.max())
        p = e / e.sum()
        return {c: float(pc) for c, pc in zip(self.classes, p)}

    # ── storage: JSON + npz inside one zip, no pickle ─────────────

    def to_bytes(self) -> bytes:
        arrays = io.BytesIO()
        np.savez_compressed(arrays, idf=self.idf, coef=self.coef, intercept=self.intercept)
        header = {"format": FORMAT, "classes": self.classes, "samples": self.samples, "ngrams": list(NGRAMS)}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("model.json", json.dumps(header, ensure_ascii=False))
            z.writestr("vocabulary.json", json.dumps(self.vocabulary, ensure_ascii=False))
            z.writestr("arrays.npz", arrays.getvalue())
        return buf.getvalue()

    def save(self, path: Path) -> str:
        """Write atomically; return the SHA-256 the catalog must record."""
        data = self.to_bytes()
        atomic_write_bytes(path, data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: Path, sha256: str) -> LearnedModel:
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ModelIntegrityError(
                f"{path}: SHA-256 {actual[:12]}… is not the {sha256[:12]}… recorded when it was trained; "
                "refusing to load it (retrain with `dangan train`)")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            header = json.loads(z.read("model.json"))
            if header.get("format") != FORMAT:
                raise ModelIntegrityError(f"{path}: unknown model format {header.get('format')!r}")
            vocabulary = json.loads(z.read("vocabulary.json"))
            arrays = np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False)
            return cls(classes=list(header["classes"]), vocabulary=vocabulary, idf=arrays["idf"],
                       coef=arrays["coef"], intercept=arrays["intercept"], samples=int(header["samples"]))
