"""What users would write themselves to upload a model directory to GCS, run as its own process by
bench/run.py: `python bench/baselines.py sequential|transfer_manager MODEL_DIR BUCKET PREFIX`.

Both talk to STORAGE_EMULATOR_HOST with anonymous credentials, as the push does.
"""

import sys
from pathlib import Path

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import transfer_manager

from models import files


def sequential(model: Path, bucket: storage.Bucket, prefix: str) -> None:
    """One file after another, google-cloud-storage's defaults: what a TFX-style copy does."""
    for rel in files(model):
        bucket.blob(f"{prefix}/{rel}").upload_from_filename(str(model / rel))


def with_transfer_manager(model: Path, bucket: storage.Bucket, prefix: str) -> None:
    """google-cloud-storage's own parallel uploader, 8 worker threads."""
    transfer_manager.upload_many_from_filenames(
        bucket, files(model), source_directory=str(model), blob_name_prefix=f"{prefix}/",
        max_workers=8, worker_type=transfer_manager.THREAD, raise_exception=True,
    )


METHODS = {"sequential": sequential, "transfer_manager": with_transfer_manager}

if __name__ == "__main__":
    method, model, bucket, prefix = sys.argv[1:]
    client = storage.Client(project="bench", credentials=AnonymousCredentials())
    METHODS[method](Path(model), client.bucket(bucket), prefix)
