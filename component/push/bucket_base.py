"""Publish versions into an object store (GCS, S3, ...): the protocol, written once over the bucket
verbs. Object stores have no rename, so a version cannot appear in one step as it does locally.
This is the layout under the base directory, and why model servers never load an incomplete one:

  <version>/...          a version. Its saved_model.pb (what makes TF Serving load it) is written
                         only after every other object of the version is in place and verified.
  .pushing-<id>/...      files bigger than one request, uploaded before a version is claimed.
                         Hidden: model servers only look at numeric names.
  .pushing-<id>.lease    a push's proof of life, rewritten while it runs (each write conditional on
                         the last one seen); it names the version the push is writing, so whoever
                         finds it stale knows what to remove.
  .claims/<version>      written create-only, so of two pushes racing for a number exactly one
                         wins. Removed once the version is complete; kept when the push failed
                         half-way, so that number is never used again.
  .claims/high-water     the highest number ever claimed here, raised (never lowered) by each
                         claim with a write conditional on the tag read: a number removed by
                         retention is never claimed again. Just before writing saved_model.pb a
                         push checks it again; when a number above its own was claimed and that
                         version is already loadable, it removes what it wrote and claims above
                         it, so no version is made loadable below one that already is.

A claimed version is filled by server-side copies of the staged big files and by uploads of the
small ones: either costs about one request per file, so the time an incomplete numeric prefix is
visible depends on how many files the model has, not on how big it is.
"""

import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial

from component import settings
from component.errors import Interrupted, PublishError
from component.model import SAVED_MODEL_FILES, Model, ModelFile
from component.push.versioning import STAGING_PREFIX, numeric_versions, parse_version
from component.runtime import stopping
from component.stores.parallel import in_parallel
from component.stores.progress import Progress
from component.stores.trees import model_under
from component.stores.bucket import (Bucket, BucketError, Denied, HiddenUpload, HiddenUploads, NotFound,
                                     ObjectInfo, PreconditionFailed, join, reported)
from component.stores.registry import locate
from component.stores.transfer import check_arrived, check_unchanged, put

log = logging.getLogger(__name__)

LEASE_SUFFIX = ".lease"
CLAIMS = ".claims"
HIGH_WATER = "high-water"
PROBE_PREFIX = "probe-"  # under CLAIMS: no version number
# Files up to this size go straight into the claimed version: one request either way, so staging
# them would double the requests for a barely shorter time the version is incomplete.
STRAIGHT_IN_MAX = 2 * 1024 * 1024
NOTHING_PUBLISHED = "nothing was published"


# Bases whose store proved it honours conditional writes, in this process.
_PROVEN: set[str] = set()


class LeaseLost(PublishError):
    pass


class Lease:
    """Proof that a push is alive, and the note of which version it is writing.

    The owner rewrites the lease object every `seconds / 10`. Every write is conditional on the
    tag (GCS generation, S3 ETag) its writer saw last, and its body differs every time (so S3's
    content-derived ETag changes too): exactly one process holds a lease. A push cleaning up a
    stale lease takes it over first; an owner that was only stalled then finds it lost and stops
    writing before its next batch, and never makes anything loadable.
    """

    def __init__(self, store: Bucket, key: str, seconds: float, tag: str, version: int | None) -> None:
        self.bucket = store
        self.key = key
        self.seconds = seconds
        self.version = version
        self.lost = False
        self.written = bool(tag)  # a push with nothing to stage writes its lease with its claim
        self._holder = uuid.uuid4().hex  # tells this process's writes from a takeover's
        self._serial = 0
        self._tag = tag
        self._renewed_at = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @classmethod
    def create(cls, store: Bucket, key: str, seconds: float) -> "Lease":
        lease = cls(store, key, seconds, "", None)
        lease._start()
        return lease

    @classmethod
    def unwritten(cls, store: Bucket, key: str, seconds: float) -> "Lease":
        """A lease to be written with the first thing it covers (write_version), saving a round trip."""
        return cls(store, key, seconds, "", None)

    @classmethod
    def take_over(cls, store: Bucket, listed: ObjectInfo, seconds: float) -> "Lease | None":
        """A stale lease, now ours; None when its owner renewed it or another push took it first."""
        body = store.read(listed.key)
        if body is None:
            return None  # its owner finished, or another push cleaned it up, meanwhile
        note = _note(body)
        if note.get("finished"):
            return None  # a finished push's, on a store that forbids deletes: nothing to clean
        version = parse_version(str(note.get("version", "")))
        lease = cls(store, listed.key, seconds, listed.tag, version)
        try:
            lease._write()
        except PreconditionFailed:
            return None
        lease._keep_alive()  # removing a big leftover can take a while
        return lease

    def write_version(self, version: int) -> None:
        """Name the version this push is claiming, renewing the lease (LeaseLost if it is not ours)."""
        self.version = version
        if self.written:
            self.confirm()
        else:
            self._start()

    def check(self) -> None:
        """Raise if another push took this lease over: this push must not write any more. A push
        that was stalled (its renewals with it) for half a period proves the lease first: the
        renewer may not have run since it woke up."""
        if self.written and not self.lost and time.monotonic() - self._renewed_at > self.seconds / 2:
            self.confirm()
        if self.lost:
            raise LeaseLost(
                f"this push stalled for more than {self.seconds:g} s and another push took over its "
                f"lease {self.key} to clean up after it; {NOTHING_PUBLISHED}"
            )

    def confirm(self) -> None:
        """Renew the lease now, proving it is still ours, before making anything loadable."""
        if not self.lost:
            try:
                self._write()
            except PreconditionFailed:
                self.lost = True
        self.check()

    def explain(self) -> None:
        """A write of this push failed: raise LeaseLost instead when that is because the lease was
        taken over (the push that took it removed what this one had written, so its next write
        meets a missing object)."""
        try:
            self.confirm()
        except BucketError:
            pass  # the store's own failure, not the lease, is what the caller reports

    def stop(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()

    def release(self) -> None:
        self.stop()
        if not self.written:
            return
        try:
            self.bucket.delete(self.key)
        except Denied:
            # A store that forbids deletes keeps the lease: marked finished, no later push takes it
            # for one an interrupted push left, nor warns about it again.
            with self._lock:
                body = json.dumps({"holder": self._holder, "finished": True}).encode()
                try:
                    put_own(self.bucket, self.key, body, if_tag=self._tag)
                except BucketError:
                    pass  # then it is cleaned up like any other stale lease, warnings and all
            raise

    def _start(self) -> None:
        self._write()
        self.written = True
        self._keep_alive()

    def _keep_alive(self) -> None:
        self._renewer = threading.Thread(target=self._renew, name=f"lease {self.key}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 10):
            try:
                self._write()
            except PreconditionFailed:
                self.lost = True
                return
            except BucketError as exc:  # a missed renewal is survivable; the next one may work
                log.warning("Could not renew the push's lease %s (%s); trying again.", self.key, exc.reason)
            except Interrupted:
                return  # stopping: the push's cleanup removes the lease

    def _write(self) -> None:
        with self._lock:
            self._serial += 1
            note = {"holder": self._holder, "serial": self._serial}
            if self.version is not None:
                note["version"] = str(self.version)
            body = json.dumps(note).encode()
            try:
                info = put_own(self.bucket, self.key, body, create_only=not self._tag, if_tag=self._tag)
            except NotFound:
                # S3 answers an if-tag write of a missing object 404: a push took the lease over and
                # removed it with what it cleaned up.
                raise PreconditionFailed(f"the lease {self.key} is gone") from None
            self._tag = info.tag
            self._renewed_at = time.monotonic()


def put_own(store: Bucket, key: str, body: bytes, **write: object) -> ObjectInfo:
    """Write `body` under `key`, a name only this push writes. A retried write whose first attempt
    landed but whose answer was lost meets that attempt and is refused: an object holding `body`
    is this very write, not another push's."""
    try:
        return store.put_bytes(key, body, **write)  # type: ignore[arg-type]
    except PreconditionFailed:
        current = store.head(key)
        if current is None or store.read(key) != body:
            raise
        return current


def _note(body: bytes) -> dict:
    """A lease's note; {} for anything this pusher did not write (what matters then is its age)."""
    try:
        note = json.loads(body)
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


@dataclass
class BucketStaging:
    token: str  # ".pushing-<id>", this push's hidden name
    lease: Lease
    model: Model
    progress: Progress
    staged: dict[str, ModelFile] = field(default_factory=dict)  # rel -> its copy under the staging prefix
    unseen: list[ModelFile] = field(default_factory=list)  # big files uploaded unseen into the version
    version: int | None = None  # the version this push began to write
    published: bool = False


class BucketBase:
    """A serving base directory in an object store (a ServingBase)."""

    def __init__(self, base: str, lease_seconds: float | None = None) -> None:
        self.uri = base.rstrip("/")
        self.bucket, self.prefix = locate(self.uri)
        self.lease_seconds = settings.current().lease_seconds if lease_seconds is None else lease_seconds
        # The high-water mark as last read or written here: the first raise is conditional on it,
        # one request when no other push raised it meanwhile.
        self._mark: tuple[int, ObjectInfo | None] | None = None
        self._probes_left: list[str] = []  # probe objects a store that forbids deletes kept

    def version_uri(self, version: int) -> str:
        return f"{self.uri}/{version}"

    def versions(self) -> set[int]:
        with self._errors():
            top, claims = in_parallel([partial(self.bucket.list, self._folder(), False),
                                       partial(self.bucket.list, self._folder(CLAIMS), False)])
        # A live push's probe is seconds old and removed by it; one older than a lease period was kept.
        self._probes_left = [o.key for o in claims.objects if o.key.rsplit("/", 1)[-1].startswith(PROBE_PREFIX)
                             and time.time() - o.updated > self.lease_seconds]
        return numeric_versions(top.folders) | numeric_versions(o.key.rsplit("/", 1)[-1] for o in claims.objects)

    def highest_used(self) -> int:
        with self._errors():
            self._mark = self._high_water()
        return self._mark[0]

    def clean_abandoned(self) -> None:
        """Remove what pushes that died left behind: their leases stopped being renewed. (A lease
        is created before anything else of its push and removed after everything else, so every
        leftover has one.)"""
        with self._errors():
            pushes = self.bucket.list(self._folder() + STAGING_PREFIX, recursive=False)
            now = time.time()
            leases = [o for o in pushes.objects if o.key.endswith(LEASE_SUFFIX)]
            for listed in leases:
                if now - listed.updated > self.lease_seconds:
                    lease = Lease.take_over(self.bucket, listed, self.lease_seconds)
                    if lease is not None:
                        try:
                            with self._errors():
                                self._clean_after(lease)
                        except PublishError as exc:  # e.g. a store that forbids deletes: push anyway
                            lease.stop()
                            log.warning("Could not remove what an interrupted push left (%s).", exc)
            # A staging area whose lease is gone belongs to a push that lost its lease to a cleaner
            # while writes of its were still in flight, and then died: it can publish nothing.
            held = {o.key[: -len(LEASE_SUFFIX)] for o in leases}
            for name in pushes.folders:
                staging = f"{self._folder()}{STAGING_PREFIX}{name}"
                if staging not in held:
                    try:
                        with self._errors():
                            self._remove(staging + "/")
                    except PublishError as exc:
                        log.warning("Could not remove %s (%s).", self._uri_of(staging + "/"), exc)
                        continue
                    log.info("Removed %s, left by a push that had lost its lease.", self._uri_of(staging + "/"))
            if isinstance(self.bucket, HiddenUploads):
                self._abort_orphan_uploads(leases, now)

    def _abort_orphan_uploads(self, leases: list[ObjectInfo], now: float) -> None:
        """Abort the hidden uploads into versions no live push is writing, once they are a lease
        period old. A push aborts its own when it fails; these are what it could not know of: an
        upload whose creation's answer was lost, or whose abort failed. Only uploads into numbered
        version folders are ours: other tools' uploads elsewhere under the base are left alone."""
        try:
            hidden = self.bucket.hidden(self._folder())
        except Denied as exc:
            # Listing unfinished uploads is a permission of its own (s3:ListBucketMultipartUploads):
            # without it the push goes on, only this cleaning is skipped.
            log.warning("Cannot list the unfinished multipart uploads under %s (%s), so none that a killed push "
                        "left is aborted; grant s3:ListBucketMultipartUploads to clean them up.", self.uri, exc.reason)
            return
        folders = {key[len(self._folder()):].split("/", 1)[0] for key, begun in hidden if now - begun > self.lease_seconds}
        ours = {name for name in folders if name.isdigit() and parse_version(name) is not None}
        if not ours:
            return
        live = {str(_note(self.bucket.read(o.key) or b"").get("version")) for o in leases
                if now - o.updated <= self.lease_seconds}
        for version in sorted(ours - live):
            self.bucket.abort_hidden(self._folder(version), begun_before=now - self.lease_seconds)
            log.info("Aborted the unfinished uploads into %s that no live push owns.", self._uri_of(self._folder(version)))

    def stage(self, model: Model, progress: Progress) -> BucketStaging:
        """Take a lease, then upload (or copy) the big files under a hidden prefix."""
        with self._errors(NOTHING_PUBLISHED):
            self._require_conditional_writes()
            token = f"{STAGING_PREFIX}{uuid.uuid4().hex}"
            big = [f for f in model.files if f.size > STRAIGHT_IN_MAX]
            # Where the store can upload unseen (S3 multipart), local big files go into the claimed
            # version that way, with no copy; the rest are staged.
            unseen = [f for f in big if isinstance(self.bucket, HiddenUploads) and "://" not in f.source]
            big = [f for f in big if f not in unseen]
            # The lease comes before the first object it covers: now if there is anything to stage.
            lease = (Lease.create if big else Lease.unwritten)(
                self.bucket, f"{self._folder()}{token}{LEASE_SUFFIX}", self.lease_seconds)
            staging = BucketStaging(token, lease, model, progress, unseen=unseen)
            try:
                target = self._folder(token)
                if big:
                    log.info("Uploading %d file%s over %d MiB (%.1f MB) to %s first, where model servers do "
                             "not look.", len(big), "" if len(big) == 1 else "s", STRAIGHT_IN_MAX // 2**20,
                             sum(f.size for f in big) / 1e6, self._uri_of(target))

                def stage_one(f: ModelFile) -> ModelFile:
                    lease.check()
                    return put(f, self.bucket, target + f.rel, progress)

                try:
                    staged = in_parallel([partial(stage_one, f) for f in big])
                except BucketError:
                    lease.explain()
                    raise
                staging.staged = {f.rel: f for f in staged}
            except BaseException:
                self.discard(staging)
                raise
            return staging

    def publish(self, staging: BucketStaging, version: int) -> bool:
        """Claim `version`, fill it, verified, and write saved_model.pb last."""
        target = self._folder(str(version))
        with self._errors(NOTHING_PUBLISHED):
            # One round trip for three requests: the lease note names the version (a cleaner checks
            # the claim holds this push's token before it removes anything there) and renewing it
            # proves the lease is still ours; the claim; a look for objects no push claimed.
            def renew() -> bool:
                try:
                    staging.lease.write_version(version)
                    return True
                except LeaseLost:
                    return False

            still_ours, claimed, present = in_parallel([
                renew, partial(self._claim, version, staging.token), partial(self.bucket.list, target, False),
            ])
            if not still_ours:
                if claimed:
                    self._unclaim(version)  # nothing was written under it: the number goes back
                staging.lease.check()
            if not claimed:
                return False
            if present.objects or present.folders:
                # Another push published it since our listing (its claim is gone once it is
                # complete), or another tool wrote there: not ours either way.
                log.info("%s already holds objects; leaving them alone.", self._uri_of(target))
                self._unclaim(version)
                return False
            staging.version = version
            log.info("Claimed version %d; writing its %d files into %s, saved_model.pb last.",
                     version, len(staging.model.files), self.version_uri(version))
            files = [staging.staged.get(f.rel, f) for f in staging.model.in_publish_order()]
            loaders = [f for f in files if f.rel in SAVED_MODEL_FILES]
            try:
                uploads = self._upload_unseen(staging, target)
            except BucketError:
                staging.lease.explain()
                raise

            def place(f: ModelFile) -> None:
                staging.lease.check()  # a push whose lease was taken over writes nothing more
                if f.rel in uploads:
                    info, sent = uploads[f.rel].finish(create_only=True)
                    check_arrived(f.rel, self._uri_of(target + f.rel), info, sent)
                    check_unchanged(f, os.stat(f.source), info.size)
                else:
                    # Bytes of staged files were counted when they were staged.
                    put(f, self.bucket, target + f.rel, None if f.rel in staging.staged else staging.progress)
                staging.progress.add(files=1)

            try:
                in_parallel([partial(place, f) for f in files if f not in loaders])
            except BucketError:
                staging.lease.explain()
                raise
            # Every other object is in place and verified; a push that stalled long enough to lose
            # its lease must not make the version loadable now (check() proves a lease not renewed
            # for half its period: a push that kept renewing cannot have been taken over).
            staging.lease.check()
            if self._overtaken(version):
                log.info("Another push published a version above %d meanwhile; removing what this push wrote "
                         "there and claiming above it.", version)
                self._remove_version(version)  # its claim and the mark keep the number burned
                staging.version = None
                return False
            with stopping.committing(self.version_uri(version)):
                for f in loaders:
                    place(f)
                staging.published = True
        return True

    def _upload_unseen(self, staging: BucketStaging, target: str) -> dict[str, HiddenUpload]:
        """Upload the big files into the claimed version as uploads no listing shows yet."""
        if not staging.unseen:
            return {}
        log.info("Uploading %d file%s over %d MiB (%.1f MB) into %s as multipart uploads, unseen until "
                 "the version is filled.", len(staging.unseen), "" if len(staging.unseen) == 1 else "s",
                 STRAIGHT_IN_MAX // 2**20, sum(f.size for f in staging.unseen) / 1e6, self._uri_of(target))

        def upload(f: ModelFile) -> HiddenUpload:
            staging.lease.check()
            check_unchanged(f, os.stat(f.source))
            return self.bucket.upload_hidden(target + f.rel, f.source, f.size, staging.progress)

        return dict(zip((f.rel for f in staging.unseen), in_parallel([partial(upload, f) for f in staging.unseen])))

    def discard(self, staging: BucketStaging) -> None:
        """Remove the staging files, the claim of a published version and then the lease (so that
        whatever is left always has a lease naming it); after a failed publish, what it wrote."""
        unwinding = sys.exc_info()[1]  # the failure (or stop) this cleanup runs under, if any
        staging.lease.stop()
        try:
            with self._errors():
                if staging.lease.lost:
                    # The push that took the lease over cleans up too, but writes of ours that were
                    # in flight may have landed after it did; every one has finished by now.
                    self._remove(self._folder(staging.token))
                    if staging.version is not None and not staging.published:
                        self._remove_version(staging.version)
                    return
                if staging.published:
                    # What this push staged is known: no listing. The lease goes after the staged
                    # files (never a leftover without one), with the claim: clutter once complete.
                    in_parallel([partial(self.bucket.delete, self._folder(staging.token) + f.rel)
                                 for f in staging.staged.values()])
                    in_parallel([partial(self._unclaim, staging.version), staging.lease.release])
                    return
                if staging.version is not None:
                    self._remove_version(staging.version)
                if staging.lease.written:
                    self._remove(self._folder(staging.token))
                staging.lease.release()
        except PublishError as exc:
            log.warning(
                "Could not remove what this push left (%s); the next push to %s tries again once this push's "
                "lease is %.0f s old.", exc, self.uri, self.lease_seconds,
            )
        except Interrupted:
            stopping.left_behind.append(self.uri)
            log.warning("Stopped while removing what this push had written; what is left, the next push to %s removes "
                        "once this push's lease is %.0f s old.", self.uri, self.lease_seconds)
            if unwinding is None:  # after publishing: the stop ends the push here (no retention)
                raise
            # Under a failure, that failure's reason stays the push's line (the stop stays requested).

    def version_model(self, version: int) -> Model:
        with self._errors():
            return model_under(self.bucket, self._folder(str(version)), self.version_uri(version),
                               f"version {version} at {self.uri}", "push_destination")

    def delete_version(self, version: int) -> None:
        """An object store cannot make a prefix vanish at once; saved_model.pb goes first, so that
        no model server starts loading a version while it is being removed."""
        with self._errors():
            self._remove(self._folder(str(version)))
            self._unclaim(version)

    def abandoned(self, version: int, newest_write: float) -> bool:
        """Whether an incomplete version is garbage: no live push is writing it (no lease names it,
        no fresh claim) and nothing was written to it for a whole lease period. A push killed while
        retention removed a version leaves such remains, with neither claim nor lease."""
        if time.time() - newest_write <= self.lease_seconds:
            return False
        with self._errors():
            claim = self.bucket.head(f"{self._folder(CLAIMS)}{version}")
            if claim is not None and time.time() - claim.updated <= self.lease_seconds:
                return False
            pushes = self.bucket.list(self._folder() + STAGING_PREFIX, recursive=False)
            for listed in (o for o in pushes.objects if o.key.endswith(LEASE_SUFFIX)):
                if time.time() - listed.updated <= self.lease_seconds:
                    if _note(self.bucket.read(listed.key) or b"").get("version") == str(version):
                        return False
        return True

    def _require_conditional_writes(self) -> None:
        """Prove, once per process and base, that the store refuses a create-only write of an object
        that exists and a write conditional on a tag it no longer has: claims and leases rely on
        both. Old MinIO and SeaweedFS accept such writes silently, and two pushes could then publish
        over each other."""
        if self.bucket.conditions_guaranteed or self.uri in _PROVEN:
            return
        # A probe a store that forbids deletes kept (or a killed push left) is used again and kept,
        # so such a store collects one, not one per push. Pushes may share it: one's writes only
        # move its tag further from the other's first one. If another push wrote it between this
        # one's head and its write, this one makes a new probe.
        for probe in self._probes_left[:1]:
            try:
                ignored = self._probe(probe, existing=True)
                break
            except (PreconditionFailed, NotFound):
                continue
        else:
            ignored = self._probe(f"{self._folder(CLAIMS)}{PROBE_PREFIX}{uuid.uuid4().hex}", existing=False)
        if ignored:
            raise PublishError(
                f"push_destination: {self.uri}: the store accepted writes it should have refused (it ignores "
                f"{' and '.join(ignored)}), so racing pushes could overwrite each other; pushing needs a store "
                f"that honours conditional writes (If-None-Match and If-Match: AWS S3, MinIO since "
                f"RELEASE.2024-05-07, SeaweedFS 4.18 or later, GCS); {NOTHING_PUBLISHED}"
            )
        _PROVEN.add(self.uri)

    def _high_water(self) -> tuple[int, ObjectInfo | None]:
        """The high-water mark and the object holding it (its tag conditions the next raise)."""
        key = f"{self._folder(CLAIMS)}{HIGH_WATER}"
        info = self.bucket.head(key)
        if info is None:
            return 0, None
        # The number is in the object's metadata (one HEAD); a copy made by a tool that dropped the
        # metadata still holds it in its body. A mark that holds no number fails closed: reading it
        # as 0 could hand out a number that was used before.
        text = info.metadata.get(HIGH_WATER) or (self.bucket.read(key) or b"").decode("ascii", "replace").strip()
        mark = parse_version(text)
        if mark is None or not info.tag:
            raise PublishError(
                f"push_destination: the high-water mark {self._uri_of(key)} holds no version number (or the store gave "
                f"it no tag to update it by); it records the highest number ever used here: restore it with the "
                f"highest version number this base has had, then push again"
            )
        return mark, info

    def _overtaken(self, version: int) -> bool:
        """Whether a version above `version` is loadable already. Usually one request: nothing was
        claimed above it. Versions above that are still being filled do not count: they become
        loadable after this one, in order, and counting them would have two pushes overtake each
        other for ever."""
        if self._high_water()[0] <= version:
            return False
        above = [v for v in numeric_versions(self.bucket.list(self._folder(), False).folders) if v > version]
        return any(self.bucket.head(f"{self._folder(str(v))}{name}") is not None
                   for v in above for name in SAVED_MODEL_FILES)

    def _raise_high_water(self, version: int) -> bool:
        """Raise the mark to `version`; False when it already is at or above it."""
        while True:
            highest, info = self._mark or self._high_water()
            if highest >= version:
                return False  # it only goes up: a mark read earlier at or above is so still
            try:
                written = self.bucket.put_bytes(f"{self._folder(CLAIMS)}{HIGH_WATER}", str(version).encode(),
                                                create_only=info is None, if_tag=info.tag if info else "",
                                                metadata={HIGH_WATER: str(version)})
                self._mark = (version, written)
                return True
            except PreconditionFailed:
                self._mark = None  # another push raised it meanwhile: look again

    def _probe(self, probe: str, existing: bool) -> list[str]:
        """The conditions the store ignores, found by writing `probe` (made now unless `existing`)."""

        def refused(condition: str, **write: object) -> bool:
            try:
                self.bucket.put_bytes(probe, f"probe {condition}".encode(), **write)  # type: ignore[arg-type]
                return False
            except PreconditionFailed:
                return True

        try:
            first = self.bucket.head(probe) if existing else put_own(self.bucket, probe, b"probe 1", create_only=True)
            if first is None:
                raise NotFound(f"{self._uri_of(probe)} is gone")
            put_own(self.bucket, probe, f"probe {uuid.uuid4().hex}".encode(), if_tag=first.tag)
            # Now both must be refused: the object exists, and its tag is no longer the first one.
            # Checked at once: neither can change what the other finds unless the store ignores it.
            checks = {"If-None-Match": {"create_only": True}, "If-Match": {"if_tag": first.tag}}
            results = in_parallel([partial(refused, name, **write) for name, write in checks.items()])
            return [name for name, ok in zip(checks, results) if not ok]
        finally:
            if not existing:  # a shared one stays: removing it under another push's checks would fail them
                try:
                    with self._errors():
                        self.bucket.delete(probe)
                except PublishError as exc:  # harmless: a hidden name no model server or push looks at
                    log.warning("Could not remove the probe object %s (%s).", self._uri_of(probe), exc)

    def _claim(self, version: int, token: str) -> bool:
        key = f"{self._folder(CLAIMS)}{version}"
        if not self._raise_high_water(version):
            return False
        try:
            self.bucket.put_bytes(key, token.encode(), create_only=True)
            return True
        except PreconditionFailed:
            # Taken: by another push, or by this one if an earlier attempt's answer was lost.
            return self.bucket.read(key) == token.encode()

    def _unclaim(self, version: int) -> None:
        """The version's own objects mark its number as taken now; the claim is clutter."""
        try:
            self.bucket.delete(f"{self._folder(CLAIMS)}{version}")
        except BucketError as exc:  # harmless: a leftover claim only keeps a number taken
            log.warning("Could not remove the claim of version %d (%s); it is harmless.", version, exc.reason)

    def _clean_after(self, lease: Lease) -> None:
        token = lease.key[len(self._folder()): -len(LEASE_SUFFIX)]
        left = [f"staging {self._uri_of(self._folder(token))}"]
        # The note names the version the push was claiming; it wrote there only if it won the claim.
        if lease.version is not None and self.bucket.read(f"{self._folder(CLAIMS)}{lease.version}") == token.encode():
            target = self._folder(str(lease.version))
            if any(self.bucket.head(target + name) is not None for name in SAVED_MODEL_FILES):
                self._unclaim(lease.version)  # it got as far as saved_model.pb: complete, keep it
            else:
                self._remove_version(lease.version)  # incomplete; its claim stays so the number is never reused
                left.append(f"incomplete version {lease.version}")
        self._remove(self._folder(token))
        lease.release()
        log.info("Removed what an interrupted push left at %s: %s.", self.uri, " and ".join(left))

    def _remove_version(self, version: int) -> None:
        """An incomplete version: its objects, and uploads into it that never became objects."""
        target = self._folder(str(version))
        self._remove(target)
        if isinstance(self.bucket, HiddenUploads):
            self.bucket.abort_hidden(target)

    def _remove(self, prefix: str) -> None:
        objects = self.bucket.list(prefix).objects
        loaders = [o for o in objects if o.key[len(prefix):] in SAVED_MODEL_FILES]
        for info in loaders:
            self.bucket.delete(info.key)
        in_parallel([partial(self.bucket.delete, o.key) for o in objects if o not in loaders])

    def _folder(self, *parts: str) -> str:
        return join(self.prefix, *parts)

    def _uri_of(self, key: str) -> str:
        return f"{self.bucket.scheme}://{self.bucket.name}/{key}"

    def _errors(self, outcome: str = ""):
        return reported(f"push_destination: {self.uri}", PublishError, outcome)
