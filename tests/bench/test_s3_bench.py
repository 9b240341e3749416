"""The S3 rows of `make bench` (bench/s3_rows.py) read the visible window and the round trips from
the network line's log: a real push through a real line to moto must give a window inside the
push's own time, and name the requests that make up the protocol, or those rows measure nothing."""

from bench import models, network, s3_rows
from tests.support.s3_server import S3Server


def test_a_push_through_the_line_shows_its_window_and_its_steps(tmp_path):
    model = models.many_files(tmp_path / "model", shards=12, shard_size=64 * 1024, small=0)
    line = network.Line(40.0)
    with S3Server() as server:
        server.create_bucket(s3_rows.BUCKET)
        (seconds, _), exchanges = s3_rows.through(line, server, s3_rows.command("push", model))
    window = s3_rows.window(exchanges, line.rtt_ms)
    labels = [s3_rows.label(e) for e in exchanges]
    # 14 files into the version at once, then saved_model.pb, each write one round trip (no
    # 100-continue): from half a round trip into the first to half a round trip before the end of
    # the last, at least one round trip; and less than the whole push.
    assert 0.04 <= window < seconds, (window, seconds)
    assert labels[0].startswith("process start") and labels[-1] == "process exit"
    assert not [label for label in labels if "100-continue" in label]
    assert labels.count("upload model/1/<file> if-absent") == 15
    assert "upload model/.claims/1 if-absent" in labels
    assert labels.index("upload model/.claims/1 if-absent") < labels.index("upload model/1/<file> if-absent")
    # The steps cover the whole process, from its start to its exit.
    chain = network.steps(exchanges, s3_rows.label)
    assert abs((chain[-1].end - chain[0].start) - seconds) < 0.01
