#!/usr/bin/env bash
# `make demo`: push the example SavedModel through the gate, as a pipeline step would, into a local
# serving directory, and show what happened. Needs only the runtime package (no TensorFlow).
set -euo pipefail
PY=${PY:-python3}
cd "$(dirname "$0")/.."
out=demo-output
rm -rf "$out"
mkdir -p "$out/blessed" "$out/not_blessed"
touch "$out/blessed/BLESSED" "$out/not_blessed/NOT_BLESSED"
destination="{\"filesystem\": {\"base_directory\": \"$out/serving/example_model\", \"versioning\": \"AUTO\"}}"

step() { printf '\n=== %s\n' "$*"; }

step "1. Evaluator blessed the model: push it (record on stdout, log on stderr)"
$PY -m component --model examples/model --model-blessing "$out/blessed" \
    --push-destination "$destination" --pushed-model "$out/pushed_model"

step "2. Evaluator did NOT bless the model: nothing is written, the step still succeeds"
$PY -m component --model examples/model --model-blessing "$out/not_blessed" \
    --push-destination "$destination" --pushed-model "$out/pushed_model_2"

step "3. The step is retried: the newest version already holds this model, so it is reused"
$PY -m component --model examples/model --model-blessing "$out/blessed" \
    --push-destination "$destination" >/dev/null

step "4. Forced new version in the same second: the next number up, never a collision"
$PY -m component --model examples/model --model-blessing "$out/blessed" \
    --push-destination "$destination" --force-new-version \
    --push-report "$out/push_report.md" >/dev/null
echo "--- the push report ($out/push_report.md):"
cat "$out/push_report.md"

step "5. A bad input: one clear line and exit code 2"
set +e
$PY -m component --model examples/no_such_model --push-destination "$destination"
echo "exit code: $?"
set -e

step "What a model server polling $out/serving/example_model sees"
$PY -m component list --push-destination "$destination" 2>/dev/null
find "$out/serving" | sort
