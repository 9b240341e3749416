import pytest

from component.push.destination import Versioning, parse_destination
from component.errors import InputError


@pytest.mark.parametrize("text, base, versioning", [
    ('{"filesystem": {"base_directory": "gs://bkt/m/", "versioning": "AUTO"}}', "gs://bkt/m", Versioning.AUTO),
    ('{"filesystem": {"baseDirectory": "/srv/m", "versioning": 1}}', "/srv/m", Versioning.UNIX_TIMESTAMP),
    ('{"filesystem": {"base_directory": "/srv/m", "versioning": "sequential"}}', "/srv/m", Versioning.SEQUENTIAL),
    ('{"filesystem": {"base_directory": "/srv/m"}}', "/srv/m", Versioning.AUTO),
    ("gs://bucket/serving/m", "gs://bucket/serving/m", Versioning.AUTO),
    ("./models/m/", "./models/m", Versioning.AUTO),
])
def test_accepted_forms(text, base, versioning):
    d = parse_destination(text)
    assert (d.base, d.versioning) == (base, versioning)


def test_explicit_versioning_wins():
    assert parse_destination('{"filesystem": {"base_directory": "/m", "versioning": 0}}', "SEQUENTIAL").versioning \
        is Versioning.SEQUENTIAL
    with pytest.raises(InputError, match="^versioning: expected one of"):
        parse_destination("/m", "daily")


def test_a_destination_on_the_gcs_mount_is_published_through_the_api(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_PUSHER_MOUNT_ROOT", str(tmp_path))
    assert parse_destination(f"{tmp_path}/gcs/bucket/serving/m").base == "gs://bucket/serving/m"
    assert parse_destination(f"{tmp_path}/gcsx/bucket").base == f"{tmp_path}/gcsx/bucket"


def test_a_destination_reached_onto_the_gcs_mount_by_a_relative_path_or_a_link_is_published_through_the_api(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_PUSHER_MOUNT_ROOT", str(tmp_path / "root"))
    (tmp_path / "root" / "gcs" / "bucket").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "root" / "gcs" / "bucket")
    monkeypatch.chdir(tmp_path)
    assert parse_destination("root/gcs/bucket/serving/m").base == "gs://bucket/serving/m"
    assert parse_destination("link/serving/m").base == "gs://bucket/serving/m"
    assert parse_destination("root/gcsx/bucket").base == "root/gcsx/bucket"


@pytest.mark.parametrize("below", ["bucket/..", "bucket/../other/serving", "bucket/../../../escaped"])
def test_a_destination_on_the_gcs_mount_climbing_with_dots_is_refused(tmp_path, monkeypatch, below):
    # On the mount `..` climbs; to GCS it is a literal object name: the two would disagree.
    monkeypatch.setenv("MODEL_PUSHER_MOUNT_ROOT", str(tmp_path / "root"))
    (tmp_path / "root" / "gcs" / "bucket").mkdir(parents=True)
    with pytest.raises(InputError, match="has a '..' segment"):
        parse_destination(f"{tmp_path}/root/gcs/{below}")


@pytest.mark.parametrize("text, message", [
    ('{"filesystem": {"base_directory": "/a", "base_directory": "/b"}}', "the key 'base_directory' appears twice"),
    ("[" * 5000 + "]" * 5000, "nested deeper than 64 levels"),
    ('{"filesystem": {"base_directory": "/a", "versioning": ' + "9" * 5000 + "}}", "an integer of 5000 digits"),
    ('{"filesystem": {"base_directory": "/a", "versioning": NaN}}', "NaN is not a JSON number"),
])
def test_json_that_would_mean_two_things_or_crash_is_refused(text, message):
    with pytest.raises(InputError, match=f"push_destination: {message}"):
        parse_destination(text)


@pytest.mark.parametrize("text", ["gs://b/m", "gs://My_Bucket/m", '{"filesystem": {"base_directory": "gs://b/m/"}}'])
def test_a_gcs_uri_naming_no_valid_bucket_is_refused(text):
    with pytest.raises(InputError, match=r"^push_destination: '.*' names no valid bucket: bucket names are"):
        parse_destination(text)
