"""gs:// directories: a serving base to publish versions into (GcsStore), a model to read (GcsTree).

GCS has no rename, so a version cannot appear in one step as it does locally. This is the layout
under the base directory, and why model servers never load an incomplete version:

  <version>/...          a version. Its saved_model.pb (what makes TF Serving load it) is written
                         only after every other object of the version is in place and verified.
  .pushing-<id>/...      files bigger than STRAIGHT_IN_MAX, uploaded before a version is claimed.
                         Hidden: model servers only look at numeric names.
  .pushing-<id>.lease    a push's proof of life, rewritten while it runs; it names the version the
                         push is writing, so whoever finds it stale knows what to remove.
  .claims/<version>      created with ifGenerationMatch=0, so of two pushes racing for a number
                         exactly one wins. Removed once the version is complete; kept when the push
                         failed half-way, so that number is never used again.

A claimed version is filled by server-side copies of the staged big files and by uploads of the
small ones: either costs about one request per file, so the time an incomplete numeric prefix is
visible depends on how many files the model has, not on how big it is.
"""

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial

from google.api_core import exceptions as api_exceptions
from google.cloud import storage

from .artifacts import Artifact
from .errors import InputError, PublishError
from .gcs_client import RETRY, TIMEOUT, any_object, client, folder, gcs_errors, list_objects, split_uri
from .gcs_transfer import ONE_REQUEST_MAX, in_parallel, put
from .local_store import STAGING_PREFIX
from .model_source import SAVED_MODEL_FILES, Model, ModelFile
from .progress import Progress
from .versioning import numeric_versions

log = logging.getLogger(__name__)

LEASE_SUFFIX = ".lease"
CLAIMS = ".claims"
# Files sent in one request go straight into the claimed version: that request costs about what a
# server-side copy from staging would, so staging them would double the work for nothing.
STRAIGHT_IN_MAX = ONE_REQUEST_MAX
# A push whose lease was not renewed for this long is dead. Far above the renewal interval plus the
# longest retried request (gcs_client.RETRY), so a slow push is never mistaken for a dead one.
LEASE_SECONDS_ENV = "MODEL_PUSHER_GCS_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 300.0
NOTHING_PUBLISHED = "nothing was published"


class Lease:
    """Proof that a push is alive, and the note of which version it is writing.

    The owner rewrites the lease object every `seconds / 10`. Every write is conditional on the
    generation its writer saw last, so exactly one process holds a lease: a push cleaning up a
    stale lease takes it over first, and an owner that was only stalled then finds it lost and stops
    before it makes anything loadable.
    """

    def __init__(self, blob: storage.Blob, seconds: float, generation: int, version: int | None) -> None:
        self.blob = blob
        self.seconds = seconds
        self.version = version
        self.lost = False
        self._holder = uuid.uuid4().hex  # tells this process's writes from a takeover's
        self._generation = generation
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @classmethod
    def create(cls, blob: storage.Blob, seconds: float) -> "Lease":
        lease = cls(blob, seconds, 0, None)
        lease._write()
        lease._keep_alive()
        return lease

    @classmethod
    def take_over(cls, listed: storage.Blob, seconds: float) -> "Lease | None":
        """A stale lease, now ours; None when its owner renewed it or another push took it first."""
        version = (listed.metadata or {}).get("version")
        lease = cls(listed, seconds, listed.generation, int(version) if version else None)
        try:
            lease._write()
        except (api_exceptions.PreconditionFailed, api_exceptions.NotFound):
            return None
        lease._keep_alive()  # removing a big leftover can take a while
        return lease

    def write_version(self, version: int) -> None:
        self.version = version
        self._write()

    def confirm(self) -> None:
        """Renew the lease now, proving it is still ours; a push that stalled so long that another
        push took it over to clean up must not go on writing."""
        if not self.lost:
            try:
                self._write()
            except (api_exceptions.PreconditionFailed, api_exceptions.NotFound):
                self.lost = True
        if self.lost:
            raise PublishError(
                f"this push stalled for more than {self.seconds:g} s and another push took over its "
                f"lease {self.blob.name} to clean up after it; {NOTHING_PUBLISHED}"
            )

    def stop(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()

    def release(self) -> None:
        self.stop()
        try:
            self.blob.delete(retry=RETRY, timeout=TIMEOUT)
        except api_exceptions.NotFound:
            pass

    def _keep_alive(self) -> None:
        self._renewer = threading.Thread(target=self._renew, name=f"lease {self.blob.name}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 10):
            try:
                self._write()
            except (api_exceptions.PreconditionFailed, api_exceptions.NotFound):
                self.lost = True
                return
            except Exception as exc:  # a missed renewal is survivable; the next one may work
                log.warning("Could not renew the push's lease %s (%s); trying again.", self.blob.name, type(exc).__name__)

    def _write(self) -> None:
        with self._lock:
            note = {"holder": self._holder}
            if self.version is not None:
                note["version"] = str(self.version)
            self.blob.metadata = note
            try:
                self.blob.upload_from_string(b"", if_generation_match=self._generation, retry=RETRY, timeout=TIMEOUT)
            except api_exceptions.PreconditionFailed:
                # Taken over; or this very write landed, its answer was lost, and the retry met it.
                current = self.blob.bucket.get_blob(self.blob.name, retry=RETRY, timeout=TIMEOUT)
                if current is None or (current.metadata or {}) != note:
                    raise
                self.blob = current
            self._generation = self.blob.generation


@dataclass
class GcsStaging:
    token: str  # ".pushing-<id>", this push's hidden name
    lease: Lease
    model: Model
    progress: Progress
    staged: dict[str, ModelFile] = field(default_factory=dict)  # rel -> its copy under the staging prefix
    version: int | None = None  # the version this push began to write
    published: bool = False


class GcsStore:
    def __init__(self, base: str, lease_seconds: float | None = None) -> None:
        self.uri = base
        self.bucket, self.prefix = split_uri(base)
        self.lease_seconds = (
            lease_seconds if lease_seconds is not None
            else float(os.environ.get(LEASE_SECONDS_ENV, DEFAULT_LEASE_SECONDS))
        )

    def version_uri(self, version: int) -> str:
        return f"gs://{self.bucket}/{self._folder(str(version))}".rstrip("/")

    def versions(self) -> set[int]:
        with self._errors():
            top = list_objects(self.bucket, self._folder(), recursive=False)
            claims = list_objects(self.bucket, self._folder(CLAIMS), recursive=False)
        return numeric_versions(top.folders) | numeric_versions(o.name.rsplit("/", 1)[-1] for o in claims.objects)

    def clean_abandoned(self) -> None:
        """Remove what pushes that died left behind: their leases stopped being renewed. (A lease
        is created before anything else of its push and removed after everything else, so every
        leftover has one.)"""
        with self._errors():
            pushes = list_objects(self.bucket, self._folder() + STAGING_PREFIX, recursive=False)
            now = time.time()
            for listed in (o for o in pushes.objects if o.name.endswith(LEASE_SUFFIX)):
                if now - listed.updated.timestamp() > self.lease_seconds:
                    lease = Lease.take_over(listed, self.lease_seconds)
                    if lease is not None:
                        self._clean_after(lease)

    def stage(self, model: Model, progress: Progress) -> GcsStaging:
        """Take a lease, then upload (or copy) the big files under a hidden prefix."""
        with self._errors(NOTHING_PUBLISHED):
            token = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
            lease = Lease.create(self._blob(f"{self._folder()}{token}{LEASE_SUFFIX}"), self.lease_seconds)
            staging = GcsStaging(token, lease, model, progress)
            try:
                big = [f for f in model.files if f.size > STRAIGHT_IN_MAX]
                target = self._folder(token)
                if big:
                    log.info("Uploading %d file%s over %d MiB (%.1f MB) to gs://%s/%s first, where model "
                             "servers do not look.", len(big), "" if len(big) == 1 else "s",
                             STRAIGHT_IN_MAX // 2**20, sum(f.size for f in big) / 1e6, self.bucket, target)
                staged = in_parallel([partial(put, f, self.bucket, target + f.rel, progress) for f in big])
                staging.staged = {f.rel: f for f in staged}
            except BaseException:
                self.discard(staging)
                raise
            return staging

    def publish(self, staging: GcsStaging, version: int) -> bool:
        """Claim `version`, fill it, verified, and write saved_model.pb last."""
        with self._errors(NOTHING_PUBLISHED):
            staging.lease.confirm()
            if not self._claim(version, staging.token):
                return False
            target = self._folder(str(version))
            if any_object(self.bucket, target):
                log.info("%s already holds objects that no push claimed (another tool wrote them); leaving them alone.", target)
                return False
            staging.lease.write_version(version)  # from here on a cleaner knows what to remove
            staging.version = version
            log.info("Claimed version %d; writing its %d files into %s, saved_model.pb last.",
                     version, len(staging.model.files), self.version_uri(version))
            files = [staging.staged.get(f.rel, f) for f in staging.model.in_publish_order()]
            loaders = [f for f in files if f.rel in SAVED_MODEL_FILES]

            def place(f: ModelFile) -> None:
                # Bytes of staged files were counted when they were staged.
                put(f, self.bucket, target + f.rel, None if f.rel in staging.staged else staging.progress)
                staging.progress.add(files=1)

            in_parallel([partial(place, f) for f in files if f not in loaders])
            # Every other object is in place and verified; a push that stalled long enough to lose
            # its lease must not make the version loadable now.
            staging.lease.confirm()
            for f in loaders:
                place(f)
            staging.published = True
        self._unclaim(version)
        return True

    def discard(self, staging: GcsStaging) -> None:
        """Remove the staging prefix and the lease; after a failed publish, what it had written."""
        staging.lease.stop()
        if staging.lease.lost:
            return  # the push that took the lease over removes what this one left
        try:
            with self._errors():
                if staging.version is not None and not staging.published:
                    self._remove(self._folder(str(staging.version)))
                self._remove(self._folder(staging.token))
                staging.lease.release()
        except PublishError as exc:
            log.warning(
                "Could not remove what this push left (%s); the next push to %s will, once this push's "
                "lease is %.0f s old.", exc, self.uri, self.lease_seconds,
            )

    def version_model(self, version: int) -> Model:
        with self._errors():
            return gcs_model(self.bucket, self._folder(str(version)), self.version_uri(version),
                             f"version {version} at {self.uri}")

    def delete_version(self, version: int) -> None:
        """GCS cannot make a prefix vanish at once; saved_model.pb goes first, so that no model
        server starts loading a version while it is being removed."""
        with self._errors():
            self._remove(self._folder(str(version)))
            self._unclaim(version)

    def _claim(self, version: int, token: str) -> bool:
        blob = self._blob(f"{self._folder(CLAIMS)}{version}")
        try:
            blob.upload_from_string(token.encode(), if_generation_match=0, retry=RETRY, timeout=TIMEOUT)
            return True
        except api_exceptions.PreconditionFailed:
            # Taken: by another push, or by this one if an earlier attempt's answer was lost.
            try:
                return blob.download_as_bytes(retry=RETRY, timeout=TIMEOUT) == token.encode()
            except api_exceptions.NotFound:
                return False

    def _unclaim(self, version: int) -> None:
        """The version's own objects mark its number as taken now; the claim is clutter."""
        try:
            self._blob(f"{self._folder(CLAIMS)}{version}").delete(retry=RETRY, timeout=TIMEOUT)
        except api_exceptions.NotFound:
            pass
        except Exception as exc:  # harmless: a leftover claim only keeps a number taken
            log.warning("Could not remove the claim of version %d (%s); it is harmless.", version, type(exc).__name__)

    def _clean_after(self, lease: Lease) -> None:
        token = lease.blob.name[len(self._folder()): -len(LEASE_SUFFIX)]
        left = [f"staging {self._folder(token)}"]
        if lease.version is not None:
            target = self._folder(str(lease.version))
            if any(any_object(self.bucket, target + name) for name in SAVED_MODEL_FILES):
                self._unclaim(lease.version)  # it got as far as saved_model.pb: complete, keep it
            else:
                self._remove(target)  # incomplete; its claim stays so the number is never reused
                left.append(f"incomplete version {lease.version}")
        self._remove(self._folder(token))
        lease.release()
        log.info("Removed what an interrupted push left at %s: %s.", self.uri, " and ".join(left))

    def _remove(self, prefix: str) -> None:
        objects = list_objects(self.bucket, prefix).objects
        loaders = [o for o in objects if o.name[len(prefix):] in SAVED_MODEL_FILES]
        for blob in loaders:
            _delete(blob)
        in_parallel([partial(_delete, o) for o in objects if o not in loaders])

    def _blob(self, name: str) -> storage.Blob:
        return client().bucket(self.bucket).blob(name)

    def _folder(self, *parts: str) -> str:
        return folder(self.prefix, *parts)

    def _errors(self, outcome: str = ""):
        return gcs_errors(f"push_destination: {self.uri}", PublishError, outcome)


class GcsTree:
    """A gs:// model artifact read through the GCS API, for model_source.find_model."""

    def __init__(self, artifact: Artifact) -> None:
        self.input_name = artifact.name
        self.uri = artifact.uri.rstrip("/")
        self.bucket, self.prefix = split_uri(self.uri)

    def entries(self, rel: str) -> dict[str, bool]:
        with self._errors():
            listing = list_objects(self.bucket, folder(self.prefix, rel), recursive=False)
        files = {o.name.rsplit("/", 1)[-1]: False for o in listing.objects if not o.name.endswith("/")}
        return files | {name: True for name in listing.folders}

    def model(self, rel: str, origin: str) -> Model:
        with self._errors():
            return gcs_model(self.bucket, folder(self.prefix, rel), "/".join(p for p in (self.uri, rel) if p), origin)

    def _errors(self):
        return gcs_errors(f"{self.input_name}: cannot read {self.uri}", InputError)


def gcs_model(bucket: str, prefix: str, root: str, origin: str) -> Model:
    """Every object below `prefix` as a Model whose files are read from GCS (with their CRC32C)."""
    files: list[ModelFile] = []
    markers: list[str] = []  # zero-byte "dir/" objects some tools write for directories
    for blob in list_objects(bucket, prefix).objects:
        rel = blob.name[len(prefix):]
        if rel.endswith("/") or not rel:
            markers.append(rel.rstrip("/"))
        else:
            files.append(ModelFile(rel, blob.size, f"gs://{bucket}/{blob.name}", blob.crc32c, blob.updated.timestamp()))
    parents = {"/".join(f.rel.split("/")[:i]) for f in files for i in range(1, f.rel.count("/") + 1)}
    empty = sorted(m for m in markers if m and m not in parents)
    return Model(root, origin, tuple(files), tuple(empty))


def _delete(blob: storage.Blob) -> None:
    try:
        blob.delete(retry=RETRY, timeout=TIMEOUT)
    except api_exceptions.NotFound:
        pass  # removed meanwhile by whoever else was cleaning
