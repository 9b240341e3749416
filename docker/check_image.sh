#!/usr/bin/env bash
# `make check-image`: lint docker/Dockerfile, build the image with podman, then run the component
# in it with no network (tests/image/test_image.py): as a laptop user would with `docker run`, and as
# KFP does with component.yaml's own command line; and run a pipeline with it under kfp.local's
# DockerRunner, through podman's Docker API service (tests/image/test_kfp_local.py).
#
# No image can be pulled here and a build has no package index, so the base is Debian made by
# debootstrap (cached in .cache/), and the wheels are downloaded on the host into
# docker/wheelhouse/. Installs podman, buildah, runc and debootstrap from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SUITE=bookworm
BASE=localhost/model-pusher-base:$SUITE
CACHE=.cache/image-check
# Root podman on this kind of machine: no overlay mounts, no systemd, no journald.
PODMAN="podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc --events-backend file"
ULIMITS="--ulimit nofile=4096:4096 --ulimit nproc=4096:4096"
IMAGE=$(sed -n 's/^ *image: *//p' component.yaml | head -n 1)  # the reference KFP will pull
started=$SECONDS

step() { printf '\n=== %s (%d s)\n' "$*" $((SECONDS - started)); }

step "Tools"
missing=()
for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman buildah runc debootstrap >/dev/null
fi
podman --version

step "Lint docker/Dockerfile"
"$(dirname "$PY")/hadolint" docker/Dockerfile

step "Base image $BASE"
if ! $PODMAN image exists "$BASE"; then
    tarball=$CACHE/$SUITE-minbase-python3.tar
    if [[ ! -f $tarball ]]; then
        mkdir -p "$CACHE"
        rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        # python3-venv: the Dockerfile makes venvs; passwd is left out, the image's user is numeric.
        chmod 755 "$rootfs"  # it becomes /, which mktemp made private
        debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$rootfs" >/dev/null
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    # PYTHON_VERSION, as official Python images have it: the wheels below are for this version.
    python_version=$(tar -tf "$tarball" | sed -n 's|^\./usr/bin/python\(3\.[0-9]*\)$|\1|p')
    $PODMAN import -q --change "ENV PYTHON_VERSION=$python_version" --change 'CMD ["python3"]' \
        "$tarball" "$BASE" >/dev/null
fi
python_version=$($PODMAN image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$BASE" \
    | sed -n 's/^PYTHON_VERSION=//p')
echo "$BASE has Python $python_version"

step "Wheels for an offline build (docker/wheelhouse/)"
# `.`: the package's own requirements, as setup.py lists them, plus what pip needs to build its wheel;
# binary wheels for the base's Python (manylinux: any glibc-based base).
arch=$(uname -m)
"$PY" -m pip download -q --dest docker/wheelhouse --only-binary=:all: --python-version "$python_version" \
    --platform "manylinux2014_$arch" --platform "manylinux_2_28_$arch" setuptools wheel . 2>&1 \
    | { grep -v "^WARNING: Location" || true; }  # noise from local index paths some pip configs list

step "Build $IMAGE"
# vfs keeps every layer as a full copy of the filesystem, so keep no per-step layers, and drop the
# previous build once the new one has taken its tag.
$PODMAN build -q --layers=false --pull=never --network none $ULIMITS -f docker/Dockerfile \
    --build-arg PYTHON_IMAGE="$BASE" --build-arg PIP_NO_INDEX=1 -t "$IMAGE" . >/dev/null
$PODMAN image prune -f >/dev/null
$PODMAN image inspect --format 'size {{.Size}} bytes, user {{.Config.User}}' "$IMAGE"

step "Docker API for kfp.local's DockerRunner"
# podman serves the Docker API on a socket of its own, stopped on exit so nothing is left running.
# Its containers get the ulimits above and no network, as every run here.
service=$(mktemp -d /tmp/model-pusher-podman.XXXXXX)
cat >"$service/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
EOF
CONTAINERS_CONF=$service/containers.conf $PODMAN system service --time=0 "unix://$service/podman.sock" \
    2>"$service/service.log" &
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null; wait "$service_pid" 2>/dev/null; rm -rf "$service"' EXIT
for _ in $(seq 100); do
    [[ -S $service/podman.sock ]] && break
    kill -0 "$service_pid" 2>/dev/null || { cat "$service/service.log"; exit 1; }
    sleep 0.1
done

step "Run the component in the image, and a pipeline with kfp.local's DockerRunner"
MODEL_PUSHER_IMAGE=$IMAGE MODEL_PUSHER_PODMAN="$PODMAN" MODEL_PUSHER_PODMAN_RUN="--network none $ULIMITS" \
    DOCKER_HOST=unix://$service/podman.sock \
    "$PY" -m pytest -q -p no:cacheprovider tests/image/test_image.py tests/image/test_kfp_local.py

step "Image check passed"
