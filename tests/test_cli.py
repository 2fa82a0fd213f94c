"""The `pfn` command's non-training subcommands."""

import json
import subprocess
import sys

import pytest

from pfn.cli import main as cli_main
from pfn.evaluation.evaluate import prior_of
from pfn.evaluation.scoring import context_sizes_for
from pfn.inference.predictor import load


def pfn(*args):
    return subprocess.run([sys.executable, "-m", "pfn.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_commands():
    out = pfn("--help")
    assert out.returncode == 0 and "train" in out.stdout and "evaluate" in out.stdout


def test_info_reads_a_checkpoint_header(checkpoint_file):
    out = pfn("info", str(checkpoint_file))
    assert out.returncode == 0
    assert json.loads(out.stdout)["architecture"] == "PFNTransformer"


def test_info_summarises_a_curve_calibration():
    """lc-real's header holds its calibration maps (4 groups x 19 fractions x 63 levels); info shows their shapes,
    the description and counts, not thousands of numbers."""
    out = pfn("info", "lc-real")
    assert out.returncode == 0
    shown = json.loads(out.stdout)["curve_calibration"]
    assert shown["maps"]["bounded/log"] == "19 observed fractions x 63 levels" and shown["levels"] == "63 levels"
    assert "tuning curves" in shown["description"] and len(out.stdout) < 20_000


def test_user_errors_are_one_line_not_tracebacks(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint at all")
    for args, message in [(("info", "no-such-model"), "no checkpoint file or pretrained model named"),
                          (("evaluate", str(junk)), "not a readable safetensors file")]:  # fmt: skip
        out = pfn(*args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


SHIPPED_SIZES = {"gp": [0, 1, 2, 5, 10, 20, 30, 50, 75, 100], "lc": [1, 2, 5, 10, 20, 30, 50, 75, 99]}
# model -> its default sizes
SHIPPED = {"gp": "gp", "gp-hyper": "gp", "bnn": "gp", "lc": "lc", "lc-wide": "lc", "lc-real": "lc"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["gp", "--context-sizes", "-5"], "argument --context-sizes: must be an integer >= 0, got '-5'"),
        (["gp", "--queries", "0"], "argument --queries: must be an integer >= 1, got '0'"),
        (["gp", "--datasets", "1"], "argument --datasets: must be an integer >= 2, got '1'"),
        (["gp", "--datasets", "two"], "argument --datasets: must be an integer >= 2, got 'two'"),
        (["gp", "--context-sizes", "5", "101"], r"--context-sizes must be integers in [0, 100] (the model was trained"),
        (["lc", "--context-sizes", "0", "5"], "--context-sizes must be integers in [1, 99]"),
        (["gp", "--context-sizes", "5", "5"], "--context-sizes must be distinct"),
        (["gp", "--experiment", "../../gp_1d"], "experiment must be one of the package's experiments"),
    ],
)
def test_evaluate_refuses_bad_arguments_with_status_2(args, message, capsys):
    try:
        status = cli_main(["evaluate", *args])
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("name", SHIPPED)
def test_evaluate_defaults_suit_every_shipped_model(name, capsys):
    """The default context sizes, clipped to each model's training range, evaluate without error or NaN.
    The GP-reference models (a marginal-likelihood fit per size) are run at the range's two ends only."""
    predictor = load(name)
    assert context_sizes_for(predictor, prior_of(predictor)) == SHIPPED_SIZES[SHIPPED[name]]
    sizes = [] if name in ("gp", "lc", "lc-wide", "lc-real") else ["--context-sizes", "2", "100"]
    assert cli_main(["evaluate", name, "--datasets", "2", "--queries", "2", *sizes]) == 0
    out = capsys.readouterr().out
    expected = SHIPPED_SIZES[SHIPPED[name]] if not sizes else [2, 100]
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(r.split("|")[1]) for r in rows] == expected
    assert "nan" not in out.lower()
    assert json.loads(out[out.index("{") :])["context_sizes"] == [n for n in expected if n >= 1]
