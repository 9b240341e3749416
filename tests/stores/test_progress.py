import logging

from component.stores.progress import Progress


def test_progress_logs_files_bytes_and_throughput_at_its_interval(caplog):
    caplog.set_level(logging.INFO, logger="component.stores.progress")
    progress = Progress("Publishing to gs://b/m", total_files=4, total_bytes=4 * 1024 * 1024, interval=0.0)
    progress.add(1024 * 1024, files=1)
    progress.add(1024 * 1024, files=1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[-1].startswith("Publishing to gs://b/m: 2/4 files, 2.0/4.0 MB (50%), ")
    assert lines[-1].endswith(" MB/s")


def test_progress_stays_quiet_within_its_interval(caplog):
    caplog.set_level(logging.INFO, logger="component.stores.progress")
    progress = Progress("Publishing", total_files=2, total_bytes=10, interval=3600.0)
    progress.add(5, files=1)
    progress.done()
    assert caplog.records == []
