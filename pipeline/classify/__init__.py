"""Classification (分类) and description (著录) of an item (件).

Takes an item's OCR text, gives a :class:`~pipeline.domain.Classification` (its class in the
configured filing scheme, retention, year, 题名, volume key, confidence and evidence) and an
:class:`~pipeline.domain.ItemMetadata` (dates, 文号, 责任者, names, ID numbers …).

Two voices decide the class: the scheme's rules (:mod:`.rules`) and, once people have
confirmed enough items, a learned character n-gram model (:mod:`.model`). When both
speak, their probabilities are averaged, so a disagreement lowers the confidence and the
item goes to the review queue (``classify.review_below``) instead of being filed wrongly.
"""

from pipeline.classify.classifier import Classifier, Described, volume_key_for
from pipeline.classify.model import LearnedModel

__all__ = ["Classifier", "Described", "LearnedModel", "volume_key_for"]
