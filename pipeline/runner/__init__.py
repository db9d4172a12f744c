"""Task runners and the service loop.

The catalog is the work queue: workers claim ``queued`` items in a write
transaction, so any runner that can start processes next to the database works.
The embedded default starts local worker processes; a scale-out runner would
start the same ``worker_main`` on other machines against a shared PostgreSQL.
"""

from pipeline.runner.base import LocalProcessRunner, TaskRunner
from pipeline.runner.service import ProcessorLock, Service, ServiceBusy

__all__ = ["LocalProcessRunner", "ProcessorLock", "Service", "ServiceBusy", "TaskRunner"]
