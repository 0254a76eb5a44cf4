"""DownloaderService metrics, read from the status snapshot at scrape time (never under a held lock)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from downloader_service.manager import DownloadManager
from downloader_service.status import DownloadState

__all__ = ["register_downloader_metrics"]


class _DownloadCollector(Collector):
    """State, bytes, files and progress of the current (or last) download."""

    def __init__(self, manager: DownloadManager) -> None:
        self._manager = manager

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Gauges from one consistent snapshot."""
        status = self._manager.status()
        state = GaugeMetricFamily("mlsuite_download_state", "1 for the downloader's current state", labels=["state"])
        for candidate in DownloadState:
            state.add_metric([candidate.value], 1.0 if candidate is status.state else 0.0)
        yield state
        byte_counts = GaugeMetricFamily("mlsuite_download_bytes", "Bytes of the current or last download",
                                        labels=["kind"])
        byte_counts.add_metric(["downloaded"], status.bytes_downloaded)
        byte_counts.add_metric(["total"], status.bytes_total)
        yield byte_counts
        files = GaugeMetricFamily("mlsuite_download_files", "Files of the current or last download", labels=["kind"])
        files.add_metric(["downloaded"], status.files_downloaded)
        files.add_metric(["total"], status.files_total)
        yield files
        yield GaugeMetricFamily("mlsuite_download_progress_percent", "Progress of the current or last download",
                                value=status.progress)
        yield GaugeMetricFamily("mlsuite_download_status_version", "Version of the download status",
                                value=status.version)


def register_downloader_metrics(registry: CollectorRegistry, manager: DownloadManager) -> None:
    """Add the downloader's domain metrics to `registry`."""
    registry.register(_DownloadCollector(manager))
