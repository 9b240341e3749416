"""What users would write themselves to upload a model directory to S3, run as its own process by
bench/run.py: `python bench/s3_baselines.py sequential|s3transfer MODEL_DIR BUCKET PREFIX`.

Both use one boto3 client with its defaults (AWS_ENDPOINT_URL and the credentials come from the
environment, as for the push; path-style addressing, which every store but AWS needs), so each
upload carries the CRC32 checksum boto3 adds by default. Files go in models.files order,
saved_model.pb last.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from models import files

THREADS = 10


def sequential(client, model: Path, bucket: str, prefix: str) -> None:
    """One PutObject per file, one after another, the file streamed as its body: what a
    hand-written copy step does. A big file goes in one request, whatever its size."""
    for rel in files(model):
        with open(model / rel, "rb") as body:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=body)


def with_s3transfer(client, model: Path, bucket: str, prefix: str) -> None:
    """`upload_file` (s3transfer) for each file, with TransferConfig(max_concurrency=10), and the
    files handed to a pool of 10 threads: 10 files at a time, each in one PutObject up to
    s3transfer's 8 MiB multipart threshold; a bigger one in 8 MiB parts, 10 at a time."""
    config = TransferConfig(max_concurrency=THREADS)

    def upload(rel: str) -> None:
        client.upload_file(str(model / rel), bucket, f"{prefix}/{rel}", Config=config)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(upload, files(model)))


METHODS = {"sequential": sequential, "s3transfer": with_s3transfer}

if __name__ == "__main__":
    method, model, bucket, prefix = sys.argv[1:]
    # boto3's default pool (10 connections) is what both need: 10 requests in flight at most.
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
    METHODS[method](s3, Path(model), bucket, prefix)
