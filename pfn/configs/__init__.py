"""Hydra configs of `pfn train` (groups: prior, data, model, trainer, callbacks, logger, experiment),
and the one way code composes them from an experiment's name: :func:`compose_train_config`.

An experiment name selects a YAML file, and composing it instantiates the ``_target_`` entries it
names, so a name is accepted only when it is the name of an experiment the package ships
(``pfn/configs/experiment/*.yaml``) or of one in a config directory the caller passes explicitly
(``--config-dir``); a name read from a file (a checkpoint's header) never picks a path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from priors.base import SamplesBatches

#: the package that holds the shipped configs (Hydra's config module)
CONFIG_MODULE = "pfn.configs"


def _experiment_files(folder: Path | Any) -> list[str]:
    """Names (stems) of the ``*.yaml`` files directly in ``folder``; none when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml") and p.is_file())


def shipped_experiments() -> list[str]:
    """Names of the experiments the package ships (``pfn train experiment=NAME``)."""
    return _experiment_files(resources.files(CONFIG_MODULE) / "experiment")


def _config_dir(config_dir: str | os.PathLike[str] | None) -> Path | None:
    if config_dir is None:
        return None
    path = Path(config_dir).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"config_dir {str(config_dir)!r} is not a directory")
    return path


def experiment_names(config_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The experiments that may be composed: the shipped ones, plus ``config_dir/experiment/*.yaml``."""
    extra = _config_dir(config_dir)
    return sorted(set(shipped_experiments()) | set(_experiment_files(extra / "experiment") if extra else []))


def check_experiment(experiment: Any, config_dir: str | os.PathLike[str] | None = None) -> str:
    """``experiment`` when it names an experiment of :func:`experiment_names`; a ``ValueError`` otherwise.

    Only whole file names from those folders pass, so nothing like ``../../elsewhere/evil`` can
    select a file outside them.
    """
    names = experiment_names(config_dir)
    if not isinstance(experiment, str) or experiment not in names:
        where = f"the package's or {config_dir}/experiment's" if config_dir is not None else "the package's"
        raise ValueError(
            f"experiment must be one of {where} experiments ({', '.join(names)}), got {experiment!r}; "
            "for an experiment of your own, pass the config directory that holds experiment/<name>.yaml "
            "(--config-dir DIR)"
        )
    return experiment


def compose_train_config(
    experiment: str | None,
    overrides: Sequence[str] = (),
    config_dir: str | os.PathLike[str] | None = None,
) -> DictConfig:
    """The `pfn train` config of a checked ``experiment`` (None: the defaults), with Hydra ``overrides``.

    ``config_dir`` adds a folder of the user's own configs to the search path (as `pfn train
    --config-dir` does). ``paths.output_dir`` defaults to "." (Hydra's runtime is not running).
    """
    from hydra import compose, initialize_config_module

    extra = _config_dir(config_dir)
    chosen = [o for o in overrides if o.lstrip("+~").startswith("experiment=")]
    if chosen:
        raise ValueError(f"pass the experiment as the experiment argument, not as the override {chosen[0]!r}")
    head = [] if experiment is None else [f"experiment={check_experiment(experiment, config_dir)}"]
    search = [f"hydra.searchpath=[file://{extra}]"] if extra else []
    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        return compose("train", overrides=[*search, *head, "paths.output_dir=.", *overrides])


def experiment_prior(experiment: str, config_dir: str | os.PathLike[str] | None = None) -> SamplesBatches:
    """The prior of a checked experiment config (``pfn train experiment=NAME``), instantiated."""
    from hydra.utils import instantiate

    return instantiate(compose_train_config(experiment, config_dir=config_dir).prior)
