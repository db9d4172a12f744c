"""Filing (归档): classification records, the review queue, 档号, volumes (案卷) and the desk.

The domain between the stages and the catalog: :class:`FilingStore` keeps the rules of
settling, numbering and volumes over the catalog; :class:`pipeline.filing.desk.FilingDesk`
is what the CLI and the web UI call (classifier, review decisions, volume PDFs, labels).
"""

from .records import FilingError, ReviewEntry, VolumeMember, VolumeView, metadata_json, new_label_token
from .store import FilingStore

__all__ = ["FilingError", "FilingStore", "ReviewEntry", "VolumeMember", "VolumeView", "metadata_json",
           "new_label_token"]
